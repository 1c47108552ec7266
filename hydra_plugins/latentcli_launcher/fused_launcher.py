"""hydra/launcher=fused: a sweep's jobs that differ only in their seed and learning rates are trained together,
in one process, as the members of a fused group (engine/members.py); each member is still a run with its own
folder.

Jobs are grouped by their config with MEMBER_KEYS (and Hydra's own settings) left out; a group holds at most
`hydra.launcher.max_members` jobs. `hydra.launcher.n_jobs` groups train at a time, each in a joblib process
with its share of the cores (a group is split so that each process has members); a job alone in its group,
and any task other than train, runs as under the basic launcher. Each member is prepared inside its own Hydra job (its folder,
.hydra/, its checks), then the group trains, then each member's status is written. Where fusing does not pay
(`hydra.launcher.fuse=auto`: convolutional nets on a CPU) a group's members train one after another instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
from pathlib import Path
from typing import Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)

# The settings members may differ in: each member's seed drives its own initial weights, data order and noise;
# its learning rates scale its own share of each update (engine/fused.py, MemberRates).
MEMBER_KEYS = ("seed", "model.lr_g", "model.lr_d", "model.lr")


def group_key(cfg) -> str:
    """What must be equal for two jobs to train together: the whole config but the member keys and hydra."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    for key in MEMBER_KEYS:
        *parents, leaf = key.split(".")
        node = plain
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return json.dumps(plain, sort_keys=True, default=str)


def group_jobs(keys: list[str], max_members: int) -> list[list[int]]:
    """Job indices grouped by key, in order of first appearance, split into groups of at most max_members."""
    by_key: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        by_key.setdefault(key, []).append(index)
    return [jobs[i:i + max_members] for jobs in by_key.values() for i in range(0, len(jobs), max_members)]


