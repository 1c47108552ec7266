"""What the tasks share: the run directory and its record, seeding, and reading checkpoints."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from latentcli.config.options import OPTIONS, typed_option
from latentcli.errors import UserError
from latentcli.files import write_text
from latentcli.data import build_dataset
from latentcli.engine.device import pick_device
from latentcli.engine.distributed import launch_rank
from latentcli.models import build_model, load_checkpoint
from latentcli.models.external import external_info


def run_dir() -> Path:
    """Hydra's output directory for this job (never the working directory)."""
    return Path(HydraConfig.get().runtime.output_dir)


def save_hydra_record(cfg, out: Path) -> None:
    """What Hydra writes to .hydra/ (config.yaml, hydra.yaml, overrides.yaml), written by the task once
    its checks pass (the task configs set hydra.output_subdir: null), so a refused command writes nothing.
    Under torchrun rank 0 alone writes it (the ranks share the folder)."""
    if launch_rank() != 0:
        return
    hydra_cfg = HydraConfig.instance().cfg
    write_text(out / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg))
    write_text(out / ".hydra" / "hydra.yaml", OmegaConf.to_yaml(hydra_cfg))
    write_text(out / ".hydra" / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.hydra.overrides.task))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def checkpoint_path(cfg) -> str:
    """cfg.ckpt, which invert and evaluate need (unless model=external)."""
    if not cfg.ckpt:
        raise UserError("no checkpoint given: add ckpt=PATH (e.g. outputs/train/<run>/checkpoints/last.ckpt)")
    return cfg.ckpt


def load_model(cfg):
    """(model, checkpoint dict) from cfg.ckpt, on cfg.device; or model=external's generator, with a stand-in
    for the checkpoint dict (its config and data)."""
    if cfg.get("model") is not None:
        return external_model(cfg)
    return load_checkpoint(checkpoint_path(cfg), device=cfg.device)


def external_model(cfg):
    """model=external: the user's generator, checked against the data named by model.dataset (if any)."""
    model_cfg = cfg.model
    if model_cfg.name != "external":
        raise UserError(f"model={model_cfg.name}: a latentcli model comes from its checkpoint (ckpt=PATH); "
                        "model= takes only external, a generator trained elsewhere")
    if cfg.get("ckpt"):
        raise UserError("give ckpt=PATH or model=external, not both")
    dataset = None
    data_info = None
    if model_cfg.get("dataset"):
        dataset = stored_dataset({"config": {"dataset": dataset_config(model_cfg.dataset)}}, cfg)
        data_info = build_dataset(dataset).info
    info = external_info(model_cfg, data_info)
    model = build_model(model_cfg, info).to(pick_device(cfg.device)).eval()
    ckpt = {"config": {"model": OmegaConf.to_container(model_cfg, resolve=True),
                       "dataset": None if dataset is None else OmegaConf.to_container(dataset, resolve=True)},
            "data": info.to_dict(), "step": 0}
    return model, ckpt


def dataset_config(name: str):
    """The dataset NAME's config, as `dataset=NAME` composes it."""
    if name not in OPTIONS["dataset"]:
        raise UserError(f"model.dataset={name} is not a dataset; choose one of {', '.join(OPTIONS['dataset'])}")
    return typed_option("dataset", {"name": name})


def stored_dataset(ckpt: dict, cfg):
    """The checkpoint's dataset config, with a new location where the command line gives one (the data
    moved: dataset.path=DIR, dataset.data_dir=DIR); nothing else of the dataset can be changed."""
    if ckpt["config"]["dataset"] is None:  # model=external without model.dataset
        raise UserError("model=external has no test images: add model.dataset=NAME (e.g. fashion_mnist), "
                        "or invert inputs=folder inputs.path=DIR or inputs=samples")
    dataset = OmegaConf.create(ckpt["config"]["dataset"])
    for key, value in cfg.dataset.items():
        if value is None:
            continue
        if key not in dataset:
            raise UserError(f"dataset.{key}={value}: the checkpoint's dataset ({dataset.name}) has no {key}")
        dataset[key] = str(Path(value).expanduser())
    return typed_option("dataset", dataset)


def warn_of_other_data(trained: dict, info) -> None:
    """One warning line for each of the classes, channels and resolution in which the data read now (moved
    with dataset.path= or dataset.data_dir=) differs from the checkpoint's description of what the model was
    trained on (`trained`, DataInfo.to_dict()): the numbers would otherwise be taken for the same measurement."""
    before, now = trained.get("extra", {}).get("classes"), info.classes
    lines = []
    if before != now:
        lines.append(f"the data's classes ({', '.join(now or ['none named'])}) are not the ones the model was "
                     f"trained on ({', '.join(before or ['none named'])}): labels are matched by number, so "
                     "per-class results (probe, anomaly, edits) compare different things")
    shape = list(trained["shape"])
    if len(shape) == 3 and len(info.shape) == 3:
        if shape[0] != info.shape[0]:
            lines.append(f"the data has {info.shape[0]} channel(s); the model was trained on {shape[0]}")
        if shape[1:] != list(info.shape[1:]):
            lines.append(f"the data is {info.shape[1]}x{info.shape[2]} pixels; the model was trained on "
                         f"{shape[1]}x{shape[2]}")
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)


def load_regressor(inference_cfg):
    """The model=regressor checkpoint that inference=regressor uses, or None."""
    if inference_cfg.method != "regressor" or not inference_cfg.regressor_ckpt:
        return None
    path = inference_cfg.regressor_ckpt
    return load_checkpoint(path, device="cpu")[0]
