"""Encoder inversion: z = E(x), one batched forward pass (BiGAN, ALI, VAE, ...)."""

from __future__ import annotations

import time

import torch

from latentcli.inference.base import Inversion, chunks, frozen, per_item_mse


class EncoderInverter:
    method = "encoder"

    def __init__(self, batch_size: int = 1024):
        self.batch_size = batch_size

    @classmethod
    def build(cls, cfg, model, seed: int, regressor) -> "EncoderInverter":
        return cls(batch_size=cfg.batch_size)

    @torch.no_grad()
    def invert(self, model, x: torch.Tensor) -> Inversion:
        start = time.perf_counter()
        device = next(model.parameters()).device
        zs, x_hats = [], []
        with frozen(model):
            for part in chunks(x, self.batch_size):
                part = part.to(device)
                z = model.encode(part)
                zs.append(z)
                x_hats.append(model.generate(z))
        z, x_hat = torch.cat(zs), torch.cat(x_hats)
        return Inversion(z, x_hat, per_item_mse(x_hat, x.to(device)), self.method, 1, time.perf_counter() - start)
