"""Models: `build_model(cfg.model, data_info)`; one file per model, registered here by config name;
`load_checkpoint(path)` rebuilds a trained one from its checkpoint file alone."""

from __future__ import annotations

from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.device import pick_device
from latentcli.errors import UserError
from latentcli.models.aae import AAE
from latentcli.models.alad import ALAD
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
    "veegan": VEEGAN, "alad": ALAD, "regressor": Regressor,
}

__all__ = ["MODELS", "LatentModel", "NoEncoderError", "build_model", "load_checkpoint"]


def build_model(cfg, info) -> LatentModel:
    if cfg.name not in MODELS:
        raise UserError(f"unknown model {cfg.name!r}; choose one of {', '.join(MODELS)}")
    model = MODELS[cfg.name](cfg, info)
    init_weights(model, cfg.get("init", "default"), float(cfg.get("init_std", 0.02)))
    return model


def load_checkpoint(path, device: str = "auto") -> tuple[LatentModel, dict]:
    """(model in eval mode on `device`, the checkpoint dict), from a `latentcli train` checkpoint: no config
    re-typed, no dataset needed. EMA weights are used when the run kept them."""
    ckpt = ckpt_io.load(path)
    model = build_model(OmegaConf.create(ckpt["config"]).model, DataInfo.from_dict(ckpt["data"]))
    model.load_state_dict(ckpt_io.model_weights(ckpt))
    model.to(pick_device(device)).eval()
    return model, ckpt
