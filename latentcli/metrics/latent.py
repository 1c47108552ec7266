"""metrics=[latent]: does inversion find the z an image came from? Measured on generated images whose
latents are known: relative error ||z - z_hat|| / ||z||, cosine similarity, re-generation PSNR."""

from __future__ import annotations

import torch

from latentcli.metrics.reconstruction import latent_recovery, reconstruction_metrics


def evaluate(ctx) -> dict:
    n = int(ctx.cfg.latent.n)
    z = ctx.model.sample_latent(n, generator=torch.Generator().manual_seed(ctx.cfg.seed + 1))
    x = ctx.generate(z)
    inversion = ctx.inverter.invert(ctx.model, x)
    result = {"n": n, **latent_recovery(z, inversion.z)}
    regenerated = reconstruction_metrics(x, inversion.x_hat, ctx.model.info.kind)
    result["regeneration_mse"] = regenerated["mse"]
    if "psnr" in regenerated:
        result["regeneration_psnr"] = regenerated["psnr"]
    return result
