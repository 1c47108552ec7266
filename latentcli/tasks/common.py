"""What the tasks share: the run directory and its record, seeding, and reading checkpoints."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from latentcli.errors import UserError
from latentcli.files import write_text
from latentcli.models import load_checkpoint


def run_dir() -> Path:
    """Hydra's output directory for this job (never the working directory)."""
    return Path(HydraConfig.get().runtime.output_dir)


def save_hydra_record(cfg, out: Path) -> None:
    """What Hydra writes to .hydra/ (config.yaml, hydra.yaml, overrides.yaml), written by the task once
    its checks pass (the task configs set hydra.output_subdir: null), so a refused command writes nothing."""
    hydra_cfg = HydraConfig.instance().cfg
    write_text(out / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg))
    write_text(out / ".hydra" / "hydra.yaml", OmegaConf.to_yaml(hydra_cfg))
    write_text(out / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.hydra.overrides.task))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def checkpoint_path(cfg) -> str:
    """cfg.ckpt, which invert and evaluate need."""
    if not cfg.get("ckpt"):
        raise UserError("no checkpoint given: add ckpt=PATH (e.g. outputs/train/<run>/checkpoints/last.ckpt)")
    return cfg.ckpt


def stored_dataset(ckpt: dict, cfg):
    """The checkpoint's dataset config, with a new location where the command line gives one (the data
    moved: dataset.path=DIR, dataset.data_dir=DIR); nothing else of the dataset can be changed."""
    dataset = OmegaConf.create(ckpt["config"]["dataset"])
    for key, value in (cfg.get("dataset") or {}).items():
        if value is None:
            continue
        if key not in dataset:
            raise UserError(f"dataset.{key}={value}: the checkpoint's dataset ({dataset.name}) has no {key}")
        dataset[key] = str(Path(value).expanduser())
    return dataset


def load_regressor(inference_cfg):
    """The model=regressor checkpoint that inference=regressor uses, or None."""
    path = inference_cfg.get("regressor_ckpt")
    if inference_cfg.method != "regressor" or not path:
        return None
    return load_checkpoint(path, device="cpu")[0]
