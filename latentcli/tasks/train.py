"""latentcli train: build the dataset and model from the config and hand them to the Trainer."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import OmegaConf

from latentcli import sweep, viz
from latentcli.data import batch_stream, build_dataset
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.device import pick_device
from latentcli.engine.distributed import launch_rank
from latentcli.engine.environment import apply_threads, write_run_info
from latentcli.config import TrainerConfig, typed
from latentcli.engine.logging import MetricsLogger, run_loggers_choice
from latentcli.engine.trainer import Trainer
from latentcli.errors import StorageError, UserError
from latentcli.files import remove_temporaries, write_text
from latentcli.models import build_model
from latentcli.report import counted, flatten
from latentcli.tasks import objective
from latentcli.tasks.common import run_dir, save_hydra_record, seed_everything

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGUSR2")  # what the Trainer saves and stops on


class Refused(UserError):
    """The command does not fit the run folder (a new run where one is, a resume that changes the run):
    every job of a sweep would be refused alike, so it stops a sweep instead of failing one job."""


def resumed_config(saved: dict, cfg, overrides: list[str]):
    """The stopped run's own config, with the trainer.* settings this command line gives on top.

    The command line may repeat the run's own settings (a scheduler requeues the identical command);
    a different value for anything outside trainer.* would silently change the run being continued,
    so it is refused, naming the key and both values.
    """
    resumed = OmegaConf.create(saved)
    for key, value in _set_by(cfg, overrides).items():
        if key == "resume":
            continue
        if key.startswith("trainer."):
            OmegaConf.update(resumed, key, value, merge=True)
            continue
        before = OmegaConf.select(resumed, key, default="(not set)")
        before = OmegaConf.to_container(before) if OmegaConf.is_config(before) else before
        if before != value:
            raise Refused(f"resume continues the saved run with its own config; only trainer.* settings may "
                          f"change, but {key} is {before} in the run and {value} on this command line")
    return resumed


def _set_by(cfg, overrides: list[str]) -> dict:
    """{dotted key: resolved value} of every setting the command line's overrides give, hydra.* aside;
    a group choice (model=alice) gives every setting of its group."""
    values = flatten(OmegaConf.to_container(cfg, resolve=True))
    given = {}
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group.lstrip("+~")
        if key.startswith("hydra") or override.is_hydra_override():
            continue
        given.update({k: v for k, v in values.items() if k == key or k.startswith(key + ".")})
    return given


def _refuse_a_renumbered_job(out: Path) -> None:
    """A sweep's job folder is named <job number>_<its settings>, and the number follows the order of the sweep's
    values: rerun with the values in another order (or some left out), a job would start a new run beside its
    own run under another number, and `evaluate sweep=` would count both."""
    number, _, settings = out.name.partition("_")
    if not (number.isdigit() and settings and out.parent.is_dir()):
        return
    for other in out.parent.iterdir():
        other_number, _, other_settings = other.name.partition("_")
        if (other_settings == settings and other_number.isdigit() and other != out
                and (other / "checkpoints" / "last.ckpt").exists()):
            raise Refused(f"resume=auto: this job's run is {other} (job {other_number} when the sweep started; "
                          f"here it is job {number}): give the sweep's values in their first order, new values "
                          f"at the end, or start a new hydra.sweep.dir")


def _resume_state(cfg, out: Path) -> dict | None:
    """The checkpoint to continue from, or None for a new run (resume=auto says so)."""
    last = out / "checkpoints" / "last.ckpt"
    if cfg.resume not in (True, False, "auto"):
        raise Refused(f"resume={cfg.resume} is not one of false, true, auto")
    if cfg.resume == "auto":
        if not last.exists():
            _refuse_a_renumbered_job(out)
            print(f"resume=auto: no checkpoint in {out}: starting a new run")
            return None
        return _newest_readable(last)
    if not cfg.resume:
        if last.exists():
            raise Refused(f"{out} already holds a run: continue it with resume=true (or resume=auto), "
                          f"or pick another hydra.run.dir")
        return None
    if not last.exists():
        raise Refused(f"resume=true but {last} does not exist: point hydra.run.dir at the run to continue "
                      f"(resume=auto starts a new run there instead)")
    return _newest_readable(last)


def _newest_readable(last: Path) -> dict:
    """last.ckpt, or where it is damaged (a torn write, a full disk) the newest step-N.ckpt that reads back."""
    state, path = ckpt_io.newest_readable(last.parent)
    if path != last:
        print(f"warning: {last} is damaged; resuming from {path} (step {state['step']}) instead", file=sys.stderr)
    return state


def _last_saved(last: Path) -> str:
    try:
        step = ckpt_io.load(last)["step"]
    except UserError:
        return "no checkpoint was saved"
    return f"the last checkpoint, {last} (step {step}), is intact: make room, then run the same command with resume=auto"


def _record_resume(out: Path, step: int) -> None:
    """One line per resume in resumes.log (rank 0's); .hydra/ keeps describing how the run was started."""
    if launch_rank() != 0:
        return
    log = out / "resumes.log"
    before = log.read_text() if log.exists() else ""
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} resumed at step {step}: latentcli train {shlex.join(sys.argv[1:])}"
    write_text(log, before + line + "\n")


