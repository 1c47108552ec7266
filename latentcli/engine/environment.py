"""Where a run ran: host, device, world size and launcher, recorded as run_info.json in its folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch

from latentcli.files import write_json


def run_info(device: torch.device) -> dict:
    """This process's host and device, the number of processes training together, and what started them."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{device.type}, {torch.get_num_threads()} threads"
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "device": str(device),
        "device_name": name,
        "world_size": int(os.environ.get("WORLD_SIZE", 1)),
        "launcher": launcher(),
        "slurm_job": _slurm_job(),
    }


def _slurm_job() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return os.environ.get("SLURM_JOB_ID")


def launcher() -> str:
    """Hydra's launcher (basic, joblib, submitit_slurm, ...), with "+torchrun" when torchrun started us."""
    name = "python"
    try:
        from hydra.core.hydra_config import HydraConfig

        target = HydraConfig.get().launcher._target_  # e.g. hydra_plugins....submitit_launcher.SlurmLauncher
        name = _LAUNCHERS.get(target.rsplit(".", 1)[-1], target.rsplit(".", 1)[-1])
    except Exception:  # not under Hydra (a script calling the library)
        pass
    if "TORCHELASTIC_RUN_ID" in os.environ:
        name += "+torchrun"
    return name


_LAUNCHERS = {"BasicLauncher": "basic", "JoblibLauncher": "joblib", "SlurmLauncher": "submitit_slurm",
              "LocalLauncher": "submitit_local", "RayAWSLauncher": "ray_aws", "RQLauncher": "rq"}


def write_run_info(run_dir: str | Path, device: torch.device) -> None:
    """run_info.json in the run's folder; on rank 0 only when several processes train one model."""
    if int(os.environ.get("RANK", 0)) == 0:
        write_json(Path(run_dir) / "run_info.json", run_info(device))
