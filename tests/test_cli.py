"""The command line as a user meets it, each run in a fresh process: help, errors, train -> invert -> evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TINY_TOY, run_cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_the_tasks():
    out = run_cli("--help").stdout
    for task in ("train", "invert", "evaluate"):
        assert f"\n  {task} " in out


def test_unknown_task_is_one_line_and_exit_2():
    proc = run_cli("trian", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "valid tasks: train, invert, evaluate" in proc.stderr


def test_bad_override_gets_hydras_message_without_traceback(tmp_path):
    proc = run_cli("train", "model=nope", check=False, cwd=tmp_path)
    assert proc.returncode != 0
    assert "Could not find 'model/nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_misspelt_key_suggests_the_nearest_key_not_a_plus_that_is_then_refused(tmp_path):
    proc = run_cli("train", "model=alice", "model.lamda=1", check=False, cwd=tmp_path)
    assert proc.returncode == 2 and not list(tmp_path.iterdir())
    assert proc.stderr == ("latentcli train: error: model.lamda: model=alice has no key lamda; "
                           "did you mean model.lambda?\n")


@pytest.mark.parametrize("task", ["invert", "evaluate"])
def test_a_dataset_choice_on_invert_or_evaluate_says_the_data_comes_from_the_checkpoint(tmp_path, task):
    proc = run_cli(task, "ckpt=x.ckpt", "dataset=shapes", check=False, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and not list(tmp_path.iterdir())
    assert proc.stderr.startswith(f"latentcli {task}: error: {task} reads the data the model was trained on "
                                  "from its checkpoint; dataset= cannot choose another")
    assert "dataset.path=DIR" in proc.stderr


def test_conflicting_hydra_flags_are_one_line(tmp_path):
    proc = run_cli("train", "-m", "experiment=toy_modes", "--cfg", "job", check=False, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("latentcli train: error: Only one of --run, --multirun, --cfg, --info and "
                                   "--shell_completion can be specified")


def test_missing_checkpoint_is_one_clear_line(tmp_path):
    proc = run_cli("invert", f"ckpt={tmp_path}/none.ckpt", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"latentcli invert: error: checkpoint not found: {tmp_path}/none.ckpt"


def test_task_help_and_cfg_job_work(tmp_path):
    help_text = run_cli("train", "--help", cwd=tmp_path).stdout
    assert "model: aae, alad, ali, alice, bigan, external, gan, regressor, vae, vaegan, veegan" in help_text
    job = run_cli("train", "model=gan", "--cfg", "job", cwd=tmp_path).stdout
    assert "name: gan" in job and "max_steps:" in job


def test_invert_and_evaluate_take_only_the_external_model(tmp_path):
    out = run_cli("invert", "model=gan", cwd=tmp_path, check=False)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "model= only takes model=external" in out.stderr and not list(tmp_path.iterdir())


def test_each_task_help_lists_its_own_groups_the_metrics_and_the_defaults(tmp_path):
    invert_help = run_cli("invert", "--help", cwd=tmp_path).stdout
    assert "  inputs: folder, samples, test  (default: test)" in invert_help
    assert "  edit: arithmetic, interpolate, none  (default: none)" in invert_help
    evaluate_help = run_cli("evaluate", "--help", cwd=tmp_path).stdout
    for text in (invert_help, evaluate_help):
        assert "  inference: auto, encoder, fast, hybrid, optimize, regressor  (default: auto)" in text
        assert "  model: external  (default: none)" in text  # a generator trained elsewhere; latentcli's own: ckpt=
        assert not any(f"  {group}: " in text for group in ("dataset", "trainer", "experiment"))
        assert "\n'n': " in text  # the number of test items: one spelling, n=, in both tasks
    assert "inputs:" not in evaluate_help and "edit:" not in evaluate_help
    from latentcli.metrics import METRICS

    for name, line in METRICS.help.items():
        assert f"  {name}" in evaluate_help and line in evaluate_help


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("bigan_grid25")
    out = run_cli("train", "model=bigan", *TINY_TOY, "trainer.max_steps=30", "trainer.sample_every=15",
                  f"hydra.run.dir={run}")
    assert "stopped by max_steps at step 30" in out.stdout
    return run


def test_train_writes_a_run_directory(toy_run):
    assert (toy_run / "checkpoints" / "last.ckpt").exists()
    assert (toy_run / ".hydra" / "config.yaml").exists()
    assert sorted(p.name for p in (toy_run / "samples").iterdir()) == ["step-00000015.png", "step-00000030.png"]
    steps = [json.loads(line)["step"] for line in (toy_run / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(5, 31, 5))


@pytest.mark.parametrize("inference", ["encoder", "optimize"])
def test_invert_writes_latents_picture_and_summary(toy_run, tmp_path, inference):
    options = ["inference.steps=20", "inference.progress=false"] if inference == "optimize" else []
    run_cli("invert", f"ckpt={toy_run}/checkpoints/last.ckpt", f"inference={inference}", *options, "inputs.n=50",
            "device=cpu", f"hydra.run.dir={tmp_path}")
    latents = torch.load(tmp_path / "latents.pt", weights_only=True)
    assert latents["z"].shape == (50, 8) and latents["loss"].shape == (50,)
    assert latents["ids"] == [str(i) for i in range(50)] and latents["method"] == inference
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n"] == 50 and summary["method"] == inference
    assert summary["loss_mean"] == pytest.approx(float(latents["loss"].mean()), rel=1e-5)
    assert (tmp_path / "reconstructions.png").stat().st_size > 0


def test_evaluate_toy_reports_modes(toy_run, tmp_path):
    out = run_cli("evaluate", f"ckpt={toy_run}/checkpoints/last.ckpt", "device=cpu", f"hydra.run.dir={tmp_path}")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["model"] == "bigan" and metrics["inference"] == "encoder" and metrics["step"] == 30
    assert metrics["modes"]["modes_total"] == 25 and metrics["modes"]["n_samples"] == 2500
    assert (tmp_path / "modes.png").exists()
    assert "modes " in out.stdout
    # the counts on a known answer: a generator that puts every sample within sigma / 10 of one of 5 modes,
    # each about a fifth of the time (tests/external_generator.py), evaluated by the same command
    from external_generator import ModeSnapper

    torch.save(ModeSnapper(5).state_dict(), tmp_path / "snapper.pt")
    run_cli("evaluate", "model=external", "model.target=external_generator:ModeSnapper", "model.kwargs={k: 5}",
            f"model.weights={tmp_path / 'snapper.pt'}", "model.latent_dim=2", "model.dataset=grid25",
            "metrics=[modes]", "inference=optimize", "inference.steps=2", "inference.progress=false", "n=50",
            "device=cpu", f"hydra.run.dir={tmp_path / 'snapper'}", cwd=ROOT / "tests")
    modes = json.loads((tmp_path / "snapper" / "metrics.json").read_text())["modes"]
    assert (modes["modes_covered"], modes["modes_covered_20"], modes["modes_total"]) == (5, 5, 25)
    assert modes["high_quality_fraction"] == 1.0


def test_images_end_to_end_and_gan_encoder_error(tmp_path):
    run = tmp_path / "gan_digits"
    run_cli("train", "model=gan", "dataset=digits", "model.width=8", "trainer=debug", f"hydra.run.dir={run}")
    ckpt = run / "checkpoints" / "last.ckpt"
    refused = run_cli("invert", f"ckpt={ckpt}", "inference=encoder", f"hydra.run.dir={tmp_path / 'inv'}",
                      check=False)
    assert refused.returncode == 2 and "has no encoder" in refused.stderr and "Traceback" not in refused.stderr
    run_cli("evaluate", f"ckpt={ckpt}", "inference.steps=5", "inference.progress=false", "n=20", "device=cpu",
            f"hydra.run.dir={tmp_path / 'ev'}")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["inference"] == "optimize" and metrics["n_test"] == 20
    assert 0 < metrics["recon"]["psnr"] < 60
    assert (tmp_path / "ev" / "samples.png").exists() and (tmp_path / "ev" / "reconstructions.png").exists()


def test_multirun_with_the_joblib_launcher(tmp_path):
    run_cli("train", "-m", "model=gan,bigan", *TINY_TOY, "trainer.max_steps=5", "hydra/launcher=joblib",
            f"hydra.sweep.dir={tmp_path}")
    ckpts = sorted(tmp_path.glob("*/checkpoints/last.ckpt"))
    assert len(ckpts) == 2
    names = {torch.load(c, weights_only=True)["config"]["model"]["name"] for c in ckpts}
    assert names == {"gan", "bigan"}
    # a job's folder name must survive being passed back as an override
    run_cli("evaluate", f"ckpt={ckpts[0]}", "n=20", "n_samples=100", "device=cpu", f"hydra.run.dir={tmp_path / 'ev'}")


def test_installed_wheel_runs_from_another_directory(tmp_path):
    """A non-editable install must find its configs inside the package, not in the source tree."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("latentcli-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    assert (target / "latentcli" / "configs" / "trainer" / "default.yaml").exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([sys.executable, "-c", "import latentcli.paths as c; print(c.config_dir())"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == str(target / "latentcli" / "configs")
    proc = subprocess.run([sys.executable, "-m", "latentcli", "train", "model=gan", "dataset=ring8", "--cfg", "job"],
                          cwd=elsewhere, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "name: ring8" in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["train", "+modle=gan"], "train has no modle (from +modle=gan), so it would be ignored"),
    (["invert", "ckpt=x.ckpt", "+dataset=fashion_mnist"],
     "invert has no config group dataset (from +dataset=fashion_mnist), so it would be ignored; invert reads the data "
     "the model was trained on from its checkpoint; if that data moved, dataset.path=DIR (image_folder) or "
     "dataset.data_dir=DIR relocates it"),
    (["evaluate", "ckpt=x.ckpt", "++inference.stepz=3"], "evaluate has no inference.stepz (from ++inference.stepz=3)"),
    (["invert", "ckpt=x.ckpt", "inference=encoder", "inference.steps=30"],
     "inference=encoder does not read inference.steps"),
])
def test_keys_a_task_would_ignore_are_refused_in_one_line(tmp_path, args, message):
    proc = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}", check=False, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"latentcli {args[0]}: error: {message}")


def test_a_sweep_job_folder_name_too_long_for_the_file_system_is_one_line_and_exit_2(tmp_path):
    many = ["model.lr_g=7.50195444362012e-05", "model.lr_d=0.0006074996073425694", "model.betas.0=0.0",
            "model.d_steps=5", "model.g_steps=2", "model.loss=hinge", "trainer.ema_decay=0.99", "model.pack=4",
            "model.updates=alternating", "trainer.sample_every=3000", "trainer.checkpoint_every=1000",
            "trainer.checkpoint_every_seconds=300", "trainer.log_every=1000", "model.init_std=0.025"]
    proc = run_cli("train", "-m", "model=gan", "dataset=grid25", "trainer.max_steps=1", *many, "seed=100,101",
                   f"hydra.sweep.dir={tmp_path}", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "hydra.sweep.subdir='${hydra.job.num}'" in proc.stderr.strip().splitlines()[-1]
