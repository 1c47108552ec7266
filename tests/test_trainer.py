"""The training loop: exact resume, NaN stops, atomic checkpoints, budgets, signals, losses going down."""

from __future__ import annotations

import itertools
import random
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from conftest import TINY_TOY, run_cli, run_task
from latentcli.data import batch_stream
from latentcli.data.toy import load_toy
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import DivergedError, Trainer, TrainerConfig
from latentcli.errors import StorageError, UserError
from latentcli.models import build_model
from latentcli.tasks.common import seed_everything

MODEL = OmegaConf.create({"name": "bigan", "latent_dim": 4, "width": 16, "depth": 2, "lr_g": 1e-3, "lr_d": 1e-3,
                          "betas": [0.5, 0.999], "d_dropout": 0.2})


def quiet(**overrides) -> TrainerConfig:
    return TrainerConfig(**{"device": "cpu", "progress": False, "tensorboard": False, "log_every": 1, **overrides})


def train_bigan(run_dir: Path, max_steps: int, resume: dict | None = None, **trainer) -> nn.Module:
    seed_everything(0)
    data = load_toy("grid25", 512, 64)
    model = build_model(MODEL, data.info)
    cfg = quiet(max_steps=max_steps, checkpoint_every=4, **{"ema_decay": 0.9, **trainer})
    meta = {"config": {"model": OmegaConf.to_container(MODEL)}, "data": data.info.to_dict()}
    Trainer(cfg, run_dir, checkpoint_meta=meta).fit(model, lambda s: batch_stream(data.train, 32, 0, s), resume=resume)
    return model


def assert_same_state(a: dict, b: dict, path: str = "") -> None:
    assert type(a) is type(b), path
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"tensors differ at {path}"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same_state(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_resumed_run_equals_uninterrupted_run_bitwise(tmp_path):
    train_bigan(tmp_path / "straight", 20)
    train_bigan(tmp_path / "stopped", 10)  # checkpoints at 4 and 8, last.ckpt at 10
    resume = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    assert resume["step"] == 10
    train_bigan(tmp_path / "stopped", 20, resume=resume)
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    for key in ("step", "model", "optimizers", "ema", "rng"):
        assert_same_state(straight[key], resumed[key], key)
    steps = [json.loads(line)["step"] for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 21))  # the log reads as one run: no repeated or missing steps


@pytest.mark.parametrize("fused", [False, True], ids=["single", "fused"])
def test_a_runs_path_does_not_depend_on_its_budget_or_on_how_often_it_logs_saves_or_samples(tmp_path, fused):
    # the studies' learning curves read step-N checkpoints of a longer run as if they were N-step runs
    common = [*TINY_TOY, "model=veegan", "trainer.keep_checkpoints=100"]
    runs = {"long": ["trainer.max_steps=12", "trainer.log_every=1", "trainer.checkpoint_every=4",
                     "trainer.sample_every=3"],
            "short": ["trainer.max_steps=8", "trainer.log_every=8", "trainer.checkpoint_every=8",
                      "trainer.sample_every=100"]}
    for name, cadence in runs.items():
        if fused:  # seed 3 beside seed 4 in one group
            run_task("train", "-m", *common, *cadence, "seed=3,4", "hydra/launcher=fused",
                     f"hydra.sweep.dir={tmp_path / name}", "hydra.sweep.subdir=seed-${seed}")
        else:
            run_task("train", *common, *cadence, "seed=3", f"hydra.run.dir={tmp_path / name / 'seed-3'}")
    at_8 = [ckpt_io.load(tmp_path / name / "seed-3" / "checkpoints" / ckpt_io.periodic_name(8)) for name in runs]
    for key in ("step", "model", "optimizers", "rng"):
        assert_same_state(at_8[0][key], at_8[1][key], key)


