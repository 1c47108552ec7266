"""Fused training (hydra/launcher=fused): members trained as one model stay independent, each equals its
separate run closely, a failing member fails alone, resume is exact, and the launcher writes each member as
a run that `evaluate sweep=` reads."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from latentcli.config import TrainerConfig, typed
from latentcli.data import batch_stream, build_dataset
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.fused import FusedTrainer, Member, MemberScaler
from latentcli.engine.members import stack_models
from latentcli.engine.trainer import Trainer
from latentcli.models import build_model
from latentcli.paths import config_dir
from latentcli.tasks.common import seed_everything

from conftest import TINY_TOY, run_cli

TOY = ["dataset=grid25", "dataset.n_train=512", "dataset.n_test=64", "batch_size=32", "model.width=16"]
IMAGES = ["dataset=digits", "batch_size=16", "model.width=8"]


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir(), version_base=None):
        return compose("train", overrides=overrides)


def trainer_config(cfg, steps: int, **extra) -> TrainerConfig:
    settings = {"max_steps": steps, "device": "cpu", "progress": False, "tensorboard": False, "log_every": 5,
                "sample_every": 10_000, "checkpoint_every": 10, **extra}
    return OmegaConf.to_object(typed(TrainerConfig, OmegaConf.merge(cfg.trainer, settings)))


def build(cfg, seed: int):
    """A member as the train task prepares one: weights from its seed, its random stream where training starts."""
    seed_everything(seed)
    data = build_dataset(cfg.dataset)
    model = build_model(copy.deepcopy(cfg.model), data.info)  # a copy each: a regressor records its source in it
    return data, model, torch.get_rng_state()


def fit_fused(cfg, seeds: list[int], steps: int, folder, resume=None, break_member: int | None = None,
              member_cfgs: list | None = None, **extra):
    """member_cfgs: each member's own config (members differing in what fused training allows), else cfg."""
    built = [build(own, seed) for own, seed in zip(member_cfgs or [cfg] * len(seeds), seeds)]
    if break_member is not None:  # a member whose weights are already infinite: its first loss is NaN
        first = next(p for p in built[break_member][1].parameters())
        first.data.fill_(float("inf"))
    members = [Member(folder / f"member{m}", {"config": {}, "data": {}}, model, rng) for m, (_, model, rng)
               in enumerate(built)]
    trainer = FusedTrainer(trainer_config(cfg, steps, **extra), members)
    data = built[0][0]

    def make_batches(start):
        streams = [batch_stream(data.train, cfg.batch_size, seed, start) for seed in seeds]
        for batches in zip(*streams):
            yield torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])

    fused = stack_models([model for _, model, _ in built])
    trainer.fit(fused, make_batches, resume=resume)
    return trainer, trainer.member_models(fused)


def fit_separate(cfg, seed: int, steps: int, **extra):
    data, model, _ = build(cfg, seed)
    trainer = Trainer(trainer_config(cfg, steps, **extra), in_memory=True)
    trainer.fit(model, lambda start: batch_stream(data.train, cfg.batch_size, seed, start))
    return model


def biases_before_batch_norm(model: torch.nn.Module) -> set[str]:
    """A bias that BatchNorm subtracts again has a gradient of rounding noise only, which Adam scales up to a
    full step of either sign: such a bias (and the running mean it shifts) matches nothing, fused or not, and
    is left out of comparisons."""
    found = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Sequential):
            layers = list(module.named_children())
            for (child, layer), (norm, after) in zip(layers, layers[1:]):
                if getattr(layer, "bias", None) is not None and isinstance(after, torch.nn.modules.batchnorm._BatchNorm):
                    found |= {f"{name}.{child}.bias".lstrip("."), f"{name}.{norm}.running_mean".lstrip(".")}
    return found


def largest_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    noise = biases_before_batch_norm(b)
    return max((sa[k].float() - sb[k].float()).abs().max().item() for k in sa
               if sa[k].is_floating_point() and k not in noise)


