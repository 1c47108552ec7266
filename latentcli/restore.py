"""Rebuild a trained model from its checkpoint file alone (no config re-typed, no dataset needed)."""

from __future__ import annotations

from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.device import pick_device
from latentcli.models import LatentModel, build_model


def load_checkpoint(path, device: str = "auto") -> tuple[LatentModel, dict]:
    """(model in eval mode on `device`, the checkpoint dict). EMA weights are used when the run kept them."""
    ckpt = ckpt_io.load(path)
    config = OmegaConf.create(ckpt["config"])
    model = build_model(config.model, DataInfo.from_dict(ckpt["data"]))
    model.load_state_dict(ckpt_io.model_weights(ckpt))
    model.to(pick_device(device)).eval()
    return model, ckpt