def run(cfg) -> float | str | None:
    """Returns the run's objective (objective.*) for a search's sweeper: a number, or where the run failed a
    reason (objective.failed); None without an objective."""
    mistake = objective.problem(cfg.objective, HydraConfig.get().get("sweeper"))
    if mistake:  # every trial would be refused alike: the search stops here
        raise Refused(mistake)
    if _fused_collector is not None:  # hydra/launcher=fused: this job is one member of a group trained later
        guarded(run_dir(), lambda: _fused_collector.append(prepare(cfg)), finished=False)
        return None  # the launcher hands back the member's objective once the group is trained (member_objective)
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        return train(cfg)
    value = []
    if guarded(run_dir(), lambda: value.append(train(cfg))):
        return value[0]
    return objective.failed(_failure(run_dir())) if objective.wanted(cfg.objective) else None


def _failure(out: Path) -> str | None:
    """Why the job in `out` failed (its status.json, written by guarded), or None if it did not."""
    status = json.loads((out / sweep.STATUS).read_text()) if (out / sweep.STATUS).is_file() else {}
    return status.get("reason", "") if status.get("status") == "failed" else None


def member_objective(run: PreparedRun) -> float | str | None:
    """A trained member of a fused group: its objective, measured like a separate run's (train)."""
    value = []
    goal = run.cfg.get("objective")  # a resumed run's stored config may predate objective.*
    if not objective.wanted(goal):
        return None
    if _failure(run.out) is None and guarded(run.out, lambda: value.append(
            objective.measure(goal, run.out / "checkpoints" / "last.ckpt", run.out))):
        return value[0]
    return objective.failed(_failure(run.out))


def guarded(out: Path, work: Callable[[], None], finished: bool = True) -> bool:
    """Runs one job of a sweep. Its failure (a NaN, a value only found wrong at run time, a crash) must not
    end the others (Hydra's launchers stop at an exception): it is recorded in the job's folder, and the
    sweep ends with a non-zero status once every job has run (SweepNextStep). False if it failed."""
    try:
        work()
    except Refused:
        raise
    except Exception as err:
        if isinstance(err, UserError):
            reason = str(err)
        else:  # a crash: its traceback goes to the terminal and the job's train.log
            traceback.print_exc()
            reason = f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"
        print(f"latentcli train: error: {reason}", file=sys.stderr)
        sweep.write_status(out, reason)
        return False
    if finished:  # False: the work only prepared the job (a fused member), whose status comes after training
        sweep.write_status(out)
    return True


@dataclass
class PreparedRun:
    """A run ready for the Trainer: its folder, config, data, model and loggers (train, or a fused group)."""

    out: Path
    cfg: object
    trainer_cfg: TrainerConfig
    data: object
    model: object
    resume_state: dict | None
    checkpoint_meta: dict
    config: dict
    multirun: bool
    save_samples: Callable[[int], None]
    logger: MetricsLogger | None = None
    rng_state: object = None  # the global random stream where training starts (a fused member's own stream)
    threads: dict | None = None  # trainer.threads as applied (run_info.json)


