"""logger=: what each tracker was given, read back from its own files (TensorBoard's event files, the CSV,
wandb's offline run, MLflow's SQLite store)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import TINY_TOY, run_cli, run_task
from latentcli.engine.logging import CSVLogger

# the toy run with its trackers on (TINY_TOY turns TensorBoard off for speed elsewhere)
TOY = [a for a in TINY_TOY if not a.startswith("trainer.tensorboard")] + [
    "trainer.max_steps=10", "trainer.sample_every=5", "trainer.checkpoint_every=10"]


def events(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run / "tb"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def session_hparams(accumulator) -> dict:
    """The settings of the run's HParams session, as TensorBoard's HParams plugin reads them."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = accumulator.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in info.hparams.items()}


def jsonl(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_two_run_sweep_gives_tensorboard_sample_images_and_hparams_and_a_csv(tmp_path):
    sweep = tmp_path / "sweep"
    run_task("train", "-m", "seed=0,1", *TOY, "logger=[tensorboard,csv]", f"hydra.sweep.dir={sweep}")
    runs = sorted(p for p in sweep.iterdir() if (p / "tb").is_dir())
    assert len(runs) == 2
    for seed, run in enumerate(runs):
        tb = events(run)
        assert [image.step for image in tb.Images("samples")] == [5, 10]  # the periodic sample pictures
        assert tb.Images("samples")[0].width >= 400  # the 2-D plot, at the size it was saved
        logged = jsonl(run)
        assert [(s.step, s.value) for s in tb.Scalars("loss_d")] == \
            [(r["step"], pytest.approx(r["loss_d"])) for r in logged]
        hparams = session_hparams(tb)
        assert hparams["seed"] == seed and hparams["model.name"] == "bigan" and hparams["dataset.name"] == "grid25"
        assert not any(k.startswith("logger.") for k in hparams)
        rows = list(csv.DictReader((run / "csv" / "metrics.csv").open()))
        assert [int(r["step"]) for r in rows] == [r["step"] for r in logged]
        assert [float(r["loss_d"]) for r in rows] == [pytest.approx(r["loss_d"]) for r in logged]
        final = json.loads((run / "csv" / "hparams.json").read_text())
        assert final["params"]["seed"] == seed and final["metrics"]["loss_d"] == pytest.approx(logged[-1]["loss_d"])

    # evaluate adds its numbers to each run's trackers, at the checkpoint's step
    run_task("evaluate", f"sweep={sweep}", "n=50", "n_samples=200", "latent.n=20", "device=cpu", f"hydra.run.dir={tmp_path / 'ev'}")
    for run in runs:
        metrics = json.loads((tmp_path / "ev" / run.name / "metrics.json").read_text())
        psnr = [(s.step, s.value) for s in events(run).Scalars("evaluate/encoder/recon.mse")]
        assert psnr == [(10, pytest.approx(metrics["recon"]["mse"]))]
        assert "evaluate/encoder/modes" in events(run).Tags()["images"]
        rows = list(csv.DictReader((run / "csv" / "metrics.csv").open()))
        assert float(rows[-1]["evaluate/encoder/modes.modes_covered"]) == metrics["modes"]["modes_covered"]


def test_csv_logger_resumed_at_a_step_drops_what_came_after_it(tmp_path):
    first = CSVLogger(tmp_path, {}, resume_step=0, run_name="run")
    for step in (5, 10, 15):
        first.log(step, {"loss": float(step)})
    first.log(15, {"extra": 1.0})  # a new name widens the file
    again = CSVLogger(tmp_path, {}, resume_step=10, run_name="run")  # the checkpoint was at step 10
    again.log(15, {"loss": 15.5})
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    assert [(r["step"], r["loss"]) for r in rows] == [("5", "5.0"), ("10", "10.0"), ("15", "15.5")]


def test_no_logger_leaves_metrics_jsonl_alone(tmp_path):
    run = tmp_path / "run"
    run_task("train", *TOY, "logger=[]", f"hydra.run.dir={run}")
    assert len(jsonl(run)) == 2 and not (run / "tb").exists() and not (run / "csv").exists()


def test_a_missing_tracker_package_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    from latentcli.cli import main

    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    with pytest.raises(SystemExit) as exit_:
        main(["train", *TOY, "logger=wandb", f"hydra.run.dir={tmp_path / 'run'}"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "latentcli train: error: logger=wandb needs the wandb package: pip install 'latentcli[wandb]'"


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None,
                    reason="wandb is not installed (pip install 'latentcli[wandb]'; CI installs it)")
def test_wandb_offline_run_holds_the_settings_and_final_metrics(tmp_path):
    run = tmp_path / "run"
    # in a process of its own: wandb's service writes the run's file out by the time the process ends
    run_cli("train", *TOY, "logger=wandb", f"hydra.run.dir={run}", env={"WANDB_MODE": "offline"})
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1  # one run, kept for `wandb sync`
    images = sorted(p.name.split("_")[:2] for p in (offline[0] / "files" / "media" / "images").glob("*.png"))
    assert images == [["samples", "10"], ["samples", "5"]]
    # the history, settings and summary are protobuf records in run-<id>.wandb (read by wandb's Go core only)
    history = next(offline[0].glob("run-*.wandb")).read_bytes()
    assert history.startswith(b":W&B") and b"loss_d" in history and b"dataset.name" in history


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None,
                    reason="mlflow is not installed (pip install 'latentcli[mlflow]'; CI installs it)")
def test_mlflow_sqlite_run_holds_metrics_settings_samples_and_the_evaluation(tmp_path):
    from mlflow.tracking import MlflowClient

    run = tmp_path / "run"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_task("train", *TOY, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}",
             f"logger.mlflow.artifact_location={tmp_path / 'artifacts'}", f"hydra.run.dir={run}")
    run_task("evaluate", f"ckpt={run / 'checkpoints' / 'last.ckpt'}", "n=50", "latent.n=20", "device=cpu",
             f"hydra.run.dir={tmp_path / 'ev'}")
    client = MlflowClient(tracking_uri=uri)
    record = json.loads((run / "mlflow_run.json").read_text())
    stored = client.get_run(record["run_id"])
    assert stored.info.status == "FINISHED" and stored.data.params["seed"] == "0"
    history = client.get_metric_history(record["run_id"], "loss_d")
    assert [(m.step, m.value) for m in history] == [(r["step"], pytest.approx(r["loss_d"])) for r in jsonl(run)]
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert stored.data.metrics["evaluate/encoder/recon.mse"] == pytest.approx(metrics["recon"]["mse"])
    assert {a.path for a in client.list_artifacts(record["run_id"], "samples")} == {
        "samples/step-00000005.png", "samples/step-00000010.png"}