def equal_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


# One case per model family, with what the presets use: BatchNorm (G), dropout (ALI's D), spectral norm,
# packing and maxout (the PacGAN nets), stochastic G/E (ALICE's noise), simultaneous updates, several G steps,
# the gradient penalty, conv nets, EMA and gradient clipping.
FAMILIES = {
    "gan": ["model=gan", *TOY],
    "gan_wgan_gp_spectral": ["model=gan", "model.loss=wgan_gp", "model.spectral_norm=true", *TOY],
    "gan_pacgan_nets": ["experiment=paper/pacgan_grid25", "batch_size=40", "dataset.n_train=400"],
    "bigan_conv": ["model=bigan", *IMAGES],
    "ali_dropout": ["model=ali", *TOY],
    "alice_noise_g_steps": ["model=alice", "model.g_noise=2", "model.e_noise=2", "model.g_steps=2",
                            "model.d_dropout=0", *TOY],
    "alad": ["model=alad", "model.d_dropout=0", *TOY],
    "alad_dropout": ["model=alad", *TOY],
    "veegan": ["model=veegan", *TOY],
    "vae_conv": ["model=vae", *IMAGES],
    "vaegan": ["model=vaegan", *TOY],
    "aae_simultaneous": ["model=aae", *TOY],
    "gan_simultaneous_d_steps": ["model=gan", "model.updates=simultaneous", *TOY],
    "gan_conv_d_steps": ["model=gan", "model.d_steps=2", *IMAGES],
}
NO_DROPOUT = {"gan", "gan_wgan_gp_spectral", "bigan_conv", "alice_noise_g_steps", "alad", "veegan", "vae_conv",
              "vaegan", "aae_simultaneous", "gan_simultaneous_d_steps", "gan_conv_d_steps"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_model_family_fuses_and_members_match_their_separate_runs(family, tmp_path):
    torch.set_num_threads(1)
    cfg = compose_train(FAMILIES[family])
    _, models = fit_fused(cfg, [0, 1], 6, tmp_path)
    for member in models:
        assert all(torch.isfinite(v).all() for v in member.state_dict().values() if v.is_floating_point())
    if family in NO_DROPOUT:  # dropout masks come from the member's own stream, but not torch's dropout kernel
        separate = fit_separate(cfg, 1, 6)
        assert largest_difference(models[1], separate) < 1e-4


def test_members_match_their_separate_runs_after_200_steps_within_1e_3(tmp_path):
    """docs/guides/sweeps.md's figure: a fused member's weights after 200 fp32 steps lie within 1e-3 of its
    separate run's. How close depends on the CPU's matmul kernels, whose summation order training amplifies:
    under 1e-5 on the machines of earlier sessions, 1.6e-4 on an AVX-512 Xeon (2026-12-07)."""
    torch.set_num_threads(1)
    cfg = compose_train(["model=bigan", *TOY])
    _, models = fit_fused(cfg, [0, 1, 2], 200, tmp_path, checkpoint_every=1000)
    separate = fit_separate(cfg, 2, 200, checkpoint_every=1000)
    assert 0 < largest_difference(models[2], separate) < 1e-3 or equal_weights(models[2], separate)


def test_changing_one_members_seed_leaves_the_others_bitwise_unchanged(tmp_path):
    torch.set_num_threads(1)
    cfg = compose_train(["model=ali", "trainer.ema_decay=0.9", "trainer.grad_clip=1.0", *TOY])
    _, first = fit_fused(cfg, [0, 1, 2], 12, tmp_path / "a")
    _, second = fit_fused(cfg, [0, 7, 2], 12, tmp_path / "b")
    assert equal_weights(first[0], second[0]) and equal_weights(first[2], second[2])
    assert not equal_weights(first[1], second[1])


def with_rates(overrides: list[str], lr_g: float, lr_d: float):
    return compose_train([*overrides, f"model.lr_g={lr_g}", f"model.lr_d={lr_d}"])


def test_members_with_their_own_learning_rates_match_their_separate_runs(tmp_path):
    """A search's trials that differ in learning rates train together: each member at its own rates."""
    torch.set_num_threads(1)
    setup = ["model=bigan", "trainer.lr_decay=linear", *TOY]
    rates = [(2e-4, 2e-4), (1e-3, 5e-5), (5e-5, 2e-3)]
    cfgs = [with_rates(setup, *r) for r in rates]
    _, models = fit_fused(cfgs[0], [0, 1, 2], 40, tmp_path, member_cfgs=cfgs)
    for m in (1, 2):
        separate = fit_separate(cfgs[m], m, 40)
        assert largest_difference(models[m], separate) < 1e-4
    saved = torch.load(tmp_path / "member2" / "checkpoints" / "last.ckpt", weights_only=True)
    separate_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in models[2].optimizers().items()}
    for name, lrs in separate_lrs.items():  # its own base rates, decayed to the last step as the run's would be
        factor = trainer_config(cfgs[2], 40).lr_factor(39)
        assert [g["lr"] for g in saved["optimizers"][name]["param_groups"]] == pytest.approx([lr * factor for lr in lrs])


