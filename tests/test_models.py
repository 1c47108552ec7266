"""Models and networks: shapes for every resolution, the contract, and the update order."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.config.trainer import TrainerConfig
from latentcli.engine import Trainer
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


# Every generative model's optimisers in the order its losses come (a model missing here fails below).
UPDATE_ORDER = {
    "gan": ["discriminator", "generator"], "bigan": ["discriminator", "generator"],
    "ali": ["discriminator", "generator"], "alice": ["discriminator", "generator"], "vae": ["vae"],
    "vaegan": ["discriminator", "encoder", "generator"], "aae": ["autoencoder", "discriminator", "encoder"],
    "veegan": ["discriminator", "generator"], "alad": ["discriminator", "generator"],
}


@pytest.mark.parametrize("name", GENERATIVE)
def test_losses_come_in_update_order_one_per_optimizer(name):
    model = build_model(model_cfg(name), DataInfo("x", [2], "points"))
    names = [n for n, loss, logs in model.losses((torch.randn(16, 2), None))]
    assert names == UPDATE_ORDER[name]
    assert set(names) == set(model.optimizers())


ADVERSARIAL = ["gan", "bigan", "ali", "alice", "veegan", "alad"]  # the models with d_steps, g_steps and updates


@pytest.mark.parametrize("name", ADVERSARIAL)
@pytest.mark.parametrize("settings, order", [
    ({"d_steps": 2, "g_steps": 3}, ["discriminator"] * 2 + ["generator"] * 3),
    ({"updates": "simultaneous"}, ["generator", "discriminator"]),  # both losses first; G's update before D's
])
def test_adversarial_models_yield_their_updates_in_the_configured_order(name, settings, order):
    model = build_model(model_cfg(name, **settings), DataInfo("x", [2], "points"))
    assert [n for n, loss, logs in model.losses((torch.randn(16, 2), None))] == order


def trained_gan(settings, steps, train):
    """A gan trained `steps` steps on fixed batches by `train(model, optimizers, x)`, from seed 0."""
    torch.manual_seed(0)
    model = build_model(model_cfg("gan", **settings), DataInfo("x", [2], "points"))
    optimizers = model.optimizers()
    model.optimizers = lambda: optimizers  # the Trainer builds them once: its own are these
    for x in torch.randn(steps, 16, 2, generator=torch.Generator().manual_seed(1)):
        train(model, optimizers, x)
    return model


def hand_written_step(model, optimizers, x):
    """GAN's trainer step written out by hand: d_steps updates of D, then g_steps of G with G(z) made again
    after each, the losses taken after the previous update; simultaneous: both losses, then G's, then D's."""
    def update(name, loss):
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()

    D, G = model.discriminator, model.generator
    z = model.sample_latent(len(x))
    fake = G(z)
    loss_d = lambda: F.softplus(-D(x)).mean() + F.softplus(D(fake.detach())).mean()
    if model.adversarial.simultaneous:
        d, g = loss_d(), F.softplus(-D(fake)).mean()
        update("generator", g)
        update("discriminator", d)
        return
    for _ in range(model.adversarial.d_steps):
        update("discriminator", loss_d())
    for i in range(model.adversarial.g_steps):
        update("generator", F.softplus(-D(G(z) if i else fake)).mean())


@pytest.mark.parametrize("settings", [{}, {"d_steps": 2, "g_steps": 3}, {"updates": "simultaneous"}])
def test_gan_trainer_step_is_bitwise_the_hand_written_update_order(settings):
    def trainer_step(model, optimizers, x):
        Trainer(TrainerConfig(max_steps=1, device="cpu", progress=False, tensorboard=False), in_memory=True).fit(
            model, lambda s: iter([(x, torch.zeros(len(x), dtype=torch.long))]))

    ours, by_hand = trained_gan(settings, 2, trainer_step), trained_gan(settings, 2, hand_written_step)
    for key, value in by_hand.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key


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
