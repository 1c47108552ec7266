"""`latentcli evaluate sweep=DIR` where DIR is what `latentcli evaluate -m sweep=... inference=A,B,...` wrote (one job
folder per method, a metrics.json per evaluated run): the table a comparison of methods wants, models against
methods. compare.md has one table per metric (rows: the models, that is the settings that differ between the
trained runs, seeds aside; columns: the inversion methods; cells: mean ± standard error over the seeds, and the
number of seeds), the time per image first; `n/a` where a model was not measured by a method (a plain GAN has no
encoder for inference=encoder or hybrid). compare.csv holds the same numbers, one line per model, method and metric."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from pathlib import Path

from latentcli import sweep
from latentcli.engine import checkpoint as ckpt_io
from latentcli.errors import UserError
from latentcli.files import write_text
from latentcli.report import flatten

TIME = "recon.inversion_ms_per_item"  # what a method costs: recon measures it
NOT_METRICS = {"step", "n_test"}  # numbers in metrics.json that describe the run, not the method


def is_evaluation(folder: str | Path) -> bool:
    """Whether sweep=FOLDER is an evaluate multirun (metrics.json files, no trained runs) rather than a training sweep."""
    root = Path(folder).expanduser()
    return root.is_dir() and not any(root.glob("*/checkpoints/last.ckpt")) and bool(evaluations(root))


def evaluations(root: Path) -> list[Path]:
    """The metrics.json files of an evaluate multirun (JOB/RUN/metrics.json after sweep=, JOB/metrics.json after
    ckpt=), in job order; none for a training sweep."""
    found = []
    for job in sorted((p for p in root.iterdir() if p.is_dir()), key=sweep.job_order):
        found += [job / "metrics.json"] if (job / "metrics.json").is_file() else []
        found += sorted(job.glob("*/metrics.json"), key=lambda p: sweep.job_order(p.parent))
    return found


def model_settings(metrics: dict) -> dict[str, str]:
    """The evaluated run's configuration from its checkpoint (as the sweep summary reads it); where the checkpoint
    is gone, the model's and dataset's names metrics.json keeps."""
    path = Path(metrics["ckpt"])
    if path.is_file():
        return sweep.run_settings(ckpt_io.load(path)["config"])
    return {"model": metrics["model"], "dataset": metrics["dataset"]}


def compare(root: Path, out: Path) -> tuple[Path, Path]:
    files = evaluations(root)
    if not files:
        raise UserError(f"no runs (<job>/checkpoints/last.ckpt) and no evaluations (<job>/metrics.json) under {root}")
    results = []  # (settings, method, numbers) per evaluated run
    for path in files:
        metrics = json.loads(path.read_text())
        numbers = {k: float(v) for k, v in flatten(metrics).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_METRICS}
        results.append((model_settings(metrics), metrics["inference"], numbers, sweep.job_order(path.parent)))
    methods = list(dict.fromkeys(method for _, method, _, _ in results))  # the evaluate sweep's order of jobs
    results = [result[:3] for result in sorted(results, key=lambda r: r[3])]  # the training sweep's order of runs
    keys = list(dict.fromkeys(k for settings, _, _ in results for k in settings))
    varying = telling_apart([settings for settings, _, _ in results], keys)
    models = list(dict.fromkeys(_label(settings, varying) for settings, _, _ in results))
    names = sorted({n for _, _, numbers in results for n in numbers}, key=lambda n: (n != TIME, n))
    cells: dict[tuple[str, str, str], list[float]] = {}
    for settings, method, numbers in results:
        for name, value in numbers.items():
            cells.setdefault((_label(settings, varying), method, name), []).append(value)

    rows = []
    for name in names:
        for model in models:
            for method in methods:
                values = cells.get((model, method, name))
                if values:
                    rows.append({"model": model, "method": method, "metric": name, "mean": statistics.fmean(values),
                                 "se": _standard_error(values), "seeds": len(values)})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["model", "method", "metric", "mean", "se", "seeds"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "compare.csv", buffer.getvalue())

    same = {k: results[0][0][k] for k in keys if k not in varying and k in ("dataset", "model")}
    lines = [f"Rows: {', '.join(varying) or 'the model'}; columns: inversion methods; cells: mean ± standard error "
             "over seeds (n = seeds); n/a: not measured (a model without an encoder under encoder or hybrid).", ""]
    if same:
        lines += ["Same in every row: " + ", ".join(f"{k} = {v}" for k, v in same.items()), ""]
    for name in names:
        lines += [f"### {'time per image (ms)' if name == TIME else name}", "",
                  "| model | " + " | ".join(methods) + " |", "| --- |" + " ---: |" * len(methods)]
        for model in models:
            lines.append(f"| {model} | " + " | ".join(_cell(cells.get((model, m, name))) for m in methods) + " |")
        lines.append("")
    write_text(out / "compare.md", "\n".join(lines))
    return out / "compare.md", out / "compare.csv"


def telling_apart(runs: list[dict], keys: list[str]) -> list[str]:
    """The settings a row is named by: the model and dataset where they differ, and any other setting that
    differs between runs of one model (model.lambda=0.1,1). Two models' own defaults (their learning rates)
    are no difference by themselves: their names differ already."""
    by_model: dict[str, list[dict]] = {}
    for settings in runs:
        by_model.setdefault(settings.get("model", ""), []).append(settings)
    groups = list(by_model.values()) if keys else []
    return [k for k in keys if (len({s.get(k) for s in runs}) > 1 if k in ("model", "dataset") else
                                any(len({s[k] for s in group if k in s}) > 1 for group in groups))]


def _label(settings: dict, varying: list[str]) -> str:
    if varying == ["model"]:
        return settings.get("model", "")
    return ", ".join(f"{k}={settings.get(k, '')}" for k in varying) or settings.get("model", "all")


def _standard_error(values: list[float]) -> float | None:
    """None for one seed: no spread to show, never a measured-looking 0."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None


def _cell(values: list[float] | None) -> str:
    if not values:
        return "n/a"
    se = _standard_error(values)
    return f"{statistics.fmean(values):.4g}" + ("" if se is None else f" ± {se:.2g}") + f" (n={len(values)})"
