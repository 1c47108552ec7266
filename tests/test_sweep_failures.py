"""Sweeps keep what finished: a job that fails is recorded with its reason, the other jobs run and are
summarised in full, and the sweep ends with a non-zero status."""

from __future__ import annotations

import csv
import json

import pytest

from conftest import TINY_TOY, run_task
from latentcli.engine import checkpoint as ckpt_io
from test_storage import refused

pytestmark = pytest.mark.slow
NAN = "loss for optimizer 'discriminator' became nan at step 2: stopped; no checkpoint was saved before it"


def test_a_job_that_fails_neither_stops_nor_loses_the_others(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    # a learning rate of 1e30 makes the losses NaN at step 2, found when the run looks (step 5)
    code, err = refused(capsys, "train", "-m", "model=gan", "model.lr_g=2e-4,1e30,1e-4", *TINY_TOY,
                        "trainer.max_steps=10", f"hydra.sweep.dir={sweep}")
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert code == 1 and len(jobs) == 3
    assert [json.loads((job / "status.json").read_text())["status"] for job in jobs] == ["finished", "failed",
                                                                                         "finished"]
    assert json.loads((jobs[1] / "status.json").read_text())["reason"] == NAN
    assert [ckpt_io.load(job / "checkpoints" / "last.ckpt")["step"] for job in (jobs[0], jobs[2])] == [10, 10]
    assert f"latentcli train: error: {NAN}\n" in err and "Traceback" not in err
    assert err.endswith(f"latentcli train: 1 job of the sweep failed; the others' results are kept:\n"
                        f"  {jobs[1].name}: {NAN}\n")
    assert NAN in (jobs[1] / "train.log").read_text()

    run_task("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "inference.steps=5",
             "inference.progress=false", "device=cpu",
             f"hydra.run.dir={tmp_path / 'ev'}")
    assert f"failed in training, listed in the summary: {jobs[1].name}: {NAN}" in capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "ev" / "summary.csv").open()))
    assert [row["model.lr_g"] for row in rows] == ["0.0002", "0.0001"]
    # the finished jobs' rows are complete (a std needs two seeds: one run shows none)
    assert all(value != "" for row in rows for key, value in row.items() if not key.endswith(" std"))
    assert all(row["runs"] == "1" and float(row["modes.modes_covered mean"]) >= 0 for row in rows)
    md = (tmp_path / "ev" / "summary.md").read_text()
    assert md.endswith(f"Failed jobs (not in the table above):\n\n| job | reason |\n| --- | --- |\n"
                       f"| {jobs[1].name} | {NAN} |\n")

    # another sweep into the same folder reports its own failed job only
    code, err = refused(capsys, "train", "-m", "model=gan", "model.lr_g=2e-4,1e30,1e-4", "seed=1", *TINY_TOY,
                        "trainer.max_steps=10", "resume=auto", f"hydra.sweep.dir={sweep}")
    assert code == 1 and err.count(NAN) == 2, err  # the job's own line and the sweep's list, not the earlier job
    assert len([p for p in sweep.iterdir() if p.is_dir()]) == 6  # new job folders: the seed is in their names


def test_a_crash_in_one_job_is_recorded_with_its_first_line(tmp_path, capsys, monkeypatch):
    from latentcli.tasks import train

    real = train.build_model

    def crash_on_bigan(cfg, info):
        if cfg.name == "bigan":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")
        return real(cfg, info)

    monkeypatch.setattr(train, "build_model", crash_on_bigan)
    sweep = tmp_path / "sweep"
    code, err = refused(capsys, "train", "-m", "model=bigan,gan", *TINY_TOY, "trainer.max_steps=5",
                        f"hydra.sweep.dir={sweep}")
    reason = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert code == 1 and "Traceback" in err and f"latentcli train: error: {reason}\n" in err
    assert json.loads((next(sweep.glob("0_*")) / "status.json").read_text())["reason"] == reason
    assert ckpt_io.load(next(sweep.glob("1_*")) / "checkpoints" / "last.ckpt")["step"] == 5


def test_a_refusal_about_the_folder_still_stops_the_sweep(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_task("train", "-m", "model=gan", "seed=0,1", *TINY_TOY, "trainer.max_steps=5", f"hydra.sweep.dir={sweep}")
    code, err = refused(capsys, "train", "-m", "model=gan", "seed=0,1", *TINY_TOY, "trainer.max_steps=5",
                        f"hydra.sweep.dir={sweep}")  # without resume: every job would be refused alike
    assert code == 2 and err.count("\n") == 1 and "already holds a run" in err
    assert [json.loads(p.read_text())["status"] for p in sorted(sweep.glob("*/status.json"))] == ["finished"] * 2
