"""Inversion methods: `build_inverter(cfg.inference, model)` returns an object with invert(model, x)."""

from __future__ import annotations

from latentcli.errors import UserError
from latentcli.inference.base import Inversion
from latentcli.inference.encoder import EncoderInverter
from latentcli.inference.optimize import OptimizeInverter

METHODS = ("auto", "encoder", "optimize")

__all__ = ["Inversion", "EncoderInverter", "OptimizeInverter", "build_inverter", "METHODS"]


def build_inverter(cfg, model, seed: int = 0):
    method = cfg.method
    if method == "auto":
        method = "encoder" if model.has_encoder else "optimize"
    if method == "encoder":
        if not model.has_encoder:
            raise UserError(
                f"model {model.cfg.name!r} has no encoder, so inference=encoder cannot invert it; "
                "use inference=optimize (or inference=auto)"
            )
        return EncoderInverter(batch_size=cfg.batch_size)
    if method == "optimize":
        if cfg.init not in ("prior_mean", "random"):
            raise UserError(f"inference.init={cfg.init!r} is not one of prior_mean, random")
        return OptimizeInverter(steps=cfg.steps, lr=cfg.lr, batch_size=cfg.batch_size, init=cfg.init,
                                prior_weight=cfg.prior_weight, progress=cfg.progress, seed=seed)
    raise UserError(f"unknown inference method {method!r}; choose one of {', '.join(METHODS)}")
