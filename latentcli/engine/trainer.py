"""The one optimisation loop of latentcli: model training, post-hoc regressors and latent inversion.

A *trainable* is an nn.Module with
    optimizers() -> {name: torch.optim.Optimizer}
    losses(batch) -> iterator of (optimizer_name, scalar loss, {log_name: tensor})
The Trainer applies each yielded loss to its optimiser in the order yielded (a GAN yields the
discriminator's loss, then the generator's, computed after the discriminator's update). Models
never call backward() or step() themselves. A trainable may also define converged() -> bool, asked
after every step, to stop early (latent optimisation does, when its loss stops improving).

Exact resume: the data order is a pure function of (seed, step) (see data.stream) and every
random draw comes from the global generators whose states the checkpoint stores, so a run
stopped at step k and resumed ends bitwise equal to one that never stopped (on CPU).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine import distributed
from latentcli.engine.device import autocast, autocast_dtype, pick_device, to_device, use_deterministic_algorithms
from latentcli.engine.logging import MetricsLogger
from latentcli.errors import UserError


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class DivergedError(UserError):
    """A loss became NaN or infinite; the run stopped without saving the bad weights."""

    exit_code = 1


@dataclass
class TrainerConfig:
    max_steps: int = 1000
    max_seconds: float | None = None  # wall-clock budget of this process; a checkpoint is saved when it runs out
    device: str = "auto"
    precision: str = "auto"  # auto | 32 | bf16 | fp16 (mixed precision only on CUDA)
    compile: bool = False
    compile_mode: str = "default"  # torch.compile mode; "reduce-overhead" captures CUDA graphs (small MLPs)
    channels_last: bool = False  # NHWC memory layout for conv nets (faster convolutions on tensor cores)
    deterministic: bool = False  # deterministic CUDA kernels, so that resume is exact on a GPU too (slower)
    grad_clip: float | None = None  # max gradient norm per optimiser
    ema_decay: float | None = None  # EMA of all model weights, used for sampling and inversion
    log_every: int = 50
    sample_every: int = 500  # calls on_periodic (sample grids) every N steps and at the end
    checkpoint_every: int = 1000
    checkpoint_every_seconds: float | None = None  # also save this often: a preempted job loses at most this
    keep_checkpoints: int = 3  # periodic step-N.ckpt files kept besides last.ckpt
    num_workers: int = 0
    progress: bool = True
    tensorboard: bool = True
    weight_decay: float = 0.0  # L2 added to every optimiser's gradients (Adam's coupled weight decay, as BiGAN's code)
    lr_decay: str = "none"  # none | linear | exponential: after lr_decay_start, every lr falls to lr_decay_to x itself
    lr_decay_start: float = 0.5  # the fraction of max_steps after which the decay begins
    lr_decay_to: float = 0.0  # the factor reached at max_steps (exponential needs > 0; BiGAN: 0.01)

    def lr_factor(self, step: int) -> float:
        """The multiplier of every base learning rate at `step` (0-based): a pure function of the step, so a
        resumed run follows the same schedule."""
        start = self.lr_decay_start * self.max_steps
        if self.lr_decay == "none" or step < start:
            return 1.0
        progress = min(1.0, (step - start) / max(1.0, self.max_steps - start))
        if self.lr_decay == "linear":
            return 1.0 + progress * (self.lr_decay_to - 1.0)
        return self.lr_decay_to ** progress

    @classmethod
    def from_cfg(cls, cfg) -> "TrainerConfig":
        values = dict(cfg)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown trainer option(s) {unknown}; known: {sorted(known)}")
        if values.get("compile_mode", "default") not in COMPILE_MODES:
            raise UserError(f"trainer.compile_mode={values['compile_mode']!r} is not one of {', '.join(COMPILE_MODES)}")
        config = cls(**values)
        if config.lr_decay not in ("none", "linear", "exponential"):
            raise UserError(f"trainer.lr_decay={config.lr_decay!r} is not one of none, linear, exponential")
        if config.lr_decay == "exponential" and config.lr_decay_to <= 0:
            raise UserError("trainer.lr_decay=exponential needs trainer.lr_decay_to > 0")
        return config


@dataclass
class TrainResult:
    step: int
    stopped_by: str  # max_steps | max_seconds | converged | SIGTERM | SIGUSR2
    seconds: float
    last_logs: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Runs `model.losses` through the optimisers until a budget runs out; logs and checkpoints.

    run_dir=None (as in inversion) means no files: no metrics, no checkpoints.
    checkpoint_meta holds what the checkpoint needs besides state (the config, the data shape).
    on_periodic(step) is called every `sample_every` steps and at the end (sample grids).
    """

    def __init__(
        self,
        cfg: TrainerConfig,
        run_dir: str | Path | None = None,
        checkpoint_meta: dict | None = None,
        on_periodic: Callable[[int], None] | None = None,
        desc: str = "train",
    ):
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint_meta = checkpoint_meta or {}
        self.on_periodic = on_periodic
        self.desc = desc
        self.group, self.device = distributed.join(pick_device(cfg.device))  # one process of several under torchrun
        if cfg.deterministic:
            use_deterministic_algorithms()
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        self._stop_signal: str | None = None

    @property
    def checkpoint_dir(self) -> Path | None:
        return self.run_dir / "checkpoints" if self.run_dir is not None else None

    def fit(
        self,
        model: torch.nn.Module,
        make_batches: Callable[[int], Iterator],
        resume: dict | None = None,
        logger: MetricsLogger | None = None,
    ) -> TrainResult:
        """Optimises `model` on the batches `make_batches(start_step)` yields, from `resume` if given.
        logger: one the caller opened and closes (the train task's, with its chosen trackers); None: the
        Trainer opens its own in run_dir (TensorBoard as cfg.tensorboard says)."""
        cfg = self.cfg
        model.to(self.device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)  # only 4-D weights (convolutions) change layout
        self.group.broadcast_model(model)
        model.train()
        optimizers = model.optimizers()
        base_lrs = {name: [group["lr"] for group in opt.param_groups] for name, opt in optimizers.items()}
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        ema = None
        if cfg.ema_decay:
            ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        step = 0
        if resume is not None:
            step = self._restore(resume, model, optimizers, ema, scaler)
        else:
            self.group.diverge_rng()
        if cfg.weight_decay:
            for optimizer in optimizers.values():
                for group in optimizer.param_groups:
                    group["weight_decay"] = cfg.weight_decay
        if cfg.compile:
            for net in model.children():
                net.compile(mode=cfg.compile_mode)
        # CUDA graphs (compile_mode=reduce-overhead) reuse their output memory each step; marking the
        # step boundary tells them when the previous step's outputs are no longer needed
        mark_step = cfg.compile and cfg.compile_mode in ("reduce-overhead", "max-autotune")
        self._watch = _FiniteWatch()

        own_logger = logger is None and self.run_dir is not None and self.group.is_main
        if own_logger:
            logger = MetricsLogger(self.run_dir, resume_step=step, tensorboard=cfg.tensorboard)
        batches = make_batches(step)
        running: dict[str, torch.Tensor] = {}
        running_count = 0
        last_logs: dict[str, float] = {}
        stopped_by = "max_steps"
        start = saved_at = time.monotonic()
        bar = tqdm(total=cfg.max_steps, initial=step, desc=self.desc,
                   disable=not cfg.progress or not self.group.is_main, dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 30)
        stop_signals = _CatchStopSignals(self)
        try:
            with stop_signals:
                while step < cfg.max_steps:
                    # every process must stop at the same step: a signal may reach only one of them
                    signalled, out_of_time = self.group.agree([
                        self._stop_signal is not None,
                        cfg.max_seconds is not None and time.monotonic() - start >= cfg.max_seconds])
                    if signalled:
                        stopped_by = self._stop_signal or "SIGTERM"
                        break
                    if out_of_time:
                        stopped_by = "max_seconds"
                        break
                    batch = to_device(self.group.shard(next(batches)), self.device, channels_last=cfg.channels_last)
                    if mark_step:
                        torch.compiler.cudagraph_mark_step_begin()
                    if cfg.lr_decay != "none":
                        self._set_lrs(optimizers, base_lrs, step)
                    logs = self._step(model, optimizers, scaler, batch, step)
                    scaler.update()
                    if ema is not None:
                        ema.update_parameters(model)
                    step += 1
                    for name, value in logs.items():
                        running[name] = running.get(name, 0.0) + value
                    running_count += 1
                    if self._watch.full():
                        self._check_finite()
                    if step % cfg.log_every == 0 or step == cfg.max_steps:
                        self._check_finite()  # the one host sync of the loop: once per log_every steps
                        last_logs = self.group.mean({k: float(v) / running_count for k, v in running.items()})
                        running, running_count = {}, 0
                        if logger is not None:
                            logger.log(step, last_logs)
                        bar.set_postfix({k: f"{v:.3g}" for k, v in list(last_logs.items())[:4]}, refresh=False)
                    bar.update(1)
                    if self.on_periodic is not None and step % cfg.sample_every == 0 and self.group.is_main:
                        self._with_ema(model, ema, lambda: self.on_periodic(step))
                    due = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
                    late = cfg.checkpoint_every_seconds and time.monotonic() - saved_at >= cfg.checkpoint_every_seconds
                    if cfg.checkpoint_every_seconds:  # clocks differ between processes: agree
                        late = self.group.agree([bool(late)])[0]
                    if self.run_dir is not None and (due or late):
                        self._save(step, model, optimizers, ema, scaler, periodic=True)
                        saved_at = time.monotonic()
                    if hasattr(model, "converged") and model.converged():
                        stopped_by = "converged"
                        break
        finally:
            if stopped_by == "converged":  # done before the budget: the bar ends full, at the step reached
                bar.total = step
            bar.close()
            if own_logger:
                logger.close()
        self._check_finite()
        if self.run_dir is not None:
            self._save(step, model, optimizers, ema, scaler, periodic=False)
            stop_signals.forward()  # the signal's own handler, e.g. submitit's requeue, now that the weights are safe
        if self.on_periodic is not None and step % cfg.sample_every != 0 and self.group.is_main:
            self._with_ema(model, ema, lambda: self.on_periodic(step))
        if ema is not None:  # hand back the averaged weights: they are what sampling and inversion use
            model.load_state_dict(ema.module.state_dict())
        return TrainResult(step, stopped_by, time.monotonic() - start, last_logs)

    def _set_lrs(self, optimizers, base_lrs: dict[str, list[float]], step: int) -> None:
        """trainer.lr_decay: every group's learning rate at `step`, from the model's own (base) rates."""
        factor = self.cfg.lr_factor(step)
        for name, optimizer in optimizers.items():
            for group, base in zip(optimizer.param_groups, base_lrs[name]):
                group["lr"] = base * factor

    def _step(self, model, optimizers, scaler, batch, step: int) -> dict[str, torch.Tensor]:
        logs: dict[str, torch.Tensor] = {}
        losses = model.losses(batch)
        while True:
            with autocast(self.device, self.amp_dtype):  # forward passes only; backward runs outside
                item = next(losses, None)
            if item is None:
                return logs
            name, loss, item_logs = item
            self._watch.record(name, loss, step + 1)
            optimizer = optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            self.group.average_gradients([p for group in optimizer.param_groups for p in group["params"]])
            if self.cfg.grad_clip:
                scaler.unscale_(optimizer)
                params = [p for group in optimizer.param_groups for p in group["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            if isinstance(optimizer, torch.optim.LBFGS):
                # L-BFGS asks for a closure; one Trainer step is one of its iterations, at the loss and
                # gradient just computed (no line search, so it never needs to re-evaluate)
                optimizer.step(lambda: loss)
            else:
                scaler.step(optimizer)
            for key, value in item_logs.items():
                logs[key] = value.detach().float()

    def _check_finite(self) -> None:
        """Raises DivergedError if any loss since the start was NaN or infinite (reads the device once)."""
        bad = [b for b in self.group.gather(self._watch.first_bad()) if b is not None]  # any process's
        if not bad:
            return
        name, loss, step = min(bad, key=lambda b: b[2])
        where = ""
        if self.run_dir is not None:
            last = self.checkpoint_dir / "last.ckpt"
            where = f"; last good checkpoint: {last}" if last.exists() else "; no checkpoint was saved before it"
        raise DivergedError(f"loss for optimizer '{name}' became {loss} at step {step}: stopped{where}")

    def _with_ema(self, model, ema, fn) -> None:
        """Runs fn (sampling) with the EMA weights swapped in, then puts the live weights back."""
        if ema is None:
            fn()
            return
        live = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(ema.module.state_dict())
        try:
            fn()
        finally:
            model.load_state_dict(live)

    def _save(self, step, model, optimizers, ema, scaler, periodic: bool) -> None:
        self._check_finite()  # weights made after a non-finite loss are never saved
        state = {
            "format_version": ckpt_io.FORMAT_VERSION,
            **self.checkpoint_meta,
            "step": step,
            "model": model.state_dict(),
            "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
            "ema": ema.state_dict() if ema is not None else None,
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "rng": ckpt_io.rng_state(),
        }
        if self.group.size > 1:  # every process's random streams, so that each resumes its own
            state["rng_ranks"] = self.group.gather(state["rng"])
        if not self.group.is_main:
            return
        directory = self.checkpoint_dir
        last = directory / "last.ckpt"
        if periodic:
            path = directory / ckpt_io.periodic_name(step)
            ckpt_io.save_atomic(state, path)
            _link_atomic(path, last)  # last.ckpt is the same bytes: a hard link, not a second write
            ckpt_io.prune_periodic(directory, self.cfg.keep_checkpoints)
        else:
            ckpt_io.save_atomic(state, last)

    def _restore(self, state: dict, model, optimizers, ema, scaler) -> int:
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        if ema is not None:
            if state.get("ema") is None:
                raise UserError("trainer.ema_decay is set but the checkpoint has no EMA weights to resume")
            ema.load_state_dict(state["ema"])
        if scaler.is_enabled() and state.get("scaler") is not None:
            scaler.load_state_dict(state["scaler"])
        ranks = state.get("rng_ranks") or [state["rng"]]
        if len(ranks) != self.group.size:
            raise UserError(f"this checkpoint was written by {len(ranks)} process(es) and can only resume exactly "
                            f"in as many: run it with torchrun --nproc_per_node={len(ranks)}" if len(ranks) > 1 else
                            "this checkpoint was written by one process: resume it without torchrun")
        ckpt_io.set_rng_state(ranks[self.group.rank])
        return int(state["step"])


class _FiniteWatch:
    """The losses since the host last looked at them, left on the device until it does.

    Asking `torch.isfinite(loss)` in a Python `if` every step would make the host wait for the GPU
    every step; the loop looks instead when it logs or saves (one wait for all of them), and finds
    the first non-finite loss, its step and its optimiser.
    """

    LIMIT = 1024  # losses kept before the loop must look, whatever log_every is

    def __init__(self):
        self.pending: list[tuple[int, str, torch.Tensor]] = []

    def record(self, name: str, loss: torch.Tensor, step: int) -> None:
        self.pending.append((step, name, loss.detach()))

    def full(self) -> bool:
        return len(self.pending) >= self.LIMIT

    def first_bad(self) -> tuple[str, float, int] | None:
        if not self.pending:
            return None
        pending, self.pending = self.pending, []
        finite = torch.isfinite(torch.stack([loss.float() for _, _, loss in pending])).tolist()
        return next(((name, loss.item(), step) for ok, (step, name, loss) in zip(finite, pending) if not ok), None)


class _CatchStopSignals:
    """While active, SIGTERM/SIGUSR2 (a scheduler's preemption) and Ctrl-C ask the loop to save and stop.

    Only runs that save checkpoints catch them; elsewhere (inversion) the signals act as usual.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR2", "SIGINT") if hasattr(signal, name))

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous = {}
        self.caught: int | None = None

    def __enter__(self):
        if self.trainer.run_dir is not None and threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.trainer._stop_signal = signal.Signals(signum).name
        self.caught = signum

    def forward(self) -> None:
        """Hands a caught signal to the handler it displaced, if that was a Python function (submitit's
        SIGUSR2 handler requeues a timed-out or preempted job); Ctrl-C and default actions are not repeated."""
        handler = self.previous.get(self.caught)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(self.caught, None)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _link_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # filesystems without hard links: copy instead
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)

