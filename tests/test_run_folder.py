"""A run folder's record: a refused command changes nothing, a resume keeps .hydra/ and logs itself in
resumes.log, resume=auto (a scheduler's requeue), the log file, and sweeps summarised by stored configs."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_TOY, run_cli, run_task
from latentcli.engine import checkpoint as ckpt_io
from test_trainer import assert_same_state

pytestmark = pytest.mark.slow
RUN = ["model=alice", *TINY_TOY, "trainer.max_steps=10"]


def snapshot(folder: Path) -> dict[str, str]:
    """{relative path: md5} of every file under folder."""
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, *args: str) -> tuple[int, str]:
    """Runs `latentcli ARGS` in this process, expecting it to stop: (exit status, what it printed to stderr)."""
    from latentcli.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def alice_template(tmp_path_factory):
    """A 10-step alice run, trained once for the module; tests take a copy (alice_run)."""
    run = tmp_path_factory.mktemp("template") / "alice"
    run_task("train", *RUN, f"hydra.run.dir={run}")
    return run


@pytest.fixture
def alice_run(alice_template, tmp_path):
    """A run folder of its own for each test (a copy of the template: the tests resume and extend it)."""
    run = tmp_path / "alice"
    shutil.copytree(alice_template, run)
    return run


def printed(capsys, *args: str) -> str:
    """Runs `latentcli ARGS` in this process and returns what it printed to stdout."""
    capsys.readouterr()
    run_task(*args)
    return capsys.readouterr().out


def test_a_refused_resume_changes_nothing_on_disk(alice_run, capsys):
    before = snapshot(alice_run)
    code, err = refused(capsys, "train", "resume=true", f"hydra.run.dir={alice_run}", "model.lr_g=1e-3")
    assert code == 2 and err.count("\n") == 1
    assert ("only trainer.* settings may change, but model.lr_g is 0.0002 in the run and 0.001 on this command "
            "line") in err
    assert snapshot(alice_run) == before
    code, err = refused(capsys, "train", "resume=true", f"hydra.run.dir={alice_run}", "model=bigan")
    assert code == 2 and "model.name is alice in the run and bigan on this command line" in err
    assert snapshot(alice_run) == before


def test_a_resume_keeps_the_runs_record_and_logs_itself(alice_run, capsys):
    hydra_before = snapshot(alice_run / ".hydra")
    out = printed(capsys, "train", "resume=true", "trainer.max_steps=15", f"hydra.run.dir={alice_run}")
    assert out.splitlines()[0] == f"resuming {alice_run} from step 10"
    assert snapshot(alice_run / ".hydra") == hydra_before  # still says model=alice, the original overrides
    assert "- model=alice" in (alice_run / ".hydra" / "overrides.yaml").read_text()
    (line,) = (alice_run / "resumes.log").read_text().splitlines()
    assert line.endswith(f"resumed at step 10: latentcli train resume=true trainer.max_steps=15 "
                         f"hydra.run.dir={alice_run}")
    log = (alice_run / "train.log").read_text()  # everything printed, both runs
    assert "stopped by max_steps at step 10" in log and f"resuming {alice_run} from step 10" in log
    assert "stopped by max_steps at step 15" in log


def test_the_identical_command_line_resumes(alice_run, capsys):
    # what a scheduler's requeue or the up-arrow does: the same overrides, plus resume
    out = printed(capsys, "train", *RUN, "resume=true", f"hydra.run.dir={alice_run}")
    assert f"resuming {alice_run} from step 10" in out
    out = printed(capsys, "train", *RUN, "resume=auto", "trainer.max_steps=12", f"hydra.run.dir={alice_run}")
    assert out.splitlines()[0] == f"resume=auto: resuming {alice_run} from step 10"
    assert ckpt_io.load(alice_run / "checkpoints" / "last.ckpt")["step"] == 12


def test_resume_auto_starts_a_new_run_where_there_is_none(tmp_path, capsys):
    out = printed(capsys, "train", *RUN, "resume=auto", f"hydra.run.dir={tmp_path / 'new'}")
    assert out.splitlines()[0] == f"resume=auto: no checkpoint in {tmp_path / 'new'}: starting a new run"
    assert ckpt_io.load(tmp_path / "new" / "checkpoints" / "last.ckpt")["step"] == 10


def test_a_sweep_rerun_with_a_larger_budget_continues_its_runs(tmp_path, capsys):
    """The budget is not in a job folder's name, so the same sweep with a larger trainer.max_steps and
    resume=auto continues each run where it stopped (how a study is taken further) instead of starting anew."""
    sweep = tmp_path / "sweep"
    again = ["train", "-m", "model=gan", "seed=0,1", *TINY_TOY, "trainer.checkpoint_every=5", "resume=auto",
             f"hydra.sweep.dir={sweep}"]
    printed(capsys, *again, "trainer.max_steps=10")
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    out = printed(capsys, *again, "trainer.max_steps=20")
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == jobs and len(jobs) == 2
    assert not any("max_steps" in job or "checkpoint_every" in job for job in jobs)
    assert out.count("from step 10") == 2
    assert all(ckpt_io.load(sweep / job / "checkpoints" / "last.ckpt")["step"] == 20 for job in jobs)


def test_a_sweep_rerun_with_its_values_reordered_is_refused_instead_of_starting_duplicate_runs(tmp_path, capsys):
    """Job folders start with the job number, which follows the order of the values: seed=1,0 after seed=0,1
    would start new runs 0_seed=1 and 1_seed=0 beside the old ones, and evaluate sweep= would count each seed
    twice. resume=auto refuses it in one line and leaves the sweep as it was."""
    sweep = tmp_path / "sweep"
    common = ["train", "-m", "model=gan", *TINY_TOY, "trainer.max_steps=5", "resume=auto", f"hydra.sweep.dir={sweep}"]
    printed(capsys, *common, "seed=0,1")
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    code, err = refused(capsys, *common, "seed=1,0")
    assert code == 2 and "give the sweep's values in their first order" in err and "Traceback" not in err
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == jobs
    printed(capsys, *common, "seed=0,1,2")  # a new value at the end is a new run
    assert len([p for p in sweep.iterdir() if p.is_dir()]) == 3


def test_a_refused_command_leaves_no_new_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where outputs/ would be made
    code, err = refused(capsys, "train", "resume=true")
    assert code == 2 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []  # not even an empty outputs/train/<date>_bigan_digits
    code, err = refused(capsys, "evaluate", f"ckpt={tmp_path}/missing.ckpt")
    assert code == 2 and "checkpoint not found" in err
    assert list(tmp_path.iterdir()) == []


def test_evaluate_log_holds_what_it_printed(alice_run, tmp_path, capsys):
    out = printed(capsys, "evaluate", f"ckpt={alice_run}/checkpoints/last.ckpt", "n=50", "latent.n=20", "device=cpu",
                  f"hydra.run.dir={tmp_path / 'ev'}")
    assert out and (tmp_path / "ev" / "evaluate.log").read_text() == out


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


def test_a_sweep_of_two_models_shows_the_inversion_and_splits_datasets(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    run_task("train", "-m", "model=gan,bigan", *TINY_TOY, "trainer.max_steps=5", f"hydra.sweep.dir={sweep}")
    run_task("train", "dataset=ring8", "dataset.n_train=256", "dataset.n_test=64", "model.width=16",
             "trainer.max_steps=5", "trainer.progress=false", "trainer.device=cpu", f"hydra.run.dir={sweep / 'ring'}")
    capsys.readouterr()
    run_task("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "inference.steps=5",
             "inference.progress=false", "device=cpu", f"hydra.run.dir={tmp_path / 'ev'}")
    assert "warning: these runs are on 2 datasets (ring8, grid25): one summary per dataset" in capsys.readouterr().err
    rows = list(csv.DictReader((tmp_path / "ev" / "summary_grid25.csv").open()))
    assert [(r["model"], r["inference"]) for r in rows] == [("gan", "optimize"), ("bigan", "encoder")]
    md = (tmp_path / "ev" / "summary_grid25.md").read_text().splitlines()
    assert md[0].startswith("Same in every row: dataset = grid25, runs = 1") and md[0].endswith(", step = 5")  # one run: no "± 0"
    assert md[2].startswith("| model | inference | ")
    assert list(csv.DictReader((tmp_path / "ev" / "summary_ring8.csv").open()))[0]["runs"] == "1"
    assert not (tmp_path / "ev" / "summary.csv").exists()


def test_a_missing_gpu_names_the_key_that_asked_for_it(tmp_path, capsys):
    if os.environ.get("CUDA_VISIBLE_DEVICES") != "" and __import__("torch").cuda.is_available():
        pytest.skip("a GPU is present")
    code, err = refused(capsys, "train", "trainer.device=cuda", f"hydra.run.dir={tmp_path / 'x'}")
    assert code == 2 and err.strip() == (
        "latentcli train: error: trainer.device=cuda asked for, but torch sees no CUDA GPU: use "
        "trainer.device=auto or trainer.device=cpu")
    assert not (tmp_path / "x").exists()


def _wait_for(pattern: str, folder: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob(pattern)):
        assert proc.poll() is None, f"ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{pattern} never appeared"
        time.sleep(0.05)


def test_ctrl_c_stops_a_sweep_and_its_printed_command_continues_it(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["train", "-m", "model=gan", "seed=0,1", *TINY_TOY, "trainer.max_steps=200", "trainer.checkpoint_every=10"]
    proc = subprocess.Popen([sys.executable, "-m", "latentcli", *args, f"hydra.sweep.dir={sweep}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for("0_*/checkpoints/step-00000020.ckpt", sweep, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert [p.name.split("_")[0] for p in sweep.glob("*_*")] == ["0"]  # job 1 never started
    again = stdout.splitlines()[-1]
    assert again.startswith("the sweep stops here (SIGINT); continue it with: latentcli train -m model=gan seed=0,1")
    out = run_cli(*shlex.split(again.split("latentcli ", 1)[1])).stdout
    assert "resume=auto: resuming" in out and "resume=auto: no checkpoint" in out
    assert out.splitlines()[-1] == f"next for the whole sweep: latentcli evaluate sweep={sweep}"
    assert sorted(ckpt_io.load(c)["step"] for c in sweep.glob("*/checkpoints/last.ckpt")) == [200, 200]


def test_ctrl_c_in_invert_is_one_line(alice_run, tmp_path):
    args = ["invert", f"ckpt={alice_run}/checkpoints/last.ckpt", "inference=optimize", "inference.steps=100000",
            "inference.patience=100000", "inference.progress=false", "device=cpu", f"hydra.run.dir={tmp_path / 'inv'}"]
    proc = subprocess.Popen([sys.executable, "-m", "latentcli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for("inv/invert.log", tmp_path, proc)
    time.sleep(4)  # into the optimisation
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip() == "latentcli invert: interrupted (Ctrl-C): nothing saved"
    assert not (tmp_path / "inv").exists()


def test_invert_and_evaluate_find_data_that_moved(tmp_path, capsys):
    from PIL import Image

    pictures = tmp_path / "pictures"
    for label in ("a", "b"):
        (pictures / label).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (20, 20), 10 * i + (100 if label == "b" else 0)).save(pictures / label / f"{i}.png")
    run = tmp_path / "run"
    run_task("train", "dataset=image_folder", f"dataset.path={pictures}", "dataset.channels=1",
             "dataset.resolution=16", "batch_size=8", "model.width=8", "trainer=debug", "trainer.max_steps=2",
             f"hydra.run.dir={run}")
    pictures.rename(tmp_path / "moved")
    ckpt = f"ckpt={run}/checkpoints/last.ckpt"
    code, err = refused(capsys, "evaluate", ckpt, "device=cpu", f"hydra.run.dir={tmp_path / 'x'}")
    assert code == 2 and f"dataset.path={pictures} is not a folder" in err
    run_task("evaluate", ckpt, f"dataset.path={tmp_path / 'moved'}", "device=cpu", "latent.n=4",
             f"hydra.run.dir={tmp_path / 'ev'}")
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["n_test"] == 2
    run_task("invert", ckpt, f"dataset.path={tmp_path / 'moved'}", "device=cpu", f"hydra.run.dir={tmp_path / 'inv'}")
    assert json.loads((tmp_path / "inv" / "summary.json").read_text())["n"] == 2
    code, err = refused(capsys, "evaluate", ckpt, f"dataset.data_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'y'}")
    assert code == 2 and "the checkpoint's dataset (image_folder) has no data_dir" in err
    code, err = refused(capsys, "evaluate", ckpt, "dataset.resolution=32", f"hydra.run.dir={tmp_path / 'z'}")
    assert code != 0 and "dataset.resolution" in err  # only the location can change


def test_home_in_path_options(alice_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(alice_run.parent))
    run_task("evaluate", "ckpt=~/alice/checkpoints/last.ckpt", "n=20", "latent.n=4", "device=cpu", "hydra.run.dir=~/ev")
    assert json.loads((alice_run.parent / "ev" / "metrics.json").read_text())["n_test"] == 20
    code, err = refused(capsys, "invert", "ckpt='~/none.ckpt'", f"hydra.run.dir={tmp_path / 'x'}")
    assert code == 2 and err.strip() == f"latentcli invert: error: checkpoint not found: {alice_run.parent}/none.ckpt"


def test_readme_budget_for_your_own_images_runs_as_written(tmp_path):
    from PIL import Image

    readme = (Path(__file__).resolve().parents[1] / "docs/guides/image-folder.md").read_text()
    block = readme.split("<!-- folder-budget -->\n```\n", 1)[1].split("\n```", 1)[0]
    words = shlex.split(block)
    assert words[:3] == ["latentcli", "train", "dataset=image_folder"] and "trainer.max_steps=2000" in words
    (tmp_path / "pictures").mkdir()
    for i in range(12):
        Image.new("RGB", (40, 30), (20 * i, 0, 0)).save(tmp_path / "pictures" / f"{i}.jpg")
    args = [w.replace("=DIR", f"={tmp_path / 'pictures'}") for w in words[1:]]
    run_task(*args, "trainer.max_steps=2", "batch_size=8", "trainer.progress=false", "trainer.device=cpu",
             f"hydra.run.dir={tmp_path / 'run'}")
    config = ckpt_io.load(tmp_path / "run" / "checkpoints" / "last.ckpt")["config"]
    assert (config["dataset"]["resolution"], config["dataset"]["channels"], config["model"]["width"]) == (32, 1, 32)


def test_a_damaged_last_checkpoint_falls_back_to_the_newest_readable_one(tmp_path, capsys):
    args = ["train", "model=gan", *TINY_TOY, "trainer.max_steps=25", "trainer.checkpoint_every=10"]
    run_task(*args, f"hydra.run.dir={tmp_path / 'straight'}")
    run = tmp_path / "torn"
    run_task(*args, "trainer.max_steps=22", f"hydra.run.dir={run}")  # step-10, step-20, last.ckpt at 22
    last = run / "checkpoints" / "last.ckpt"
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a tensor: torch alone would load it
    last.write_bytes(bytes(data))
    code, err = refused(capsys, "evaluate", f"ckpt={last}", f"hydra.run.dir={tmp_path / 'ev'}")
    assert code == 2 and err.strip() == (
        f"latentcli evaluate: error: cannot read checkpoint {last}: damaged (its content does not match the "
        f"checksum written with it)")
    run_task(*args, "resume=auto", f"hydra.run.dir={run}")
    assert capsys.readouterr().err.strip() == (f"warning: {last} is damaged; resuming from "
                                               f"{run / 'checkpoints' / 'step-00000020.ckpt'} (step 20) instead")
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(last)
    assert resumed["step"] == 25
    assert_same_state(straight, resumed)