def test_changing_one_members_learning_rate_leaves_the_others_bitwise_unchanged(tmp_path):
    torch.set_num_threads(1)
    first_rates = [with_rates(["model=ali", *TOY], *r) for r in [(2e-4, 2e-4), (1e-3, 1e-3), (5e-4, 1e-4)]]
    second_rates = [*first_rates[:1], with_rates(["model=ali", *TOY], 3e-5, 3e-3), first_rates[2]]
    _, first = fit_fused(first_rates[0], [0, 1, 2], 12, tmp_path / "a", member_cfgs=first_rates)
    _, second = fit_fused(second_rates[0], [0, 1, 2], 12, tmp_path / "b", member_cfgs=second_rates)
    assert equal_weights(first[0], second[0]) and equal_weights(first[2], second[2])
    assert not equal_weights(first[1], second[1])


def test_a_failing_member_fails_alone_and_keeps_no_bad_checkpoint(tmp_path):
    torch.set_num_threads(1)
    cfg = compose_train(["model=gan", *TOY])
    trainer, models = fit_fused(cfg, [0, 1, 2], 20, tmp_path, break_member=1)
    assert set(trainer.failed) == {1} and "became nan" in trainer.failed[1]
    assert not (tmp_path / "member1" / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "member0" / "checkpoints" / "last.ckpt").exists()
    _, healthy = fit_fused(cfg, [0, 1, 2], 20, tmp_path / "healthy")
    assert equal_weights(models[0], healthy[0]) and equal_weights(models[2], healthy[2])


def enable_fp16_loss_scaling(monkeypatch, growth_interval: int = 3) -> None:
    """fp16's loss scaling switched on for the CPU (where autocast stays fp32): in separate runs torch's
    GradScaler, in fused groups one scale per member; each doubles after `growth_interval` clean updates."""
    monkeypatch.setattr(Trainer, "_grad_scaler",
                        lambda self: torch.amp.GradScaler("cpu", enabled=True, growth_interval=growth_interval))
    monkeypatch.setattr(FusedTrainer, "_grad_scaler", lambda self: MemberScaler(
        len(self.members), self.device, enabled=True, growth_interval=growth_interval))