def prepare(cfg) -> PreparedRun:
    """Everything before the loop: the resume state, the checks, the data, the model, .hydra/."""
    out = run_dir()
    resume_state = _resume_state(cfg, out)
    remove_temporaries(out / "checkpoints")  # a write that a kill cut short; the folder's lock is ours
    overrides = list(HydraConfig.get().overrides.task)
    if resume_state is not None:
        said = "resume=auto: " if cfg.resume == "auto" else ""
        cfg = resumed_config(resume_state["config"], cfg, overrides)
        if launch_rank() == 0:  # under torchrun every rank resumes the same run: said once
            print(f"{said}resuming {out} from step {resume_state['step']}")
    device = pick_device(cfg.trainer.device, key="trainer.device")  # before the data is read: a wrong device is one line
    trainer_cfg = OmegaConf.to_object(typed(TrainerConfig, cfg.trainer))  # a resumed run's config is checked too
    threads = apply_threads(trainer_cfg.threads, device)  # before any work: the data's loading uses them too
    seed_everything(cfg.seed)
    data = build_dataset(cfg.dataset)
    model = build_model(cfg.model, data.info)
    rng_state = torch.get_rng_state()
    if cfg.batch_size > len(data.train):
        n_train, n_test = len(data.train), len(data.test)
        held = (f"; {n_test} of the folder's pictures, dataset.test_fraction={cfg.dataset.test_fraction}, are held "
                "out for testing" if "test_fraction" in cfg.dataset else "")
        raise UserError(f"batch_size={cfg.batch_size} is larger than the training set ({n_train} items{held}): "
                        f"set batch_size={n_train} or less")
    if resume_state is None:
        save_hydra_record(cfg, out)
    else:
        _record_resume(out, resume_state["step"])
    run = PreparedRun(out, cfg, trainer_cfg, data, model, resume_state,
                      {"config": OmegaConf.to_container(cfg, resolve=True), "data": data.info.to_dict()},
                      OmegaConf.to_container(cfg, resolve=True), HydraConfig.get().mode == RunMode.MULTIRUN,
                      lambda step: None, rng_state=rng_state, threads=threads)

    def save_samples(step: int) -> None:
        picture = out / "samples" / f"step-{step:08d}.png"
        viz.save_samples(model, picture, data.train.subset(2500).x, seed=cfg.seed,
                         title=f"{cfg.model.name} on {cfg.dataset.name}, step {step}")
        if run.logger is not None:
            run.logger.log_image("samples", picture, step)

    run.save_samples = save_samples
    return run


def open_logger(run: PreparedRun) -> None:
    run.logger = MetricsLogger(run.out, resume_step=run.resume_state["step"] if run.resume_state else 0,
                               loggers=run_loggers_choice(run.config), run_name=run.out.name)


def train(cfg) -> float | None:
    """Trains; then, with an objective set, measures it on the final checkpoint and returns it."""
    goal = cfg.objective  # this command's (a resumed run's stored config may predate objective.*)
    run = prepare(cfg)
    train_prepared(run)
    if objective.wanted(goal):
        return objective.measure(goal, run.out / "checkpoints" / "last.ckpt", run.out)
    return None


def train_prepared(run: PreparedRun, run_info_extra: dict | None = None) -> None:
    """The Trainer's loop for a prepared run, from the random stream its preparation left (rng_state)."""
    cfg, out = run.cfg, run.out
    torch.set_rng_state(run.rng_state)  # a no-op straight after prepare; a fused group's run may train later
    trainer = Trainer(run.trainer_cfg, run_dir=out, checkpoint_meta=run.checkpoint_meta,
                      on_periodic=run.save_samples, desc=f"train {cfg.model.name}/{cfg.dataset.name}")
    write_run_info(out, trainer.device, run.threads, run_info_extra)

    def make_batches(start_step: int):
        return batch_stream(run.data.train, cfg.batch_size, cfg.seed, start_step,
                            num_workers=run.trainer_cfg.num_workers, pin_memory=trainer.device.type == "cuda")

    if trainer.group.is_main:  # the run's trackers (logger=...), opened once the Trainer knows which process logs
        open_logger(run)
    try:
        result = trainer.fit(run.model, make_batches, resume=run.resume_state, logger=run.logger)
        log_hparams(run, result.last_logs, result.step)
    except StorageError as err:  # a full disk: say what is safe and how to go on
        raise StorageError(f"{err}; {_last_saved(out / 'checkpoints' / 'last.ckpt')}") from err
    finally:
        if run.logger is not None:
            run.logger.close()
    report(run, result.stopped_by, result.step, result.seconds, result.last_logs)


