"""Inversion speed: the seed's one-image-at-a-time loop against latentcli's batched `optimize` and `hybrid`.

    python benchmarks/invert_speed.py CKPT [--n-seed 32] [--n-batched 1024] [--seed-steps 1000]

The seed loop, as the seed describes it: for each image on its own, z from the prior, Adam on
||G(z) - x||^2 for 1000 steps (lr 0.01: the seed does not say; see RESULTS.md). The batched methods
invert the first --n-batched test images at once; MSE is compared on the first --n-seed images, which
all methods invert. Prints a table and writes benchmarks/results/invert_speed.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from latentcli import invert, load_checkpoint
from latentcli.data import build_dataset
from latentcli.files import write_json


def seed_loop(model, x: torch.Tensor, steps: int, lr: float) -> tuple[torch.Tensor, float]:
    """Per-image MSE after `steps` Adam steps on each image alone, and the seconds it took."""
    for p in model.parameters():
        p.requires_grad_(False)
    losses = []
    start = time.perf_counter()
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
    return torch.stack(losses), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpt")
    parser.add_argument("--n-seed", type=int, default=32)
    parser.add_argument("--n-batched", type=int, default=1024)
    parser.add_argument("--seed-steps", type=int, default=1000)
    parser.add_argument("--seed-lr", type=float, default=0.01)
    parser.add_argument("--out", default="benchmarks/results/invert_speed.json")
    args = parser.parse_args()

    torch.manual_seed(0)
    model, ckpt = load_checkpoint(args.ckpt, device="cpu")
    x = build_dataset(OmegaConf.create(ckpt["config"]["dataset"])).test.subset(args.n_batched).x
    rows = {}
    seed_mse, seconds = seed_loop(model, x[:args.n_seed], args.seed_steps, args.seed_lr)
    rows["seed loop"] = {"images": args.n_seed, "seconds": seconds, "mse_first": float(seed_mse.mean())}
    for method, options in [("optimize", {}), ("hybrid", {})]:
        result = invert(model, x, method=method, progress=False, **options)
        rows[method] = {"images": len(x), "seconds": result.seconds, "steps": result.steps,
                        "mse_first": float(result.loss[:args.n_seed].mean()), "mse_all": float(result.loss.mean())}
    for row in rows.values():
        row["images_per_second"] = row["images"] / row["seconds"]
    base = rows["seed loop"]["images_per_second"]
    print(f"{'method':<10} {'images':>6} {'seconds':>8} {'images/s':>9} {'speed-up':>8} "
          f"{'MSE (first ' + str(args.n_seed) + ')':>16}")
    for name, row in rows.items():
        print(f"{name:<10} {row['images']:>6} {row['seconds']:>8.1f} {row['images_per_second']:>9.2f} "
              f"{row['images_per_second'] / base:>7.0f}x {row['mse_first']:>16.5f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"ckpt": args.ckpt, "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
