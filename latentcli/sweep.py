"""`latentcli evaluate sweep=DIR`: the summary of a multirun directory's evaluations. One row per
configuration (the settings stored in the runs' checkpoints that differ between runs, seed aside, and
the inversion method), mean and standard deviation over its seeds for every numeric metric; as CSV, as
Markdown, and a bar plot of one metric. Runs on different datasets get one summary each."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from latentcli import viz
from latentcli.errors import UserError
from latentcli.files import write_json, write_text
from latentcli.report import flatten

STATUS = "status.json"  # a sweep job's outcome: {"status": "finished"} or {"status": "failed", "reason": ...}


def write_status(job: Path, reason: str | None = None) -> None:
    """Records in the job's folder that it finished, or failed and why."""
    write_json(job / STATUS, {"status": "finished"} if reason is None else {"status": "failed", "reason": reason})


def failed_jobs(sweep_dir: str | Path, since: float | None = None) -> dict[str, str]:
    """{job folder name: reason} of the sweep's jobs whose last attempt failed (at `since` or later: the jobs
    of one `latentcli train -m`, not those of an earlier sweep into the same folder), in job order."""
    failed = {}
    for path in sorted(Path(sweep_dir).expanduser().glob(f"*/{STATUS}"), key=lambda p: job_order(p.parent)):
        if since is not None and path.stat().st_mtime < since:
            continue
        status = json.loads(path.read_text())
        if status.get("status") == "failed":
            failed[path.parent.name] = status.get("reason", "")
    return failed


def find_runs(sweep_dir: str | Path) -> list[Path]:
    """The sweep's jobs with a checkpoint, failed ones aside (a diverged run's last good checkpoint is not
    its result)."""
    root = Path(sweep_dir).expanduser()
    if not root.is_dir():
        raise UserError(f"sweep={sweep_dir} is not a folder")
    failed = failed_jobs(root)
    runs = sorted((p for p in root.iterdir() if (p / "checkpoints" / "last.ckpt").is_file() and p.name not in failed),
                  key=job_order)
    if not runs and failed:
        raise UserError(f"every run of the sweep failed; the first: {next(iter(failed))}: {next(iter(failed.values()))}")
    if not runs:
        raise UserError(f"no runs (<job>/checkpoints/last.ckpt) under {root}")
    return runs


def job_order(run: Path) -> tuple[int, str]:
    """Hydra's job number first (2_... before 10_...), then the name."""
    number = run.name.split("_", 1)[0]
    return (int(number) if number.isdigit() else -1, run.name)


# Settings that do not change what a run learns: runs that differ only in these are one configuration.
NOT_SETTINGS = {"seed", "resume", "trainer.max_seconds", "trainer.progress", "trainer.tensorboard",
                "trainer.log_every", "trainer.sample_every", "trainer.checkpoint_every",
                "trainer.checkpoint_every_seconds", "trainer.keep_checkpoints", "trainer.num_workers",
                "trainer.device", "trainer.compile", "dataset.data_dir", "dataset.download"}
SHORT = {"model.name": "model", "dataset.name": "dataset"}


def run_settings(config: dict) -> dict[str, str]:
    """The configuration a run trained with, from the config stored in its checkpoint (its command line
    may be a resume's): {dotted key: value as text}, seeds, data locations, input checkpoints (a
    regressor's generator_ckpt), loggers and settings that do not change the result aside."""
    return {SHORT.get(k, k): str(v) for k, v in flatten(config).items()
            if k not in NOT_SETTINGS and not k.endswith("ckpt") and not k.startswith("logger.")}


def split_by_dataset(results: list[tuple[dict, dict]]) -> dict[str, list[tuple[dict, dict]]]:
    """{dataset name: its results}: runs on different data are never compared in one table."""
    groups: dict[str, list] = {}
    for settings, metrics in results:
        groups.setdefault(settings.get("dataset", ""), []).append((settings, metrics))
    return groups


