"""A generator trained outside latentcli, to invert: any nn.Module mapping z [N, latent_dim] to images or vectors.

    latentcli invert model=external model.target=package.module:Class model.weights=G.pt model.latent_dim=100 \
        model.output_range=[-1,1] inputs=folder inputs.path=DIR

The module is built as Class(**model.kwargs) and its state dict read from model.weights with
torch.load(weights_only=True). latentcli's images live in [-1, 1]; the generator's outputs are mapped
from model.output_range to that range (so inputs and generator meet in the same units), and vectors are
used as they are. It has no encoder and is not trained here: invert it by optimisation, or train a
latent regressor on it (`latentcli train model=regressor model.external.target=...`, latentcli/config/model.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch
from torch import nn

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.models.base import LatentModel


def import_target(target: str) -> type:
    """'package.module:Class' (or package.module.Class) -> the class; the working directory is importable."""
    module_name, _, attr = target.partition(":") if ":" in target else target.rpartition(".")
    if not module_name or not attr:
        raise UserError(f"model.target={target!r} is not package.module:Class")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # ImportError, or whatever the user's module raises while importing
        raise UserError(f"model.target={target}: cannot import {module_name}: {type(e).__name__}: {e}") from None
    found = getattr(module, attr, None)
    if found is None:
        raise UserError(f"model.target={target}: module {module_name} has no {attr}")
    return found


class ExternalGenerator(nn.Module):
    """The user's module, its output mapped from `output_range` to latentcli's [-1, 1] when it makes images."""

    def __init__(self, cfg, images: bool | None = None, load_weights: bool = True):
        super().__init__()
        if not cfg.get("target"):
            raise UserError("model=external needs the generator's class: add model.target=package.module:Class")
        cls = import_target(cfg.target)
        kwargs = dict(cfg.get("kwargs") or {})
        try:
            self.net = cls(**kwargs)
        except Exception as e:
            raise UserError(f"model.target={cfg.target}: {cls.__name__}(**model.kwargs) failed: "
                            f"{type(e).__name__}: {e}") from None
        if not isinstance(self.net, nn.Module):
            raise UserError(f"model.target={cfg.target} is not a torch.nn.Module")
        low, high = (float(v) for v in cfg.get("output_range") or (-1, 1))
        if not high > low:
            raise UserError(f"model.output_range=[{low}, {high}] must be [low, high] with low < high")
        self.low, self.high, self.images = low, high, images
        if load_weights:
            self.load_weights(cfg.get("weights"))

    def load_weights(self, path) -> None:
        if not path:
            raise UserError("model=external needs the generator's weights: add model.weights=PATH (a state dict)")
        path = Path(str(path)).expanduser()
        if not path.is_file():
            raise UserError(f"model.weights={path}: no such file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise UserError(f"model.weights={path} is not a state dict torch.load(weights_only=True) "
                            f"can read: {type(e).__name__}: {str(e).splitlines()[0]}") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a training script's {"state_dict": ..., "epoch": ...}
        try:
            self.net.load_state_dict(state)
        except Exception as e:  # missing or unexpected keys, or shapes that differ
            detail = " ".join(str(e).split())
            raise UserError(f"model.weights={path} does not match {type(self.net).__name__}: "
                            f"{detail[:200]}") from None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        if self.images:
            out = (out - self.low) * (2 / (self.high - self.low)) - 1
        return out


def output_shape(generator: nn.Module, latent_dim: int) -> list[int]:
    """One item's shape, from a forward pass on two latents (BatchNorm in eval mode)."""
    was = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            out = generator(torch.zeros(2, latent_dim))
    except Exception as e:
        raise UserError(f"the generator cannot take z of shape [N, {latent_dim}] (model.latent_dim): "
                        f"{type(e).__name__}: {' '.join(str(e).split())[:200]}") from None
    finally:
        generator.train(was)
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or len(out) != 2:
        raise UserError("the generator must map z [N, latent_dim] to a tensor [N, ...]")
    return list(out.shape[1:])


def external_info(cfg, data_info: DataInfo | None = None) -> DataInfo:
    """The DataInfo of the generator's outputs; with the data to invert (`data_info`), their shapes must agree."""
    probe = ExternalGenerator(cfg, load_weights=False)
    shape = output_shape(probe, int(cfg.latent_dim))
    if data_info is not None:
        if list(data_info.shape) != shape:
            raise UserError(f"the generator makes items of shape {shape}, but {data_info.name} holds "
                            f"{list(data_info.shape)}: they must match")
        return data_info
    if len(shape) == 3:
        return DataInfo("external", shape, "image")
    if len(shape) == 1:
        return DataInfo("external", shape, "points")
    raise UserError(f"the generator makes items of shape {shape}; latentcli takes images [c, h, w] or vectors [d]")


class External(LatentModel):
    """Only G: sampling from the prior and generating; inversion by optimisation."""

    def __init__(self, cfg, info: DataInfo, load_weights: bool = True):
        if cfg.get("latent_dim") is None:
            raise UserError("model=external needs the size of z: add model.latent_dim=D")
        super().__init__(cfg, info)
        self.generator = ExternalGenerator(cfg, images=info.kind == "image", load_weights=load_weights)
        self.generator.requires_grad_(False)
        shape = output_shape(self.generator, self.latent_dim)
        if shape != list(info.shape):
            raise UserError(f"the generator makes items of shape {shape}, but the inputs are {list(info.shape)}")

    def optimizers(self):
        raise UserError("model=external is a generator trained elsewhere: latentcli inverts it but does not train "
                        "it (train a latent regressor on it: model=regressor model.external.target=...)")
