"""What the tasks share: the run directory, seeding, and reading a checkpoint's model and test data."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from latentcli.data import DataBundle, build_dataset
from latentcli.errors import UserError
from latentcli.inference import build_inverter
from latentcli.restore import load_checkpoint
from latentcli.tasks.inputs import count_or_all


def run_dir() -> Path:
    """Hydra's output directory for this job (never the working directory)."""
    return Path(HydraConfig.get().runtime.output_dir)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_model(cfg):
    """(model, checkpoint dict) from cfg.ckpt, on cfg.device."""
    if not cfg.get("ckpt"):
        raise UserError("no checkpoint given: add ckpt=PATH (e.g. outputs/train/<run>/checkpoints/last.ckpt)")
    return load_checkpoint(cfg.ckpt, device=cfg.device)


def model_and_data(cfg):
    """The checkpoint's model and its dataset, both rebuilt from the checkpoint alone."""
    model, ckpt = load_model(cfg)
    data: DataBundle = build_dataset(OmegaConf.create(ckpt["config"]["dataset"]))
    return model, ckpt, data


def invert_test_items(cfg):
    """Seeds, rebuilds the checkpoint's model and data, and inverts the first cfg.n test items.

    Returns (model, checkpoint, data, inputs, inversion).
    """
    seed_everything(cfg.seed)
    model, ckpt, data = model_and_data(cfg)
    inverter = build_inverter(cfg.inference, model, seed=cfg.seed, regressor=load_regressor(cfg.inference))
    inputs = data.test.subset(count_or_all(cfg.n))
    return model, ckpt, data, inputs, inverter.invert(model, inputs.x)


def load_regressor(inference_cfg):
    """The model=regressor checkpoint that inference=regressor uses, or None."""
    path = inference_cfg.get("regressor_ckpt")
    if inference_cfg.method != "regressor" or not path:
        return None
    return load_checkpoint(path, device="cpu")[0]
