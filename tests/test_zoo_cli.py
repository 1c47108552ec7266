"""Every model end to end through the CLI: train a few steps, reload, invert, evaluate (in-process, for speed)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from conftest import TINY_TOY, run_task
from latentcli import load_checkpoint
from test_models import GENERATIVE

TINY_IMAGES = ["dataset=digits", "model.width=8", "batch_size=16", "trainer.device=cpu", "trainer.progress=false",
               "trainer.tensorboard=false"]
QUICK = ["inference.steps=3", "inference.progress=false", "device=cpu"]


def round_trip(tmp_path, train_args: list[str]) -> dict:
    """Trains, reloads the checkpoint, inverts and evaluates; returns evaluate's metrics.json."""
    run = tmp_path / "run"
    run_task("train", *train_args, "trainer.max_steps=6", "trainer.sample_every=3", f"hydra.run.dir={run}")
    ckpt = run / "checkpoints" / "last.ckpt"
    model, saved = load_checkpoint(ckpt, device="cpu")
    assert saved["step"] == 6 and not model.training
    run_task("invert", f"ckpt={ckpt}", "inputs.n=16", *QUICK, f"hydra.run.dir={tmp_path / 'inv'}")
    latents = torch.load(tmp_path / "inv" / "latents.pt", weights_only=True)
    assert latents["z"].shape == (16, model.latent_dim) and torch.isfinite(latents["z"]).all()
    run_task("evaluate", f"ckpt={ckpt}", "n=16", *QUICK, "n_samples=200", f"hydra.run.dir={tmp_path / 'ev'}")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["inference"] == ("encoder" if model.has_encoder else "optimize")
    assert 0 < metrics["recon"]["mse"] < 100  # PSNR only where the data have a fixed range (images)
    return metrics


@pytest.mark.parametrize("data", ["grid25", "digits16"])
@pytest.mark.parametrize("name", GENERATIVE)
def test_every_model_round_trips_through_train_invert_evaluate(tmp_path, name, data):
    metrics = round_trip(tmp_path, [f"model={name}", *(TINY_TOY if data == "grid25" else TINY_IMAGES)])
    assert metrics["model"] == name
    if data == "grid25":
        assert metrics["modes"]["modes_total"] == 25
    else:
        assert 0 < metrics["recon"]["psnr"] < 80


@pytest.mark.parametrize("loss", ["hinge", "wgan_gp"])
def test_loss_variants_round_trip(tmp_path, loss):
    round_trip(tmp_path, ["model=bigan", f"model.loss={loss}", "model.spectral_norm=true", "trainer.ema_decay=0.9",
                          *TINY_IMAGES])


def test_regressor_checkpoint_inverts_and_evaluates_without_its_source(tmp_path):
    source = tmp_path / "gan"
    run_task("train", "model=gan", *TINY_IMAGES, "trainer.max_steps=6", f"hydra.run.dir={source}")
    moved = tmp_path / "gan.ckpt"
    shutil.copy(source / "checkpoints" / "last.ckpt", moved)
    shutil.rmtree(source)
    metrics = round_trip(tmp_path, ["model=regressor", f"model.generator_ckpt={moved}", *TINY_IMAGES])
    assert metrics["model"] == "regressor"
    moved.unlink()  # the regressor's own checkpoint carries the generator
    model, saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", device="cpu")
    assert saved["config"]["model"]["source"]["name"] == "gan" and model.latent_dim == 32
