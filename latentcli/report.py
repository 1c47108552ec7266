"""report.md for one evaluation: the run's facts, every metric as a table, and the pictures."""

from __future__ import annotations

import json
from pathlib import Path

from latentcli import viz
from latentcli.engine.logging import open_run_loggers
from latentcli.files import write_text


def flatten(metrics: dict, prefix: str = "") -> dict[str, object]:
    """{"recon": {"psnr": 20}} -> {"recon.psnr": 20}; lists of rows stay as they are."""
    flat = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def counted(n: int, noun: str) -> str:
    """'1 run', '2 runs': a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def training_curves(ckpt: Path, out: Path) -> Path | None:
    """curves.png from the run's metrics.jsonl (next to its checkpoints/), if it is there."""
    log = Path(ckpt).resolve().parent.parent / "metrics.jsonl"
    if not log.is_file():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not records:
        return None
    keys = [k for k in records[-1] if k != "step"]
    steps = [r["step"] for r in records]
    curves = {k: [r.get(k, float("nan")) for r in records] for k in keys}
    path = out / "curves.png"
    viz.save_curves(path, steps, curves, title=f"training curves ({log})")
    return path


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(path: Path, metrics: dict, figures: list, curves: Path | None) -> None:
    head = {k: v for k, v in metrics.items() if not isinstance(v, dict) and k != "warnings"}
    lines = [f"# {metrics['model']} on {metrics['dataset']}, step {metrics['step']}", ""]
    lines += [f"**Warning:** {line}" for line in metrics.get("warnings", [])] + ([""] if "warnings" in metrics else [])
    lines += ["| | |", "| --- | --- |"] + [f"| {k} | {_cell(v)} |" for k, v in head.items()] + [""]
    for name, value in metrics.items():
        if not isinstance(value, dict):
            continue
        lines += [f"## {name}", ""]
        rows = {k: v for k, v in flatten(value).items() if not isinstance(v, list)}
        if rows:
            lines += ["| metric | value |", "| --- | --- |"] + [f"| {k} | {_cell(v)} |" for k, v in rows.items()]
        for k, v in flatten(value).items():
            if isinstance(v, list) and v and isinstance(v[0], dict):  # a curve: one table row per point
                columns = list(v[0])
                lines += ["", f"{k}:", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
                lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in v]
        lines.append("")
    pictures = [(f.title, f.path) for f in figures] + ([("Training curves", curves)] if curves else [])
    if pictures:
        lines += ["## Pictures", ""]
        for title, picture in pictures:
            lines += [f"### {title}", "", f"![{title}]({Path(picture).name})", ""]
    write_text(path, "\n".join(lines))


def log_to_run(ckpt: Path, config: dict, metrics: dict, figures: list) -> None:
    """An evaluation's numbers and pictures, added to the trackers of the training run the checkpoint belongs
    to, at the checkpoint's step, as evaluate/<inversion method>/<metric> (so each method is its own column)."""
    loggers = open_run_loggers(ckpt, config)
    if loggers is None:
        return
    prefix = f"evaluate/{metrics['inference']}/"
    numbers = {prefix + k: float(v) for k, v in flatten(metrics).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("step", "n_test")}
    try:
        loggers.log(metrics["step"], numbers)
        for figure in figures:
            loggers.log_image(prefix + Path(figure.path).stem, figure.path, metrics["step"])
    finally:
        loggers.close()
