"""What the training loop shows and records as it goes: running means of the logged values, written to the
run's metrics log every `log_every` steps, and the progress bar."""

from __future__ import annotations

import sys

import torch
from tqdm.auto import tqdm


class Progress:
    def __init__(self, total: int, step: int, desc: str, show: bool, logger=None, group=None,
                 close_logger: bool = True):
        self.logger, self.group = logger, group
        self.close_logger = close_logger  # False: the caller opened the logger and closes it
        self.running: dict[str, torch.Tensor] = {}
        self.count = 0
        self.last_logs: dict[str, float] = {}
        self.bar = tqdm(total=total, initial=step, desc=desc, disable=not show, dynamic_ncols=True,
                        mininterval=0.1 if sys.stderr.isatty() else 30)

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        """One step's logged values, kept on the device (no host sync) until `write`."""
        for name, value in logs.items():
            self.running[name] = self.running.get(name, 0.0) + value
        self.count += 1
        self.bar.update(1)

    def write(self, step: int) -> None:
        """The means since the last write (over every process), to the metrics log and the bar."""
        means = {k: float(v) / self.count for k, v in self.running.items()}
        self.last_logs = self.group.mean(means) if self.group is not None else means
        self.running, self.count = {}, 0
        if self.logger is not None:
            self.logger.log(step, self.last_logs)
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in list(self.last_logs.items())[:4]}, refresh=False)

    def close(self, step: int, converged: bool) -> None:
        if converged:  # done before the budget: the bar ends full, at the step reached
            self.bar.total = step
        self.bar.close()
        if self.logger is not None and self.close_logger:
            self.logger.close()
