"""Run logging: one JSON line per logged step in metrics.jsonl, the same scalars in TensorBoard."""

from __future__ import annotations

import json
import math
from pathlib import Path

from latentcli.errors import StorageError


class MetricsLogger:
    """Appends {"step": s, name: value, ...} lines to metrics.jsonl and mirrors them to TensorBoard.

    On resume from step k the lines past k (written by the stopped run after its last checkpoint)
    are dropped first, so the file reads as one uninterrupted run.
    """

    def __init__(self, run_dir: Path, resume_step: int = 0, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_lines_after(resume_step)
        self._file = self.path.open("a", buffering=1)  # line-buffered: each record survives a crash
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import; only where it is used

            self._tb = SummaryWriter(log_dir=str(self.path.parent / "tb"), purge_step=resume_step or None)

    def _drop_lines_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if _step_of(line) <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def log(self, step: int, values: dict[str, float]) -> None:
        record = {"step": step, **{k: (v if math.isfinite(v) else str(v)) for k, v in values.items()}}
        try:
            self._file.write(json.dumps(record) + "\n")
        except OSError as err:  # a full disk: one line, as for any file latentcli writes
            raise StorageError(f"cannot write {self.path}: {err.strerror or err}") from err
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(name, value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _step_of(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return math.inf  # a torn last line from a crash: drop it

