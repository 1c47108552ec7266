"""Where a run ran: host, device, world size, launcher and CPU threads, recorded as run_info.json in its folder;
and how many CPU threads a run takes (trainer.threads)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch

from latentcli.engine.distributed import launch_rank
from latentcli.files import write_json


def run_info(device: torch.device, threads: dict | None = None) -> dict:
    """This process's host and device, the number of processes training together, what started them, and
    `threads` (apply_threads' record of the CPU threads chosen)."""
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
        "threads": threads if threads is not None else {"threads": torch.get_num_threads()},
    }


def _slurm_job() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    return os.environ.get("SLURM_JOB_ID")


def launcher() -> str:
    """Hydra's launcher (basic, joblib, submitit_slurm, ...; "single run" without -m), with "+torchrun" when
    torchrun started us."""
    name = "python"
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
        target = hydra.launcher._target_  # e.g. hydra_plugins....submitit_launcher.SlurmLauncher
        name = _LAUNCHERS.get(target.rsplit(".", 1)[-1], target.rsplit(".", 1)[-1])
        if hydra.mode == RunMode.RUN:  # without -m Hydra launches nothing, whatever launcher a preset names
            name = "single run"
    except Exception:  # not under Hydra (a script calling the library)
        pass
    if "TORCHELASTIC_RUN_ID" in os.environ:
        name += "+torchrun"
    return name


_LAUNCHERS = {"BasicLauncher": "basic", "JoblibLauncher": "joblib", "SlurmLauncher": "submitit_slurm",
              "LocalLauncher": "submitit_local", "FusedLauncher": "fused", "RayAWSLauncher": "ray_aws", "RQLauncher": "rq"}


def write_run_info(run_dir: str | Path, device: torch.device, threads: dict | None = None,
                   extra: dict | None = None) -> None:
    """run_info.json in the run's folder (with `extra`'s entries); on rank 0 only when several processes train
    one model."""
    if launch_rank() == 0:
        write_json(Path(run_dir) / "run_info.json", {**run_info(device, threads), **(extra or {})})


def choose_threads(setting, device_type: str, cores: int, jobs: int, omp_num_threads: str | None = None) -> int | None:
    """trainer.threads: a number as given; auto on a CPU device: OMP_NUM_THREADS when the user set it, else the
    cores shared among the `jobs` training at once (at least 1 each: a thread per core each would oversubscribe
    the machine, several times slower); auto elsewhere: None, torch's default (the accelerator does the work)."""
    if setting != "auto":
        return int(setting)
    if device_type != "cpu":
        return None
    if omp_num_threads:
        return int(omp_num_threads)
    return max(1, cores // max(1, jobs))


def cpu_cores() -> int:
    """The cores this process may run on (a Slurm allocation or taskset may give fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def joblib_n_jobs() -> int | None:
    """The n_jobs of the joblib or fused launcher in a multirun (processes side by side on this machine); else None."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
        if hydra.mode == RunMode.MULTIRUN and launcher().startswith(("joblib", "fused")):
            return int(hydra.launcher.n_jobs)
    except Exception:  # not under Hydra (a script calling the library)
        pass
    return None


def jobs_sharing_the_machine(cores: int, n_jobs: int | None) -> int:
    """The training processes running at once here: a joblib sweep's n_jobs (negative as joblib reads it: -1 is
    one per core), times torchrun's processes on this node; 1 outside both."""
    jobs = 1 if n_jobs is None else n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)
    return jobs * int(os.environ.get("LOCAL_WORLD_SIZE", 1))


def apply_threads(setting, device: torch.device) -> dict:
    """Sets torch's CPU threads as trainer.threads says (choose_threads); returns the record run_info keeps."""
    cores = cpu_cores()
    jobs = jobs_sharing_the_machine(cores, joblib_n_jobs())
    threads = choose_threads(setting, device.type, cores, jobs, os.environ.get("OMP_NUM_THREADS"))
    if threads is not None:
        torch.set_num_threads(threads)
    return {"setting": setting, "cores": cores, "jobs": jobs, "threads": torch.get_num_threads()}
