"""Models: `build_model(cfg.model, data_info)`; one file per model, named with its schema in the table of
latentcli/config/model.py (MODELS is that table's registry);
`load_checkpoint(path)` rebuilds a trained one from its checkpoint file alone."""

from __future__ import annotations

from omegaconf import OmegaConf

from latentcli.config.options import OPTIONS, typed_option
from latentcli.data.stream import DataInfo
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.device import pick_device
from latentcli.models.base import LatentModel, NoEncoderError
from latentcli.models.nets import init_weights

MODELS = OPTIONS["model"]  # the table of latentcli/config/model.py, filled when latentcli.config is imported

__all__ = ["MODELS", "LatentModel", "NoEncoderError", "build_model", "load_checkpoint"]


def build_model(cfg, info) -> LatentModel:
    model_class = MODELS[cfg.name]  # one error for an unknown name
    cfg = typed_option("model", cfg)  # the option's settings and schema under what cfg gives; types and ranges checked
    model = model_class(cfg, info)
    init_weights(model, cfg.init, cfg.init_std)
    return model


def load_checkpoint(path, device: str = "auto") -> tuple[LatentModel, dict]:
    """(model in eval mode on `device`, the checkpoint dict), from a `latentcli train` checkpoint: no config
    re-typed, no dataset needed. EMA weights are used when the run kept them."""
    ckpt = ckpt_io.load(path)
    model = build_model(OmegaConf.create(ckpt["config"]).model, DataInfo.from_dict(ckpt["data"]))
    model.load_state_dict(ckpt_io.model_weights(ckpt))
    model.to(pick_device(device)).eval()
    return model, ckpt
