"""model=external: a generator trained outside latentcli (tests/external_generator.py, saved as a state dict)
inverted by optimisation, given a latent regressor, inverted by hybrid, evaluated; its mistakes refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from conftest import run_cli, run_task
from external_generator import DCGAN28

TESTS = Path(__file__).resolve().parent
QUICK = ["device=cpu", "inference.progress=false"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    generator = DCGAN28(nz=16, ngf=8)
    for m in generator.modules():  # "trained" statistics, so that the images depend clearly on z
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2)
    path = tmp_path_factory.mktemp("external") / "g.pt"
    torch.save(generator.state_dict(), path)
    return path


def external(weights, prefix="model.") -> list[str]:
    return [f"{prefix}target=external_generator:DCGAN28", f"{prefix}weights={weights}", f"{prefix}latent_dim=16",
            f"{prefix}output_range=[0,1]"]


def test_round_trip_optimise_regressor_hybrid_evaluate(weights, tmp_path, require_fashion_mnist):
    # optimisation recovers the latents of the generator's own images: z is known, so is the answer
    run_task("invert", "model=external", *external(weights), "inputs=samples", "n=16", "inference=optimize",
             "inference.optimizer=bfgs", "inference.steps=60", *QUICK, f"hydra.run.dir={tmp_path / 'opt'}")
    summary = json.loads((tmp_path / "opt" / "summary.json").read_text())
    assert summary["latent_error_mean"] < 1e-3 and summary["psnr"] > 60

    # a latent regressor trained on it keeps a copy of its weights and inverts with hybrid
    run_task("train", "model=regressor", *external(weights, "model.external."), "dataset=fashion_mnist",
             "model.width=8", "batch_size=16", "trainer.max_steps=5", "trainer.device=cpu", "trainer.progress=false",
             "trainer.tensorboard=false", f"hydra.run.dir={tmp_path / 'reg'}")
    ckpt = tmp_path / "reg" / "checkpoints" / "last.ckpt"
    stored = torch.load(ckpt, weights_only=True)
    theirs = torch.load(weights, weights_only=True)
    assert all(torch.equal(stored["model"][f"generator.net.{k}"], v) for k, v in theirs.items())
    run_task("invert", f"ckpt={ckpt}", "inference=hybrid", "inputs=samples", "n=8", "inference.steps=10", *QUICK,
             f"hydra.run.dir={tmp_path / 'hybrid'}")
    assert json.loads((tmp_path / "hybrid" / "summary.json").read_text())["method"] == "hybrid"
    run_task("invert", f"ckpt={ckpt}", "inference=fast", "inputs=samples", "n=8", *QUICK,
             f"hydra.run.dir={tmp_path / 'fast'}")
    assert json.loads((tmp_path / "fast" / "summary.json").read_text())["method"] == "fast"
    run_task("invert", "model=external", *external(weights), "inference=regressor", f"inference.regressor_ckpt={ckpt}",
             "inputs=samples", "n=8", "device=cpu", f"hydra.run.dir={tmp_path / 'regressor'}")

    # evaluate: reconstructions of Fashion-MNIST test images in the generator's range mapped to [-1, 1]
    run_task("evaluate", "model=external", *external(weights), "model.dataset=fashion_mnist", "metrics=[recon,latent]",
             "n=8", "latent.n=8", "inference=optimize", "inference.steps=10", *QUICK, f"hydra.run.dir={tmp_path / 'ev'}")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["model"] == "external" and metrics["n_test"] == 8 and 0 < metrics["recon"]["psnr"] < 60


@pytest.mark.parametrize("mistake, message", [
    (["model.target=no_such_module:G"], "cannot import no_such_module"),
    (["model.kwargs={ngf: 4}"], None),  # a different network than the weights: see below
    (["model.dataset=digits"], "the generator makes items of shape [1, 28, 28], but digits holds [1, 16, 16]"),
])
def test_mistakes_are_one_line(weights, tmp_path, mistake, message):
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = run_cli("invert", "model=external", *external(weights), *mistake, "inputs=samples", "n=4",
                   f"hydra.run.dir={tmp_path / 'x'}", check=False, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("latentcli invert: error:"), proc.stderr
    assert (message or "does not match DCGAN28: Error(s) in loading state_dict") in lines[0]
    assert not (tmp_path / "x").exists()


def test_regressor_pixel_weight_adds_the_reconstruction_of_real_images(weights):
    """model.pixel_weight=w: the regressor's loss is its latent loss plus w x MSE(G(E(x)), x) on the real batch."""
    from omegaconf import OmegaConf

    from latentcli.data.stream import DataInfo
    from latentcli.models import build_model

    info = DataInfo("fashion_mnist", [1, 28, 28], "image")
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    losses = {}
    for w in (0.0, 2.0):
        cfg = OmegaConf.create({"name": "regressor", "generator_ckpt": None, "width": 8, "depth": 1, "lr": 1e-3,
                                "betas": [0.9, 0.999], "distance": "l2", "pixel_weight": w, "arch": "auto",
                                "external": {"target": "external_generator:DCGAN28", "weights": str(weights),
                                             "latent_dim": 16, "output_range": [0, 1], "kwargs": None}})
        torch.manual_seed(0)
        model = build_model(cfg, info).eval()
        torch.manual_seed(1)
        _, loss, logs = next(model.losses((x, None)))
        losses[w] = (float(loss.detach()), float(logs["loss"].detach()), float(logs.get("pixels", torch.tensor(0.0)).detach()))
        if w:
            with torch.no_grad():
                expected = torch.nn.functional.mse_loss(model.generate(model.encode(x)), x)
            assert abs(losses[w][2] - float(expected)) < 1e-6
    assert losses[0.0][0] == pytest.approx(losses[0.0][1])
    assert losses[2.0][0] == pytest.approx(losses[2.0][1] + 2.0 * losses[2.0][2])
    assert losses[2.0][1] == pytest.approx(losses[0.0][1])  # the same latent pairs: only the pixel term differs