def test_under_fp16_loss_scaling_members_match_their_separate_runs_and_save_their_own_scale(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    enable_fp16_loss_scaling(monkeypatch)
    cfg = compose_train(["model=bigan", *TOY])
    _, models = fit_fused(cfg, [0, 1], 12, tmp_path)
    assert largest_difference(models[1], fit_separate(cfg, 1, 12)) < 1e-4
    saved = torch.load(tmp_path / "member1" / "checkpoints" / "last.ckpt", weights_only=True)["scaler"]
    assert saved["scale"] == 2.0 ** 16 * 2 ** (12 * 2 // 3)  # 24 clean updates (D and G each step): 8 doublings
    torch.amp.GradScaler("cpu", enabled=True).load_state_dict(saved)  # a separate run's format


def test_under_fp16_loss_scaling_a_members_overflow_skips_its_update_alone(tmp_path, monkeypatch):
    """One GradScaler for the group would skip every member's step while member 1's gradients are not finite."""
    torch.set_num_threads(1)
    enable_fp16_loss_scaling(monkeypatch)
    cfg = compose_train(["model=gan", *TOY])
    trainer, models = fit_fused(cfg, [0, 1, 2], 12, tmp_path, break_member=1)
    assert set(trainer.failed) == {1}
    _, healthy = fit_fused(cfg, [0, 1, 2], 12, tmp_path / "healthy")
    assert equal_weights(models[0], healthy[0]) and equal_weights(models[2], healthy[2])


def test_member_scaler_keeps_an_overflowing_members_weights_and_moments_and_backs_off_its_scale_alone():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(3, 4, 2))  # three members' weights
    optimizer = torch.optim.Adam([weight], lr=0.1)
    scaler = MemberScaler(3, torch.device("cpu"), enabled=True)
    for step in range(2):
        before = weight.detach().clone()
        moments = {k: v.clone() for k, v in optimizer.state[weight].items()}
        losses = (weight ** 2).sum((1, 2)) * torch.tensor([1.0, float("inf") if step else 1.0, 1.0])
        optimizer.zero_grad()
        scaler.scale(losses).sum().backward()
        scaler.step(optimizer)
        scaler.update()
    assert torch.equal(weight[1], before[1])  # step 1: member 1 overflowed, its update skipped
    assert torch.equal(optimizer.state[weight]["exp_avg"][1], moments["exp_avg"][1])
    assert not torch.equal(weight[0], before[0]) and not torch.equal(weight[2], before[2])
    assert scaler.scales.tolist() == [2.0 ** 16, 2.0 ** 15, 2.0 ** 16]


def test_resume_of_a_fused_group_is_bitwise_equal_to_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    cfg = compose_train(["model=alice", "model.g_noise=2", "trainer.ema_decay=0.9", *TOY])
    _, whole = fit_fused(cfg, [0, 1], 20, tmp_path / "whole")
    fit_fused(cfg, [0, 1], 10, tmp_path / "parts")
    ckpts = [torch.load(tmp_path / "parts" / f"member{m}" / "checkpoints" / "last.ckpt", weights_only=True)
             for m in range(2)]
    _, resumed = fit_fused(cfg, [0, 1], 20, tmp_path / "parts", resume=ckpts)
    assert all(equal_weights(a, b) for a, b in zip(whole, resumed))


@pytest.mark.slow
def test_fused_sweep_writes_each_member_as_a_run_and_evaluate_sweep_reads_them(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("train", "-m", "model=gan", *TINY_TOY, "trainer.max_steps=20", "seed=0,1,2", "model.d_steps=1,2",
                   "hydra/launcher=fused", f"hydra.sweep.dir={sweep}", env={"OMP_NUM_THREADS": "1"})
    assert "6 jobs in 2 group(s)" in proc.stdout
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 6
    for job in jobs:
        assert (job / ".hydra" / "config.yaml").exists() and (job / "checkpoints" / "last.ckpt").exists()
        assert json.loads((job / "status.json").read_text()) == {"status": "finished"}
        assert json.loads((job / "run_info.json").read_text())["fused"]["members"] == 3
        assert [json.loads(line)["step"] for line in (job / "metrics.jsonl").read_text().splitlines()] == [5, 10, 15, 20]
    seeds = {OmegaConf.load(job / ".hydra" / "config.yaml").seed for job in jobs}
    assert seeds == {0, 1, 2}
    summary = run_cli("evaluate", f"sweep={sweep}", "inference=encoder", "metrics=[modes]", check=False,
                      env={"OMP_NUM_THREADS": "1"})
    assert "d_steps" in summary.stdout + summary.stderr


def test_jobs_that_differ_in_seed_and_learning_rates_form_one_group_and_others_do_not():
    from hydra_plugins.latentcli_launcher.fused_launcher import group_key, group_jobs

    jobs = [compose_train(["model=gan", *TOY, f"seed={seed}", f"model.lr_g={lr}", f"model.lr_d={lr}", *extra])
            for seed, lr, extra in [(0, 1e-4, []), (1, 3e-4, []), (0, 1e-4, ["model.betas=[0.9,0.999]"]),
                                    (2, 2e-4, ["model.d_steps=2"])]]
    assert group_jobs([group_key(job) for job in jobs], max_members=16) == [[0, 1], [2], [3]]


def _fused_sweep(sweep, steps: int, *extra: str) -> list[str]:
    return ["train", "-m", "model=ali", *TINY_TOY, f"trainer.max_steps={steps}", "trainer.checkpoint_every=10",
            "trainer.keep_checkpoints=1000", "seed=0,1,2", "hydra/launcher=fused", *extra, f"hydra.sweep.dir={sweep}",
            "hydra.sweep.subdir=${hydra.job.num}"]


KILL_STEPS, ONE_THREAD = 150, {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def fused_straight(tmp_path_factory):
    """The uninterrupted fused sweep both kill points are compared with: run once, only read."""
    straight = tmp_path_factory.mktemp("fused_straight") / "straight"
    run_cli(*_fused_sweep(straight, KILL_STEPS), env=ONE_THREAD)
    return straight


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [40, 90])  # fixed steps: a failure names the step it drew
def test_kill_9_of_a_fused_group_then_resume_auto_equals_an_uninterrupted_run(tmp_path, kill_after, fused_straight):
    steps, env = KILL_STEPS, ONE_THREAD
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "latentcli", *_fused_sweep(killed, steps)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    deadline = time.monotonic() + 120
    while not list(killed.glob(f"*/checkpoints/step-{kill_after:08d}.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline, f"no step-{kill_after} checkpoint: {proc.communicate()}"
        time.sleep(0.005)
    proc.kill()  # SIGKILL, possibly between two members' saves
    proc.wait()
    out = run_cli(*_fused_sweep(killed, steps, "resume=auto"), env=env)
    assert "resuming" in out.stdout
    since = re.search(r"member-steps/s since step (\d+)\)", out.stdout)  # this process's rate, not from step 0
    assert since and 0 < int(since.group(1)) < steps, out.stdout
    assert_same_sweep(fused_straight, killed)


def assert_same_sweep(straight: Path, resumed: Path) -> None:
    """Each job's last checkpoint of `resumed` equals `straight`'s bitwise, and its metrics.jsonl reads as one run."""
    from test_trainer import assert_same_state

    jobs = sorted(p.name for p in straight.iterdir() if p.is_dir())
    assert len(jobs) == 3
    for job in jobs:
        a = torch.load(straight / job / "checkpoints" / "last.ckpt", weights_only=True)
        b = torch.load(resumed / job / "checkpoints" / "last.ckpt", weights_only=True)
        for key in ("model", "optimizers", "ema", "step", "rng"):
            assert_same_state(a[key], b[key], key)
        lines = [json.loads(line)["step"] for line in (resumed / job / "metrics.jsonl").read_text().splitlines()]
        assert lines == sorted(set(lines)), "metrics.jsonl repeats or misorders steps after the resume"


@pytest.mark.slow
def test_a_finished_fused_sweep_rerun_with_a_larger_budget_equals_that_budget_from_the_start(tmp_path, fused_straight):
    """How a study is taken further (its runs to 40,000 steps, later the same command to 80,000 with resume=auto):
    the continued runs are the longer runs, not runs restarted with something reset at their first end."""
    extended = tmp_path / "extended"
    run_cli(*_fused_sweep(extended, 60), env=ONE_THREAD)
    out = run_cli(*_fused_sweep(extended, KILL_STEPS, "resume=auto"), env=ONE_THREAD)
    assert out.stdout.count("from step 60") == 3
    assert_same_sweep(fused_straight, extended)


def test_members_saved_at_different_steps_resume_from_the_newest_step_all_kept(tmp_path):
    """A kill between two members' saves leaves one a checkpoint ahead: both resume from the step both kept."""
    from types import SimpleNamespace

    from latentcli.tasks.fused import common_start

    torch.set_num_threads(1)
    cfg = compose_train(["model=gan", *TOY])
    fit_fused(cfg, [0, 1], 20, tmp_path, keep_checkpoints=10)
    behind = tmp_path / "member1" / "checkpoints"
    (behind / "step-00000020.ckpt").unlink()
    (behind / "last.ckpt").unlink()
    (behind / "last.ckpt").hardlink_to(behind / "step-00000010.ckpt")
    runs = [SimpleNamespace(out=tmp_path / f"member{m}",
                            resume_state=ckpt_io.load(tmp_path / f"member{m}" / "checkpoints" / "last.ckpt"))
            for m in range(2)]
    assert [r.resume_state["step"] for r in runs] == [20, 10]
    common_start(runs)
    assert [r.resume_state["step"] for r in runs] == [10, 10]


def test_a_latent_regressor_fuses_with_its_generator_frozen(tmp_path):
    torch.set_num_threads(1)
    run_cli("train", "model=gan", *TOY, "trainer.max_steps=5", "trainer.progress=false", "trainer.tensorboard=false",
            f"hydra.run.dir={tmp_path / 'gan'}", env={"OMP_NUM_THREADS": "1"})
    cfg = compose_train(["model=regressor", *TOY, f"model.generator_ckpt={tmp_path / 'gan' / 'checkpoints' / 'last.ckpt'}"])
    _, models = fit_fused(cfg, [0, 1], 6, tmp_path / "fused")
    separate = fit_separate(cfg, 1, 6)
    assert largest_difference(models[1], separate) < 1e-4
    assert equal_weights(models[0].generator, models[1].generator)  # the same frozen G in every member
    assert not equal_weights(models[0].encoder, models[1].encoder)


def test_a_wrong_launcher_setting_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("train", "-m", "model=gan", *TINY_TOY, "seed=0,1", "hydra/launcher=fused",
                   "hydra.launcher.max_members=0", f"hydra.sweep.dir={tmp_path / 'sweep'}", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "latentcli train: error: hydra.launcher.max_members=0 and hydra.launcher.n_jobs=1 must be >= 1\n"
    assert not list((tmp_path / "sweep").glob("*"))  # no job folder (the writable-output check may make the folder)


def _conv_sweep(sweep, *extra: str) -> list[str]:
    return ["train", "-m", "model=gan", *IMAGES, "trainer.device=cpu", "trainer.max_steps=6", "trainer.progress=false",
            "trainer.tensorboard=false", "trainer.sample_every=1000", "seed=0,1", *extra, f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"]


@pytest.mark.slow
def test_conv_nets_on_a_cpu_train_one_after_another_exactly_as_separate_runs_unless_fuse_always(tmp_path):
    """Fused conv nets ran at 0.7-0.8x of separate runs on this CPU (RESULTS.md): under fuse=auto the launcher
    trains them one by one, and each then equals its separate run bitwise; fuse=always still fuses them."""
    runs = {name: tmp_path / name for name in ("basic", "auto", "always")}
    run_cli(*_conv_sweep(runs["basic"]), env=ONE_THREAD)
    auto = run_cli(*_conv_sweep(runs["auto"], "hydra/launcher=fused"), env=ONE_THREAD)
    assert "convolutional nets on a CPU train one after another" in auto.stdout
    run_cli(*_conv_sweep(runs["always"], "hydra/launcher=fused", "hydra.launcher.fuse=always"), env=ONE_THREAD)
    for job in ("0", "1"):
        weights = {name: torch.load(folder / job / "checkpoints" / "last.ckpt", weights_only=True)["model"]
                   for name, folder in runs.items()}
        assert weights["basic"].keys() == weights["auto"].keys()
        assert all(torch.equal(weights["basic"][k], weights["auto"][k]) for k in weights["basic"])
        assert json.loads((runs["auto"] / job / "status.json").read_text()) == {"status": "finished"}
        assert json.loads((runs["auto"] / job / "run_info.json").read_text())["fused"].startswith("trained alone")
        assert json.loads((runs["always"] / job / "run_info.json").read_text())["fused"]["members"] == 2
    assert not all(torch.equal(weights["basic"][k], weights["always"][k]) for k in weights["basic"])
    wrong = run_cli(*_conv_sweep(tmp_path / "wrong", "hydra/launcher=fused", "hydra.launcher.fuse=sometimes"),
                    check=False)
    assert wrong.returncode == 2
    assert wrong.stderr == "latentcli train: error: hydra.launcher.fuse=sometimes is not a choice: use auto or always\n"


def _processes_with(tag: str) -> list[int]:
    """The processes whose environment holds `tag` (a test's processes and every child they started)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if tag.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
    return found


def _kill_processes_with(tag: str) -> None:
    """A failed test leaves nothing training behind it."""
    for pid in _processes_with(tag):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_kill_of_a_two_process_fused_sweep_saves_every_group_and_leaves_no_process_behind(tmp_path):
    """`kill PID` of a sweep with hydra.launcher.n_jobs=2 used to end the launcher alone: its joblib processes
    trained on, orphaned, and never saved. Now every running group saves and stops, a group not yet started
    never starts, and no process is left."""
    sweep, tag = tmp_path / "sweep", f"LATENTCLI_TEST_TAG={tmp_path.name}-{time.time()}"
    args = ["train", "-m", "model=gan", *TINY_TOY, "trainer.max_steps=100000", "trainer.checkpoint_every=10",
            "seed=0,1,2,3,4,5", "hydra/launcher=fused", "hydra.launcher.n_jobs=2", "hydra.launcher.max_members=2",
            f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${hydra.job.num}"]
    key, value = tag.split("=")
    proc = subprocess.Popen([sys.executable, "-m", "latentcli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD, key: value})
    try:
        def saved_past_step_20(job: str) -> bool:  # only the newest checkpoints are kept: any of them past step 20
            return any(int(p.stem.split("-")[1]) >= 20 for p in (sweep / job / "checkpoints").glob("step-*.ckpt"))

        deadline = time.monotonic() + 180
        while not all(saved_past_step_20(job) for job in "02"):
            if proc.poll() is not None or time.monotonic() > deadline:
                _kill_processes_with(value)  # the groups' processes too, which hold the output pipes open
                pytest.fail(f"both groups should have saved step 20 by now: {proc.communicate()}")
            time.sleep(0.1)
        proc.terminate()  # SIGTERM to the launcher's process alone
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 143 and "Traceback" not in stderr and "leaked" not in stderr, stderr
        steps = {job: ckpt_io.load(sweep / job / "checkpoints" / "last.ckpt")["step"] for job in "0123"}
        assert steps["0"] == steps["1"] >= 20 and steps["2"] == steps["3"] >= 20
        assert stdout.count("the sweep stops here (SIGTERM)") == 2
        assert not (sweep / "4").exists() and not (sweep / "5").exists()  # the third group never started
        deadline = time.monotonic() + 30
        while _processes_with(value) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _processes_with(value)
    finally:
        _kill_processes_with(value)
