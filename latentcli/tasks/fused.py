"""A fused group's training: the prepared runs of its members (tasks/train.prepare) trained as one model by the
FusedTrainer, each then finished like a separate run (status, hparams, run_info.json)."""

from __future__ import annotations

import signal
import sys

import torch

from latentcli import sweep
from latentcli.data import batch_stream
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.device import pick_device
from latentcli.engine.environment import run_info
from latentcli.engine.fused import FusedTrainer, Member
from latentcli.engine.guards import StopSignals
from latentcli.engine.members import stack_models
from latentcli.errors import UserError
from latentcli.files import write_json
from latentcli.tasks.train import (STOP_SIGNALS, PreparedRun, guarded, log_hparams, open_logger,
                                   sweep_stop_line, train_prepared)


_stopped_by: int | None = None  # in a process that trains a sweep's groups one after another: a stop signal it got


def _note_stop(signum, frame) -> None:
    global _stopped_by
    _stopped_by = signum


def watch_stop_signals() -> None:
    """In a joblib worker of hydra/launcher=fused: a stop signal that reaches this process outside a Trainer's loop
    is remembered (a Trainer hands the signal it caught on to this handler once it has saved), so that groups
    begun later train nothing (stop_status). Here, not in the launcher's module: joblib may send that module's
    functions by value, each call with globals of its own."""
    for sig in StopSignals.SIGNALS:
        signal.signal(sig, _note_stop)


def stop_status() -> int | None:
    """The exit status of a stop signal noted by watch_stop_signals, or None."""
    return None if _stopped_by is None else 128 + _stopped_by


def common_start(runs: list[PreparedRun]) -> None:
    """Every member resumes from the same step: a kill between two members' saves leaves some a checkpoint
    ahead, and those go back to the newest step every member has kept (step-N.ckpt)."""
    steps = [run.resume_state["step"] if run.resume_state else 0 for run in runs]
    if len(set(steps)) == 1:
        return
    if 0 in steps:
        raise UserError("some members of this fused group have a checkpoint and some have none: continue "
                        "it without hydra/launcher=fused, or start it anew in another hydra.sweep.dir")
    kept = [{step for step, _ in _checkpoint_steps(run)} | {run.resume_state["step"]} for run in runs]
    shared = set.intersection(*kept)
    if not shared:
        raise UserError(f"the members of this fused group were saved at different steps ({sorted(set(steps))}) "
                        "and share none: continue them without hydra/launcher=fused")
    step = max(shared)
    for run in runs:
        if run.resume_state["step"] != step:
            path = dict(_checkpoint_steps(run))[step]
            run.resume_state = ckpt_io.load(path)
            print(f"{run.out.name}: resuming from {path.name} (step {step}), the newest step every member kept")


def _checkpoint_steps(run: PreparedRun):
    for path in (run.out / "checkpoints").glob("step-*.ckpt"):
        yield int(path.stem.split("-")[1]), path


def fusing_pays(runs: list[PreparedRun], fuse: str) -> bool:
    """hydra.launcher.fuse: `always`, or `auto`: fuse unless the nets are convolutional and train on a CPU, where
    a fused group ran at 0.7-0.8x the member-steps/s of the same runs one after another (benchmarks/RESULTS.md,
    "Member-steps per second"): a grouped convolution costs each member as much as its own, and the layout
    copies around it come on top."""
    if fuse == "always":
        return True
    convolutional = any(isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for layer in runs[0].model.modules())
    return not (convolutional and pick_device(runs[0].trainer_cfg.device).type == "cpu")


def train_one_by_one(runs: list[PreparedRun]) -> None:
    """A group's members trained one after another in this process, each exactly as its separate run."""
    for run in runs:
        guarded(run.out, lambda: train_prepared(run, {"launcher": "fused", "fused": "trained alone: "
                                                      "convolutional nets on a CPU (hydra.launcher.fuse=auto)"}))


def train_group(runs: list[PreparedRun], fuse: str) -> None:
    """Trains the members together (or, where fusing does not pay, one after another); every member's folder
    ends as its separate run's would."""
    if not fusing_pays(runs, fuse):
        print(f"fused launcher: {len(runs)} runs of {runs[0].cfg.model.name} with convolutional nets on a CPU train "
              "one after another (fused they run slower there); hydra.launcher.fuse=always fuses them anyway")
        train_one_by_one(runs)
        return
    common_start(runs)
    first = runs[0]
    cfg, trainer_cfg = first.cfg, first.trainer_cfg
    for run in runs:
        open_logger(run)
    members = [Member(run.out, run.checkpoint_meta, run.model, run.rng_state, run.logger, run.save_samples)
               for run in runs]
    trainer = FusedTrainer(trainer_cfg, members, desc=f"train {cfg.model.name}/{cfg.dataset.name} x{len(runs)}")
    names = [run.out.name for run in runs]
    for m, run in enumerate(runs):
        write_json(run.out / "run_info.json", {**run_info(trainer.device, run.threads), "launcher": "fused",
                                               "fused": {"member": m, "members": len(runs), "group": names}})

    def make_batches(start_step: int):
        streams = [batch_stream(run.data.train, cfg.batch_size, run.cfg.seed, start_step,
                                num_workers=trainer_cfg.num_workers, pin_memory=trainer.device.type == "cuda")
                   for run in runs]
        for batches in zip(*streams):  # member after member along the batch: members.py's layout
            yield torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])

    resume = [run.resume_state for run in runs] if first.resume_state is not None else None
    try:
        result = trainer.fit(stack_models([run.model for run in runs]), make_batches, resume=resume)
    finally:
        for run in runs:
            if run.logger is not None:
                run.logger.close()
    steps_now = result.step - result.start_step  # a resumed group's earlier steps ran in another process
    print(f"fused group of {len(runs)}: stopped by {result.stopped_by} at step {result.step} after "
          f"{result.seconds:.1f} s ({len(runs) * steps_now / max(result.seconds, 1e-9):.0f} member-steps/s"
          f"{f' since step {result.start_step}' if result.start_step else ''})")
    interrupted = result.stopped_by in STOP_SIGNALS
    for m, run in enumerate(runs):
        failed = members[m].failed
        if failed or not interrupted:  # an interrupted member is neither: resume=auto continues it
            sweep.write_status(run.out, failed)
        if failed:
            print(f"  {run.out.name}: failed: {failed}", file=sys.stderr)
            continue
        log_hparams(run, result.last_logs[m], result.step)
        losses = ", ".join(f"{k} {v:.4g}" for k, v in result.last_logs[m].items())
        print(f"  {run.out.name}: {losses}; checkpoint: {run.out / 'checkpoints' / 'last.ckpt'}")
    if interrupted:
        print(sweep_stop_line(result.stopped_by, first.out.parent, "the same command and"))
        raise SystemExit(128 + signal.Signals[result.stopped_by].value)
