"""hydra/launcher=fused: a sweep's jobs that differ only in their seed are trained together, in one process, as
the members of a fused group (engine/members.py); each member is still a run with its own folder.

Jobs are grouped by their config with `seed` (and Hydra's own settings) left out; a group holds at most
`hydra.launcher.max_members` jobs. Groups run one after another; a job alone in its group, and any task other
than train, runs as under the basic launcher. Each member is prepared inside its own Hydra job (its folder,
.hydra/, its checks), then the group trains, then each member's status is written.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)

# The settings members may differ in: each member's seed drives its own initial weights, data order and noise.
MEMBER_KEYS = ("seed",)


def group_key(cfg) -> str:
    """What must be equal for two jobs to train together: the whole config but the member keys and hydra."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    for key in MEMBER_KEYS:
        plain.pop(key, None)
    return json.dumps(plain, sort_keys=True, default=str)


def group_jobs(keys: list[str], max_members: int) -> list[list[int]]:
    """Job indices grouped by key, in order of first appearance, split into groups of at most max_members."""
    by_key: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        by_key.setdefault(key, []).append(index)
    return [jobs[i:i + max_members] for jobs in by_key.values() for i in range(0, len(jobs), max_members)]


class FusedLauncher(Launcher):
    def __init__(self, max_members: int) -> None:  # its default: configs/hydra/launcher/fused.yaml
        if max_members < 1:
            from latentcli.errors import UserError
            raise UserError(f"hydra.launcher.max_members={max_members} must be >= 1")
        self.max_members = max_members
        self.config = self.task_function = self.hydra_context = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from latentcli.tasks import train as train_task
        from latentcli.tasks.fused import train_group

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
        groups = (group_jobs([group_key(c) for c in configs], self.max_members) if fusing
                  else [[i] for i in range(len(configs))])
        print(f"fused launcher: {len(configs)} jobs in {len(groups)} group(s)")
        for number, group in enumerate(groups):
            shown = ", ".join(f"#{initial_job_idx + i} {' '.join(filter_overrides(job_overrides[i]))}" for i in group)
            print(f"  group {number}: {len(group)} member(s): {shown}")
        returns: dict[int, JobReturn] = {}
        for group in groups:
            if len(group) == 1:
                returns[group[0]] = self._run(configs[group[0]])
                continue
            prepared: list = []
            train_task._fused_collector = prepared  # each job prepares its run instead of training it
            try:
                for i in group:
                    returns[i] = self._run(configs[i])
            finally:
                train_task._fused_collector = None
            if prepared:
                train_group(prepared)
        return [returns[i] for i in range(len(configs))]

    def _run(self, sweep_config) -> JobReturn:
        ret = run_job(hydra_context=self.hydra_context, task_function=self.task_function, config=sweep_config,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if ret.status == JobStatus.FAILED:
            raise ret._return_value
        return ret
