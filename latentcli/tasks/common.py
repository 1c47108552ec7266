"""What the tasks share: the run directory, seeding, and reading checkpoints."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig

from latentcli.errors import UserError
from latentcli.restore import load_checkpoint


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


def load_regressor(inference_cfg):
    """The model=regressor checkpoint that inference=regressor uses, or None."""
    path = inference_cfg.get("regressor_ckpt")
    if inference_cfg.method != "regressor" or not path:
        return None
    return load_checkpoint(path, device="cpu")[0]
