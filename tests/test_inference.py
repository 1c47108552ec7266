"""Inversion methods on tiny models: the loss goes down, shapes, and the errors for models without encoders."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.inference import EncoderInverter, OptimizeInverter, build_inverter
from latentcli.models import build_model


def tiny(name: str, shape=(1, 16, 16)):
    torch.manual_seed(0)
    cfg = OmegaConf.create({"name": name, "latent_dim": 4, "width": 8, "depth": 2, "lr_g": 1e-3, "lr_d": 1e-3,
                            "betas": [0.5, 0.999]})
    return build_model(cfg, DataInfo("x", list(shape), "image" if len(shape) == 3 else "points")).eval()


def test_optimize_recovers_generated_images():
    model = tiny("gan")
    with torch.no_grad():
        z_true = model.sample_latent(16, generator=torch.Generator().manual_seed(1))
        x = model.generate(z_true)
    start_mse = (model.generate(torch.zeros_like(z_true)) - x).pow(2).flatten(1).mean(1)
    result = OptimizeInverter(steps=200, lr=0.05, progress=False).invert(model, x)
    assert result.z.shape == z_true.shape and result.x_hat.shape == x.shape
    assert (result.loss < 0.1 * start_mse).all()  # every item, not just on average
    assert result.steps == 200 and result.method == "optimize"
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen again afterwards


def test_optimize_keeps_each_items_best_latent():
    model = tiny("gan")
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    result = OptimizeInverter(steps=30, lr=5.0, progress=False).invert(model, x)  # a wild lr: the loss jumps around
    start = (model.generate(torch.zeros(8, 4)) - x).pow(2).flatten(1).mean(1)
    assert (result.loss <= start + 1e-6).all()  # z = 0 was tried first, so the best is never worse


def test_optimize_chunks_give_the_same_answer_as_one_batch():
    model = tiny("gan", shape=(2,))
    x = torch.randn(10, 2)
    whole = OptimizeInverter(steps=20, progress=False, batch_size=10).invert(model, x)
    parts = OptimizeInverter(steps=20, progress=False, batch_size=3).invert(model, x)
    torch.testing.assert_close(whole.z, parts.z, rtol=1e-4, atol=1e-5)


def test_encoder_inversion_is_one_pass():
    model = tiny("bigan")
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    result = EncoderInverter().invert(model, x)
    torch.testing.assert_close(result.z, model.encode(x).detach())
    assert result.loss.shape == (6,)


def test_encoder_on_a_gan_names_what_works():
    cfg = OmegaConf.create({"method": "encoder", "batch_size": 8})
    with pytest.raises(UserError, match="inference=optimize"):
        build_inverter(cfg, tiny("gan"))


def test_auto_picks_encoder_when_there_is_one():
    cfg = OmegaConf.load("configs/inference/optimize.yaml")
    cfg.method = "auto"
    assert isinstance(build_inverter(cfg, tiny("bigan")), EncoderInverter)
    assert isinstance(build_inverter(cfg, tiny("gan")), OptimizeInverter)
