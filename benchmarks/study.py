"""Issue 23, Q1 and Q3: sample quality against the accuracy of inferred latents, one study per data kind.

    python benchmarks/study.py OUT [train overrides ...]               # the 2-D study (experiment=study_toy)
    python benchmarks/study.py OUT --protocol fmnist [overrides ...]   # Fashion-MNIST (experiment=study_fmnist)
    python benchmarks/study.py OUT --no-train                # OUT/train exists: evaluate it (no training)
    python benchmarks/study.py OUT --sweep DIR               # evaluate a sweep trained elsewhere
    python benchmarks/study.py OUT --report-only             # tables and figures again from OUT's evaluations
    ... --publish benchmarks/figures                          # also small copies of the figures for RESULTS.md
    ... --publish benchmarks/figures --publish-tag long       # ... named study_toy_<dataset>_long_<figure>.png

1. Trains `latentcli train -m experiment=PRESET hydra.sweep.dir=OUT/train resume=auto [overrides]`
   (configs/experiment/study_toy.yaml: 8 models x 5 seeds on grid25, fused per model; study_fmnist.yaml: the same
   8 models x 3 seeds on Fashion-MNIST; every checkpoint kept); rerunning the same command continues a killed
   sweep (resume=auto) and skips what is evaluated already; with a larger trainer.max_steps it trains every run
   further. Keep the first command's model= and seed= lists (new values at the end): job folders are numbered by
   position, and train refuses a job whose run sits under another number.
2. Evaluates the final checkpoints: `latentcli evaluate sweep=OUT/train hydra.run.dir=OUT/evaluate` (the
   protocol's metrics; gan inverted by optimisation, the others by their encoders).
3. Evaluates every intermediate step-N.ckpt with the same code (`latentcli.cli.main(["evaluate", "ckpt=..."])`,
   in this process) into OUT/curves/<run>/step-N/.
4. Writes OUT/study.md (the tables, Welch's t-tests over seeds, the plateau test), OUT/runs.csv (one row per run)
   and OUT/curves.csv, and the figures OUT/q1_quality_vs_inference.png, OUT/q3_hybrids.png,
   OUT/learning_curves.png.

The protocols (PROTOCOLS below): on 2-D mixtures, sample quality is the share of high-quality samples (PacGAN's),
inference accuracy the share of test points reconstructed into their own mode, the reconstruction MSE and the
latent error; on images, sample quality is the FID in the feature space of latentcli's own classifier (lower is
better; not comparable with Inception FIDs), inference accuracy the reconstruction MSE, the accuracy of a logistic
probe on the inferred latents (beside the same probe on raw pixels, the baseline) and the latent error.

Statistics: mean ± standard error over seeds; "X beats Y" is Welch's t-test (scipy.stats.ttest_ind,
equal_var=False, two-sided) on the per-seed values; "seeds disagree" where some seed of the loser beats some seed
of the winner (the number of such seed pairs out of n_X x n_Y is given). The same tests once more on each seed's
mean over its checkpoints in the last quarter of the steps, where one checkpoint's swing could decide. Plateau, two
tests: the paired t-test over seeds (scipy.stats.ttest_rel) between the last checkpoint and the one at 3/4 of the
steps, and the trend over the second half: each seed's least-squares slope through its checkpoints from half the
steps on, tested against zero over seeds (scipy.stats.ttest_1samp). The trend uses every checkpoint, so it finds a
slow steady rise that two noisy end points miss; "still improving" if either test finds a significant change in the good direction.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from latentcli import viz
from latentcli.report import flatten

Q1 = ["gan", "bigan", "ali", "alice", "veegan"]  # plain GAN (no inference) and four inference mechanisms
Q3 = ["vae", "vaegan", "aae", "alice"]  # the VAE reference and the GAN-VAE hybrids
ORDER = ["gan", "bigan", "ali", "alice", "veegan", "vae", "vaegan", "aae"]
COLOURS = {"gan": "#444444", "bigan": "#1f77b4", "ali": "#ff7f0e", "alice": "#2ca02c", "veegan": "#d62728",
           "vae": "#9467bd", "vaegan": "#8c564b", "aae": "#e377c2"}


@dataclass(frozen=True)
class Protocol:
    """What one study measures: the preset it trains, the metrics.json keys it reads (key, column name, scale,
    higher is better), the quality key (the figures' y axis), the three accuracy keys (their x axes: key, label,
    scale, log), the pairs it tests, what the learning curves evaluate and draw, and a baseline drawn on an
    accuracy axis where one applies (metrics.json key of the same measure on raw pixels)."""

    preset: str
    dataset: str  # the preset's dataset (another one, e.g. dataset=ring8, is named in the published figures)
    metrics: list
    quality: str
    quality_axis: str
    accuracy: list
    comparisons: list
    curve_metrics: str
    curve_keys: list  # (key, label, scale, log): the four panels of the learning curves; the first three: plateau test
    baselines: dict = field(default_factory=dict)  # accuracy key -> the same measure on raw pixels


def _pairs(quality: str, accuracy: list[str], extra: list[str]) -> list:
    """Q1: what each inference mechanism costs in quality against gan and buys in accuracy, and the mechanisms
    against each other; Q3: the hybrids against the VAE (inference) and the GAN (quality)."""
    return [
        *[(m, "gan", k) for m in ["bigan", "ali", "alice", "veegan"] for k in (quality, *extra, *accuracy)],
        *[("alice", "bigan", k) for k in (quality, *accuracy)],
        *[("alice", "ali", k) for k in (*accuracy, quality)], ("bigan", "ali", accuracy[-1]),
        ("veegan", "bigan", accuracy[-1]), ("veegan", "bigan", quality),
        *[(m, "vae", k) for m in ["vaegan", "aae", "alice"] for k in (quality, *extra, *accuracy)],
        *[(m, "gan", quality) for m in ["vae", "vaegan", "aae"]],
    ]


TOY = Protocol(
    preset="study_toy",
    dataset="grid25",
    metrics=[("modes.high_quality_fraction", "HQ %", 100, True),
             ("modes.modes_covered", "modes >= 1 HQ", 1, True),
             ("modes.modes_covered_20", "modes >= 20", 1, True),
             ("modes.reconstructed_into_own_mode", "own-mode recon %", 100, True),
             ("recon.mse", "recon MSE", 1, False),
             ("latent.latent_error_mean", "latent rel. error", 1, False),
             ("latent.regeneration_mse", "regeneration MSE", 1, False),
             ("recon.inversion_ms_per_item", "inversion ms/point", 1, False)],
    quality="modes.high_quality_fraction",
    quality_axis="high-quality samples (%)",
    accuracy=[("modes.reconstructed_into_own_mode", "real test points reconstructed into their own mode (%)", 100, False),
              ("recon.mse", "reconstruction MSE of test points, G(E(x))\n(log, lower is better; < 1e-5 drawn at 1e-5)",
               1, True),
              ("latent.latent_error_mean",
               "latent recovery of generated points:\n||z - E(G(z))|| / ||z|| (lower is better; 1 = guessing 0)", 1, False)],
    comparisons=_pairs("modes.high_quality_fraction", ["modes.reconstructed_into_own_mode", "recon.mse"],
                       ["modes.modes_covered"]),
    curve_metrics="[recon,modes]",
    curve_keys=[("modes.high_quality_fraction", "high-quality samples (%)", 100, False),
                ("modes.reconstructed_into_own_mode", "own-mode reconstructions (%)", 100, False),
                ("recon.mse", "reconstruction MSE (log)", 1, True),
                ("modes.modes_covered", "modes covered (>= 1 HQ sample)", 1, False)],
)
FMNIST = Protocol(
    preset="study_fmnist",
    dataset="fashion_mnist",
    metrics=[("quality.fid", "FID (classifier)", 1, False),
             ("quality.precision", "precision", 1, True),
             ("quality.recall", "recall", 1, True),
             ("recon.mse", "recon MSE", 1, False),
             ("probe.latent.logistic", "probe on z %", 100, True),
             ("probe.pixels.logistic", "probe on pixels %", 100, True),
             ("latent.latent_error_mean", "latent rel. error", 1, False),
             ("recon.inversion_ms_per_item", "inversion ms/image", 1, False)],
    quality="quality.fid",
    quality_axis="FID, classifier features\n(lower is better: drawn upwards)",
    accuracy=[("probe.latent.logistic", "logistic probe on the inferred latents of test images:\naccuracy (%; "
               "the same probe on pixels: dashed)", 100, False),
              ("recon.mse", "reconstruction MSE of test images, G(E(x)) (log, lower is better)", 1, True),
              ("latent.latent_error_mean",
               "latent recovery of generated images:\n||z - E(G(z))|| / ||z|| (lower is better; 1 = guessing 0)", 1, False)],
    comparisons=_pairs("quality.fid", ["probe.latent.logistic", "recon.mse"], ["quality.recall"]),
    curve_metrics="[recon,quality]",
    curve_keys=[("quality.fid", "FID, classifier features (log; lower is better)", 1, True),
                ("recon.mse", "reconstruction MSE (log)", 1, True),
                ("quality.recall", "recall", 1, False),
                ("quality.precision", "precision", 1, False)],
    baselines={"probe.latent.logistic": "probe.pixels.logistic"},
)
PROTOCOLS = {"toy": TOY, "fmnist": FMNIST}
LABEL_OFFSET = {"alice": (-8, -14), "aae": (6, -10)}  # apart from ali's and vae's labels, which lie close by
STEP = re.compile(r"step-(\d+)\.ckpt$")


def latentcli_bin() -> str:
    here = Path(sys.executable).parent / "latentcli"
    return str(here) if here.exists() else "latentcli"


def quoted(path: Path) -> str:
    """A path as one Hydra value: job folders hold '=' and ',' (0_model=gan,seed=0)."""
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---- running ------------------------------------------------------------------------------------------------------


def train(out: Path, protocol: Protocol, overrides: list[str]) -> None:
    cmd = [latentcli_bin(), "train", "-m", f"experiment={protocol.preset}", f"hydra.sweep.dir={out / 'train'}", "resume=auto",
           *overrides]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc and not (out / "train").is_dir():
        raise SystemExit(f"study: training ended with status {rc} and trained nothing (its message is above)")
    if rc:
        print(f"study: training ended with status {rc}; evaluating what is there", file=sys.stderr)


def runs_of(sweep: Path) -> list[Path]:
    return sorted((p for p in sweep.iterdir() if (p / "checkpoints").is_dir()),
                  key=lambda p: (int(p.name.split("_", 1)[0]) if p.name.split("_", 1)[0].isdigit() else -1, p.name))


def evaluate_final(sweep: Path, out: Path, extra: list[str]) -> None:
    cmd = [latentcli_bin(), "evaluate", f"sweep={sweep}", f"hydra.run.dir={out / 'evaluate'}", *extra]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc:
        raise SystemExit(f"study: evaluating {sweep} ended with status {rc} (its message is above)")


def evaluate_curves(sweep: Path, out: Path, every: int, metrics: str, extra: list[str]) -> None:
    """Every step-N.ckpt (N a multiple of `every`) of every run, by latentcli's own evaluate, in this process
    (`metrics`: recon and modes by default; the latent metric, which inverts 500 more points, only at the end)."""
    from latentcli import cli

    todo = []
    for run in runs_of(sweep):
        for ckpt in (run / "checkpoints").glob("step-*.ckpt"):
            step = int(STEP.search(ckpt.name).group(1))
            target = out / "curves" / run.name / f"step-{step}"
            if step % every == 0 and not (target / "metrics.json").is_file():
                todo.append((run.name, step, ckpt, target))
    todo.sort(key=lambda t: (t[0], t[1]))
    print(f"learning curves: {len(todo)} checkpoints to evaluate", flush=True)
    for i, (name, step, ckpt, target) in enumerate(todo, 1):
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet), \
                contextlib.suppress(SystemExit):  # progress bars, one-liners; a failure: its message below
            cli.main(["evaluate", f"ckpt={quoted(ckpt)}", f"hydra.run.dir={quoted(target)}", f"metrics={metrics}", *extra])
        if not (target / "metrics.json").is_file():
            print(quiet.getvalue()[-2000:], file=sys.stderr)
            raise SystemExit(f"study: evaluating {ckpt} wrote no metrics.json")
        if i % 20 == 0 or i == len(todo):
            print(f"  [{i}/{len(todo)}] {name} step {step}", flush=True)


# ---- collecting ---------------------------------------------------------------------------------------------------


def model_and_seed(run_dir: Path) -> tuple[str, int]:
    cfg = (run_dir / ".hydra" / "config.yaml").read_text()
    model = re.search(r"^model:\n(?:  .*\n)*?  name: (\S+)", cfg, re.M).group(1)
    seed = int(re.search(r"^seed: (\d+)", cfg, re.M).group(1))
    return model, seed


def read_final(sweep: Path, out: Path, protocol: Protocol) -> list[dict]:
    rows = []
    for run in runs_of(sweep):
        m = out / "evaluate" / run.name / "metrics.json"
        if not m.is_file():
            continue
        metrics = flatten(json.loads(m.read_text()))
        model, seed = model_and_seed(run)
        rows.append({"run": run.name, "model": model, "seed": seed, "dataset": metrics["dataset"],
                     "step": metrics["step"], "inference": metrics["inference"],
                     **{k: metrics.get(k) for k, *_ in protocol.metrics}})
    return rows


def read_curves(sweep: Path, out: Path, protocol: Protocol) -> list[dict]:
    rows = []
    for run in runs_of(sweep):
        model, seed = model_and_seed(run)
        for m in sorted((out / "curves" / run.name).glob("step-*/metrics.json")):
            metrics = flatten(json.loads(m.read_text()))
            rows.append({"run": run.name, "model": model, "seed": seed, "step": metrics["step"],
                         **{k: metrics.get(k) for k, *_ in protocol.metrics}})
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ---- statistics ---------------------------------------------------------------------------------------------------


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def fmt(mean: float, se: float, scale: float = 1) -> str:
    m, s = mean * scale, se * scale
    if m == 0 and (s == 0 or math.isnan(s)):
        return "0"
    digits = 3 if abs(m) < 1 else 2 if abs(m) < 10 else 1 if abs(m) < 100 else 0
    if abs(m) < 0.01 and m != 0:
        return f"{m:.2g} ± {s:.1g}"
    return f"{m:.{digits}f} ± {s:.{digits}f}" if not math.isnan(s) else f"{m:.{digits}f}"


def values(rows: list[dict], model: str, key: str) -> list[float]:
    return [float(r[key]) for r in rows if r["model"] == model and r[key] is not None]


def welch(a: list[float], b: list[float]) -> float:
    from scipy.stats import ttest_ind

    if len(a) < 2 or len(b) < 2:
        return float("nan")
    if max(a) == min(a) and max(b) == min(b):
        return 0.0 if a[0] != b[0] else 1.0
    return float(ttest_ind(a, b, equal_var=False).pvalue)


def reversed_pairs(better: list[float], worse: list[float], higher: bool) -> int:
    """Seed pairs (one of each model) in which the model with the better mean is the worse one."""
    return sum((b < w) if higher else (b > w) for b in better for w in worse)


COMPARISON_HEADER = ["| pair | metric | first | second | p | better (bold: p < 0.05) | seeds |",
                     "| --- | --- | ---: | ---: | ---: | --- | --- |"]


def comparison(rows: list[dict], x: str, y: str, key: str, label: str, scale: float, higher: bool) -> str:
    a, b = values(rows, x, key), values(rows, y, key)
    if not a or not b:
        return f"| {x} vs {y} | {label} | n/a | n/a | | | |"
    ma, sa = mean_se(a)
    mb, sb = mean_se(b)
    p = welch(a, b)
    a_better = (ma > mb) if higher else (ma < mb)
    winner, loser = (x, y) if a_better else (y, x)
    rev = reversed_pairs(a, b, higher) if a_better else reversed_pairs(b, a, higher)
    ties = sum(u == v for u in a for v in b)
    agree = "all seed pairs agree" if rev == 0 else f"seeds disagree: {rev}/{len(a) * len(b)} pairs reversed"
    if ties:
        agree += f", {ties} tied"
    verdict = f"**{winner}**" if p < 0.05 else f"({winner}, n.s.)"
    return (f"| {x} vs {y} | {label} | {fmt(ma, sa, scale)} | {fmt(mb, sb, scale)} | {p:.2g} | {verdict} | "
            f"{agree} |")


def seed_curves(curves: list[dict], model: str, key: str) -> dict[int, dict[int, float]]:
    """One model's learning curves for one metric, {seed: {step: value}}; missing values left out."""
    by_seed: dict[int, dict[int, float]] = {}
    for r in curves:
        if r["model"] == model and r[key] is not None:
            by_seed.setdefault(r["seed"], {})[r["step"]] = float(r[key])
    return by_seed


