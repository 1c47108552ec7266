"""`latentcli evaluate sweep=DIR`: the summary of a multirun directory's evaluations. One row per
configuration (the overrides that differ between runs, seed aside), mean and standard deviation over
its seeds for every numeric metric; as CSV, as Markdown, and a bar plot of one metric."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from latentcli import viz
from latentcli.errors import UserError
from latentcli.files import write_text
from latentcli.report import flatten


def find_runs(sweep_dir: str | Path) -> list[Path]:
    root = Path(sweep_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"sweep={sweep_dir} is not a folder")
    runs = sorted((p for p in root.iterdir() if (p / "checkpoints" / "last.ckpt").is_file()), key=job_order)
    if not runs:
        raise UserError(f"no runs (<job>/checkpoints/last.ckpt) under {root}")
    return runs


def job_order(run: Path) -> tuple[int, str]:
    """Hydra's job number first (2_... before 10_...), then the name."""
    number = run.name.split("_", 1)[0]
    return (int(number) if number.isdigit() else -1, run.name)


def run_overrides(run: Path) -> dict[str, str]:
    """The command-line overrides a sweep job ran with (its .hydra/overrides.yaml), hydra.* aside, and
    checkpoint paths aside (model.generator_ckpt names an input, not a setting to group by)."""
    path = run / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {"run": run.name}
    pairs = [str(item).split("=", 1) for item in OmegaConf.load(path)]
    return {k.lstrip("+~"): v for k, v in (p for p in pairs if len(p) == 2)
            if not k.startswith("hydra") and not k.endswith("ckpt")}


def summarise(results: list[tuple[dict, dict]], out: Path, main_metric: str) -> list[dict]:
    """results: (overrides, metrics) per run. Writes summary.csv, summary.md, summary.png; returns the rows."""
    keys = sorted({k for overrides, _ in results for k in overrides})
    varying = [k for k in keys if k != "seed" and len({o.get(k) for o, _ in results}) > 1]
    if not varying:  # one configuration: label it by its own overrides
        varying = [k for k in keys if k != "seed"]
    groups: dict[tuple, list[dict]] = {}
    for overrides, metrics in results:
        numbers = {k: float(v) for k, v in flatten(metrics).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        groups.setdefault(tuple(overrides.get(k, "") for k in varying), []).append(numbers)
    names = sorted({k for runs in groups.values() for r in runs for k in r})
    rows = []
    for config, runs in groups.items():
        row = {**dict(zip(varying, config)), "runs": len(runs)}
        for name in names:
            values = [r[name] for r in runs if name in r]
            if values:
                row[f"{name} mean"] = statistics.fmean(values)
                row[f"{name} std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "summary.csv", buffer.getvalue())
    shown = varying + ["runs"] + [n for n in names if f"{n} mean" in columns]
    lines = ["| " + " | ".join(shown) + " |", "|" + " --- |" * len(shown)]
    for row in rows:
        cells = [str(row.get(k, "")) for k in varying + ["runs"]]
        cells += [f"{row[f'{n} mean']:.4g} ± {row[f'{n} std']:.2g}" if f"{n} mean" in row else ""
                  for n in names if f"{n} mean" in columns]
        lines.append("| " + " | ".join(cells) + " |")
    write_text(out / "summary.md", "\n".join(lines) + "\n")
    if f"{main_metric} mean" in columns:
        labels = [", ".join(f"{k}={row[k]}" for k in varying) or "all" for row in rows]
        viz.save_bar_plot(out / "summary.png", labels, [row.get(f"{main_metric} mean", 0) for row in rows],
                          [row.get(f"{main_metric} std", 0) for row in rows], ylabel=main_metric,
                          title=f"{main_metric}: mean and std over seeds")
    return rows


def append_where_they_ran(summary: Path, runs: list[Path]) -> None:
    """Adds to summary.md a table of each run's host, device, world size and launcher (its run_info.json)."""
    lines = ["", "Where the runs ran:", "", "| job | host | device | world size | launcher | Slurm job |",
             "| --- | --- | --- | ---: | --- | --- |"]
    for run in runs:
        path = run / "run_info.json"
        info = json.loads(path.read_text()) if path.is_file() else {}
        lines.append(f"| {run.name.split('_', 1)[0]} | {info.get('host', '?')} | {info.get('device_name', '?')} | "
                     f"{info.get('world_size', '?')} | {info.get('launcher', '?')} | {info.get('slurm_job') or ''} |")
    write_text(summary, summary.read_text() + "\n".join(lines) + "\n")
