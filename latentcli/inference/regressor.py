"""Regressor inversion: a plain GAN's images mapped to z by the encoder of a `model=regressor` run
trained on that GAN's generator (the BiGAN paper's latent regressor baseline)."""

from __future__ import annotations

import time

import torch

from latentcli.errors import UserError
from latentcli.inference.base import Inversion, chunks, frozen, per_item_mse


class RegressorInverter:
    method = "regressor"

    def __init__(self, regressor, batch_size: int = 1024):
        if regressor is None:
            raise UserError("inference=regressor needs the regressor: add inference.regressor_ckpt=PATH "
                            "(a checkpoint of `latentcli train model=regressor model.generator_ckpt=<this ckpt>`)")
        if regressor.cfg.name != "regressor":
            raise UserError(f"inference.regressor_ckpt holds a {regressor.cfg.name!r} model, not a regressor")
        self.regressor, self.batch_size = regressor, batch_size

    @classmethod
    def build(cls, cfg, model, seed: int, regressor) -> "RegressorInverter":
        return cls(regressor, batch_size=cfg.batch_size)

    def check_generator(self, model) -> None:
        """The regressor must have been trained on this very generator."""
        theirs, ours = self.regressor.generator.state_dict(), model.generator.state_dict()
        if theirs.keys() != ours.keys() or not all(torch.equal(theirs[k], ours[k].to(theirs[k].device))
                                                   for k in ours):
            raise UserError("the regressor was trained on a different generator than this checkpoint's: "
                            "train one with model.generator_ckpt=<this ckpt>")

    @torch.no_grad()
    def invert(self, model, x: torch.Tensor) -> Inversion:
        self.check_generator(model)
        start = time.perf_counter()
        device = next(model.parameters()).device
        self.regressor.to(device)
        zs, x_hats = [], []
        with frozen(model), frozen(self.regressor):
            for part in chunks(x, self.batch_size):
                z = self.regressor.encode(part.to(device))
                zs.append(z)
                x_hats.append(model.generate(z))
        z, x_hat = torch.cat(zs), torch.cat(x_hats)
        return Inversion(z, x_hat, per_item_mse(x_hat, x.to(device)), self.method, 1, time.perf_counter() - start)