def plateau(curves: list[dict], model: str, key: str) -> tuple[int, int, float, float, float] | None:
    """(step at 3/4, last step, mean change from it to the last, its s.e., paired t-test p) for one model."""
    from scipy.stats import ttest_rel

    by_seed = seed_curves(curves, model, key)
    steps = sorted({step for d in by_seed.values() for step in d})
    if not steps:
        return None
    last = steps[-1]
    three_q = min(steps, key=lambda s: abs(s - 0.75 * last))
    if three_q == last:
        return None
    pairs = [(d[three_q], d[last]) for d in by_seed.values() if three_q in d and last in d]
    if len(pairs) < 2:
        return None
    diffs = [b - a for a, b in pairs]
    m, s = mean_se(diffs)
    p = float(ttest_rel([b for a, b in pairs], [a for a, b in pairs]).pvalue) if any(diffs) else 1.0
    return three_q, last, m, s, p


def trend(curves: list[dict], model: str, key: str) -> tuple[int, int, float, float, float] | None:
    """(first step of the second half, last step, mean slope per 10,000 steps over seeds, its s.e., one-sample
    t-test p against no slope): each seed's least-squares line through its checkpoints from half the steps on."""
    from scipy.stats import linregress, ttest_1samp

    by_seed = seed_curves(curves, model, key)
    last = max((step for d in by_seed.values() for step in d), default=None)
    if last is None:
        return None
    lines = [sorted((step, v) for step, v in d.items() if step >= last / 2) for d in by_seed.values()]
    lines = [points for points in lines if len(points) >= 3]
    if len(lines) < 2:
        return None
    slopes = [linregress(*zip(*points)).slope * 10_000 for points in lines]
    m, s = mean_se(slopes)
    p = float(ttest_1samp(slopes, 0.0).pvalue) if any(slopes) else 1.0
    return min(step for points in lines for step, _ in points), last, m, s, p


