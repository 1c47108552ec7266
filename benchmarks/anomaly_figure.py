"""The anomaly AUROCs beside the raw-pixel baselines, as a picture (issue 23).

    python benchmarks/anomaly_figure.py EVAL_DIR [EVAL_DIR ...] [--score latent_knn] [--out anomaly.png]

Reads the same runs as benchmarks/anomaly_table.py (every metrics.json with anomaly scores under the folders:
`latentcli evaluate sweep=... "metrics=[anomaly]"`). Left: per model and score, the mean AUROC over the normal
classes, mean ± standard error over seeds (each seed's value is its mean over the classes it ran); the pixel
baselines (kNN, PCA, OC-SVM: they depend on neither model nor seed) as grey dots, the best of them as a dashed
line. Right: --score of each model per normal class, mean ± s.e. over seeds, beside the baselines per class.
Prints the numbers plotted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anomaly_table import SCORES, read_runs  # noqa: E402  (the table's reader: the same runs, the same seeds)

from latentcli import viz  # noqa: E402


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (0 for a single value)."""
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return statistics.fmean(values), se


def summarise(runs: list[dict], score: str) -> dict:
    """{"overall": {(model, score): (mean, se, seeds, runs)}, "per_class": {model: {class: (mean, se)}},
    "baselines": {name: {class: auroc}}, "models": [...] in order of first appearance, "names": {model: label}}."""
    by_seed: dict = defaultdict(lambda: defaultdict(list))  # (model, score) -> seed -> AUROCs over classes
    by_class: dict = defaultdict(lambda: defaultdict(list))  # model -> class -> AUROCs over seeds
    baselines: dict = defaultdict(dict)
    for r in runs:
        for s in SCORES:
            if s in r["anomaly"]:
                by_seed[r["model"], s][r["seed"]].append(r["anomaly"][s]["auroc"])
        if score in r["anomaly"]:
            by_class[r["model"]][r["classes"]].append(r["anomaly"][score]["auroc"])
        for name, value in r["anomaly"].get("baselines", {}).items():
            baselines[name][r["classes"]] = value["auroc"]
    overall = {}
    for key, seeds in by_seed.items():
        mean, se = mean_se([statistics.fmean(v) for v in seeds.values()])
        overall[key] = (mean, se, len(seeds), sum(len(v) for v in seeds.values()))
    per_class = {m: {c: mean_se(v) for c, v in classes.items()} for m, classes in by_class.items()}
    models = list(dict.fromkeys(r["model"] for r in runs))
    steps = {m: ",".join(map(str, sorted({r["step"] for r in runs if r["model"] == m}))) for m in models}
    return {"overall": overall, "per_class": per_class, "baselines": dict(baselines), "models": models,
            "names": {m: f"{m} ({steps[m]} steps)" for m in models}}


def plot(summary: dict, score: str, path: Path) -> None:
    plt = viz.plt
    overall, baselines, models = summary["overall"], summary["baselines"], summary["models"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.8), gridspec_kw={"width_ratios": [1.1, 1]})
    names, y = [], 0
    for i, m in enumerate(models):
        for s in SCORES:
            if (m, s) in overall:
                mean, se, seeds, _ = overall[m, s]
                left.errorbar(mean, y, xerr=se, fmt="o", color=f"C{i}", capsize=3, markersize=5)
                names.append(f"{summary['names'][m]}: {s}")
                y += 1
    for name, by_class in baselines.items():
        left.plot(statistics.fmean(by_class.values()), y, "s", color="grey", markersize=6)
        names.append(f"pixels: {name}")
        y += 1
    if baselines:
        best = max(statistics.fmean(v.values()) for v in baselines.values())
        left.axvline(best, color="grey", ls="--", lw=0.8)
    left.set_yticks(range(len(names)), names, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("AUROC, mean over normal classes (± s.e. over seeds)", fontsize=9)
    left.grid(axis="x", alpha=0.3)
    left.axvline(0.5, color="black", lw=0.6)
    left.set_title("every score beside the pixel baselines", fontsize=10)

    classes = sorted({c for v in summary["per_class"].values() for c in v} | {c for v in baselines.values() for c in v})
    ticks = [",".join(map(str, c)) for c in classes]
    for i, m in enumerate(models):
        if m not in summary["per_class"]:
            continue
        points = [(k, *summary["per_class"][m][c]) for k, c in enumerate(classes) if c in summary["per_class"][m]]
        xs, means, ses = zip(*points)
        right.errorbar([x + 0.06 * (i - len(models) / 2) for x in xs], means, yerr=ses, fmt="o-", color=f"C{i}",
                       capsize=2, markersize=4, lw=1, label=f"{summary['names'][m]}: {score}")
    for j, (name, by_class) in enumerate(baselines.items()):
        points = [(k, by_class[c]) for k, c in enumerate(classes) if c in by_class]
        right.plot(*zip(*points), ls=["--", ":", "-."][j % 3], color="grey", marker="s", markersize=3, lw=1,
                   label=f"pixels: {name}")
    right.set_xticks(range(len(classes)), ticks, fontsize=8)
    right.set_xlabel("normal class", fontsize=9)
    right.set_ylabel("AUROC (± s.e. over seeds)", fontsize=9)
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    right.set_title(f"per class: {score}", fontsize=10)
    viz.save_figure(fig, path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--score", default="latent_knn", choices=SCORES, help="the score shown per class")
    parser.add_argument("--out", default="benchmarks/results/anomaly.png")
    args = parser.parse_args()
    runs = read_runs(args.dirs)
    if not runs:
        raise SystemExit(f"anomaly_figure.py: no metrics.json with anomaly scores under {', '.join(args.dirs)}")
    summary = summarise(runs, args.score)
    print("| model: score | AUROC, mean ± s.e. over seeds | seeds | runs |")
    print("| --- | ---: | ---: | ---: |")
    for (m, s), (mean, se, seeds, count) in summary["overall"].items():
        print(f"| {summary['names'][m]}: {s} | {mean:.3f} ± {se:.3f} | {seeds} | {count} |")
    for name, by_class in summary["baselines"].items():
        print(f"| pixels: {name} | {statistics.fmean(by_class.values()):.3f} | - | {len(by_class)} classes |")
    plot(summary, args.score, Path(args.out))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
