"""Models: `build_model(cfg.model, data_info)`; one file per model, registered here by config name."""

from __future__ import annotations

from latentcli.config import typed
from latentcli.config.model import SCHEMAS
from latentcli.errors import UserError
from latentcli.models.aae import AAE
from latentcli.models.ali import ALI
from latentcli.models.alice import ALICE
from latentcli.models.base import LatentModel, NoEncoderError
from latentcli.models.bigan import BiGAN
from latentcli.models.gan import GAN
from latentcli.models.nets import init_weights
from latentcli.models.regressor import Regressor
from latentcli.models.vae import VAE
from latentcli.models.vaegan import VAEGAN
from latentcli.models.veegan import VEEGAN

MODELS: dict[str, type[LatentModel]] = {
    "gan": GAN, "bigan": BiGAN, "ali": ALI, "alice": ALICE, "vae": VAE, "vaegan": VAEGAN, "aae": AAE,
    "veegan": VEEGAN, "regressor": Regressor,
}

__all__ = ["MODELS", "LatentModel", "NoEncoderError", "build_model"]


def build_model(cfg, info) -> LatentModel:
    if cfg.name not in MODELS:
        raise UserError(f"unknown model {cfg.name!r}; choose one of {', '.join(MODELS)}")
    cfg = typed(SCHEMAS[cfg.name], cfg)  # the schema's defaults under what cfg gives; types and ranges checked
    model = MODELS[cfg.name](cfg, info)
    init_weights(model, cfg.init, cfg.init_std)
    return model