def last_quarter(curves: list[dict], keys: list[str]) -> list[dict]:
    """One row per model and seed: each key's mean over that run's checkpoints after 3/4 of its model's last step.
    A model whose quality swings between checkpoints (VAE-GAN's by 20-60 points on ring8) is compared on this
    rather than on whichever checkpoint came last."""
    rows = []
    for model in sorted({r["model"] for r in curves}):
        last = max(r["step"] for r in curves if r["model"] == model)
        late = [r for r in curves if r["model"] == model and r["step"] > 0.75 * last]
        for seed in sorted({r["seed"] for r in late}):
            mine = [r for r in late if r["seed"] == seed]
            means = {}
            for k in keys:
                got = [float(r[k]) for r in mine if r[k] is not None]
                means[k] = sum(got) / len(got) if got else None
            rows.append({"model": model, "seed": seed, "checkpoints": len(mine), **means})
    return rows


def tables(final: list[dict], curves: list[dict], protocol: Protocol) -> str:
    models = [m for m in ORDER if any(r["model"] == m for r in final)]
    datasets = sorted({r["dataset"] for r in final})
    if len(datasets) > 1:  # the tables group runs by model alone
        raise SystemExit(f"study: the sweep holds runs on {', '.join(datasets)}: one study folder per dataset")
    lines = ["## Final checkpoints", "",
             "Mean ± s.e. over seeds (n = runs). gan is inverted by latent optimisation (`inference=auto`), the "
             "others by their encoders.", "",
             "| model | runs | step | " + " | ".join(label for _, label, *_ in protocol.metrics) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in protocol.metrics) + " |"]
    for m in models:
        steps = sorted({r["step"] for r in final if r["model"] == m})
        cells = [fmt(*mean_se(values(final, m, k)), scale) if values(final, m, k) else "n/a"
                 for k, _, scale, _ in protocol.metrics]
        lines.append(f"| {m} | {len(values(final, m, protocol.quality))} | "
                     f"{'/'.join(map(str, steps))} | " + " | ".join(cells) + " |")
    info = {k: (label, scale, higher) for k, label, scale, higher in protocol.metrics}
    shown = [protocol.quality, protocol.accuracy[0][0], "recon.mse"]
    lines += ["", f"Per seed ({' / '.join(info[k][0] for k in shown)}):", ""]
    for m in models:
        per = sorted((r for r in final if r["model"] == m), key=lambda r: r["seed"])
        lines.append(f"- {m}: " + "; ".join(f"s{r['seed']} " + " / ".join(
            "n/a" if r[k] is None else f"{r[k] * info[k][1]:.3g}" for k in shown) for r in per))
    lines += ["", "## Comparisons: Welch's t-test over seeds (two-sided)", "",
              *COMPARISON_HEADER]
    for x, y, k in protocol.comparisons:
        if x in models and y in models:
            lines.append(comparison(final, x, y, k, *info[k]))
    curve_keys = [k for k, *_ in protocol.curve_keys]
    late = last_quarter(curves, curve_keys) if curves else []
    pairs = [(x, y, k) for x, y, k in protocol.comparisons if k in curve_keys and x in models and y in models]
    if late and pairs:
        counts = sorted({r["checkpoints"] for r in late})
        lines += ["", "## Comparisons on the last quarter's average: Welch's t-test over seeds (two-sided)", "",
                  "Each seed's mean over its checkpoints after 3/4 of the steps "
                  f"({'/'.join(map(str, counts))} checkpoints), so that one checkpoint's swing does not decide.", "",
                  *COMPARISON_HEADER]
        lines += [comparison(late, x, y, k, *info[k]) for x, y, k in pairs]
    if curves:
        lines += ["", "## Has it stopped improving? The last quarter's change and the second half's trend", "",
                  "Change of the mean over seeds from the checkpoint at 3/4 of the steps to the last (paired t-test "
                  "over seeds), and the mean slope per 10,000 steps of each seed's line through its checkpoints over "
                  "the second half (one-sample t-test over seeds). Either significant in the good direction: still "
                  "improving.", "",
                  "| model | metric | from step | to step | change | p | trend from step | per 10,000 steps | p | verdict |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for m in models:
            for k, *_ in protocol.curve_keys[:3]:
                label, scale, higher = info[k]
                change, slope = plateau(curves, m, k), trend(curves, m, k)
                if change is None:
                    continue
                a, b, d, s, p = change
                cells = [(d, p)] + ([(slope[2], slope[4])] if slope else [])
                found = [(v > 0) == higher for v, q in cells if q < 0.05 and v != 0]
                verdict = ("still improving" if any(found) else "getting worse") if found else "no significant change"
                trend_cells = (f"{slope[0]} | {slope[2] * scale:+.3g} ± {slope[3] * scale:.2g} | {slope[4]:.2g}"
                               if slope else "n/a | n/a | n/a")
                lines.append(f"| {m} | {label} | {a} | {b} | {d * scale:+.3g} ± {s * scale:.2g} | {p:.2g} | "
                             f"{trend_cells} | {verdict} |")
    return "\n".join(lines) + "\n"


# ---- figures ------------------------------------------------------------------------------------------------------


def scatter(ax, final, models, xkey, xscale, ykey, yscale, faded=(), floor=None):
    for m in models:
        xs = [v * xscale for v in values(final, m, xkey)]
        if floor is not None:
            xs = [max(v, floor) for v in xs]
        ys = [v * yscale for v in values(final, m, ykey)]
        if not xs:
            continue
        colour = "#bbbbbb" if m in faded else COLOURS[m]
        alpha = 0.35 if m in faded else 0.5
        ax.scatter(xs, ys, s=18, color=colour, alpha=alpha, linewidths=0)
        mx, sx = mean_se(xs)
        my, sy = mean_se(ys)
        ax.errorbar(mx, my, xerr=0 if math.isnan(sx) else sx, yerr=0 if math.isnan(sy) else sy, fmt="o",
                    color=colour, ms=7, mec="black", mew=0.6, capsize=3, elinewidth=1.2, zorder=3,
                    label=m)
        ax.annotate(m, (mx, my), textcoords="offset points", xytext=LABEL_OFFSET.get(m, (6, 5)), fontsize=9,
                    color="#888888" if m in faded else "black")


def figures(final: list[dict], curves: list[dict], out: Path, protocol: Protocol) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    made = []
    models = [m for m in ORDER if any(r["model"] == m for r in final)]
    steps = sorted({r["step"] for r in final})
    data = "/".join(sorted({r["dataset"] for r in final}))
    budget = f"{data}, {'/'.join(f'{s:,}' for s in steps)} steps, {len(final)} runs; mean ± s.e. over seeds"
    yscale, higher_quality = next((scale, higher) for k, _, scale, higher in protocol.metrics if k == protocol.quality)

    def panels(title, highlight, path):
        faded = [m for m in models if m not in highlight]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
        drawn = faded + [m for m in models if m in highlight]
        for ax, (key, label, scale, log) in zip(axes, protocol.accuracy):
            scatter(ax, final, drawn, key, scale, protocol.quality, yscale, faded=faded, floor=1e-5 if log else None)
            if log:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # the minor ticks' labels overlap on short ranges
            ax.set_xlabel(label)
            baseline = [float(r[protocol.baselines[key]]) * scale for r in final
                        if key in protocol.baselines and r.get(protocol.baselines[key]) is not None]
            if baseline:
                ax.axvline(mean_se(baseline)[0], color="black", ls="--", lw=1, label="raw pixels")
            ax.set_ylabel(protocol.quality_axis)
            ax.grid(alpha=0.3)
            if not higher_quality:
                ax.invert_yaxis()  # better samples up on every study's figure
        fig.suptitle(f"{title}\n{budget}", fontsize=10)
        viz.save_figure(fig, path, dpi=90)
        made.append(path)

    panels("Q1: sample quality against inference accuracy (gan: optimisation inversion; others: encoders)",
           Q1, out / "q1_quality_vs_inference.png")
    panels("Q3: the GAN-VAE hybrids (vaegan, aae, alice) beside vae and gan; the others greyed",
           Q3 + ["gan"], out / "q3_hybrids.png")

    if curves:
        keys = protocol.curve_keys
        fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
        for ax, (key, label, scale, log) in zip(axes.flat, keys):
            for m in models:
                rows = [r for r in curves if r["model"] == m and r[key] is not None]
                xs = sorted({r["step"] for r in rows})
                if not xs:
                    continue
                floor = 1e-5 if log else -math.inf
                stats = [mean_se([max(float(r[key]) * scale, floor) for r in rows if r["step"] == s]) for s in xs]
                mu = [a for a, _ in stats]
                se = [0 if math.isnan(b) else b for _, b in stats]
                ax.plot(xs, mu, "-o", ms=2.5, color=COLOURS[m], label=m, lw=1.4)
                ax.fill_between(xs, [a - b for a, b in zip(mu, se)], [a + b for a, b in zip(mu, se)],
                                color=COLOURS[m], alpha=0.18, lw=0)
            ax.set_xlabel("training step")
            ax.set_ylabel(label)
            if log and ax.has_data():
                ax.set_yscale("log")
            if not ax.has_data():
                ax.text(0.5, 0.5, f"{key}: not in the curves' metrics\n(--curve-metrics)", ha="center",
                        va="center", transform=ax.transAxes, color="#888888")
            ax.grid(alpha=0.3)
        axes[0, 0].legend(ncol=4, fontsize=8)
        fig.suptitle(f"Learning curves on {data} (mean ± s.e. over seeds, shaded); {len({r['run'] for r in curves})} runs;"
                     " lines at 100 % overlap; MSE below 1e-5 drawn at 1e-5", fontsize=10)
        path = out / "learning_curves.png"
        viz.save_figure(fig, path, dpi=90)
        made.append(path)
    return made


def publish(paths: list[Path], folder: Path, protocol: Protocol, dataset: str, tag: str = "") -> None:
    """The figures as small PNGs (256-colour palette) in `folder`, named <preset>_<figure>.png, or
    <preset>_<dataset>_<figure>.png for a dataset other than the preset's, with _<tag> after that (for RESULTS.md)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    prefix = protocol.preset if dataset == protocol.dataset else f"{protocol.preset}_{dataset}"
    prefix += f"_{tag}" if tag else ""
    for path in paths:
        target = folder / f"{prefix}_{path.name}"
        Image.open(path).convert("RGB").quantize(colors=256).save(target, optimize=True)
        print(f"wrote {target} ({target.stat().st_size // 1024} KiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the study's folder (train/, evaluate/, curves/, tables, figures)")
    parser.add_argument("overrides", nargs="*", help="train overrides, e.g. trainer.max_steps=20000")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="toy",
                        help="toy: experiment=study_toy (2-D data); fmnist: experiment=study_fmnist")
    parser.add_argument("--no-train", action="store_true", help="evaluate OUT/train as it is")
    parser.add_argument("--sweep", type=Path, help="evaluate this trained sweep instead of OUT/train")
    parser.add_argument("--curve-every", type=int, default=1, help="curves: only step-N.ckpt with N a multiple")
    parser.add_argument("--curve-metrics", help="evaluate's metrics= for the curves (default: the protocol's)")
    parser.add_argument("--evaluate", default="", help="evaluate overrides for both, e.g. 'n=500 inference.steps=100'")
    parser.add_argument("--no-curves", action="store_true")
    parser.add_argument("--publish", type=Path, help="also write the figures, small, here (benchmarks/figures)")
    parser.add_argument("--publish-tag", default="", help="a word in the published figures' names, so a second "
                        "study on the same data (e.g. fewer models, longer) keeps the first one's figures")
    parser.add_argument("--report-only", action="store_true",
                        help="no training, no evaluation: the tables and figures from what OUT holds")
    args = parser.parse_intermixed_args(argv)  # options before, between or after the overrides
    protocol = PROTOCOLS[args.protocol]
    out = args.out.resolve()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sweep = args.sweep.resolve() if args.sweep else out / "train"
    if (args.sweep or args.no_train or args.report_only) and not sweep.is_dir():
        raise SystemExit(f"study: {sweep} is not a folder of trained runs: train first (without --no-train, "
                         "--report-only), or name the sweep with --sweep")
    out.mkdir(parents=True, exist_ok=True)  # after the checks: a refused command leaves no empty folder behind
    if not args.sweep and not args.no_train and not args.report_only:
        train(out, protocol, args.overrides)
    if not args.report_only:
        extra = shlex.split(args.evaluate)
        evaluate_final(sweep, out, extra)
        if not args.no_curves:
            evaluate_curves(sweep, out, args.curve_every, args.curve_metrics or protocol.curve_metrics, extra)
    final = read_final(sweep, out, protocol)
    curves = [] if args.no_curves else read_curves(sweep, out, protocol)
    write_csv(out / "runs.csv", final)
    write_csv(out / "curves.csv", curves)
    text = tables(final, curves, protocol)
    (out / "study.md").write_text(text)
    print(text)
    made = figures(final, curves, out, protocol)
    for path in made:
        print(f"wrote {path}")
    if args.publish:
        publish(made, args.publish, protocol, "/".join(sorted({r["dataset"] for r in final})), args.publish_tag)
    print(f"wrote {out / 'study.md'}, {out / 'runs.csv'}, {out / 'curves.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
