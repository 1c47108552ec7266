"""Models: `build_model(cfg.model, data_info)` and `load_checkpoint(path)` (rebuild from a file alone)."""

from __future__ import annotations

from latentcli.models.base import LatentModel, NoEncoderError
from latentcli.models.bigan import BiGAN
from latentcli.models.gan import GAN
from latentcli.errors import UserError

MODELS: dict[str, type[LatentModel]] = {"gan": GAN, "bigan": BiGAN}

__all__ = ["MODELS", "LatentModel", "NoEncoderError", "build_model"]


def build_model(cfg, info) -> LatentModel:
    if cfg.name not in MODELS:
        raise UserError(f"unknown model {cfg.name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[cfg.name](cfg, info)
