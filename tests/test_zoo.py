"""The model zoo: each model's defining property, the adversarial losses' known values, the regressor."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from latentcli.data import batch_stream
from latentcli.data.stream import DataInfo, TensorPairs
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.models import build_model
from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.nets import kl_to_standard_normal
from test_models import model_cfg

POINTS = DataInfo("x", [2], "points")


def train(model, steps: int, seed: int = 0, data=None):
    data = torch.randn(512, 2) if data is None else data
    torch.manual_seed(seed)
    trainer = Trainer(TrainerConfig(max_steps=steps, device="cpu", progress=False, tensorboard=False), in_memory=True)
    return trainer.fit(model, lambda start: batch_stream(TensorPairs(data), 64, seed, start))


def test_alice_with_lambda_zero_is_ali_step_for_step():
    def trained(name, **kw):
        torch.manual_seed(0)
        model = build_model(model_cfg(name, **kw), POINTS)
        train(model, 25)
        return model.state_dict()

    ali, alice_0, alice_1 = trained("ali"), trained("alice", **{"lambda": 0.0}), trained("alice", **{"lambda": 1.0})
    assert ali.keys() == alice_0.keys()
    assert all(torch.equal(ali[k], alice_0[k]) for k in ali)
    assert not all(torch.equal(ali[k], alice_1[k]) for k in ali)  # the cycle terms do change the run


def test_adversarial_losses_at_an_undecided_discriminator():
    zero = torch.zeros(8)
    for kind, loss_d, loss_g in [("ns", 2 * math.log(2), math.log(2)), ("hinge", 2.0, 0.0), ("wgan_gp", 0.0, 0.0)]:
        adversarial = AdversarialLoss(OmegaConf.create({"name": "gan", "loss": kind}))
        assert adversarial.discriminator(zero, zero).item() == pytest.approx(loss_d)
        assert adversarial.generator(zero).item() == pytest.approx(loss_g)
        # BiGAN's encoder side: the real pair's score enters with the labels swapped
        assert adversarial.generator(zero, d_real=zero).item() == pytest.approx(2 * loss_g)


def test_gradient_penalty_of_a_linear_joint_critic_is_known():
    """D(x, z) = a.x + b.z has gradient (a, b) everywhere, so the penalty is w * (||(a, b)|| - 1)^2."""
    a, b = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0, 0.0])

    def critic(x, z):
        return x @ a + z @ b

    adversarial = AdversarialLoss(OmegaConf.create({"name": "gan", "loss": "wgan_gp", "gp_weight": 10.0}))
    real, fake = (torch.randn(16, 2), torch.randn(16, 3)), (torch.randn(16, 2), torch.randn(16, 3))
    assert adversarial.penalty(critic, real, fake).item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2)
    assert AdversarialLoss(OmegaConf.create({"name": "gan", "loss": "ns"})).penalty(critic, real, fake).item() == 0.0


def test_unknown_loss_is_a_clear_error():
    with pytest.raises(UserError, match="model.loss='lsgan' is not one of ns, hinge, wgan_gp"):
        build_model(model_cfg("bigan", loss="lsgan"), POINTS)


def test_kl_to_standard_normal_known_values():
    assert kl_to_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).tolist() == [0.0, 0.0, 0.0]
    # N(1, e) against N(0, 1): 0.5 * (1 + e - 1 - 1) per dimension
    kl = kl_to_standard_normal(torch.ones(1, 4), torch.ones(1, 4))
    assert kl.item() == pytest.approx(4 * 0.5 * (1 + math.e - 2))


def test_vae_elbo_improves_with_training():
    model = build_model(model_cfg("vae", width=32), POINTS)
    data = torch.randn(512, 2) * torch.tensor([2.0, 0.5])
    held_out = (torch.randn(256, 2) * torch.tensor([2.0, 0.5]), None)

    def loss():
        torch.manual_seed(1)
        with torch.no_grad():
            return next(model.losses(held_out))[1].item()

    before = loss()
    train(model, 300, data=data)
    assert loss() < 0.5 * before


def test_vae_family_needs_a_normal_prior():
    for name in ("vae", "vaegan"):
        with pytest.raises(UserError, match="needs prior=normal"):
            build_model(model_cfg(name, prior="uniform"), POINTS)


def _saved_run(tmp_path, name="gan", info=POINTS):
    torch.manual_seed(0)
    cfg = model_cfg(name, width=16, latent_dim=2)  # 2-D z for 2-D x: G can be inverted
    source = build_model(cfg, info)
    path = tmp_path / "source.ckpt"
    ckpt_io.save_atomic({"format_version": 1, "config": {"model": OmegaConf.to_container(cfg, resolve=True)},
                         "data": info.to_dict(), "model": source.state_dict(), "ema": None}, path)
    return source, path


def test_regressor_learns_to_invert_a_frozen_generator_and_needs_no_source_file_afterwards(tmp_path):
    source, path = _saved_run(tmp_path)
    cfg = model_cfg("regressor", width=32, generator_ckpt=str(path))
    model = build_model(cfg, POINTS)
    assert cfg.latent_dim == 2 and cfg.source.name == "gan"  # taken from the source run, recorded in ours
    frozen = {k: v.clone() for k, v in model.generator.state_dict().items()}
    assert all(torch.equal(frozen[k], v) for k, v in source.generator.state_dict().items())

    def recovery_error():
        model.eval()
        z = model.sample_latent(512, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            return (model.encode(model.generate(z)) - z).pow(2).mean().item()

    before = recovery_error()
    train(model, 300)
    assert recovery_error() < 0.7 * before  # a random G folds the plane, so z is only partly recoverable
    assert all(torch.equal(frozen[k], v) for k, v in model.generator.state_dict().items())  # G never moved

    path.unlink()  # a regressor checkpoint rebuilds from its own config alone
    rebuilt = build_model(OmegaConf.create(OmegaConf.to_container(cfg)), POINTS)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(4, 2)
    assert torch.equal(rebuilt.eval().encode(x), model.eval().encode(x))


def test_regressor_errors_name_the_fix(tmp_path):
    with pytest.raises(UserError, match="add model.generator_ckpt=PATH"):
        build_model(model_cfg("regressor"), POINTS)
    _, path = _saved_run(tmp_path)
    with pytest.raises(UserError, match="trained on x \\[2\\], not digits \\[1, 16, 16\\]: add dataset=x"):
        build_model(model_cfg("regressor", generator_ckpt=str(path)), DataInfo("digits", [1, 16, 16], "image"))


def test_ali_trains_on_draws_from_q_and_inverts_with_the_mean():
    model = build_model(model_cfg("ali"), POINTS).eval()
    x = torch.randn(32, 2)
    mean, _ = model.encoder(x)
    assert torch.equal(model.encode(x), mean)
    assert not torch.equal(model.infer(x), model.infer(x))  # a fresh draw each time


@pytest.mark.parametrize("name", ["bigan", "ali", "aae", "regressor"])
def test_uniform_prior_codes_stay_in_support(tmp_path, name):
    extra = {}
    if name == "regressor":
        _, path = _saved_run(tmp_path, "gan")
        cfg = model_cfg("gan", prior="uniform")
        path = tmp_path / "uniform.ckpt"
        ckpt_io.save_atomic({"format_version": 1, "config": {"model": OmegaConf.to_container(cfg, resolve=True)},
                             "data": POINTS.to_dict(), "model": build_model(cfg, POINTS).state_dict()}, path)
        extra = {"generator_ckpt": str(path)}
    model = build_model(model_cfg(name, prior="uniform", **extra), POINTS).eval()
    assert model.prior == "uniform"
    z = model.encode(torch.randn(256, 2) * 100)
    assert z.min() >= -1 and z.max() <= 1


def test_every_dataset_config_builds_every_model():
    """Each model's networks fit each dataset's item shape, at the sizes the configs give. A dataset reaches the
    model only through its item shape and its latent_dim, so each model is built once per distinct pair
    (7 pairs among the 11 datasets: 18 s where all 99 builds took 36 s)."""
    from hydra import compose, initialize_config_dir

    from latentcli.paths import config_dir
    from latentcli.data import DATASETS
    from test_models import GENERATIVE

    with initialize_config_dir(config_dir(), version_base=None):
        geometries = {}
        for dataset in DATASETS:
            d = compose("train", overrides=[f"dataset={dataset}"]).dataset
            shape = [2] if dataset in ("ring8", "grid25", "alice5") else [d.get("channels", 1), d.resolution, d.resolution]
            geometries.setdefault((tuple(shape), d.latent_dim), dataset)
        for (shape, _), dataset in geometries.items():
            for name in GENERATIVE:
                cfg = compose("train", overrides=[f"model={name}", f"dataset={dataset}"])
                OmegaConf.resolve(cfg)
                model = build_model(cfg.model, DataInfo(dataset, list(shape), "points" if len(shape) == 1 else "image"))
                assert model.eval().generate(model.sample_latent(2)).shape == (2, *shape)
