"""Models and networks: shapes for every resolution, the contract, and the update order."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.models import MODELS, NoEncoderError, build_model

# the regressor needs another run's generator; model=external wraps a generator trained elsewhere (test_external.py)
GENERATIVE = [name for name in MODELS if name not in ("regressor", "external")]


def model_cfg(name, **kw):
    """model=NAME, small (build_model completes it from the option: its settings and schema)."""
    return OmegaConf.create({"name": name, "latent_dim": 8, "width": 8, "depth": 2, **kw})


@pytest.mark.parametrize("name", GENERATIVE)
@pytest.mark.parametrize("shape", [[2], [1, 16, 16], [1, 28, 28], [3, 32, 32], [3, 64, 64]])
def test_generate_and_encode_shapes(name, shape):
    info = DataInfo("x", shape, "points" if len(shape) == 1 else "image")
    model = build_model(model_cfg(name), info).eval()
    z = model.sample_latent(5)
    x = model.generate(z)
    assert z.shape == (5, 8) and x.shape == (5, *shape)
    if len(shape) == 3:
        assert x.min() >= -1 and x.max() <= 1
    if model.has_encoder:
        assert model.encode(x).shape == (5, 8)
    else:
        with pytest.raises(NoEncoderError, match="inference=optimize"):
            model.encode(x)


@pytest.mark.parametrize("name, order", [
    ("gan", ["discriminator", "generator"]), ("bigan", ["discriminator", "generator"]),
    ("ali", ["discriminator", "generator"]), ("alice", ["discriminator", "generator"]), ("vae", ["vae"]),
    ("vaegan", ["discriminator", "encoder", "generator"]), ("aae", ["autoencoder", "discriminator", "encoder"]),
])
def test_losses_come_in_update_order_one_per_optimizer(name, order):
    model = build_model(model_cfg(name), DataInfo("x", [2], "points"))
    names = [n for n, loss, logs in model.losses((torch.randn(16, 2), None))]
    assert names == order
    assert set(names) == set(model.optimizers())


def test_bigan_generator_update_moves_the_encoder_and_not_the_discriminator():
    model = build_model(model_cfg("bigan"), DataInfo("x", [2], "points"))
    losses = model.losses((torch.randn(16, 2), None))
    next(losses)
    _, loss_ge, _ = next(losses)
    loss_ge.backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())
    optimised = {id(p) for g in model.optimizers()["generator"].param_groups for p in g["params"]}
    assert not optimised & {id(p) for p in model.discriminator.parameters()}


def test_uniform_prior_samples_stay_in_support():
    model = build_model(model_cfg("gan", prior="uniform"), DataInfo("x", [2], "points"))
    z = model.sample_latent(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.std() > 0.5


def test_unsupported_image_size_is_a_clear_error():
    with pytest.raises(UserError, match="16, 28, 32 or 64 px"):
        build_model(model_cfg("gan"), DataInfo("x", [1, 20, 24], "image"))


def test_spectral_norm_makes_every_discriminator_layer_1_lipschitz():
    model = build_model(model_cfg("bigan", spectral_norm=True), DataInfo("x", [2], "points"))
    x, z = torch.randn(64, 2), torch.randn(64, 8)
    for _ in range(30):  # the power iteration sharpens its estimate on each training-mode forward pass
        model.discriminator(x, z)
    layers = [m for m in model.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert len(layers) == 5
    for layer in layers:
        assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2).item() == pytest.approx(1.0, abs=0.02)