def sweep_stop_line(stopped_by: str, sweep_dir: Path, command: str) -> str:
    """What a sweep stopped by a signal says: how to continue it. Not a search with resume=auto: Optuna's sweeper
    asks for new trials when started again (and its job numbers start at 0 again), so the same command in the
    same folder would start another search over the finished trials. A search whose study Optuna keeps on disk
    (hydra.sweeper.storage) continues in a new folder; another sampler seed, or its first random trials would
    repeat the first run's."""
    said = f"the sweep stops here ({stopped_by}); "
    try:
        sweeper = HydraConfig.get().sweeper
    except ValueError:  # no Hydra job set: a plain sweep's line
        sweeper = {}
    if "storage" not in sweeper:  # Hydra's basic sweeper has no storage; Optuna's has, None by default
        return said + f"continue it with: {command} resume=auto hydra.sweep.dir={sweep_dir}"
    kept = f"its finished trials stay in {sweep_dir} (latentcli evaluate sweep={sweep_dir} compares them)"
    if sweeper.storage is None:
        return said + (f"a search cannot be continued: {kept}; start it again in a new hydra.sweep.dir "
                       "(with hydra.sweeper.storage=sqlite:///FILE.db Optuna keeps its study on disk, to continue)")
    return said + (f"{kept}; continue the search (its study is in {sweeper.storage}) with: {command} "
                   "hydra.sweep.dir=NEW_FOLDER hydra.sweeper.sampler.seed=ANOTHER_SEED")


def log_hparams(run: PreparedRun, last_logs: dict, step: int) -> None:
    """The HParams tab's row: the settings with the metrics they ended at."""
    if run.logger is not None:
        settings = {k: v for k, v in flatten(run.config).items() if not k.startswith("logger.")}
        run.logger.log_hparams(settings, last_logs, step)


def report(run: PreparedRun, stopped_by: str, step: int, seconds: float, last_logs: dict) -> None:
    """How the run stopped and what to do next: said by rank 0 alone (under torchrun every rank reaches here)."""
    last = run.out / "checkpoints" / "last.ckpt"
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last_logs.items())
    lines = [f"stopped by {stopped_by} at step {step} after {seconds:.1f} s ({losses})", f"checkpoint: {last}"]
    stop_sweep = run.multirun and stopped_by in STOP_SIGNALS
    if stopped_by == "max_steps":
        lines.append(f"next: latentcli invert ckpt={last}   |   latentcli evaluate ckpt={last}")
    elif stop_sweep:
        # a Ctrl-C or a preemption stops the whole sweep, not just the job it reached
        again = shlex.join([a for a in sys.argv[1:] if not a.startswith(("resume=", "hydra.sweep.dir=", "hydra.sweeper.sampler.seed="))])
        lines.append(sweep_stop_line(stopped_by, run.out.parent, f"latentcli train {again}"))
    else:
        lines.append(f"continue with: latentcli train resume=true hydra.run.dir={run.out}")
    if launch_rank() == 0:
        print("\n".join(lines))
    if stop_sweep:
        raise SystemExit(128 + signal.Signals[stopped_by].value)


_fused_collector: list[PreparedRun] | None = None  # set by the fused launcher while it prepares a group


class SweepNextStep(Callback):
    """After the last job of `latentcli train -m ...`: the sweep's own next step, not only each job's."""

    def on_multirun_start(self, config, **kwargs) -> None:
        self.started = time.time()

    def on_multirun_end(self, config, **kwargs) -> None:
        print(f"next for the whole sweep: latentcli evaluate sweep={Path(config.hydra.sweep.dir).resolve()}")
        failed = sweep.failed_jobs(config.hydra.sweep.dir, since=self.started)
        if failed:
            print(f"latentcli train: {counted(len(failed), 'job')} of the sweep failed; the others' results are "
                  f"kept:", file=sys.stderr)
            for job, reason in failed.items():
                print(f"  {job}: {reason}", file=sys.stderr)
            raise SystemExit(1)
