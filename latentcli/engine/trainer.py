"""The one optimisation loop of latentcli: model training, post-hoc regressors and latent inversion. What
it optimises is a *trainable*: the contract is in engine/trainable.py.

A run either saves (`Trainer(cfg, run_dir, checkpoint_meta=...)`: metrics.jsonl, checkpoints through the
CheckpointManager, SIGTERM/SIGUSR2/Ctrl-C caught to save and stop) or keeps nothing (`in_memory=True`).

Exact resume: the data order is a pure function of (seed, step) (see data.stream) and every
random draw comes from the global generators whose states the checkpoint stores, so a run
stopped at step k and resumed ends bitwise equal to one that never stopped (on CPU).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from latentcli.config.trainer import TrainerConfig
from latentcli.engine import distributed
from latentcli.engine.checkpoint import CheckpointManager
from latentcli.engine.device import autocast, autocast_dtype, pick_device, to_device, use_deterministic_algorithms
from latentcli.engine.guards import DivergedError, FiniteWatch, StopSignals
from latentcli.engine.logging import MetricsLogger
from latentcli.engine.progress import Progress
from latentcli.engine.trainable import Averaging, Converging, TrainResult, TrainState, needs_closure, reevaluate

class Trainer:
    """Runs a trainable's losses through its optimisers until a budget runs out; logs and checkpoints.

    run_dir: the run's folder (metrics.jsonl, checkpoints/), or in_memory=True for no files at all.
    checkpoint_meta holds what the checkpoint needs besides state (the config, the data shape).
    on_periodic(step) is called every `sample_every` steps and at the end (sample grids).
    """

    def __init__(self, cfg: TrainerConfig, run_dir: str | Path | None = None, *, in_memory: bool = False,
                 checkpoint_meta: dict | None = None, on_periodic: Callable[[int], None] | None = None,
                 desc: str = "train"):
        if (run_dir is None) != in_memory:
            raise TypeError("Trainer: give run_dir (a run that saves) or in_memory=True (no files), not both")
        self.cfg, self.on_periodic, self.desc = cfg, on_periodic, desc
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.group, self.device = distributed.join(pick_device(cfg.device))  # one process of several under torchrun
        self.checkpoints = None if in_memory else CheckpointManager(
            self.run_dir / "checkpoints", checkpoint_meta or {}, cfg.keep_checkpoints, self.group)
        if cfg.deterministic:
            use_deterministic_algorithms()
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        self._stop_reason: str | None = None

    def request_stop(self, reason: str) -> None:
        """Ends the run after the current step, saving as a signal would (`reason` becomes stopped_by)."""
        self._stop_reason = reason

    def fit(self, model: torch.nn.Module, make_batches: Callable[[int], Iterator],
            resume: dict | None = None, logger: MetricsLogger | None = None) -> TrainResult:
        """Optimises `model` on the batches `make_batches(start_step)` yields, from `resume` if given.
        logger: one the caller opened and closes (the train task's, with its chosen loggers); None: the
        Trainer opens its own in run_dir (TensorBoard as cfg.tensorboard says)."""
        cfg = self.cfg
        state = self._start(model, resume)
        start_step = state.step
        batches = make_batches(state.step)
        progress = self._progress(state.step, logger)
        converges = isinstance(model, Converging)
        stopped_by = None
        start = saved_at = time.monotonic()
        signals = StopSignals(self.checkpoints is not None, self.request_stop)
        try:
            with signals:
                while state.step < cfg.max_steps and (stopped_by := self._reason_to_stop(start)) is None:
                    progress.add(self._step(state, next(batches)))
                    log_now = state.step % cfg.log_every == 0 or state.step == cfg.max_steps
                    if log_now or self._watch.full():
                        self._check_finite()  # the one host sync of the loop: once per log_every steps
                    if log_now:
                        progress.write(state.step)
                    if state.step % cfg.sample_every == 0:
                        self._periodic(state)
                    if self._checkpoint_due(state.step, saved_at):
                        self._save(state, periodic=True)
                        saved_at = time.monotonic()
                    if converges and model.converged():
                        stopped_by = "converged"
                        break
        finally:
            progress.close(state.step, converged=stopped_by == "converged")
        self._finish(state, signals)
        return TrainResult(state.step, stopped_by or "max_steps", time.monotonic() - start, progress.last_logs,
                           start_step)

    def _start(self, model, resume: dict | None) -> TrainState:
        """The model on its device with its optimisers, EMA and scaler, restored from `resume` if given."""
        cfg = self.cfg
        model.to(self.device)
        if cfg.channels_last:
            model.to(memory_format=torch.channels_last)  # only 4-D weights (convolutions) change layout
        self.group.broadcast_model(model)
        model.train()
        ema = None
        # the networks averaged: a model's generator and encoder (its discriminators keep their trained
        # weights), as a ModuleDict whose keys are the model's own; else the whole trainable
        self._averaged = (torch.nn.ModuleDict(model.averaged_modules()) if isinstance(model, Averaging)
                          else model)
        if cfg.ema_decay:
            ema = AveragedModel(self._averaged, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        state = TrainState(model, model.optimizers(), ema, self._grad_scaler())
        self._base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in state.optimizers.items()}
        if resume is not None:
            if self.checkpoints is None:
                raise TypeError("Trainer: resuming needs a run that saves (run_dir)")
            self.checkpoints.restore(resume, state)
        else:
            self.group.diverge_rng()
        if cfg.weight_decay:
            for optimizer in state.optimizers.values():
                for group in optimizer.param_groups:
                    group["weight_decay"] = cfg.weight_decay
        if cfg.compile:
            for net in model.children():
                net.compile(mode=cfg.compile_mode)
        # CUDA graphs (compile_mode=reduce-overhead) reuse their output memory each step; marking the
        # step boundary tells them when the previous step's outputs are no longer needed
        self._mark_step = cfg.compile and cfg.compile_mode in ("reduce-overhead", "max-autotune")
        self._watch = FiniteWatch()
        return state

    def _grad_scaler(self) -> torch.amp.GradScaler:
        """fp16's loss scaling (disabled otherwise); a method so that tests can enable it on the CPU."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)

    def _progress(self, step: int, logger: MetricsLogger | None) -> Progress:
        main, saves = self.group.is_main, self.checkpoints is not None
        own = logger is None and saves and main
        if own:
            logger = MetricsLogger(self.run_dir, resume_step=step, tensorboard=self.cfg.tensorboard)
        return Progress(self.cfg.max_steps, step, self.desc, self.cfg.progress and main, logger, self.group,
                        close_logger=own)

    def _reason_to_stop(self, start: float) -> str | None:
        """A signal or the time budget; every process must stop at the same step, though a signal may reach
        only one of them."""
        max_seconds = self.cfg.max_seconds
        signalled, out_of_time = self.group.agree([
            self._stop_reason is not None, max_seconds is not None and time.monotonic() - start >= max_seconds])
        if signalled:
            return self._stop_reason or "SIGTERM"
        return "max_seconds" if out_of_time else None

    def _checkpoint_due(self, step: int, saved_at: float) -> bool:
        cfg = self.cfg
        due = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
        late = cfg.checkpoint_every_seconds and time.monotonic() - saved_at >= cfg.checkpoint_every_seconds
        if cfg.checkpoint_every_seconds:  # clocks differ between processes: agree
            late = self.group.agree([bool(late)])[0]
        return self.checkpoints is not None and bool(due or late)

    def _finish(self, state: TrainState, signals: StopSignals) -> None:
        """The last checks and save, the last sample grid, and the EMA weights handed back."""
        self._check_finite()
        if self.checkpoints is not None:
            self._save(state, periodic=False)
            signals.forward()  # the signal's own handler, e.g. submitit's requeue, now that the weights are safe
        if state.step % self.cfg.sample_every != 0:
            self._periodic(state)
        if state.ema is not None:  # hand back the averaged weights: they are what sampling and inversion use
            self._load_ema(state)

    def _step(self, state: TrainState, batch) -> dict[str, torch.Tensor]:
        """One trainer step: every (optimizer, loss) item the trainable yields, each applied in turn."""
        cfg, model = self.cfg, state.model
        batch = to_device(self.group.shard(batch), self.device, channels_last=cfg.channels_last)
        if self._mark_step:
            torch.compiler.cudagraph_mark_step_begin()
        if cfg.lr_decay != "none":
            self._set_lrs(state.optimizers, state.step)
        logs: dict[str, torch.Tensor] = {}
        losses = model.losses(batch)
        while True:
            with self._forward_context():  # forward passes only; backward runs outside
                item = next(losses, None)
            if item is None:
                break
            name, loss, item_logs = item
            self._watch.record(name, loss, state.step + 1)
            optimizer = state.optimizers[name]
            optimizer.zero_grad(set_to_none=True)
            self._backward(loss, optimizer, state.scaler)
            if needs_closure(optimizer):
                optimizer.step(reevaluate(model, name, batch, loss, lambda again: self._reevaluated(again, state, name)))
            else:
                self._optimizer_step(name, optimizer, state.scaler)
            logs.update({key: value.detach().float() for key, value in item_logs.items()})
        if state.ema is not None:
            state.ema.update_parameters(self._averaged)
        state.step += 1
        return logs

    def _optimizer_step(self, name: str, optimizer, scaler) -> None:
        scaler.step(optimizer)
        # after every step, not once per trainer step: with model.d_steps or g_steps > 1 an optimizer steps
        # twice per trainer step, which a GradScaler allows only with an update() in between
        scaler.update()

    def _forward_context(self):
        """What the trainable's forward passes run under: mixed precision (a fused group adds its member split)."""
        return autocast(self.device, self.amp_dtype)

    def _backward(self, loss: torch.Tensor, optimizer, scaler) -> None:
        scaler.scale(loss).backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.group.average_gradients(params)
        if self.cfg.grad_clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)

    def _reevaluated(self, loss_of, state: TrainState, name: str) -> torch.Tensor:
        """A line search's trial point: the loss again (forward under autocast) and its gradients."""
        optimizer = state.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp_dtype):
            loss = loss_of()
        self._backward(loss, optimizer, state.scaler)
        return loss

    def _set_lrs(self, optimizers, step: int) -> None:
        """trainer.lr_decay: every group's learning rate at `step`, from the model's own (base) rates."""
        factor = self.cfg.lr_factor(step)
        for name, optimizer in optimizers.items():
            for group, base in zip(optimizer.param_groups, self._base_lrs[name]):
                group["lr"] = base * factor

    def _check_finite(self) -> None:
        """Raises DivergedError if any loss since the start was NaN or infinite (reads the device once)."""
        bad = [b for b in self.group.gather(self._watch.first_bad()) if b is not None]  # any process's
        if not bad:
            return
        name, loss, step = min(bad, key=lambda b: b[2])
        where = ""
        if self.checkpoints is not None:
            last = self.checkpoints.last
            where = f"; last good checkpoint: {last}" if last.exists() else "; no checkpoint was saved before it"
        raise DivergedError(f"loss for optimizer '{name}' became {loss} at step {step}: stopped{where}")

    def _save(self, state: TrainState, periodic: bool) -> None:
        self._check_finite()  # weights made after a non-finite loss are never saved
        self.checkpoints.save(state, periodic)

    def _periodic(self, state: TrainState) -> None:
        """on_periodic (sample grids) with the EMA weights swapped in, then the live weights put back."""
        if self.on_periodic is None or not self.group.is_main:
            return
        if state.ema is None:
            self.on_periodic(state.step)
            return
        live = {k: v.clone() for k, v in state.model.state_dict().items()}
        self._load_ema(state)
        try:
            self.on_periodic(state.step)
        finally:
            state.model.load_state_dict(live)

    @staticmethod
    def _load_ema(state: TrainState) -> None:
        """The EMA weights into the model where it keeps them (generator, encoder); the rest as they are."""
        state.model.load_state_dict({**state.model.state_dict(), **state.ema.module.state_dict()})
