"""The papers' set-ups (issue 12): packing, maxout, paper networks, noise inputs, update schedules, weight
init, and each paper's protocol on cases with known answers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from latentcli.paths import config_dir
from latentcli.data import batch_stream
from latentcli.data.stream import DataInfo
from latentcli.data.toy import load_toy
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.metrics.alice import inception_score, mixture_posterior, reconstruction_mse
from latentcli.metrics.pacgan import pacgan_protocol
from latentcli.metrics.veegan import veegan_protocol
from latentcli.models import build_model
from latentcli.models.mlp import Maxout
from latentcli.models.nets import Packed
from latentcli.tasks.common import seed_everything
from conftest import run_task
from test_trainer import assert_same_state

POINTS = DataInfo("x", [2], "points")


def model_cfg(name, **kw):
    return OmegaConf.create({"name": name, "latent_dim": 2, "width": 8, "depth": 2, **kw})


def test_maxout_is_the_max_over_each_units_pieces():
    layer = Maxout(2, 2, 3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [-1, 0], [2, 0], [0, 0], [1, 1]]))
        layer.linear.bias.copy_(torch.tensor([0.0, 0, 0, 0, 1, 0]))
    x = torch.tensor([[3.0, -2.0], [-1.0, 0.5]])
    # unit 0: max(x1, x2, -x1); unit 1: max(2 x1, 1, x1 + x2)
    assert torch.equal(layer(x), torch.tensor([[3.0, 6.0], [1.0, 1.0]]))


@pytest.mark.parametrize("name, joint", [("gan", False), ("ali", True)])
def test_a_packed_discriminator_scores_consecutive_items_concatenated(name, joint):
    model = build_model(model_cfg(name, arch="pacgan", pack=3, maxout_pieces=2), POINTS)
    assert isinstance(model.discriminator, Packed)
    inner = model.discriminator.inner
    x, z = torch.randn(12, 2), torch.randn(12, 2)
    scores = model.discriminator(x, z) if joint else model.discriminator(x)
    assert scores.shape == (4,)
    by_hand = torch.cat([x.reshape(4, 6)] + ([z.reshape(4, 6)] if joint else []), dim=1)  # [x1 x2 x3 (z1 z2 z3)]
    assert torch.allclose(scores, inner.head(by_hand).squeeze(1))
    assert torch.allclose(scores[1], (inner(x[3:6].reshape(1, 6), z[3:6].reshape(1, 6)) if joint
                                   else inner(x[3:6].reshape(1, 6)))[0], atol=1e-6)  # a batch of 4 vs 1: rounding
    with pytest.raises(UserError, match="multiple of it"):
        model.discriminator(x[:10], z[:10]) if joint else model.discriminator(x[:10])


def test_packed_images_are_stacked_along_channels():
    model = build_model(model_cfg("gan", pack=2, width=8), DataInfo("x", [1, 16, 16], "image"))
    assert model.discriminator(torch.randn(6, 1, 16, 16)).shape == (3,)


def test_pacgan_nets_are_the_papers():
    model = build_model(model_cfg("ali", arch="pacgan", e_noise=2), POINTS)
    linears = [m for m in model.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features, m.bias is not None) for m in linears] == [
        (2, 400, False), (400, 400, False), (400, 400, False), (400, 400, False), (400, 2, True)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.generator.modules()) == 4
    encoder = [m.in_features for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert encoder == [4, 400, 400]  # x and 2-D noise in
    maxouts = [m for m in model.discriminator.modules() if isinstance(m, Maxout)]
    assert [(m.linear.in_features, m.out_dim, m.pieces) for m in maxouts] == [(4, 200, 5), (200, 200, 5),
                                                                              (200, 200, 5)]


def test_normal_init_draws_weights_with_the_asked_std_and_zero_biases():
    torch.manual_seed(0)
    model = build_model(model_cfg("gan", arch="pacgan", init="normal", init_std=0.02), POINTS)
    weight = model.generator[3].weight  # a 400 x 400 hidden layer
    assert abs(float(weight.detach().std()) - 0.02) < 0.001
    assert all(float(m.bias.abs().max()) == 0 for m in model.modules()
               if isinstance(m, torch.nn.Linear) and m.bias is not None)


def test_noise_inputs_make_g_and_e_stochastic_and_inversion_deterministic():
    model = build_model(model_cfg("bigan", g_noise=2, e_noise=3), POINTS).eval()
    z, x = torch.randn(5, 2), torch.randn(5, 2)
    assert not torch.equal(model.generate(z), model.generate(z))
    assert not torch.equal(model.infer(x), model.infer(x))
    assert torch.equal(model.encode(x), model.encode(x))


def test_pacgan_protocol_on_a_known_histogram():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    sigma = 0.1
    samples = torch.cat([torch.zeros(6, 2),                         # 6 at mode 0
                         torch.tensor([[10.0, 0.25]]).repeat(2, 1),  # 2 at mode 1, 2.5 sigma away: high quality
                         torch.tensor([[0.0, 10.3]]),               # exactly 3 sigma: not high quality (strict)
                         torch.tensor([[5.0, 5.0]])])               # far from every mode
    result = pacgan_protocol(samples, centres, sigma)
    assert result["modes"] == 2 and result["modes_total"] == 4 and result["n_samples"] == 10
    assert result["high_quality"] == pytest.approx(0.8)
    p = torch.tensor([6 / 8, 2 / 8])
    assert result["reverse_kl"] == pytest.approx(float((p * (p * 4).log()).sum()))
    uniform = pacgan_protocol(centres.repeat(3, 1), centres, sigma)
    assert uniform["reverse_kl"] == pytest.approx(0.0) and uniform["modes"] == 4
    assert pacgan_protocol(torch.full((5, 2), 5.0), centres, sigma)["reverse_kl"] is None
    assert math.log(4) == pytest.approx(pacgan_protocol(torch.zeros(3, 2), centres, sigma)["reverse_kl"])


def one_step(updates, lr_d):
    seed_everything(0)
    model = build_model(model_cfg("gan", updates=updates, lr_d=lr_d, lr_g=1e-2), POINTS)
    Trainer(TrainerConfig(max_steps=1, device="cpu", progress=False, tensorboard=False), in_memory=True).fit(
        model, lambda s: iter([(torch.randn(16, 2), torch.zeros(16, dtype=torch.long))]))
    return model.generator.state_dict()


def test_simultaneous_updates_take_gs_gradient_before_ds_update():
    tiny, huge = one_step("simultaneous", 1e-9), one_step("simultaneous", 10.0)
    assert_same_state(tiny, huge)  # D's step size cannot reach G's update
    alternating_tiny, alternating_huge = one_step("alternating", 1e-9), one_step("alternating", 10.0)
    assert any(not torch.equal(alternating_tiny[k], alternating_huge[k]) for k in alternating_tiny)


def train(cfg, run_dir, max_steps, resume=None):
    seed_everything(0)
    data = load_toy("grid25", 600, 64)
    model = build_model(cfg, data.info)
    meta = {"config": {"model": OmegaConf.to_container(cfg)}, "data": data.info.to_dict()}
    trainer = TrainerConfig(max_steps=max_steps, device="cpu", progress=False, tensorboard=False, checkpoint_every=4)
    Trainer(trainer, run_dir, checkpoint_meta=meta).fit(model, lambda s: batch_stream(data.train, 60, 0, s),
                                                        resume=resume)


@pytest.mark.parametrize("cfg", [
    model_cfg("ali", arch="pacgan", pack=3, e_noise=2, init="normal", updates="simultaneous", d_dropout=0.0),
    model_cfg("alice", g_noise=2, e_noise=2, d_steps=2, g_steps=2),
], ids=["pacgan-ali-packed", "alice-noise-steps"])
def test_resume_stays_bitwise_with_the_paper_options(tmp_path, cfg):
    train(cfg, tmp_path / "straight", 10)
    train(cfg, tmp_path / "stopped", 6)
    train(cfg, tmp_path / "stopped", 10, resume=ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt"))
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    for key in ("step", "model", "optimizers", "rng"):
        assert_same_state(straight[key], resumed[key], key)


PRESETS = sorted(p.stem for p in (Path(config_dir()) / "experiment" / "paper").glob("*.yaml"))
TINY_POINTS = ["dataset.n_train=1200", "dataset.n_test=100"]
TINY = {"bigan_mnist": ["dataset=digits", "bigan.n_train=300"]}  # the bundled digits stand in for MNIST


def composed(name: str):
    with initialize_config_dir(config_dir(), version_base="1.3"):
        return compose("train", overrides=[f"experiment=paper/{name}"], return_hydra_config=True)


@pytest.mark.parametrize("name", PRESETS)
def test_every_paper_preset_trains_a_few_steps_and_evaluates_with_its_protocol(tmp_path, name):
    cfg = composed(name)
    # one job per preset, the last value of each swept setting (the seeds' and the arms' sweeps are the
    # presets' own business; running them all would be minutes)
    one_job = [f"{key}={str(values).split(',')[-1]}" for key, values in cfg.hydra.sweeper.params.items()]
    run_task("train", "-m", f"experiment=paper/{name}", *one_job, "trainer.max_steps=3", "trainer.device=cpu",
             "hydra.launcher.n_jobs=1", *[o for o in TINY.get(name, TINY_POINTS) if o.startswith("dataset")],
             f"hydra.sweep.dir={tmp_path / 'train'}")
    runs = sorted((tmp_path / "train").glob("*/checkpoints/last.ckpt"))
    assert len(runs) == 1 and torch.load(runs[0], weights_only=True)["step"] == 3
    run_task("evaluate", f"sweep={tmp_path / 'train'}", "n=100", "n_samples=200", "device=cpu",
             *[o for o in TINY.get(name, []) if not o.startswith("dataset")], f"hydra.run.dir={tmp_path / 'eval'}")
    header = (tmp_path / "eval" / "summary.csv").read_text().splitlines()[0]
    assert all(f"{protocol}." in header for protocol in cfg.dataset.metrics)


@pytest.mark.parametrize("variant", ["gan", "ali", "pacgan2", "pacgan3", "pacgan4"])
def test_every_pacgan_arm_scores_a_batch_of_100_inputs(variant):
    # PacGAN's batch is 100 discriminator inputs in every arm: packs of m items for PacGANm
    # (batch_size=100*m items), single items for the GAN and ALI. The variant must win over the preset's
    # own batch_size and model, which depends on the order Hydra merges them.
    with initialize_config_dir(config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=paper/pacgan_grid25", f"+variant={variant}"])
    model = build_model(cfg.model, POINTS).train()
    x = torch.randn(cfg.batch_size, 2)
    joint = variant == "ali"
    scores = model.discriminator(x, model.encode(x)) if joint else model.discriminator(x)
    assert (model.cfg.name, scores.shape[0]) == ("ali" if joint else "gan", 100)


def test_a_packed_gan_runs_g_once_per_pack_slot():
    model = build_model(model_cfg("gan", arch="pacgan", pack=2), POINTS).train()
    z = torch.randn(8, 2)
    by_slot = model.generate_packed(z)
    slot_one = model.generator(z[1::2])  # the second item of every pack, as one BatchNorm batch
    assert torch.allclose(by_slot[1::2], slot_one, atol=1e-6)
    assert not torch.allclose(by_slot, model.generator(z), atol=1e-4)


def test_alice5_is_alices_mixture():
    data = load_toy("alice5", 2048, 1024)
    assert (len(data.train), len(data.test), data.info.sigma) == (2048, 1024, 0.2)
    centres = torch.tensor(data.info.centres)
    assert sorted(map(tuple, centres.tolist())) == [(-2, -2), (-2, 2), (0, 0), (2, -2), (2, 2)]
    nearest = torch.cdist(data.train.x, centres).argmin(1)
    spread = (data.train.x - centres[nearest]).var(0)
    assert torch.allclose(spread, torch.full((2,), 0.04), rtol=0.1)  # variance 0.04 per coordinate


def test_alice_icp_of_a_balanced_sampler_is_the_number_of_modes_and_of_a_collapsed_one_is_1():
    centres, _ = torch.tensor([[0.0, 0.0], [2, 2], [-2, -2], [2, -2], [-2, 2]]), None
    balanced = centres.repeat(10, 1)  # 10 splits of 5 points, one at each mode
    assert inception_score(mixture_posterior(balanced, centres, 0.2)) == pytest.approx(5.0)
    assert inception_score(mixture_posterior(centres[:1].repeat(50, 1), centres, 0.2)) == pytest.approx(1.0)
    two = torch.cat([centres[:2]] * 50)  # each split of 10: five at each of two modes, exp(log 2)
    assert inception_score(mixture_posterior(two, centres, 0.2)) == pytest.approx(2.0)
    x = torch.zeros(4, 2)
    assert reconstruction_mse(x, torch.tensor([[1.0, 0], [0, 0], [0, 2], [0, 0]])) == pytest.approx(5 / 8)


def test_d_steps_and_g_steps_count_the_updates_of_one_trainer_step():
    model = build_model(model_cfg("alice", d_steps=2, g_steps=5, g_noise=2, e_noise=2), POINTS)
    names = [name for name, _, _ in model.losses((torch.randn(8, 2), None))]
    assert names == ["discriminator"] * 2 + ["generator"] * 5
    gan = build_model(model_cfg("gan", d_steps=3, g_steps=2), POINTS)
    assert [name for name, _, _ in gan.losses((torch.randn(8, 2), None))] == ["discriminator"] * 3 + ["generator"] * 2
    with pytest.raises(UserError, match="simultaneous"):
        build_model(model_cfg("gan", g_steps=2, updates="simultaneous"), POINTS)


def test_veegan_protocol_counts_distinct_modes_of_samples_within_3_std_inclusive():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.0, 0.0], [0.0, 0.1], [10.0, 0.25], [0.0, 10.5], [5.0, 5.0]])
    result = veegan_protocol(samples, centres, 0.1)  # 0.25 is 2.5 std away; 0.5 is 5
    assert (result["modes"], result["high_quality"], result["modes_total"]) == (2, pytest.approx(0.6), 3)
    edge = veegan_protocol(torch.tensor([[0.0, 0.25]]), centres, 0.25 / 3)  # exactly 3 std: counted
    assert edge["high_quality"] == 1.0 and pacgan_protocol(torch.tensor([[0.0, 0.25]]), centres,
                                                           0.25 / 3)["high_quality"] == 0.0


def test_veegan_losses_are_the_papers():
    torch.manual_seed(0)
    model = build_model(model_cfg("veegan", arch="veegan", latent_dim=6, g_noise=1), POINTS)
    x = torch.randn(16, 2)
    torch.manual_seed(1)
    items = model.losses((x, None))
    name_d, loss_d, _ = next(items)
    name_g, loss_g, logs = next(items)
    assert (name_d, name_g) == ("discriminator", "generator") and next(items, None) is None
    # again by hand, with the same draws: z, eps of G, then the N(F(x), I) draw
    torch.manual_seed(1)
    z = torch.randn(16, 6)
    x_fake = model.generator.net(torch.cat([z, torch.randn(16, 1)], 1))
    z_real = model.encoder(x) + torch.randn(16, 6)
    d = model.discriminator
    by_hand_d = torch.nn.functional.softplus(-d(x, z_real)).mean() + torch.nn.functional.softplus(d(x_fake, z)).mean()
    assert torch.allclose(loss_d, by_hand_d)
    by_hand_g = -d(x_fake, z).mean() + 0.5 * (z - model.encoder(x_fake)).pow(2).sum(1).mean()
    assert torch.allclose(loss_g, by_hand_g, atol=1e-5)
    model.zero_grad()
    logs["log_ratio"].backward()  # D's term trains G, not the reconstructor F
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None for p in model.generator.parameters())


def test_lr_decay_and_weight_decay_reach_the_optimizers_and_resume_bitwise(tmp_path):
    cfg = model_cfg("bigan", init="normal", updates="simultaneous", lr_g=1e-3, lr_d=1e-3)
    trainer_cfg = dict(max_steps=10, device="cpu", progress=False, tensorboard=False, checkpoint_every=100,
                       weight_decay=1e-3, lr_decay="linear", lr_decay_start=0.5)

    def train_bigan(run_dir, stop_at=None, resume=None):
        seed_everything(0)
        data = load_toy("grid25", 600, 64)
        model = build_model(cfg, data.info)
        rates = []
        step_of = model.losses

        def losses(batch):  # records the rate each step runs with
            rates.append(trainer.optimizers_seen["generator"].param_groups[0]["lr"])
            return step_of(batch)

        make_optimizers = model.optimizers
        model.optimizers = lambda: trainer.__dict__.setdefault("optimizers_seen", make_optimizers())
        model.losses = losses

        def stop(step):  # an interruption (as SIGTERM would) after `stop_at` steps of the 10
            if step == stop_at:
                trainer.request_stop("SIGTERM")

        meta = {"config": {"model": OmegaConf.to_container(cfg)}, "data": data.info.to_dict()}
        trainer = Trainer(TrainerConfig(**trainer_cfg, sample_every=stop_at or 100), run_dir, checkpoint_meta=meta,
                          on_periodic=stop)
        trainer.fit(model, lambda s: batch_stream(data.train, 60, 0, s), resume=resume)
        groups = [g for o in trainer.optimizers_seen.values() for g in o.param_groups]
        assert all(g["weight_decay"] == 1e-3 for g in groups)
        return rates

    rates = train_bigan(tmp_path / "straight")
    assert rates == pytest.approx([1e-3] * 5 + [1e-3 * (1 - k / 5) for k in range(5)])
    assert train_bigan(tmp_path / "stopped", stop_at=7) == pytest.approx(rates[:7])
    resume = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    assert resume["step"] == 7
    assert train_bigan(tmp_path / "stopped", resume=resume) == pytest.approx(rates[7:])
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    for key in ("step", "model", "optimizers", "rng"):
        assert_same_state(straight[key], resumed[key], key)


@pytest.mark.parametrize("kind, to, expected", [
    ("linear", 0.0, [1.0, 1.0, 1.0, 0.75, 0.5, 0.25]),
    ("exponential", 0.01, [1.0, 1.0, 1.0, 0.01 ** 0.25, 0.1, 0.01 ** 0.75]),
    ("none", 0.0, [1.0] * 6),
])
def test_lr_factor_is_constant_then_decays_to_its_final_factor(kind, to, expected):
    cfg = TrainerConfig(max_steps=8, lr_decay=kind, lr_decay_start=0.5, lr_decay_to=to)
    assert [cfg.lr_factor(step) for step in (0, 3, 4, 5, 6, 7)] == pytest.approx(expected)
    assert cfg.lr_factor(8) == pytest.approx(to if kind != "none" else 1.0)


def test_bigan_fc1024_nets_are_the_papers():
    model = build_model(model_cfg("bigan", arch="bigan_fc1024", prior="uniform", latent_dim=50),
                        DataInfo("x", [1, 28, 28], "image"))
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "generator.0.fc1.weight": (1024, 50), "generator.0.fc2.weight": (1024, 1024),
        "generator.0.fc2_in.weight": (1024, 50), "generator.0.out.weight": (784, 1024),
        "encoder.body.1.weight": (1024, 784), "encoder.body.3.weight": (1024, 1024), "encoder.out.weight": (50, 1024),
        "discriminator.fc1.weight": (1024, 784), "discriminator.fc2.weight": (1024, 1024),
        "discriminator.fc2_z.weight": (1024, 50), "discriminator.out.weight": (1, 1024)}  # no biases, no BN gains
    model.eval()
    x = model.generate(model.sample_latent(4))
    assert x.shape == (4, 1, 28, 28) and model.encode(x).abs().max() < 1