def split_groups(groups: list[list[int]], n_jobs: int) -> list[list[int]]:
    """With n_jobs processes and fewer groups than that, the largest groups are halved until every process
    has members to train (ten seeds of one set-up and n_jobs=2: two groups of five)."""
    groups = [list(g) for g in groups]
    while len(groups) < n_jobs and max(map(len, groups)) > 1:
        largest = max(groups, key=len)
        half = -(-len(largest) // 2)
        groups[groups.index(largest):groups.index(largest) + 1] = [largest[:half], largest[half:]]
    return groups


class FusedLauncher(Launcher):
    def __init__(self, max_members: int, n_jobs: int, fuse: str) -> None:  # their defaults: configs/hydra/launcher/fused.yaml
        from latentcli.errors import UserError
        if max_members < 1 or n_jobs < 1:
            raise UserError(f"hydra.launcher.max_members={max_members} and hydra.launcher.n_jobs={n_jobs} must be >= 1")
        if fuse not in ("auto", "always"):
            raise UserError(f"hydra.launcher.fuse={fuse} is not a choice: use auto or always")
        self.max_members, self.n_jobs, self.fuse = max_members, n_jobs, fuse
        self.config = self.task_function = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs = []
        for offset, overrides in enumerate(job_overrides):
            sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = sweep_config.hydra.job.num = initial_job_idx + offset
            configs.append(sweep_config)
        fusing = self.config.hydra.job.name == "train"
        groups = (split_groups(group_jobs([group_key(c) for c in configs], self.max_members), self.n_jobs)
                  if fusing else [[i] for i in range(len(configs))])
        n_jobs = min(self.n_jobs, len(groups))
        print(f"fused launcher: {len(configs)} jobs in {len(groups)} group(s), {n_jobs} at a time "
              "(trainer.threads=auto shares the cores among them)")
        for number, group in enumerate(groups):
            shown = ", ".join(f"#{initial_job_idx + i} {' '.join(filter_overrides(job_overrides[i]))}" for i in group)
            print(f"  group {number}: {len(group)} member(s): {shown}")
        work = [([configs[i] for i in group], fusing and len(group) > 1) for group in groups]
        if n_jobs == 1:
            done = [_run_group(self.hydra_context, self.task_function, group, fuse, self.fuse, None)
                    for group, fuse in work]
        else:  # joblib's processes, as the joblib launcher uses: no scheduler of our own
            from joblib import Parallel, delayed
            state = Singleton.get_state()
            with _stop_signals_reach_the_groups():
                done = Parallel(n_jobs=n_jobs, backend="loky")(
                    delayed(_run_group)(self.hydra_context, self.task_function, group, fuse, self.fuse, state)
                    for group, fuse in work)
            stopped = [code for code in done if isinstance(code, int)]
            if stopped:  # every group has saved (each said how to continue): the sweep ends as a signal ends it
                from joblib.externals.loky import get_reusable_executor
                get_reusable_executor().shutdown(wait=True)  # its processes end before this one
                raise SystemExit(stopped[0])
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        returns = {i: ret for group, rets in zip(groups, done) for i, ret in zip(group, rets)}
        return [returns[i] for i in range(len(configs))]


@contextlib.contextmanager
def _stop_signals_reach_the_groups():
    """A stop signal sent to this process alone (`kill PID`) would end it at once and leave the groups' joblib
    processes training on, orphaned, never to save. While they train, each stop signal is passed on to them
    instead, so every group saves and stops as when a Ctrl-C or a scheduler signals the whole process group;
    this process waits for them (`_run_group` in a worker returns a stopped group's status, not SystemExit,
    which would make joblib end the other groups before they save, and a group begun after the signal trains
    nothing)."""
    def pass_on(signum, frame):
        for child in multiprocessing.active_children():  # joblib's loky workers, started by this process
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)

    from latentcli.engine.guards import StopSignals

    previous = {sig: signal.signal(sig, pass_on) for sig in StopSignals.SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_group(hydra_context, task_function, configs: list, fuse: bool, policy: str, singleton_state):
    """One group's jobs: prepared one by one in their own Hydra jobs, then trained together (fuse; `policy` is
    hydra.launcher.fuse), or each run as the basic launcher would. Runs in this process or in a joblib worker
    (singleton_state given), where a group stopped by a signal returns the status the sweep ends with."""
    from latentcli.tasks.fused import stop_status, watch_stop_signals

    if singleton_state is None:
        return _run_jobs(hydra_context, task_function, configs, fuse, policy)
    setup_globals()
    Singleton.set_state(singleton_state)
    watch_stop_signals()
    if stop_status() is not None:  # the sweep was stopped before this group began: it trains nothing
        return stop_status()
    try:
        return _run_jobs(hydra_context, task_function, configs, fuse, policy)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1


def _run_jobs(hydra_context, task_function, configs: list, fuse: bool, policy: str) -> list:
    from latentcli.tasks import train as train_task
    from latentcli.tasks.fused import stop_status, train_group

    prepared: list = []
    train_task._fused_collector = prepared if fuse else None  # each job prepares its run instead of training it
    try:
        returns = [_run(hydra_context, task_function, config) for config in configs]
    finally:
        train_task._fused_collector = None
    if prepared:
        if stop_status() is not None:  # a signal came while the group was prepared: nothing trained, nothing lost
            raise SystemExit(stop_status())
        train_group(prepared, policy)
        # A search (hydra/sweeper=optuna) reads each job's return value, but a member's job only prepared it and
        # returned None: hand back each member's objective (objective.*), measured now that the group is trained.
        objectives = {str(run.out): train_task.member_objective(run) for run in prepared}
        for ret in returns:
            out = str(Path(ret.hydra_cfg.hydra.runtime.output_dir))
            if out in objectives:
                ret.return_value = objectives[out]
    return returns


def _run(hydra_context, task_function, sweep_config) -> JobReturn:
    ret = run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    if ret.status == JobStatus.FAILED:
        raise ret._return_value
    return ret
