"""One Markdown table from the summary.csv files that `latentcli evaluate sweep=...` writes.

    python benchmarks/table.py DIR [DIR ...] --columns recon.psnr,quality.fid [--percent ...] [--mean-row]

Each DIR is searched for summary.csv files (an evaluate multirun holds one per job, e.g. one per
inference method); their rows are stacked. A row is labelled by its configuration columns and, when
there are several files, by the job folder that holds the file. Cells are "mean ± std" over the row's
runs (its seeds, counted in the runs column); a row of one run shows the mean alone.
A column no summary has is shown as dashes, with a warning that suggests close names.
--percent lists columns shown times 100; --mean-row appends the mean of the row means (for example
the mean AUROC over the ten one-class problems).
"""

from __future__ import annotations

import argparse
import csv
import difflib
import statistics
import sys
from pathlib import Path


def read_rows(dirs: list[str]) -> list[dict]:
    files = sorted(f for d in dirs for f in Path(d).rglob("summary.csv"))
    if not files:
        raise SystemExit(f"table.py: no summary.csv under {', '.join(dirs)}; run latentcli evaluate sweep=... first")
    rows = []
    for f in files:
        for row in csv.DictReader(f.open()):
            row["job"] = f.parent.name if len(files) > 1 else ""
            rows.append(row)
    return rows


def label_columns(rows: list[dict]) -> list[str]:
    first = list(rows[0])
    configuration = first[: first.index("runs")]
    return (["job"] if rows[0]["job"] else []) + configuration + ["runs"]


def cell(row: dict, column: str, percent: bool) -> str:
    """"mean ± std" where the row's mean is over several runs (a spread of 0 included: it was measured); the
    mean alone over one run, whose std is no measurement (older summaries wrote 0 for it)."""
    mean, std = row.get(f"{column} mean", ""), row.get(f"{column} std", "")
    if mean == "":
        return "-"
    scale = 100 if percent else 1
    if std == "" or int(row.get("runs") or 1) < 2:
        return f"{float(mean) * scale:.4g}"
    return f"{float(mean) * scale:.3g} ± {float(std) * scale:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--columns", required=True, help="comma-separated metric names, e.g. recon.psnr")
    parser.add_argument("--percent", default="", help="comma-separated columns to show in percent")
    parser.add_argument("--mean-row", action="store_true")
    args = parser.parse_args()
    columns = args.columns.split(",")
    percent = set(filter(None, args.percent.split(",")))
    rows = read_rows(args.dirs)
    known = {name[: -len(" mean")] for row in rows for name in row if name.endswith(" mean")}
    for column in columns:
        if column not in known:  # say so: a misspelt column would otherwise be a silent column of dashes
            close = difflib.get_close_matches(column, sorted(known), n=3)
            print(f"table.py: warning: no column {column!r} in these summaries"
                  + (f"; did you mean {', '.join(close)}?" if close else ""), file=sys.stderr)
    labels = label_columns(rows)
    lines = ["| " + " | ".join(labels + columns) + " |", "|" + " --- |" * (len(labels) + len(columns))]
    for row in rows:
        lines.append("| " + " | ".join([row.get(k, "") for k in labels] +
                                       [cell(row, c, c in percent) for c in columns]) + " |")
    if args.mean_row:
        means = []
        for c in columns:
            values = [float(r[f"{c} mean"]) for r in rows if r.get(f"{c} mean", "") != ""]
            means.append(f"{statistics.fmean(values) * (100 if c in percent else 1):.4g}" if values else "-")
        lines.append("| " + " | ".join(["**mean**"] + [""] * (len(labels) - 1) + means) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
