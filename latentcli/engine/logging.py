"""Run logging: metrics.jsonl (always: the report's curves read it) and the experiment trackers a run
chooses with `logger=` (configs/logger/): TensorBoard, CSV, Weights & Biases (offline by default), MLflow
(a local SQLite store). Each tracker gets the scalars, the periodic sample pictures, and at the end the
run's settings with its final metrics (TensorBoard's HParams tab compares a sweep with them);
`latentcli evaluate` adds its metrics to the same run (`open_run_loggers`).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import math
import sys
import time
from pathlib import Path
from typing import Mapping

from latentcli.errors import StorageError, UserError
from latentcli.files import write_text

LOGGERS = ("tensorboard", "csv", "wandb", "mlflow")


class Loggers:
    """The chosen trackers of one run, written to together. resume_step: a training run continuing from that
    step (what the stopped run logged after it is dropped); None: appending (an evaluation of the run)."""

    def __init__(self, run_dir: str | Path, choice: Mapping[str, Mapping] | None, resume_step: int | None = 0,
                 run_name: str | None = None):
        run_dir = Path(run_dir)
        unknown = sorted(set(choice or {}) - set(LOGGERS))
        if unknown:
            raise UserError(f"unknown logger(s) {', '.join(unknown)}; choose from {', '.join(LOGGERS)}")
        self.backends = []
        try:
            for name, options in (choice or {}).items():
                backend = _BACKENDS[name]
                self.backends.append(backend(run_dir, dict(options or {}), resume_step, run_name or run_dir.name))
        except BaseException:
            self.close()
            raise

    def log(self, step: int, values: Mapping[str, float]) -> None:
        for backend in self.backends:
            backend.log(step, values)

    def log_image(self, tag: str, path: str | Path, step: int) -> None:
        """A picture already written to `path` (a PNG), e.g. the sample grid of `step`."""
        for backend in self.backends:
            backend.log_image(tag, Path(path), step)

    def log_hparams(self, params: Mapping[str, object], metrics: Mapping[str, float], step: int) -> None:
        """The run's settings (flat {dotted key: value}) with its final metrics, once at the end of a run. The
        metrics were logged as scalars already; trackers with a separate summary (CSV, wandb) get them there."""
        params = {k: v if isinstance(v, (bool, int, float, str)) else json.dumps(v) for k, v in params.items()}
        metrics = {k: float(v) for k, v in metrics.items()}
        for backend in self.backends:
            backend.log_hparams(params, metrics, step)

    def close(self) -> None:
        for backend in self.backends:
            backend.close()
        self.backends = []


class MetricsLogger(Loggers):
    """Appends {"step": s, name: value, ...} lines to metrics.jsonl and hands the same scalars to the trackers.

    On resume from step k the lines past k (written by the stopped run after its last checkpoint)
    are dropped first, so the file reads as one uninterrupted run. Without `loggers` (a Trainer used
    outside the train task) TensorBoard alone, as `tensorboard` says; `tensorboard=False`
    (trainer.tensorboard, the older switch) drops TensorBoard from any choice.
    """

    def __init__(self, run_dir: Path, resume_step: int = 0, tensorboard: bool = True,
                 loggers: Mapping[str, Mapping] | None = None, run_name: str | None = None):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_lines_after(resume_step)
        self._file = self.path.open("a", buffering=1)  # line-buffered: each record survives a crash
        choice = dict(loggers) if loggers is not None else {"tensorboard": {}}
        if not tensorboard:
            choice.pop("tensorboard", None)
        try:
            super().__init__(run_dir, choice, resume_step, run_name)
        except BaseException:
            self._file.close()
            raise

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
        super().log(step, values)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()


def run_loggers_choice(config: Mapping) -> dict:
    """The trackers a run's stored config chose: its `logger` group, less TensorBoard where
    trainer.tensorboard=false; a run from before the group had TensorBoard alone."""
    choice = dict(config.get("logger") or {}) if "logger" in config else {"tensorboard": {}}
    if not (config.get("trainer") or {}).get("tensorboard", True):
        choice.pop("tensorboard", None)
    return choice


def open_run_loggers(ckpt_path: str | Path, config: Mapping) -> Loggers | None:
    """The trackers of the training run a checkpoint belongs to (<run>/checkpoints/X.ckpt), opened to append
    an evaluation's metrics to that run; None for a checkpoint outside a run folder. A tracker whose
    package is missing here is skipped with a warning: the evaluation itself does not need it."""
    ckpt_path = Path(ckpt_path).resolve()
    if ckpt_path.parent.name != "checkpoints":
        return None
    choice = run_loggers_choice(config)
    for name in [n for n in choice if n in ("wandb", "mlflow") and importlib.util.find_spec(n) is None]:
        print(f"warning: the run logged to {name}, which is not installed here: not logging this evaluation "
              f"to it", file=sys.stderr)
        choice.pop(name)
    return Loggers(ckpt_path.parent.parent, choice, resume_step=None) if choice else None


def _step_of(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return math.inf  # a torn last line from a crash: drop it


def _need(package: str, logger: str):
    try:
        return __import__(package)
    except ImportError:
        raise UserError(f"logger={logger} needs the {package} package: pip install 'latentcli[{logger}]'") from None


class TensorBoardLogger:
    """<run>/tb: scalars, the sample pictures as images, and the settings as an HParams session whose
    metrics are the run's scalars (every run of a sweep is one row of the HParams tab)."""

    def __init__(self, run_dir: Path, options: dict, resume_step: int | None, run_name: str):
        from torch.utils.tensorboard import SummaryWriter  # slow import; only where it is used

        self.writer = SummaryWriter(log_dir=str(run_dir / "tb"), purge_step=resume_step or None)

    def log(self, step, values):
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def log_image(self, tag, path, step):
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            self.writer.add_image(tag, np.asarray(image.convert("RGB")), step, dataformats="HWC")

    def log_hparams(self, params, metrics, step):
        from torch.utils.tensorboard.summary import hparams

        # the session's start and end only: without an experiment summary TensorBoard builds the HParams
        # table from every run's settings and every scalar in it, evaluations added later included
        _, start, end = hparams(params, metrics)  # the metrics are the scalars logged already
        self.writer.file_writer.add_summary(start)
        self.writer.file_writer.add_summary(end)
        self.writer.flush()

    def close(self):
        self.writer.close()


