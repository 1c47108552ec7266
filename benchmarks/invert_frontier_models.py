"""The inversion frontier for every method on every model: reconstruction PSNR against CPU time per image (Q2).

    python benchmarks/invert_frontier_models.py CKPT [CKPT ...] [--n 64] [--kind real] \
        [--out benchmarks/results/frontier_models]

Each checkpoint inverts the same --n images (`real`: the first --n test images; `generated`: G(z) of prior draws,
its own) with every method of latentcli.invert that applies to it, at the budgets of METHODS (one point each):
the encoder (models with one), `optimize` (Adam from z = 0), `fast` (per-item BFGS from the encoder, else from
z = 0), `optimize` with `optimizer=lm` (Levenberg-Marquardt, same start) and `hybrid` (models with an encoder).
Each method at latentcli's defaults but the budget. Times are CPU time of this process (benchmarks/invert_speed.py's
`timed`: run it with OMP_NUM_THREADS=1); PSNR is the mean over images in [-1, 1] (invert_speed.py's `psnr`).
Prints one Markdown table, writes OUT/frontier_models.json and OUT/frontier_models.png (one panel per model,
one colour per method). benchmarks/invert_speed.py does the same for one checkpoint with the seed loop and a
latent regressor, which this leaves out (it needs a regressor trained per generator).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from invert_speed import psnr, timed  # noqa: E402  (the same clock and PSNR as issue 14's table)

from latentcli import invert, load_checkpoint, viz  # noqa: E402
from latentcli.data import build_dataset  # noqa: E402
from latentcli.errors import UserError  # noqa: E402
from latentcli.files import write_json  # noqa: E402

# (label, method, options, budgets (steps), needs an encoder); "START" in options: the encoder where the model
# has one, else z = 0 (init=prior_mean)
METHODS = [
    ("encoder", "encoder", {}, [None], True),
    ("optimize (Adam from z=0)", "optimize", {}, [50, 200], False),
    ("fast (BFGS per item)", "fast", {"init": "START"}, [10, 30, 100], False),
    ("lm (Levenberg-Marquardt)", "optimize", {"optimizer": "lm", "init": "START"}, [2, 5], False),
    ("hybrid (L-BFGS, In-Domain)", "hybrid", {}, [10, 50], True),
]
COLOURS = {label: f"C{i}" for i, (label, *_rest) in enumerate(METHODS)}


def measure(model, x: torch.Tensor) -> list[dict]:
    """One row per (method, budget) that applies to the model."""
    rows = []
    for label, method, options, budgets, needs_encoder in METHODS:
        if needs_encoder and not model.has_encoder:
            continue
        options = {k: (("encoder" if model.has_encoder else "prior_mean") if v == "START" else v)
                   for k, v in options.items()}
        for steps in budgets:
            extra = {} if steps is None else {"steps": steps, "progress": False}
            result, cpu, wall = timed(lambda: invert(model, x, method=method, **options, **extra))
            start = options.get("init", "encoder" if method in ("encoder", "hybrid") else "prior_mean")
            rows.append({"label": label, "method": method, "start": start, "budget": steps or 1,
                         "steps_run": int(result.steps), "ms_per_image": 1000 * cpu / len(x),
                         "wall_ms_per_image": 1000 * wall / len(x), "mse": float(result.loss.mean()),
                         "psnr": psnr(result.loss.cpu())})
    return rows


def plot(results: list[dict], path: Path, kind: str, n: int) -> None:
    plt = viz.plt
    cols = min(4, len(results) + 1)
    rows_of_panels = -(-(len(results) + 1) // cols)  # one more panel for the legend
    fig, axes = plt.subplots(rows_of_panels, cols, figsize=(3.1 * cols, 2.7 * rows_of_panels), sharex=True,
                             sharey=True, squeeze=False)
    for ax, r in zip(axes.flat, results):
        for label in dict.fromkeys(row["label"] for row in r["rows"]):
            points = sorted((row["ms_per_image"], row["psnr"]) for row in r["rows"] if row["label"] == label)
            ax.plot(*zip(*points), marker="*" if label == "encoder" else "o", markersize=9 if label == "encoder" else 4,
                    color=COLOURS[label], label=label)
        ax.set_xscale("log")
        ax.set_title(f"{r['model']} ({r['step']} steps)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("PSNR dB", fontsize=9)
    for ax in axes[-1, :]:
        ax.set_xlabel("CPU ms per image (log)", fontsize=9)
        ax.xaxis.set_tick_params(labelbottom=True)
    legend = list(axes.flat)[len(results)]
    legend.axis("off")
    handles = [plt.Line2D([], [], color=COLOURS[label], marker="*" if label == "encoder" else "o", label=label)
               for label, *_rest in METHODS]
    legend.legend(handles=handles, loc="center", fontsize=8, frameon=False)
    for ax in list(axes.flat)[len(results) + 1:]:
        ax.axis("off")
    fig.suptitle(f"Inversion of {n} {kind} images: quality against time, every method on every model", fontsize=11)
    viz.save_figure(fig, path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+")
    parser.add_argument("--n", type=int, default=64, help="images inverted per model")
    parser.add_argument("--kind", default="real", choices=["real", "generated"])
    parser.add_argument("--out", default="benchmarks/results/frontier_models")
    args = parser.parse_args()
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    torch.manual_seed(0)
    results, real = [], None
    for path in args.ckpts:
        model, ckpt = load_checkpoint(path, device="cpu")
        if args.kind == "real":
            dataset = ckpt["config"]["dataset"]
            if real is None or real[0] != dataset["name"]:
                real = (dataset["name"], build_dataset(OmegaConf.create(dataset)).test.subset(args.n).x)
            x = real[1]
        else:
            with torch.no_grad():
                x = model.generate(model.sample_latent(args.n, generator=torch.Generator().manual_seed(1)))
        results.append({"ckpt": path, "model": ckpt["config"]["model"]["name"], "step": int(ckpt["step"]),
                        "dataset": ckpt["config"]["dataset"]["name"], "rows": measure(model, x)})
        print(f"{results[-1]['model']}: done", flush=True)

    print(f"\n{args.n} {args.kind} images per model, {torch.get_num_threads()} thread(s); CPU time\n")
    print("| model (steps) | method | start | budget | steps run | CPU ms/image | PSNR dB | MSE | wall ms/image |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        for row in r["rows"]:
            print(f"| {r['model']} ({r['step']}) | {row['label']} | {row['start']} | {row['budget']} | {row['steps_run']} "
                  f"| {row['ms_per_image']:.1f} | {row['psnr']:.2f} | {row['mse']:.4f} | {row['wall_ms_per_image']:.1f} |")
    out = Path(args.out)
    write_json(out / "frontier_models.json", {"args": vars(args), "threads": torch.get_num_threads(), "results": results})
    plot(results, out / "frontier_models.png", args.kind, args.n)
    print(f"\nwrote {out / 'frontier_models.png'} and {out / 'frontier_models.json'}")


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # a wrong checkpoint path or file: one line, not a traceback
        raise SystemExit(f"invert_frontier_models.py: error: {err}")