def test_resume_with_loss_scaling_restores_the_scaler_bitwise(tmp_path, monkeypatch):
    # fp16's GradScaler enabled on the CPU; it doubles its scale every 3 updates without an overflow
    monkeypatch.setattr(Trainer, "_grad_scaler",
                        lambda self: torch.amp.GradScaler("cpu", enabled=True, growth_interval=3))
    train_bigan(tmp_path / "straight", 12)
    train_bigan(tmp_path / "stopped", 6)
    train_bigan(tmp_path / "stopped", 12, resume=ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt"))
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(tmp_path / "stopped" / "checkpoints" / "last.ckpt")
    for key in ("model", "optimizers", "ema", "scaler"):
        assert_same_state(straight[key], resumed[key], key)
    assert straight["scaler"]["scale"] == 2.0 ** 16 * 2 ** (12 * 2 // 3)  # 2 updates (D, then G) per step


def test_ema_averages_the_generator_and_encoder_but_not_the_discriminator(tmp_path):
    from latentcli.models import load_checkpoint

    live = train_bigan(tmp_path / "live", 6, ema_decay=None)  # the EMA does not change the training itself
    handed_back = train_bigan(tmp_path / "ema", 6)
    ckpt = ckpt_io.load(tmp_path / "ema" / "checkpoints" / "last.ckpt")
    loaded, _ = load_checkpoint(tmp_path / "ema" / "checkpoints" / "last.ckpt")
    assert not any(key.startswith("module.discriminator") for key in ckpt["ema"])
    for model in (handed_back, loaded):
        assert_same_state(dict(model.discriminator.state_dict()), dict(live.discriminator.state_dict()))  # as trained
        for name in ("generator", "encoder"):
            averaged = {k[len(f"module.{name}."):]: v for k, v in ckpt["ema"].items()
                        if k.startswith(f"module.{name}.")}
            assert_same_state(dict(getattr(model, name).state_dict()), averaged)
            assert not torch.equal(next(getattr(model, name).parameters()), next(getattr(live, name).parameters()))


def test_data_stream_continues_from_any_step():
    data = load_toy("ring8", 300, 10)
    straight = list(itertools.islice(batch_stream(data.train, 64, seed=3), 12))  # crosses epoch boundaries
    resumed = list(itertools.islice(batch_stream(data.train, 64, seed=3, start_step=7), 5))
    for a, b in zip(straight[7:], resumed):
        assert torch.equal(a[0], b[0])
    first_epoch = torch.cat([b[0] for b in straight[:4]])  # 300 // 64 = 4 batches per epoch, no repeats
    assert len(torch.unique(first_epoch, dim=0)) == 256


def test_periodic_checkpoints_keep_the_newest(tmp_path):
    train_bigan(tmp_path, 20, keep_checkpoints=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert names == ["last.ckpt", "step-00000016.ckpt", "step-00000020.ckpt"]
    assert ckpt_io.load(tmp_path / "checkpoints" / "last.ckpt")["step"] == 20


class Regression(nn.Module):
    """y = 3x - 1 fitted by a linear layer; the loss turns NaN at `nan_at_step` when set."""

    def __init__(self, nan_at_step: int | None = None):
        super().__init__()
        self.linear = nn.Linear(1, 1)
        self.nan_at_step, self.calls = nan_at_step, 0

    def optimizers(self):
        return {"sgd": torch.optim.SGD(self.parameters(), lr=0.1)}

    def losses(self, batch):
        self.calls += 1
        x = batch
        loss = (self.linear(x) - (3 * x - 1)).pow(2).mean()
        if self.calls == self.nan_at_step:
            loss = loss * float("nan")
        yield "sgd", loss, {"loss": loss}


def batches_of_x(start_step):
    generator = torch.Generator().manual_seed(start_step)
    while True:
        yield torch.randn(32, 1, generator=generator)


def test_loss_goes_down_and_is_logged(tmp_path):
    model = Regression()
    result = Trainer(quiet(max_steps=60, log_every=10), tmp_path).fit(model, batches_of_x)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30, 40, 50, 60]
    assert records[-1]["loss"] < 0.01 * records[0]["loss"]
    assert result.stopped_by == "max_steps" and result.step == 60


@pytest.mark.parametrize("max_steps", [20, 8])
def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, max_steps):
    # the host looks at the losses only when it logs or saves (no sync per step): here at the checkpoint
    # of step 10, or at the end (step 8); the message still names the step the loss went bad
    model = Regression(nan_at_step=7)
    with pytest.raises(DivergedError, match=r"loss for optimizer 'sgd' became nan at step 7") as err:
        Trainer(quiet(max_steps=max_steps, checkpoint_every=5, log_every=100), tmp_path).fit(model, batches_of_x)
    assert "last good checkpoint" in str(err.value)
    assert model.calls == min(max_steps, 10)  # it ran on until it looked, without a sync in between
    last = ckpt_io.load(tmp_path / "checkpoints" / "last.ckpt")
    assert last["step"] == 5 and all(torch.isfinite(v).all() for v in last["model"].values())


def test_nan_is_found_within_a_bounded_number_of_steps_whatever_log_every(monkeypatch):
    from latentcli.engine import guards

    monkeypatch.setattr(guards.FiniteWatch, "LIMIT", 4)  # 1024 losses in real runs
    model = Regression(nan_at_step=7)
    with pytest.raises(DivergedError, match="at step 7"):
        Trainer(quiet(max_steps=10**6, log_every=10**6), in_memory=True).fit(model, batches_of_x)
    assert model.calls == 8  # looked after 4 and after 8 losses


def test_time_budget_stops_and_saves(tmp_path):
    result = Trainer(quiet(max_steps=10**9, max_seconds=0.5), tmp_path).fit(Regression(), batches_of_x)
    assert result.stopped_by == "max_seconds"
    assert 0 < result.step < 10**9
    assert ckpt_io.load(tmp_path / "checkpoints" / "last.ckpt")["step"] == result.step


def test_interrupted_write_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    ckpt_io.save_atomic({"format_version": 1, "step": 1}, path)

    def crash_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(StorageError, match="cannot write .*last.ckpt: disk full; the file there before is unchanged"):
        ckpt_io.save_atomic({"format_version": 1, "step": 2}, path)
    monkeypatch.undo()
    assert ckpt_io.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def test_checkpoints_are_read_with_weights_only(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"format_version": 1, "payload": Evil()}, path)
    from latentcli.errors import UserError

    with pytest.raises(UserError, match="cannot read checkpoint"):
        ckpt_io.load(path)


