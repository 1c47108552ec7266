"""Inversion methods on tiny models: the loss goes down, shapes, restarts, priors, and the clear errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from omegaconf import OmegaConf

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.inference import EncoderInverter, OptimizeInverter, build_inverter, invert, method_config
from latentcli.inference.optimize import OptimizeOptions
from latentcli.models import build_model
from test_models import model_cfg

QUIET = OptimizeOptions(progress=False, patience=None)


def tiny(name: str, shape=(1, 16, 16), **kw):
    torch.manual_seed(0)
    info = DataInfo("x", list(shape), "image" if len(shape) == 3 else "points")
    return build_model(model_cfg(name, latent_dim=4, **kw), info).eval()


def optimize(**kw) -> OptimizeInverter:
    return OptimizeInverter(dataclasses.replace(QUIET, **kw))


def generated(model, n=16, seed=1):
    with torch.no_grad():
        z = model.sample_latent(n, generator=torch.Generator().manual_seed(seed))
        return z, model.generate(z)


def start_mse(model, x):
    with torch.no_grad():
        return (model.generate(torch.zeros(len(x), model.latent_dim)) - x).pow(2).flatten(1).mean(1)


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.05), ("lbfgs", 0.5)])
def test_optimize_recovers_generated_images(optimizer, lr):
    model = tiny("gan")
    z_true, x = generated(model)
    result = optimize(steps=200, optimizer=optimizer, lr=lr).invert(model, x)
    assert result.z.shape == z_true.shape and result.x_hat.shape == x.shape
    assert (result.loss < 0.1 * start_mse(model, x)).all()  # every item, not just on average
    assert result.steps == 200 and result.method == "optimize"
    assert result.history.shape == (21, 16) and result.history_every == 10
    assert (result.history[-1] < result.history[0]).all()
    assert all(p.requires_grad for p in model.parameters())  # weights unfrozen again afterwards


def test_l1_and_perceptual_losses_also_fit():
    model = tiny("gan")
    _, x = generated(model)
    for options in ({"loss": "l1"}, {"perceptual_weight": 1.0}):
        result = optimize(steps=100, **options).invert(model, x)
        assert (result.loss < 0.3 * start_mse(model, x)).all(), options


def test_perceptual_term_needs_an_image_discriminator():
    with pytest.raises(UserError, match="perceptual_weight needs a discriminator"):
        optimize(steps=2, perceptual_weight=1.0).invert(tiny("vae"), torch.zeros(2, 1, 16, 16))


def test_optimize_keeps_each_items_best_latent():
    model = tiny("gan")
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    result = optimize(steps=30, lr=5.0).invert(model, x)  # a wild lr: the loss jumps around
    assert (result.loss <= start_mse(model, x) + 1e-6).all()  # z = 0 was tried first, so the best is never worse


def test_restarts_keep_each_items_best_start():
    model = tiny("gan")
    x = torch.rand(12, 1, 16, 16) * 2 - 1  # not in G's range: local minima matter
    one = optimize(steps=40).invert(model, x)
    four = optimize(steps=40, restarts=4).invert(model, x)
    # the first of the four starts runs exactly the single run (each item's gradient is its own)
    assert (four.loss <= one.loss + 1e-6).all() and (four.loss < one.loss - 1e-6).any()
    assert four.z.shape == (12, 4) and four.history.shape[1] == 12


def test_early_stop_when_nothing_improves(capsys):
    model = tiny("gan", shape=(2,))
    _, x = generated(model, n=8)
    result = optimize(steps=5000, patience=20, tol=1e-3, progress=True).invert(model, x)
    assert result.steps < 5000
    assert len(result.history) == result.steps // 10 + 1  # a record every 10 steps, from step 0
    bar = capsys.readouterr().err.split("\r")[-1]  # the progress bar's last state, left on its line
    assert "100%" in bar and f"{result.steps}/{result.steps}" in bar  # converged: done, so full


def test_chunks_give_the_same_answer_as_one_batch():
    model = tiny("gan", shape=(2,))
    x = torch.randn(10, 2)
    whole = optimize(steps=20, batch_size=10).invert(model, x)
    parts = optimize(steps=20, batch_size=3).invert(model, x)
    torch.testing.assert_close(whole.z, parts.z, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["gan", "bigan"])
def test_uniform_prior_latents_stay_in_support(name):
    model = tiny(name, prior="uniform")
    x = torch.rand(16, 1, 16, 16) * 4 - 2  # far outside G's range pulls z outwards
    for method, options in (("optimize", {"lr": 0.5, "init": "random"}), ("hybrid", {"lr": 0.5})):
        if method == "hybrid" and not model.has_encoder:
            continue
        cfg = method_config(method, steps=30, progress=False, **options)
        z = build_inverter(cfg, model).invert(model, x).z
        assert z.abs().max() <= 1.0, method


def test_hybrid_starts_from_the_encoder_and_never_ends_worse():
    model = tiny("bigan")
    x = torch.rand(16, 1, 16, 16) * 2 - 1
    encoder = EncoderInverter().invert(model, x)
    hybrid = build_inverter(method_config("hybrid", steps=50, progress=False), model).invert(model, x)
    assert hybrid.method == "hybrid"
    assert (hybrid.loss <= encoder.loss + 1e-6).all() and hybrid.loss.mean() < encoder.loss.mean()


def test_encoder_inversion_is_one_pass():
    model = tiny("bigan")
    x = torch.rand(6, 1, 16, 16) * 2 - 1
    result = EncoderInverter().invert(model, x)
    torch.testing.assert_close(result.z, model.encode(x).detach())
    assert result.loss.shape == (6,)


@pytest.mark.parametrize("method", ["encoder", "hybrid"])
def test_methods_needing_an_encoder_name_what_works_for_a_gan(method):
    with pytest.raises(UserError, match="has no encoder.*inference=optimize, or inference=regressor"):
        build_inverter(method_config(method), tiny("gan"))


def test_fast_starts_a_gan_without_an_encoder_from_z_0_when_asked():
    """Issue 22: z = 0 is one of fast's starts, for a GAN with neither an encoder nor a regressor."""
    with pytest.raises(UserError, match="inference=fast inference.init=prior_mean"):
        build_inverter(method_config("fast"), tiny("gan"))
    model = tiny("gan")
    x = model.generate(torch.zeros(3, model.latent_dim)).detach()
    result = build_inverter(method_config("fast", init="prior_mean", progress=False), model).invert(model, x)
    assert result.loss.max() < 1e-6  # G(0) is found again from z = 0


