"""Reconstruction quality of x_hat = G(z_hat) against x: MSE, PSNR, SSIM, and the BiGAN paper's ratio."""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

PSNR_CAP = 100.0  # dB: a perfect reconstruction would be infinite; capped so the number stays plain JSON


def reconstruction_metrics(x: torch.Tensor, x_hat: torch.Tensor, kind: str) -> dict[str, float]:
    """MSE over all values; for images in [-1, 1] also PSNR (dB, averaged over images, capped) and SSIM."""
    x, x_hat = x.float().cpu(), x_hat.float().cpu()
    result = {"mse": float((x_hat - x).pow(2).mean())}
    if kind == "image":
        psnr = peak_signal_noise_ratio(x_hat, x, data_range=(-1.0, 1.0), reduction="none", dim=(1, 2, 3))
        result["psnr"] = float(psnr.clamp(max=PSNR_CAP).mean())
        if min(x.shape[-2:]) >= 11:  # SSIM's Gaussian window is 11 px wide
            result["ssim"] = float(structural_similarity_index_measure(x_hat, x, data_range=2.0))
    return result


def distance_ratio(x: torch.Tensor, x_hat: torch.Tensor, seed: int = 0) -> float:
    """Mean ||x - G(E(x))|| over the mean distance between random pairs of inputs (Donahue et al. 2017):
    0 for perfect reconstructions, about 1 for reconstructions no closer than an unrelated input."""
    x, x_hat = x.float().cpu().flatten(1), x_hat.float().cpu().flatten(1)
    partner = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    unrelated = (x - x[partner]).norm(dim=1).mean()
    return float((x - x_hat).norm(dim=1).mean() / unrelated.clamp(min=1e-12))


def latent_recovery(z_true: torch.Tensor, z_hat: torch.Tensor) -> dict[str, float]:
    """Relative latent error ||z - z_hat|| / ||z|| per item (mean and median; 0: recovered exactly) and the
    mean cosine similarity of z and z_hat (1: same direction)."""
    z_true, z_hat = z_true.float().cpu(), z_hat.float().cpu()
    relative = (z_hat - z_true).norm(dim=1) / z_true.norm(dim=1).clamp(min=1e-12)
    cosine = torch.nn.functional.cosine_similarity(z_hat, z_true, dim=1)
    return {"latent_error_mean": float(relative.mean()), "latent_error_median": float(relative.median()),
            "latent_cosine": float(cosine.mean())}


def evaluate(ctx) -> dict:
    """metrics=[recon]: the test items' reconstructions."""
    inversion = ctx.test_inversion
    result = reconstruction_metrics(ctx.test.x, inversion.x_hat, ctx.model.info.kind)
    result["ratio"] = distance_ratio(ctx.test.x, inversion.x_hat, seed=ctx.cfg.seed)
    result["inversion_ms_per_item"] = 1000 * inversion.seconds / len(ctx.test.x)  # what the method costs
    if ctx.model.info.kind == "image":
        from latentcli import viz

        viz.save_reconstruction_grid(ctx.test.x, inversion.x_hat, ctx.figure("Reconstructions (inputs above)",
                                                                             "reconstructions.png"))
    return result