class CSVLogger:
    """<run>/csv/metrics.csv: a row per logged step, a column per name (a new name widens the file);
    <run>/csv/hparams.json: the settings and final metrics."""

    def __init__(self, run_dir: Path, options: dict, resume_step: int | None, run_name: str):
        self.dir = run_dir / "csv"
        self.rows: list[dict] = []
        path = self.dir / "metrics.csv"
        if path.is_file():
            self.rows = [row for row in csv.DictReader(io.StringIO(path.read_text()))
                         if resume_step is None or float(row["step"]) <= resume_step]

    def log(self, step, values):
        self.rows.append({"step": step, **values})
        columns = list(dict.fromkeys(c for row in self.rows for c in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.dir / "metrics.csv", buffer.getvalue())

    def log_image(self, tag, path, step):
        pass  # the pictures are PNG files in the run folder already

    def log_hparams(self, params, metrics, step):
        write_text(self.dir / "hparams.json", json.dumps({"params": params, "metrics": metrics}, indent=2) + "\n")

    def close(self):
        pass


class WandbLogger:
    """Weights & Biases, offline by default (<run>/wandb; `wandb sync` uploads it later). The run's id comes
    from its folder, so a resume and an evaluation continue the same wandb run."""

    def __init__(self, run_dir: Path, options: dict, resume_step: int | None, run_name: str):
        wandb = _need("wandb", "wandb")
        self.wandb = wandb
        run_id = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
        self.run = wandb.init(project=options.get("project"), entity=options.get("entity"),
                              mode=options.get("mode", "offline"), dir=str(run_dir), id=run_id, name=run_name,
                              resume="allow", settings=wandb.Settings(silent=True))

    def log(self, step, values):
        self.run.log(dict(values), step=step)

    def log_image(self, tag, path, step):
        self.run.log({tag: self.wandb.Image(str(path))}, step=step)

    def log_hparams(self, params, metrics, step):
        self.run.config.update(params, allow_val_change=True)
        self.run.summary.update(metrics)

    def close(self):
        self.run.finish()


class MLflowLogger:
    """MLflow in a local SQLite store (logger.mlflow.tracking_uri). <run>/mlflow_run.json keeps the store and
    the run's id, so a resume and an evaluation (from any folder) continue the same MLflow run."""

    def __init__(self, run_dir: Path, options: dict, resume_step: int | None, run_name: str):
        _need("mlflow", "mlflow")
        from mlflow.tracking import MlflowClient

        record = run_dir / "mlflow_run.json"
        if record.is_file():
            saved = json.loads(record.read_text())
            self.client = MlflowClient(tracking_uri=saved["tracking_uri"])
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            return
        uri = options.get("tracking_uri") or "sqlite:///mlflow.db"
        if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):  # relative: from here
            uri = "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
        self.client = MlflowClient(tracking_uri=uri)
        name = options.get("experiment_name") or "latentcli"
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self._create(name, options)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name,
                                             tags={"latentcli.run_dir": str(run_dir.resolve())}).info.run_id
        write_text(record, json.dumps({"tracking_uri": uri, "run_id": self.run_id}) + "\n")

    def _create(self, name: str, options: dict) -> str:
        try:
            return self.client.create_experiment(name, artifact_location=options.get("artifact_location"))
        except Exception:  # another job of the sweep created it first
            return self.client.get_experiment_by_name(name).experiment_id

    def log(self, step, values):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])

    def log_image(self, tag, path, step):
        self.client.log_artifact(self.run_id, str(path), artifact_path=tag)

    def log_hparams(self, params, metrics, step):
        from mlflow.entities import Param

        # a parameter cannot change once logged: a resume's longer budget keeps the first value
        logged = self.client.get_run(self.run_id).data.params
        new = [Param(k, str(v)[:6000]) for k, v in params.items() if k not in logged]
        for start in range(0, len(new), 100):  # MLflow takes at most 100 parameters per call
            self.client.log_batch(self.run_id, params=new[start:start + 100])

    def close(self):
        self.client.set_terminated(self.run_id)


_BACKENDS = {"tensorboard": TensorBoardLogger, "csv": CSVLogger, "wandb": WandbLogger, "mlflow": MLflowLogger}