def summarise(results: list[tuple[dict, dict]], out: Path, main_metric: str, stem: str = "summary",
              plot_metrics: list[str] | None = None) -> list[dict]:
    """results: (settings, metrics) per run. Writes STEM.csv, STEM.md, STEM.png; returns the rows.

    A row is a configuration (the settings that differ between runs, the inversion method among them),
    with mean and std over its runs. STEM.csv has every column; STEM.md lists the columns that are the
    same in every row once above the table instead of repeating them. Besides the bar plot of main_metric,
    each of plot_metrics (default: main_metric) is drawn against each swept setting (plot_against_settings),
    and STEM.md shows those pictures under its table."""
    keys = list(dict.fromkeys(k for settings, _ in results for k in settings))
    # a key only some models have (model.lambda) is no difference by itself: their names differ already
    varying = [k for k in keys if len({s[k] for s, _ in results if k in s}) > 1]
    groups: dict[tuple, list[dict]] = {}
    for settings, metrics in results:
        numbers = {k: float(v) for k, v in flatten(metrics).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        groups.setdefault(tuple(settings.get(k, "") for k in varying), []).append(numbers)
    names = sorted({k for runs in groups.values() for r in runs for k in r})
    rows = []
    for config, runs in groups.items():
        row = {**dict(zip(varying, config)), "runs": len(runs)}
        for name in names:
            values = [r[name] for r in runs if name in r]
            if values:
                row[f"{name} mean"] = statistics.fmean(values)
                # one value has no spread: left empty (CSV) and out (Markdown), never a measured-looking 0
                row[f"{name} std"] = statistics.stdev(values) if len(values) > 1 else None
        rows.append(row)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / f"{stem}.csv", buffer.getvalue())
    write_text(out / f"{stem}.md", _markdown(rows, varying, names, results[0][0]))
    if f"{main_metric} mean" in columns:
        labels = [", ".join(f"{k}={row[k]}" for k in varying) or "all" for row in rows]
        viz.save_bar_plot(out / f"{stem}.png", labels, [row.get(f"{main_metric} mean", 0) for row in rows],
                          [row.get(f"{main_metric} std") or 0 for row in rows], ylabel=main_metric,
                          title=f"{main_metric}: mean and std over seeds")
    pictures = plot_against_settings(rows, varying, plot_metrics or [main_metric], out, stem)
    if pictures:
        text = (out / f"{stem}.md").read_text() + "\n" + "".join(f"![{title}]({path.name})\n\n"
                                                               for title, path in pictures)
        write_text(out / f"{stem}.md", text)
    return rows


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def plot_against_settings(rows: list[dict], varying: list[str], metrics: list[str], out: Path,
                          stem: str) -> list[tuple[str, Path]]:
    """STEM_<metric>_vs_<setting>.png for every metric and every swept setting but the model and the
    inversion method: the metric's mean against the setting, with its std over seeds as error bars, one
    line per value of the other swept settings (a line per model), as papers draw it. Returns (title, path)."""
    pictures = []
    for setting in [k for k in varying if k not in ("model", "inference")]:
        others = [k for k in varying if k != setting]
        values = [row[setting] for row in rows]
        numeric = all(_number(v) is not None for v in values)
        for metric in metrics:
            series: dict[str, tuple[list, list, list]] = {}
            for row in rows:
                if f"{metric} mean" not in row:
                    continue
                xs, means, stds = series.setdefault(", ".join(str(row[k]) for k in others) or metric, ([], [], []))
                xs.append(_number(row[setting]) if numeric else row[setting])
                means.append(row[f"{metric} mean"])
                stds.append(row[f"{metric} std"] or 0)
            if not series:
                continue
            title = f"{metric} against {setting}: mean and std over seeds"
            path = out / f"{stem}_{metric}_vs_{setting}.png"
            viz.save_errorbar_plot(path, series, xlabel=setting, ylabel=metric, title=title,
                                   legend_title=", ".join(others))
            pictures.append((title, path))
    return pictures


