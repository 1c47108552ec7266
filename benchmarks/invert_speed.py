"""Inversion speed at equal quality: the seed's one-image-at-a-time loop against latentcli's batched methods.

    python benchmarks/invert_speed.py CKPT [--regressor REG_CKPT] [--split test] [--n 256] [--n-seed 32]

The seed loop, as the seed describes it: for each image on its own, z from the prior, Adam on
||G(z) - x||^2 for 1000 steps (lr 0.01: the seed does not say; see RESULTS.md). Every other method
inverts the first --n images at once, at several budgets (one row each). Two kinds of images: `real`
(the first --n images of --split) and `generated` (G(z) for prior draws z, so an exact answer exists).
MSE is compared on the first --n-seed images, which every method inverts. Times are CPU time (run it with
OMP_NUM_THREADS=1: then CPU time is the time one core spends, whatever else the machine runs); the wall
clock is beside them.

"x at seed MSE": the seed loop's seconds per image over a method's, at the seed loop's MSE: each
method's budgets make a quality-vs-time curve, interpolated (linearly in log MSE) where it crosses the
seed's MSE; blank where no budget reaches it. --regressor: a `latentcli train model=regressor` checkpoint
on CKPT's generator, for the regressor-started methods (its training time is a one-off, not counted).
Prints the tables and writes benchmarks/results/invert_speed.json (--out); the frontier picture of the
same rows: benchmarks/invert_frontier.py.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from latentcli import invert, load_checkpoint
from latentcli.data import build_dataset
from latentcli.files import write_json


def seed_loop(model, x: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """Per-image MSE after `steps` Adam steps on each image alone."""
    for p in model.parameters():
        p.requires_grad_(False)
    losses = []
    for i in range(len(x)):
        target = x[i:i + 1]
        z = torch.randn(1, model.latent_dim, requires_grad=True)
        optimizer = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = (model.generate(z) - target).pow(2).mean()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            losses.append((model.generate(z) - target).pow(2).mean())
    return torch.stack(losses)


def timed(fn):
    """(fn's result, CPU seconds, wall seconds). CPU time is the speed measure: on a shared machine a
    one-thread process's CPU time does not grow with other people's load, its wall-clock time does."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - cpu, time.perf_counter() - wall


# (label, which model inverts: "gen" the checkpoint's own / "reg" the regressor's, method, options, budgets)
METHODS = [
    ("optimize (Adam)", "gen", "optimize", {}, [100, 300]),
    ("hybrid", "gen", "hybrid", {}, [50]),
    ("bfgs from z=0", "gen", "optimize", {"optimizer": "bfgs", "lr": 0.5}, [30, 100]),
    ("regressor", "reg", "encoder", {}, [1]),
    ("fast (regressor + bfgs)", "reg", "fast", {}, [5, 10, 20, 30, 50]),
    ("lm from regressor", "reg", "optimize", {"optimizer": "lm", "init": "encoder"}, [2, 4]),
]


def psnr(mse: torch.Tensor) -> float:
    """Mean PSNR over images in [-1, 1] (peak-to-peak 2), capped at 100 dB as latentcli's recon metric."""
    return float((10 * torch.log10(4 / mse.clamp(min=1e-30))).clamp(max=100).mean())


def run_method(model, x, method, options, steps):
    if method == "encoder":
        return invert(model, x, method=method)
    return invert(model, x, method=method, steps=steps, progress=False, **options)


def speedup_at(rows: list[dict], target: float, seed_ms: float) -> float | None:
    """seed ms per image / this method's ms per image where its quality-vs-time curve first reaches `target`."""
    points = sorted((r["ms_per_image"], r["mse_first"]) for r in rows)
    for i, (ms, mse) in enumerate(points):
        if mse <= target:
            if i == 0:
                return seed_ms / ms
            (ms0, mse0) = points[i - 1]
            if mse0 <= target or mse0 <= 0 or mse <= 0:
                return seed_ms / ms
            f = (math.log(mse0) - math.log(target)) / (math.log(mse0) - math.log(mse))
            return seed_ms / (ms0 + f * (ms - ms0))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt")
    parser.add_argument("--regressor", help="a model=regressor checkpoint on CKPT's generator")
    parser.add_argument("--split", default="test", choices=["train", "test"], help="train: for choosing defaults")
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--n-seed", type=int, default=32)
    parser.add_argument("--seed-steps", type=int, default=1000)
    parser.add_argument("--seed-lr", type=float, default=0.01)
    parser.add_argument("--out", default="benchmarks/results/invert_speed.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    model, ckpt = load_checkpoint(args.ckpt, device="cpu")
    regressor = load_checkpoint(args.regressor, device="cpu")[0] if args.regressor else None
    data = build_dataset(OmegaConf.create(ckpt["config"]["dataset"]))
    with torch.no_grad():
        generated = model.generate(model.sample_latent(args.n, generator=torch.Generator().manual_seed(1)))
    images = {"generated": generated, "real": getattr(data, args.split).subset(args.n).x}
    results = {"ckpt": args.ckpt, "args": vars(args), "threads": torch.get_num_threads(), "kinds": {}}
    for kind, x in images.items():
        seed_mse, cpu, wall = timed(lambda: seed_loop(model, x[:args.n_seed], args.seed_steps, args.seed_lr))
        seed = {"label": "seed loop", "budget": args.seed_steps, "images": args.n_seed,
                "ms_per_image": 1000 * cpu / args.n_seed, "wall_ms_per_image": 1000 * wall / args.n_seed,
                "mse_first": float(seed_mse.mean()),
                "psnr_first": psnr(seed_mse)}
        rows = [seed]
        for label, which, method, options, budgets in METHODS:
            inverter = regressor if which == "reg" else model
            if inverter is None:
                continue
            for steps in budgets:
                result, cpu, wall = timed(lambda: run_method(inverter, x, method, options, steps))
                rows.append({"label": label, "budget": steps, "images": len(x),
                             "ms_per_image": 1000 * cpu / len(x), "wall_ms_per_image": 1000 * wall / len(x),
                             "mse_first": float(result.loss[:args.n_seed].mean()), "mse_all": float(result.loss.mean()),
                             "psnr_first": psnr(result.loss[:args.n_seed].cpu())})
        for row in rows:
            row["images_per_second"] = 1000 / row["ms_per_image"]
            row["speedup"] = seed["ms_per_image"] / row["ms_per_image"]
        for label in dict.fromkeys(r["label"] for r in rows[1:]):
            at = speedup_at([r for r in rows if r["label"] == label], seed["mse_first"], seed["ms_per_image"])
            for r in rows:
                if r["label"] == label:
                    r["speedup_at_seed_mse"] = at
        results["kinds"][kind] = rows
        print_table(kind, rows, args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)


def print_table(kind: str, rows: list[dict], args) -> None:
    print(f"\n{kind} images ({args.split} split for real), {torch.get_num_threads()} thread(s)")
    print(f"| method | steps | images | CPU ms/image | images/s | speed-up | MSE, first {args.n_seed} | MSE, all "
          f"| x at seed MSE | wall ms/image |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        at = r.get("speedup_at_seed_mse")
        print(f"| {r['label']} | {r['budget']} | {r['images']} | {r['ms_per_image']:.1f} | {r['images_per_second']:.2f} "
              f"| {r['speedup']:.0f}x | {r['mse_first']:.5f} | {r.get('mse_all', float('nan')):.5f} "
              f"| {'' if at is None else f'{at:.0f}x'} | {r['wall_ms_per_image']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