def test_auto_picks_encoder_when_there_is_one():
    cfg = method_config("auto")
    assert isinstance(build_inverter(cfg, tiny("bigan")), EncoderInverter)
    assert isinstance(build_inverter(cfg, tiny("gan")), OptimizeInverter)


def test_regressor_method_uses_the_regressors_encoder_on_its_own_generator(tmp_path):
    from latentcli.engine import checkpoint as ckpt_io

    gan = tiny("gan")
    path = tmp_path / "gan.ckpt"
    ckpt_io.save_atomic({"format_version": 1, "config": {"model": OmegaConf.to_container(gan.cfg, resolve=True)},
                         "data": gan.info.to_dict(), "model": gan.state_dict()}, path)
    regressor = build_model(model_cfg("regressor", generator_ckpt=str(path)), gan.info).eval()
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    result = build_inverter(method_config("regressor"), gan, regressor=regressor).invert(gan, x)
    torch.testing.assert_close(result.z, regressor.encode(x))
    other = tiny("gan", width=4)  # another generator: refused
    with pytest.raises(UserError, match="trained on a different generator"):
        build_inverter(method_config("regressor"), other, regressor=regressor).invert(other, x)
    with pytest.raises(UserError, match="add inference.regressor_ckpt=PATH"):
        build_inverter(method_config("regressor"), gan)


def test_python_api_matches_the_cli_defaults_and_rejects_unknown_options():
    model = tiny("bigan")
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    result = invert(model, x, method="optimize", steps=7, patience=None, progress=False)
    assert result.method == "optimize" and result.steps == 7 and result.z.shape == (4, 4)
    assert invert(model, x).method == "encoder"  # auto
    with pytest.raises(UserError, match="unknown option\\(s\\) stepz for method 'hybrid'"):
        invert(model, x, method="hybrid", stepz=3)
    with pytest.raises(UserError, match="unknown option\\(s\\) steps for method 'encoder'; it takes batch_size$"):
        invert(model, x, method="encoder", steps=3)  # its config carries optimize's options, for sweeps only
    with pytest.raises(UserError, match="unknown inference method 'magic'"):
        invert(model, x, method="magic")


def test_bad_option_values_are_clear():
    with pytest.raises(UserError, match="inference.optimizer='sgd' is not one of adam, lbfgs"):
        build_inverter(method_config("optimize", optimizer="sgd"), tiny("gan"))


def test_the_python_api_refuses_inputs_it_cannot_invert_with_one_clear_error():
    model = tiny("bigan")
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    for bad, message in [
        (((x + 1) * 127.5).to(torch.uint8), r"x is torch.uint8; invert takes floats in \[-1, 1\]: x.float\(\)"),
        (torch.rand(4, 1, 28, 28), r"x has shape \[4, 1, 28, 28\]; this model takes N x \[1, 16, 16\]"),
        (x[0], r"x is one item of shape \[1, 16, 16\]; invert takes a batch of them: x.unsqueeze\(0\)"),
        ((x + 1) * 127.5, r"x holds values in \[.*\]; images are floats in \[-1, 1\]"),
        (x.numpy(), "x is a ndarray; invert takes a torch tensor"),
    ]:
        with pytest.raises(UserError, match=message):
            invert(model, bad)
    torch.testing.assert_close(invert(model, x.double()).z, invert(model, x).z)  # float64 is fine
