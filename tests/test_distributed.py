"""Data-parallel training over 2 CPU processes (gloo): the same result as one process with the same global
batch, and a killed 2-process run (torchrun) that resumes ends bitwise equal to an unbroken one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from conftest import TINY_TOY, states_equal
from latentcli.data import TensorPairs, batch_stream
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import Trainer, TrainerConfig


class Fit(nn.Module):
    """A small MLP fitted to y = sin(3x) by Adam: no randomness once built, so two runs can be compared."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))

    def optimizers(self):
        return {"adam": torch.optim.Adam(self.parameters(), lr=1e-2)}

    def losses(self, batch):
        x, y = batch
        loss = (self.net(x) - y).pow(2).mean()
        yield "adam", loss, {"loss": loss}


def fit(run_dir) -> Fit:
    x = torch.linspace(-1, 1, 256).unsqueeze(1)
    data = TensorPairs(x, torch.sin(3 * x))
    data.y = data.y.float()
    model = Fit()
    cfg = TrainerConfig(max_steps=30, device="cpu", progress=False, tensorboard=False, log_every=10)
    Trainer(cfg, run_dir).fit(model, lambda s: batch_stream(data, 32, 0, s))
    return model


def _worker(rank: int, port: int, run_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2")
    torch.set_num_threads(1)
    fit(run_dir)
    torch.distributed.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    one = fit(tmp_path / "one").state_dict()
    mp.spawn(_worker, args=(free_port(), str(tmp_path / "two")), nprocs=2, join=True)
    two = ckpt_io.load(tmp_path / "two" / "checkpoints" / "last.ckpt")
    assert two["step"] == 30 and len(two["rng_ranks"]) == 2
    # each process's gradient of its 16 items, averaged, is the 32-item gradient up to float rounding
    for key, value in one.items():
        assert torch.allclose(value, two["model"][key], rtol=0, atol=1e-5), key
        assert not torch.equal(value, Fit().state_dict()[key])  # it did train
    logged = (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 3  # rank 0 alone logs: 3 lines, not 6


@pytest.mark.slow
def test_killed_two_process_run_resumes_bitwise(tmp_path):
    """bigan with the WGAN-GP penalty (a double backward through D) over 2 processes started by torchrun."""
    common = [*TINY_TOY, "model=bigan", "model.loss=wgan_gp", "trainer.checkpoint_every=5", "trainer.ema_decay=0.9"]

    def torchrun(*args: str) -> str:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
               "-m", "latentcli", "train", *common, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    torchrun("trainer.max_steps=20", f"hydra.run.dir={tmp_path / 'unbroken'}")
    # a kill -9 at step 12 would leave this: last.ckpt at the step-10 checkpoint, log lines past it
    shutil.copytree(tmp_path / "unbroken", tmp_path / "killed")
    checkpoints = tmp_path / "killed" / "checkpoints"
    (checkpoints / "last.ckpt").unlink()
    shutil.copyfile(checkpoints / "step-00000010.ckpt", checkpoints / "last.ckpt")
    out = torchrun("trainer.max_steps=20", "resume=true", f"hydra.run.dir={tmp_path / 'killed'}")
    assert out.count("resuming") == 1, out  # said once, not by every rank
    unbroken = ckpt_io.load(tmp_path / "unbroken" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(checkpoints / "last.ckpt")
    assert resumed["step"] == 20 and len(resumed["rng_ranks"]) == 2
    for part in ("model", "ema", "optimizers"):
        assert states_equal(unbroken[part], resumed[part]), part
    assert not torch.equal(resumed["rng_ranks"][0]["torch"], resumed["rng_ranks"][1]["torch"])  # own noise each
    info = (tmp_path / "unbroken" / "run_info.json").read_text()
    assert '"world_size": 2' in info and "torchrun" in info



@pytest.mark.slow
def test_rank_zero_alone_reports_and_keeps_the_records(tmp_path):
    """Two ranks share the run folder: the summary is printed and train.log written once, by rank 0."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
           "-m", "latentcli", "train", *TINY_TOY, "model=gan", "trainer.max_steps=3", f"hydra.run.dir={out}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("stopped by max_steps at step 3", "checkpoint:", "next:"):
        assert proc.stdout.count(line) == 1, proc.stdout
        assert (out / "train.log").read_text().count(line) == 1
    assert (out / ".hydra" / "config.yaml").is_file()


def test_other_ranks_write_no_hydra_record(tmp_path, monkeypatch):
    from latentcli.tasks.common import save_hydra_record

    monkeypatch.setenv("RANK", "1")
    save_hydra_record({"seed": 0}, tmp_path)  # rank 1 returns before asking Hydra for anything
    assert not (tmp_path / ".hydra").exists()
