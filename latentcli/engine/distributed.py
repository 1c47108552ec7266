"""Data-parallel training over the processes torchrun starts (`torchrun --nproc_per_node=N -m latentcli train`)
or a submitit job's tasks (`hydra/launcher=submitit_slurm hydra.launcher.tasks_per_node=N`).

Every process builds the same model from the same seed and reads the same (seed, step) batch, then
keeps its own 1/N slice of it, so the data order, and with it exact resume, is that of one process.
After each backward the gradients are averaged over the processes (an all-reduce, as DDP does), so
every process applies the same update to the same weights.

Why not the DistributedDataParallel wrapper: a GAN step runs a network several times before one
backward (D on real, on fake, on the WGAN-GP mixes) and takes a double backward through D for the
gradient penalty; DDP's reducer expects one forward per backward and breaks on both. Averaging the
gradients explicitly has no such limits and keeps the models' state_dict keys unchanged.

BatchNorm: each process normalises with its own slice's statistics, which is what DDP with
broadcast_buffers=False does; the running statistics saved are rank 0's. (SyncBatchNorm would need
one all-reduce inside every BatchNorm forward and does not run on the CPU.)

Control decisions (stop on a signal or a time budget, save on a timer) are agreed every step through
a small all-reduce on the CPU (gloo), which never waits for the GPU.
"""

from __future__ import annotations

import atexit
import datetime
import os
import random

import numpy as np

import torch
import torch.distributed as dist

from latentcli.errors import UserError


class Group:
    """This process's place among the processes training one model (rank 0 of 1 when alone)."""

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0, control=None):
        self.rank, self.size, self.local_rank, self.control = rank, size, local_rank, control

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch, batch_size: int | None = None):
        """This process's contiguous 1/size of every tensor in the batch (along the first dimension)."""
        if self.size == 1:
            return batch
        if isinstance(batch, torch.Tensor):
            n = len(batch)
            if n % self.size:
                raise UserError(f"the batch of {n} items does not split evenly over {self.size} processes: "
                                f"use a batch_size divisible by {self.size}")
            part = n // self.size
            return batch[self.rank * part:(self.rank + 1) * part]
        if isinstance(batch, (tuple, list)):
            return type(batch)(self.shard(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self.shard(v) for k, v in batch.items()}
        return batch

    def average_gradients(self, params: list[torch.Tensor]) -> None:
        """Replaces each gradient by its mean over the processes (one flat all-reduce)."""
        if self.size == 1:
            return
        grads = [p.grad for p in params if p.grad is not None]  # the same parameters have grads everywhere
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def agree(self, flags: list[bool]) -> list[bool]:
        """Each flag is true everywhere if it is true in any process (stop, save now)."""
        if self.size == 1:
            return flags
        t = torch.tensor([int(f) for f in flags])
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        return [bool(v) for v in t.tolist()]

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Logged values averaged over the processes (every process has the same keys)."""
        if self.size == 1 or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64)
        dist.all_reduce(t, group=self.control)
        return dict(zip(values, (t / self.size).tolist()))

    def gather(self, obj) -> list:
        """[obj of rank 0, obj of rank 1, ...] in every process."""
        if self.size == 1:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj, group=self.control)
        return out

    def diverge_rng(self) -> None:
        """Each process its own random stream (latents, dropout); rank 0 keeps the one-process stream."""
        if self.rank == 0:
            return
        seed = torch.initial_seed() + 1_000_003 * self.rank
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)

    def broadcast_model(self, model: torch.nn.Module) -> None:
        """Rank 0's weights and buffers everywhere: the processes start identical whatever their seeds did."""
        if self.size == 1:
            return
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, 0)


# where each launcher puts a process's global rank: torchrun, submitit's local executor, Slurm's tasks
RANK_VARIABLES = ("RANK", "SUBMITIT_LOCAL_GLOBALID", "SLURM_PROCID")


def launch_rank() -> int:
    """This process's rank as its launcher set it, known before the group is joined (0 when alone). The run's
    records (.hydra/, train.log, resumes.log, run_info.json) and its closing summary are rank 0's alone: the
    other ranks share its folder."""
    return int(next((os.environ[v] for v in RANK_VARIABLES if v in os.environ), "0"))


_joined: Group | None = None


def join(device: torch.device) -> tuple[Group, torch.device]:
    """The process group torchrun describes in the environment (RANK, WORLD_SIZE, ...), joined once;
    on CUDA each process takes the GPU of its LOCAL_RANK. Alone (no torchrun): Group() and `device`."""
    global _joined
    if "WORLD_SIZE" not in os.environ and _submitit_tasks() > 1:  # hydra.launcher.tasks_per_node=N on Slurm
        from submitit.helpers import TorchDistributedEnvironment

        TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    size = int(os.environ.get("WORLD_SIZE", 1))
    if size == 1:
        return Group(), device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(minutes=30))
        # a group still alive at interpreter exit can abort the process ("terminate called without an
        # active exception") after the run finished: leave it explicitly
        atexit.register(_leave)
    if _joined is None:
        _joined = Group(rank, size, local_rank, dist.new_group(backend="gloo") if device.type == "cuda" else None)
    return _joined, device


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _submitit_tasks() -> int:
    """The number of tasks of the submitit job this process is one of (1 outside submitit)."""
    if not os.environ.get("SUBMITIT_EXECUTOR"):
        return 1
    import submitit

    return submitit.JobEnvironment().num_tasks
