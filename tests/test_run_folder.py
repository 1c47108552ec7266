"""A run folder's record: a refused command changes nothing, a resume keeps .hydra/ and logs itself in
resumes.log, resume=auto (a scheduler's requeue), the log file, and sweeps summarised by stored configs."""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pytest

from conftest import TINY_TOY, run_cli, run_task
from latentcli.engine import checkpoint as ckpt_io

pytestmark = pytest.mark.slow
RUN = ["model=alice", *TINY_TOY, "trainer.max_steps=10"]


def snapshot(folder: Path) -> dict[str, str]:
    """{relative path: md5} of every file under folder."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def alice_run(tmp_path):
    run = tmp_path / "alice"
    run_task("train", *RUN, f"hydra.run.dir={run}")
    return run


def test_a_refused_resume_changes_nothing_on_disk(alice_run):
    before = snapshot(alice_run)
    proc = run_cli("train", "resume=true", f"hydra.run.dir={alice_run}", "model.lr_g=1e-3", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert ("only trainer.* settings may change, but model.lr_g is 0.0002 in the run and 0.001 on this command "
            "line") in proc.stderr
    assert snapshot(alice_run) == before
    proc = run_cli("train", "resume=true", f"hydra.run.dir={alice_run}", "model=bigan", check=False)
    assert proc.returncode == 2 and "model.name is alice in the run and bigan on this command line" in proc.stderr
    assert snapshot(alice_run) == before


def test_a_resume_keeps_the_runs_record_and_logs_itself(alice_run):
    hydra_before = snapshot(alice_run / ".hydra")
    out = run_cli("train", "resume=true", "trainer.max_steps=15", f"hydra.run.dir={alice_run}").stdout
    assert out.splitlines()[0] == f"resuming {alice_run} from step 10"
    assert snapshot(alice_run / ".hydra") == hydra_before  # still says model=alice, the original overrides
    assert "- model=alice" in (alice_run / ".hydra" / "overrides.yaml").read_text()
    (line,) = (alice_run / "resumes.log").read_text().splitlines()
    assert line.endswith(f"resumed at step 10: latentcli train resume=true trainer.max_steps=15 "
                         f"hydra.run.dir={alice_run}")
    log = (alice_run / "train.log").read_text()  # everything printed, both runs
    assert "stopped by max_steps at step 10" in log and f"resuming {alice_run} from step 10" in log
    assert "stopped by max_steps at step 15" in log


def test_the_identical_command_line_resumes(alice_run):
    # what a scheduler's requeue or the up-arrow does: the same overrides, plus resume
    out = run_cli("train", *RUN, "resume=true", f"hydra.run.dir={alice_run}").stdout
    assert f"resuming {alice_run} from step 10" in out
    out = run_cli("train", *RUN, "resume=auto", "trainer.max_steps=12", f"hydra.run.dir={alice_run}").stdout
    assert out.splitlines()[0] == f"resume=auto: resuming {alice_run} from step 10"
    assert ckpt_io.load(alice_run / "checkpoints" / "last.ckpt")["step"] == 12


def test_resume_auto_starts_a_new_run_where_there_is_none(tmp_path):
    out = run_cli("train", *RUN, "resume=auto", f"hydra.run.dir={tmp_path / 'new'}").stdout
    assert out.splitlines()[0] == f"resume=auto: no checkpoint in {tmp_path / 'new'}: starting a new run"
    assert ckpt_io.load(tmp_path / "new" / "checkpoints" / "last.ckpt")["step"] == 10


def test_a_refused_command_leaves_no_new_folder(tmp_path):
    proc = run_cli("train", "resume=true", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # not even an empty outputs/train/<date>_bigan_digits
    proc = run_cli("evaluate", f"ckpt={tmp_path}/missing.ckpt", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_evaluate_log_holds_what_it_printed(alice_run, tmp_path):
    out = run_cli("evaluate", f"ckpt={alice_run}/checkpoints/last.ckpt", "n=50", "latent.n=20", "device=cpu",
                  f"hydra.run.dir={tmp_path / 'ev'}").stdout
    assert (tmp_path / "ev" / "evaluate.log").read_text() == out


def test_sweep_summary_groups_by_the_stored_config_after_a_resume(tmp_path):
    sweep = tmp_path / "sweep"
    run_task("train", "-m", "seed=0,1", *RUN, f"hydra.sweep.dir={sweep}")
    job = next(sweep.glob("0_*"))
    run_task("train", "resume=true", f"hydra.run.dir={job}")  # continues at its step: nothing left to do
    run_task("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "device=cpu",
             f"hydra.run.dir={tmp_path / 'ev'}")
    rows = list(csv.DictReader((tmp_path / "ev" / "summary.csv").open()))
    assert len(rows) == 1 and rows[0]["runs"] == "2"
    md = (tmp_path / "ev" / "summary.md").read_text()
    assert md.startswith("Same in every row: dataset = grid25, model = alice, inference = encoder, runs = 2")
    assert "resume" not in md


def test_a_sweep_of_two_models_shows_the_inversion_and_splits_datasets(tmp_path):
    sweep = tmp_path / "sweep"
    run_task("train", "-m", "model=gan,bigan", *TINY_TOY, "trainer.max_steps=5", f"hydra.sweep.dir={sweep}")
    run_task("train", "dataset=ring8", "dataset.n_train=256", "dataset.n_test=64", "model.width=16",
             "trainer.max_steps=5", "trainer.progress=false", "trainer.device=cpu", f"hydra.run.dir={sweep / 'ring'}")
    proc = run_cli("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "inference.steps=5",
                   "inference.progress=false", "device=cpu", f"hydra.run.dir={tmp_path / 'ev'}")
    assert "warning: these runs are on 2 datasets (ring8, grid25): one summary per dataset" in proc.stderr
    rows = list(csv.DictReader((tmp_path / "ev" / "summary_grid25.csv").open()))
    assert [(r["model"], r["inference"]) for r in rows] == [("gan", "optimize"), ("bigan", "encoder")]
    md = (tmp_path / "ev" / "summary_grid25.md").read_text().splitlines()
    assert md[0].startswith("Same in every row: dataset = grid25, runs = 1") and "step = 5 ± 0" in md[0]
    assert md[2].startswith("| model | inference | ")
    assert list(csv.DictReader((tmp_path / "ev" / "summary_ring8.csv").open()))[0]["runs"] == "1"
    assert not (tmp_path / "ev" / "summary.csv").exists()


def test_a_missing_gpu_names_the_key_that_asked_for_it(tmp_path):
    if os.environ.get("CUDA_VISIBLE_DEVICES") != "" and __import__("torch").cuda.is_available():
        pytest.skip("a GPU is present")
    proc = run_cli("train", "trainer.device=cuda", f"hydra.run.dir={tmp_path / 'x'}", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "latentcli train: error: trainer.device=cuda asked for, but torch sees no CUDA GPU: use "
        "trainer.device=auto or trainer.device=cpu")
    assert not (tmp_path / "x").exists()
