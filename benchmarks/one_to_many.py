"""Q2's one-to-many question: do different starts of latent optimisation find the same z for the same x?

    python benchmarks/one_to_many.py CKPT [CKPT ...] [--n 32] [--starts 8] [--out benchmarks/results/one_to_many]

For each checkpoint, --n generated images x = G(z0) (z0 from the prior, so the true latent is known) and --n
real test images are inverted by `inference=fast` (latentcli's own optimiser, at its defaults) from --starts
random prior draws each (`init=random`, one seed per start), and, where the model has one, by its encoder.
Per image, among the starts that reconstruct x equally well ("equivalent": MSE within EQUAL = 1e-3 of the
best start's, below what one sees: PSNR 36 dB on images in [-1, 1], a 0.03 offset on the 2-D mixtures):
- their share of the starts;
- the spread of their latents: the mean distance between two of them, over the mean distance between two
  prior draws (sqrt(2 d) for N(0, I) in d dimensions): 0 = every start found the same z, 1 = as far apart as
  unrelated draws, above 1 = beyond the prior's typical set;
- how typical their latents are: |z| / sqrt(d) (about 1 for prior draws);
- for generated images, the distance of each one's z (and of E(x)) to the true z0, over sqrt(2 d).
A spread near or above 1 among equivalent starts is the one-to-many problem: many z give nearly the same x.
Prints one Markdown table (mean ± s.e. over images) and writes OUT/one_to_many.png (spread against |z|, one
point per image) and OUT/one_to_many.json.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from omegaconf import OmegaConf

from latentcli import invert, load_checkpoint
from latentcli.data import build_dataset
from latentcli.errors import UserError
from latentcli.files import write_json


def mean_se(values: torch.Tensor) -> str:
    values = values.double()[~values.isnan()]
    se = values.std() / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{values.mean():.3g} ± {se:.2g}"


EQUAL = 1e-3  # starts whose MSE is within this of the best start's reconstruct x equally well


def spread_among(zs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """zs [starts, N, d], keep [starts, N] -> [N]: the mean distance between two kept starts' latents, over
    sqrt(2 d); NaN for an image with fewer than two kept starts."""
    starts, n, d = zs.shape
    total, pairs = torch.zeros(n), torch.zeros(n)
    for i in range(starts):
        for j in range(i + 1, starts):
            both = (keep[i] & keep[j]).float()
            total += both * (zs[i] - zs[j]).norm(dim=1)
            pairs += both
    return total / pairs / math.sqrt(2 * d)  # 0 / 0 = NaN where no pair was kept


def study(path: str, n: int, starts: int) -> dict:
    model, ckpt = load_checkpoint(path, device="cpu")
    data = build_dataset(OmegaConf.create(ckpt["config"]["dataset"]))
    z0 = model.sample_latent(n, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        generated = model.generate(z0)
    d = z0.shape[1]
    result = {"ckpt": path, "model": ckpt["config"]["model"]["name"], "dataset": ckpt["config"]["dataset"]["name"],
              "latent_dim": d, "step": int(ckpt["step"]), "kinds": {}}
    for kind, x in (("generated", generated), ("real", data.test.subset(n).x)):
        found = [invert(model, x, method="fast", init="random", seed=k, progress=False) for k in range(starts)]
        zs, mse = torch.stack([f.z for f in found]), torch.stack([f.loss for f in found])  # [starts, N, ...]
        keep = mse <= mse.min(0).values + EQUAL
        kept = keep.float().sum(0)
        row = {"equivalent": kept / starts, "spread": spread_among(zs, keep), "mse_best": mse.min(0).values,
               "norm": (zs.norm(dim=2) / math.sqrt(d) * keep).sum(0) / kept}
        if kind == "generated":
            row["to_true"] = ((zs - z0).norm(dim=2) * keep).sum(0) / kept / math.sqrt(2 * d)
        if model.has_encoder:
            encoded = invert(model, x, method="encoder")
            row["encoder_mse"] = encoded.loss
            if kind == "generated":
                row["encoder_to_true"] = (encoded.z - z0).norm(dim=1) / math.sqrt(2 * d)
        result["kinds"][kind] = {k: v.tolist() for k, v in row.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+")
    parser.add_argument("--n", type=int, default=32, help="images of each kind")
    parser.add_argument("--starts", type=int, default=8, help="random starts per image")
    parser.add_argument("--out", default="benchmarks/results/one_to_many")
    args = parser.parse_args()
    results = [study(path, args.n, args.starts) for path in args.ckpts]

    print(f"{args.n} images of each kind, {args.starts} random starts each, inference=fast at its defaults; "
          "mean ± s.e. over images\n")
    print("| model | data (z dims) | images | best start's MSE | equivalent starts | their spread of z | their |z| / sqrt(d) "
          "| their z to true z0 | E(x) to true z0 | E(x)'s MSE |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        for kind, row in r["kinds"].items():
            cell = {k: mean_se(torch.tensor(v)) for k, v in row.items()}
            print(f"| {r['model']} (step {r['step']}) | {r['dataset']} ({r['latent_dim']}) | {kind} | {cell['mse_best']} "
                  f"| {cell['equivalent']} | {cell['spread']} | {cell['norm']} | {cell.get('to_true', '-')} "
                  f"| {cell.get('encoder_to_true', '-')} | {cell.get('encoder_mse', '-')} |")
    out = Path(args.out)
    write_json(out / "one_to_many.json", {"args": vars(args), "results": results})
    plot(results, out / "one_to_many.png")
    print(f"\nwrote {out / 'one_to_many.png'} and {out / 'one_to_many.json'}")


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, kind in zip(axes, ("generated", "real")):
        for index, r in enumerate(results):
            row = r["kinds"][kind]
            marker = "o" if r["latent_dim"] <= 8 else "^"  # the 2-D mixtures against images
            ax.scatter(row["norm"], row["spread"], s=16, alpha=0.7, marker=marker, color=plt.cm.tab10(index % 10),
                       label=f"{r['model']} / {r['dataset']} (z {r['latent_dim']})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel("|z| / sqrt(d) (prior draws: about 1)")
        ax.set_title(f"{kind} images: one point per image")
    axes[0].set_ylabel("spread of z between equivalent starts\n(1 = as far apart as two prior draws)")
    axes[1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # a wrong checkpoint path or file: one line, not a traceback
        raise SystemExit(f"one_to_many.py: error: {err}")