def _training_args(run_dir: Path, max_steps: int, *extra: str) -> list[str]:
    return ["train", "model=gan", *TINY_TOY, f"trainer.max_steps={max_steps}", "trainer.checkpoint_every=10",
            "trainer.keep_checkpoints=1000", *extra, f"hydra.run.dir={run_dir}"]


def _start_training(run_dir: Path, max_steps: int, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "latentcli", *_training_args(run_dir, max_steps, *extra)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_then_the_identical_command_with_resume_auto_equals_an_uninterrupted_run(tmp_path):
    # what a scheduler's requeue does: the same command line again, in a fresh process
    steps = 300  # the kill lands by step 200 (+ 50 ms): the killed run never reaches the end on its own
    run_cli(*_training_args(tmp_path / "straight", steps, "resume=auto"))
    proc = _start_training(tmp_path / "killed", steps, "resume=auto")
    # step-(k+10) existing means last.ckpt was already re-linked to step-k (the link follows each write)
    # a kill point drawn afresh each run (more of them covered over time), printed so a failure names it;
    # the step the run really ended at depends on the scheduler anyway, and is printed too
    kill_after = random.choice(range(30, 200, 10))
    print(f"killing after step-{kill_after}.ckpt appears")
    _wait_for(tmp_path / "killed" / "checkpoints" / ckpt_io.periodic_name(kill_after), proc)
    time.sleep(random.uniform(0, 0.05))  # anywhere up to a few steps later
    proc.kill()  # SIGKILL: no chance to save anything
    proc.wait()
    killed_at = ckpt_io.load(tmp_path / "killed" / "checkpoints" / "last.ckpt")["step"]
    print(f"killed; last.ckpt holds step {killed_at}")
    assert kill_after - 10 <= killed_at < steps, f"drawn kill step {kill_after}, last.ckpt at {killed_at}"
    out = run_cli(*_training_args(tmp_path / "killed", steps, "resume=auto"))
    assert out.stdout.splitlines()[0] == f"resume=auto: resuming {tmp_path / 'killed'} from step {killed_at}"
    assert "name: gan" in (tmp_path / "killed" / ".hydra" / "config.yaml").read_text()  # the config that ran
    straight = ckpt_io.load(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    resumed = ckpt_io.load(tmp_path / "killed" / "checkpoints" / "last.ckpt")
    # every tensor and value bitwise equal (the files' bytes differ only in torch's per-save serialization id)
    assert_same_state(straight, resumed)


@pytest.mark.slow
def test_sigterm_saves_and_exits_cleanly(tmp_path):
    proc = _start_training(tmp_path, 10**6)
    _wait_for(tmp_path / "checkpoints" / "step-00000020.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopped by SIGTERM" in stdout and "resume=true" in stdout
    assert ckpt_io.load(tmp_path / "checkpoints" / "last.ckpt")["step"] >= 20


@pytest.mark.slow
def test_resume_refuses_to_change_the_model(tmp_path):
    run_cli("train", "model=gan", *TINY_TOY, "trainer.max_steps=10", f"hydra.run.dir={tmp_path}")
    proc = run_cli("train", "resume=true", "model=bigan", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2
    assert "only trainer.* settings may change, but model.name is gan in the run and bigan" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_new_run_never_overwrites_an_old_one(tmp_path):
    run_cli("train", "model=gan", *TINY_TOY, "trainer.max_steps=10", f"hydra.run.dir={tmp_path}")
    before = (tmp_path / "checkpoints" / "last.ckpt").read_bytes()
    proc = run_cli("train", "model=gan", *TINY_TOY, "trainer.max_steps=10", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2 and "already holds a run: continue it with resume=true" in proc.stderr
    assert (tmp_path / "checkpoints" / "last.ckpt").read_bytes() == before


def test_time_based_checkpoints(tmp_path):
    train_bigan(tmp_path / "timed", 7, checkpoint_every_seconds=1e-9)  # due after every step, not only every 4th
    assert sorted(p.name for p in (tmp_path / "timed" / "checkpoints").glob("step-*")) == [
        "step-00000005.ckpt", "step-00000006.ckpt", "step-00000007.ckpt"]  # the newest 3 kept
    train_bigan(tmp_path / "untimed", 7, checkpoint_every_seconds=3600)
    assert sorted(p.name for p in (tmp_path / "untimed" / "checkpoints").iterdir()) == [
        "last.ckpt", "step-00000004.ckpt"]


def train_small(trainer: dict, model: dict, data) -> nn.Module:
    seed_everything(0)
    cfg = OmegaConf.create({"name": "gan", "latent_dim": 4, "width": 8, "depth": 2, "lr_g": 1e-3, "lr_d": 1e-3,
                            "betas": [0.5, 0.999], **model})
    net = build_model(cfg, data.info)
    Trainer(quiet(**{"max_steps": 4, **trainer}), in_memory=True).fit(net, lambda s: batch_stream(data.train, 16, 0, s))
    return net


def assert_close_states(a: nn.Module, b: nn.Module, atol: float) -> None:
    for (key, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(x.float(), y.float(), atol=atol), key


def test_channels_last_lays_out_conv_weights_nhwc_and_trains_the_same():
    from latentcli.data.stream import DataBundle, DataInfo, TensorPairs

    images = TensorPairs(torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    data = DataBundle(images, images, DataInfo("random", [1, 16, 16], "image"))
    plain = train_small({}, {}, data)
    nhwc = train_small({"channels_last": True}, {}, data)
    conv = nhwc.discriminator.x_features.body[2].weight  # the second conv: 8 input channels
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    # the same arithmetic in another order: rounding differs, and Adam's early steps (about lr * sign(grad))
    # turn that into differences up to a fraction of lr = 1e-3 where gradients are near zero
    assert_close_states(plain, nhwc, atol=5e-4)


def test_compiled_run_matches_eager_and_modes_are_checked():
    data = load_toy("grid25", 256, 64)
    eager = train_small({}, {}, data)
    compiled = train_small({"compile": True, "compile_mode": "reduce-overhead"}, {}, data)  # CUDA graphs on GPU only
    assert compiled.generator._compiled_call_impl is not None
    assert_close_states(eager, compiled, atol=1e-5)
    with pytest.raises(UserError, match="compile_mode='fast' is not one of default, reduce-overhead"):
        TrainerConfig(compile_mode="fast")


def test_fp16_loss_scaling_allows_several_updates_of_one_optimizer_per_step(tmp_path, monkeypatch):
    """model.d_steps/g_steps > 1 step one optimizer twice per trainer step: with fp16's GradScaler (enabled
    here on the CPU, where fp16 is not used) that needs an update() between the steps. Scaling by a power of
    two is exact, so without an overflow the run equals the unscaled one bitwise."""
    data = load_toy("grid25", 256, 64)
    model, trainer = {"d_steps": 2, "g_steps": 3}, {"grad_clip": 1.0}  # clipping unscales each time too
    plain = train_small(trainer, model, data)
    scalers = []

    def enabled_scaler(self):
        scalers.append(torch.amp.GradScaler("cpu", enabled=True))
        return scalers[-1]

    monkeypatch.setattr(Trainer, "_grad_scaler", enabled_scaler)
    scaled = train_small(trainer, model, data)
    assert_same_state(plain.state_dict(), scaled.state_dict())
    assert scalers[0].is_enabled() and int(scalers[0]._growth_tracker) == 4 * (2 + 3)  # one update per optimizer step


def test_cpu_threads_are_shared_among_the_jobs_running_at_once(monkeypatch):
    from latentcli.engine.environment import choose_threads, jobs_sharing_the_machine

    assert choose_threads("auto", "cpu", cores=16, jobs=2) == 8  # a 2-job joblib sweep: half the cores each
    assert choose_threads("auto", "cpu", cores=2, jobs=4) == 1  # never 0
    assert choose_threads("auto", "cpu", cores=16, jobs=1, omp_num_threads="3") == 3  # the user's OMP_NUM_THREADS
    assert choose_threads(4, "cpu", cores=16, jobs=2, omp_num_threads="3") == 4  # a number overrides both
    assert choose_threads("auto", "cuda", cores=16, jobs=2) is None  # torch's default beside a GPU
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert [jobs_sharing_the_machine(16, n) for n in (None, 2, -1, -2)] == [1, 2, 16, 15]  # as joblib counts
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert jobs_sharing_the_machine(16, 3) == 6  # torchrun's processes in each job


def test_the_train_task_applies_and_records_its_threads(tmp_path):
    from latentcli.engine.environment import cpu_cores

    before = torch.get_num_threads()
    try:
        # a preset may name the fused launcher (the paper presets do); a run without -m is still a single run
        run_task("train", *TINY_TOY, "trainer.max_steps=2", "trainer.threads=1", "hydra/launcher=fused",
                 f"hydra.run.dir={tmp_path}")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["threads"] == {"setting": 1, "cores": cpu_cores(), "jobs": 1, "threads": 1}
    assert info["device_name"] == "cpu, 1 threads"
    assert info["launcher"] == "single run"


def test_precision_32_from_the_command_line_is_an_integer_and_means_fp32():
    from latentcli.engine.device import autocast_dtype

    assert autocast_dtype(32, torch.device("cpu")) is None  # Hydra parses trainer.precision=32 as int
    from latentcli.config import typed

    assert Trainer(typed(TrainerConfig, {"precision": 32, "device": "cpu"}), in_memory=True).amp_dtype is None


class LeastSquaresWithoutClosure(nn.Module):
    """||A z - b||^2 with a known minimiser, for an optimiser whose step re-evaluates the loss."""

    def __init__(self, line_search: str | None = "strong_wolfe"):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.a = torch.randn(6, 3, generator=generator, dtype=torch.float64)
        self.b = torch.randn(6, generator=generator, dtype=torch.float64)
        self.z = nn.Parameter(torch.zeros(3, dtype=torch.float64))
        self.line_search, self.evaluations = line_search, 0

    def optimizers(self):
        return {"z": torch.optim.LBFGS([self.z], lr=1.0, max_iter=1, line_search_fn=self.line_search)}

    def loss(self):
        self.evaluations += 1
        return (self.a @ self.z - self.b).pow(2).sum()

    def losses(self, batch):
        loss = self.loss()
        yield "z", loss, {"loss": loss}


class LeastSquares(LeastSquaresWithoutClosure):
    def closure(self, name, batch):
        return self.loss()


def test_lbfgs_line_search_re_evaluates_the_loss_through_the_closure():
    problem = LeastSquares()
    Trainer(quiet(max_steps=8), in_memory=True).fit(problem, itertools.repeat)
    answer = torch.linalg.lstsq(problem.a, problem.b.unsqueeze(1)).solution.squeeze(1)
    torch.testing.assert_close(problem.z.detach(), answer, rtol=0, atol=1e-5)  # L-BFGS stops at its tolerance_grad
    assert problem.evaluations > 8  # the line search's trial points were evaluated afresh
    with pytest.raises(TypeError, match="give LeastSquaresWithoutClosure a closure"):
        Trainer(quiet(max_steps=2), in_memory=True).fit(LeastSquaresWithoutClosure(), itertools.repeat)


def test_persistence_is_an_explicit_choice(tmp_path):
    with pytest.raises(TypeError, match="give run_dir .* or in_memory=True"):
        Trainer(quiet())
    with pytest.raises(TypeError, match="not both"):
        Trainer(quiet(), tmp_path, in_memory=True)
    Trainer(quiet(max_steps=3), in_memory=True).fit(Regression(), batches_of_x)
    assert not any(tmp_path.iterdir())
