"""Interpolation and latent arithmetic made from inferred latents, side by side across models (issue 23).

    python benchmarks/edits_across_models.py CKPT [CKPT ...] [--n 300] [--pairs 3] [--steps 8] [--mode slerp]
        [--a 9 --b 7] [--arith-n 8] [--out benchmarks/results/edits]

Every checkpoint (all of one image dataset) inverts the same first --n test images: by its own encoder where it
has one, else by `inference=fast` from z = 0 (`init=prior_mean`; latentcli's defaults otherwise). From those
latents, latentcli's own edits (latentcli.editing, what `latentcli invert edit=...` draws for one model):
- OUT/edits_interpolate.png: one block of rows per model, one row per pair (test items 0-1, 2-3, ...): the real
  input a, the --steps pictures of the walk G(z) from z(a) to z(b) (ends included: the reconstructions), input b;
- OUT/edits_arithmetic.png: the first --arith-n test items of class --b (one row, shared), then per model their
  reconstructions G(z) and G(z + mean z[class a] - mean z[class b]), the class means over the --n inverted items.
Prints each model's inversion method and reconstruction MSE, and writes OUT/edits.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from omegaconf import OmegaConf

from latentcli import editing, invert, load_checkpoint, viz
from latentcli.data import build_dataset
from latentcli.errors import UserError
from latentcli.files import write_json


def load_all(paths: list[str]) -> list[dict]:
    """Each checkpoint's model, name and step; refuses a set that is not all of one image dataset."""
    models = []
    for path in paths:
        model, ckpt = load_checkpoint(path, device="cpu")
        models.append({"path": path, "model": model, "name": ckpt["config"]["model"]["name"], "step": int(ckpt["step"]),
                       "dataset": ckpt["config"]["dataset"], "shape": tuple(model.info.shape), "kind": model.info.kind})
    first = models[0]
    for m in models:
        if m["kind"] != "image":
            raise UserError(f"{m['path']} generates points; the edits are pictures of images")
        if (m["dataset"]["name"], m["shape"]) != (first["dataset"]["name"], first["shape"]):
            raise UserError(f"{m['path']} is of {m['dataset']['name']} {m['shape']}, {first['path']} of "
                            f"{first['dataset']['name']} {first['shape']}: give checkpoints of one dataset")
    return models


def inverted(model, x: torch.Tensor):
    """(latents, reconstruction MSE per item, method): the encoder where the model has one, else fast from z = 0."""
    if model.has_encoder:
        result = invert(model, x, method="encoder")
        return result.z, result.loss, "encoder"
    result = invert(model, x, method="fast", init="prior_mean", progress=False)
    return result.z, result.loss, "fast"


def label(m: dict) -> str:
    return f"{m['name']} ({m['method']})"


def interpolation_rows(models: list[dict], x: torch.Tensor, pairs: int, steps: int, mode: str):
    """(pictures, row labels): per model, per pair, [input a, the walk's steps pictures, input b]."""
    pictures, labels = [], []
    for m in models:
        with torch.no_grad():
            walks = m["model"].generate(editing.interpolation_latents(m["z"], pairs, steps, mode))
        for p, walk in enumerate(walks.view(pairs, steps, *x.shape[1:])):
            pictures += [x[2 * p:2 * p + 1], walk, x[2 * p + 1:2 * p + 2]]
            labels.append(f"{label(m)}, pair {p + 1}")
    return torch.cat(pictures), labels


def arithmetic_rows(models: list[dict], x: torch.Tensor, labels: torch.Tensor, a: int, b: int, n: int):
    """(pictures, row labels): the chosen inputs of class b, then per model G(z) and the edited G(z + direction)."""
    rows, names = [], []
    for m in models:
        chosen, edited = editing.arithmetic_latents(m["z"], labels, a, b, n)
        if not rows:
            rows.append(x[chosen])
            names.append(f"input, class {b}")
        with torch.no_grad():
            rows += [m["model"].generate(m["z"][chosen]), m["model"].generate(edited)]
        names += [f"{label(m)}: G(z)", f"+ mean z[{a}] - mean z[{b}]"]
    return torch.cat(rows), names, len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ckpts", nargs="+")
    parser.add_argument("--n", type=int, default=300, help="test images inverted (the class means use all of them)")
    parser.add_argument("--pairs", type=int, default=3, help="interpolation walks per model (test items 0-1, 2-3, ...)")
    parser.add_argument("--steps", type=int, default=8, help="pictures per walk, both ends included")
    parser.add_argument("--mode", default="slerp", choices=["linear", "slerp"])
    parser.add_argument("--a", type=int, default=9, help="arithmetic: the class whose mean latent is added")
    parser.add_argument("--b", type=int, default=7, help="arithmetic: the class edited, whose mean latent is taken off")
    parser.add_argument("--arith-n", type=int, default=8, help="items of class b shown")
    parser.add_argument("--out", default="benchmarks/results/edits")
    args = parser.parse_args()
    if args.n < 2 * args.pairs or args.pairs < 1 or args.steps < 2 or args.arith_n < 1:
        raise UserError(f"need --pairs >= 1, --steps >= 2, --arith-n >= 1 and --n >= 2 x --pairs ({2 * args.pairs}); "
                        f"got --n {args.n} --pairs {args.pairs} --steps {args.steps} --arith-n {args.arith_n}")
    models = load_all(args.ckpts)
    data = build_dataset(OmegaConf.create(models[0]["dataset"]))
    test = data.test.subset(args.n)
    x, labels = test.x, test.y
    present = sorted(set(labels.tolist()) - {-1})
    for name, value in (("--a", args.a), ("--b", args.b)):
        if value not in present:  # before the inversions, which can take minutes
            raise UserError(f"{name} {value} is not a class of the first {len(x)} test images; they have {present}")
    print(f"{len(x)} test images of {models[0]['dataset']['name']}; reconstruction MSE of each model's inversion:")
    for m in models:
        m["z"], loss, m["method"] = inverted(m["model"], x)
        m["mse"] = float(loss.mean())
        print(f"  {m['name']} (step {m['step']}, {m['method']}): MSE {m['mse']:.4f}")
    out = Path(args.out)
    pictures, row_labels = interpolation_rows(models, x, args.pairs, args.steps, args.mode)
    viz.save_image_grid(pictures, out / "edits_interpolate.png", nrow=args.steps + 2, row_labels=row_labels,
                        title=f"{args.mode} walks between inferred latents: input a | G(walk) | input b")
    pictures, row_labels, shown = arithmetic_rows(models, x, labels, args.a, args.b, args.arith_n)
    viz.save_image_grid(pictures, out / "edits_arithmetic.png", nrow=shown, row_labels=row_labels,
                        title=f"class {args.b} moved by mean z[{args.a}] - mean z[{args.b}] of {len(x)} inferred latents")
    write_json(out / "edits.json", {"args": vars(args), "models": [
        {k: m[k] for k in ("path", "name", "step", "method", "mse")} for m in models]})
    print(f"wrote {out / 'edits_interpolate.png'}, {out / 'edits_arithmetic.png'} and {out / 'edits.json'}")


if __name__ == "__main__":
    try:
        main()
    except UserError as err:  # a wrong checkpoint, a mixed set or a class the images lack: one line
        raise SystemExit(f"edits_across_models.py: error: {err}")
