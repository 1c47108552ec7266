"""Reconstruction quality of x_hat = G(z_hat) against x: mean squared error and PSNR."""

from __future__ import annotations

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio


def reconstruction_metrics(x: torch.Tensor, x_hat: torch.Tensor, kind: str) -> dict[str, float]:
    """MSE over all values; for images in [-1, 1] also PSNR in dB, averaged over images."""
    x, x_hat = x.float().cpu(), x_hat.float().cpu()
    result = {"mse": float((x_hat - x).pow(2).mean())}
    if kind == "image":
        psnr = peak_signal_noise_ratio(x_hat, x, data_range=(-1.0, 1.0), reduction="none", dim=(1, 2, 3))
        result["psnr"] = float(psnr.mean())
    return result


def latent_recovery(z_true: torch.Tensor, z_hat: torch.Tensor) -> dict[str, float]:
    """Relative latent error ||z - z_hat|| / ||z|| per item, its mean and median (0: recovered exactly)."""
    z_true, z_hat = z_true.float().cpu(), z_hat.float().cpu()
    relative = (z_hat - z_true).norm(dim=1) / z_true.norm(dim=1).clamp(min=1e-12)
    return {"latent_error_mean": float(relative.mean()), "latent_error_median": float(relative.median())}
