"""The one-class anomaly table from `latentcli evaluate ... metrics=[anomaly]` folders.

    python benchmarks/anomaly_table.py EVAL_DIR [EVAL_DIR ...] [--per-class]

Reads every metrics.json under the folders (one per trained run) and the seed from its run's
.hydra/config.yaml. For each model and score: the mean AUROC over the normal classes for each seed, then
mean ± std over seeds (and the number of runs). The raw-pixel baselines (kNN, PCA, OC-SVM) get one row
each; they do not depend on the model or its seed, so they are taken from every run alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from omegaconf import OmegaConf

SCORES = ["reconstruction", "feature", "egbad", "prior_nll", "latent_knn", "alad"]


def read_runs(dirs: list[str]) -> list[dict]:
    runs = []
    for f in sorted(p for d in dirs for p in Path(d).rglob("metrics.json")):
        metrics = json.loads(f.read_text())
        if "anomaly" not in metrics:
            continue
        config = OmegaConf.load(Path(metrics["ckpt"]).parent.parent / ".hydra" / "config.yaml")
        runs.append({"model": metrics["model"], "seed": int(config.seed), "step": metrics["step"],
                     "classes": tuple(metrics["anomaly"]["normal_classes"]), "anomaly": metrics["anomaly"]})
    return runs


def cell(per_seed: dict[int, list[float]]) -> str:
    means = [statistics.fmean(v) for v in per_seed.values()]
    runs = sum(len(v) for v in per_seed.values())
    spread = f" ± {statistics.stdev(means):.3f}" if len(means) > 1 else ""
    return f"{statistics.fmean(means):.3f}{spread} ({runs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+")
    parser.add_argument("--per-class", action="store_true", help="also the mean AUROC over seeds per class")
    args = parser.parse_args()
    runs = read_runs(args.dirs)
    if not runs:
        raise SystemExit(f"anomaly_table.py: no metrics.json with anomaly scores under {', '.join(args.dirs)}")
    models = sorted({r["model"] for r in runs}, key=lambda m: min(i for i, r in enumerate(runs) if r["model"] == m))
    table: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    per_class: dict[tuple[str, str], dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    baselines: dict[str, dict[tuple, float]] = defaultdict(dict)
    for r in runs:
        for score in SCORES:
            if score in r["anomaly"]:
                table[r["model"], score][r["seed"]].append(r["anomaly"][score]["auroc"])
                per_class[r["model"], score][r["classes"]].append(r["anomaly"][score]["auroc"])
        for name, value in r["anomaly"].get("baselines", {}).items():
            baselines[name][r["classes"]] = value["auroc"]
    steps = {m: sorted({r["step"] for r in runs if r["model"] == m}) for m in models}
    print("Mean AUROC over the normal classes, mean ± std over seeds (runs):\n")
    print("| model (steps) | " + " | ".join(SCORES) + " |")
    print("| --- |" + " ---: |" * len(SCORES))
    for m in models:
        cells = [cell(table[m, s]) if (m, s) in table else "-" for s in SCORES]
        print(f"| {m} ({', '.join(map(str, steps[m]))}) | " + " | ".join(cells) + " |")
    for name, by_class in baselines.items():
        print(f"| pixels: {name} ({len(by_class)} classes) | {statistics.fmean(by_class.values()):.3f} |"
              + " |" * (len(SCORES) - 1))
    if args.per_class:
        classes = sorted({r["classes"] for r in runs})
        print("\nMean AUROC over seeds per normal class:\n")
        print("| model, score | " + " | ".join(",".join(map(str, c)) for c in classes) + " |")
        print("| --- |" + " ---: |" * len(classes))
        for (m, s), by_class in per_class.items():
            print(f"| {m}, {s} | " + " | ".join(f"{statistics.fmean(by_class[c]):.3f}" if c in by_class else "-"
                                              for c in classes) + " |")
        for name, by_class in baselines.items():
            print(f"| pixels, {name} | " + " | ".join(f"{by_class[c]:.3f}" if c in by_class else "-"
                                                   for c in classes) + " |")


if __name__ == "__main__":
    main()