def _markdown(rows: list[dict], varying: list[str], names: list[str], settings: dict) -> str:
    cells = {k: [str(row.get(k, "")) for row in rows] for k in varying + ["runs"]}
    for n in names:
        cells[n] = [_mean_and_spread(row, n) for row in rows]
    same = {k: v[0] for k, v in cells.items() if len(set(v)) == 1 and (len(rows) > 1 or k not in names)}
    same = {**{k: settings[k] for k in ("dataset", "model", "inference") if k in settings and k not in varying},
            **same}
    shown = [k for k in cells if k not in same]
    lines = ["Same in every row: " + ", ".join(f"{k} = {v}" for k, v in same.items()), ""] if same else []
    lines += ["| " + " | ".join(shown) + " |", "|" + " --- |" * len(shown)]
    lines += ["| " + " | ".join(cells[k][i] for k in shown) + " |" for i in range(len(rows))]
    return "\n".join(lines) + "\n"


def _mean_and_spread(row: dict, name: str) -> str:
    """"mean ± std" over a row's runs; the mean alone where one run gave the value (no spread to show)."""
    if f"{name} mean" not in row:
        return ""
    std = row[f"{name} std"]
    return f"{row[f'{name} mean']:.4g}" + ("" if std is None else f" ± {std:.2g}")


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


def append_failed(summary: Path, failed: dict[str, str]) -> None:
    """Adds to summary.md the sweep's failed jobs and why each failed (they are not in the table)."""
    if not failed:
        return
    lines = ["", "Failed jobs (not in the table above):", "", "| job | reason |", "| --- | --- |"]
    lines += [f"| {job} | {reason.replace('|', '/')} |" for job, reason in failed.items()]
    write_text(summary, summary.read_text() + "\n".join(lines) + "\n")


SEARCH_RESULTS = "optimization_results.yaml"  # what Hydra's Optuna sweeper writes in the sweep folder at its end
OBJECTIVE = "objective.json"  # a job's objective (tasks/objective.py)


def search_lines(sweep_dir: str | Path) -> list[str]:
    """A search's (hydra/sweeper=optuna) trials as Markdown: each job's objective, the best trial (Hydra's
    optimization_results.yaml) and its settings. [] for a sweep that was no search."""
    root = Path(sweep_dir).expanduser()
    results_file = root / SEARCH_RESULTS
    jobs = sorted((p.parent for p in root.glob(f"*/{OBJECTIVE}")), key=job_order)
    if not results_file.is_file() and not jobs:
        return []
    results = OmegaConf.to_container(OmegaConf.load(results_file)) if results_file.is_file() else {}
    best = results.get("best_params") or {}
    best_job = next((job for job in jobs if best and all(_overrides(job).get(k) == str(v) for k, v in best.items())),
                    None)
    lines = ["", f"Search ({SEARCH_RESULTS}):" if results else "Search (no optimization_results.yaml: unfinished):", ""]
    if results:
        where = f"job {best_job.name.split('_', 1)[0]}" if best_job else "a job not in this folder"
        lines.append(f"best trial: {where}, objective {results.get('best_value')}, settings: "
                     + " ".join(f"{k}={v}" for k, v in best.items()))
        lines.append("")
    lines += ["| job | objective | value | |", "| --- | --- | ---: | --- |"]
    for job in jobs:
        record = json.loads((job / OBJECTIVE).read_text())
        lines.append(f"| {job.name.split('_', 1)[0]} | {record.get('objective', '')} | {record.get('value')} | "
                     f"{'best' if job == best_job else ''} |")
    return lines


def _overrides(job: Path) -> dict[str, str]:
    """{key: value} of the job's command line (.hydra/overrides.yaml), as the sweeper gave them."""
    path = job / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    return dict(line.split("=", 1) for line in OmegaConf.to_container(OmegaConf.load(path)) if "=" in line)


def append_search(summary: Path, sweep_dir: str | Path) -> list[str]:
    """Adds search_lines to summary.md; returns them."""
    lines = search_lines(sweep_dir)
    if lines:
        write_text(summary, summary.read_text() + "\n".join(lines) + "\n")
    return lines
