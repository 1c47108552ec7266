"""`inference=fast` from every start latentcli offers, against the per-image seed loop (issue 22, item 5).

    python benchmarks/invert_fast_starts.py --bigan BIGAN_CKPT --gan GAN_CKPT --regressor REG_CKPT \
        [--split test] [--n 64] [--n-seed 16] [--set steps=500,tol=1e-4 ...]

Three starts: the BiGAN's own encoder (--bigan, `inference=fast`), a latent regressor trained on a plain GAN's
generator (--regressor, `invert ckpt=<regressor> inference=fast`) and z = 0 on that GAN, which has neither
(--gan, `inference=fast inference.init=prior_mean`). Two kinds of images each: `generated` (G(z) for prior draws,
so an exact answer exists; other draws for --split train than for test) and `real` (the first --n images of
--split). The seed loop (benchmarks/invert_speed.py: each image alone, Adam on ||G(z) - x||^2 for 1000 steps,
lr 0.01, from a prior draw) inverts the first --n-seed images; `fast` inverts all --n at once, and MSE is compared
on the first --n-seed. `fast` runs at its defaults (latentcli/config/inference.py, FastConfig) and, with each
--set, at those options on top (for choosing the defaults: run that on --split train). Times are CPU time of this
process (run it with OMP_NUM_THREADS=1); the wall clock is beside them. Prints one Markdown table and writes
benchmarks/results/invert_fast_starts.json (--out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from invert_speed import seed_loop, timed  # noqa: E402  (the same seed loop as issue 14's table)

from latentcli import invert, load_checkpoint  # noqa: E402
from latentcli.config.inference import FastConfig  # noqa: E402
from latentcli.data import build_dataset  # noqa: E402
from latentcli.files import write_json  # noqa: E402


def parse_set(text: str) -> dict:
    """'steps=500,tol=1e-4' -> {'steps': 500, 'tol': 0.0001}."""
    options = {}
    for part in text.split(","):
        key, value = part.split("=")
        options[key] = int(value) if key in ("steps", "patience", "batch_size") else float(value)
    return options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bigan", required=True, help="a model=bigan checkpoint (the encoder's start)")
    parser.add_argument("--gan", required=True, help="a model=gan checkpoint (the z = 0 start)")
    parser.add_argument("--regressor", required=True, help="a model=regressor checkpoint on --gan's generator")
    parser.add_argument("--split", default="test", choices=["train", "test"], help="train: for choosing defaults")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--n-seed", type=int, default=16)
    parser.add_argument("--seed-steps", type=int, default=1000)
    parser.add_argument("--seed-lr", type=float, default=0.01)
    parser.add_argument("--set", action="append", default=[], type=parse_set, help="fast's options to try too")
    parser.add_argument("--starts", default="encoder,regressor,zero")
    parser.add_argument("--seeds", help="an earlier run's JSON (--out): its seed-loop rows instead of running it again")
    parser.add_argument("--out", default="benchmarks/results/invert_fast_starts.json")
    args = parser.parse_args()

    defaults = FastConfig()
    chosen = args.starts.split(",")
    bigan, bigan_ckpt = load_checkpoint(args.bigan, device="cpu")
    gan = load_checkpoint(args.gan, device="cpu")[0]
    regressor = load_checkpoint(args.regressor, device="cpu")[0] if "regressor" in chosen else None
    # (label, the model fast inverts with, the model whose generator the seed loop inverts, fast's extra options)
    starts = {"encoder": ("BiGAN encoder", bigan, bigan, {}),
              "regressor": ("latent regressor (GAN)", regressor, gan, {}),
              "zero": ("z = 0 (GAN)", gan, gan, {"init": "prior_mean"})}
    data = build_dataset(OmegaConf.create(bigan_ckpt["config"]["dataset"]))
    real = getattr(data, args.split).subset(args.n).x
    draws = torch.Generator().manual_seed(1 if args.split == "test" else 1001)
    z_draw = gan.sample_latent(args.n, generator=draws)
    if regressor is not None:
        with torch.no_grad():
            if not torch.allclose(regressor.generate(z_draw[:4]), gan.generate(z_draw[:4])):
                raise SystemExit("--regressor was not trained on --gan's generator")

    # --seeds FILE: the seed loop's rows of an earlier run with the same checkpoints (for trying options quickly)
    seeds: dict = json.loads(Path(args.seeds).read_text())["seeds"] if args.seeds else {}
    rows = []
    settings = [("defaults", {})] + [(",".join(f"{k}={v:g}" for k, v in s.items()), s) for s in args.set]
    print(f"fast's defaults: steps={defaults.steps} tol={defaults.tol:g} lr={defaults.lr:g} patience={defaults.patience}"
          f"; {args.split} split, {torch.get_num_threads()} thread(s), {args.n} images ({args.n_seed} for the seed loop)")
    print("| start | images | method | CPU ms/image | images/s | MSE, first n-seed | MSE / seed loop's | steps "
          "| wall ms/image |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for start in chosen:
        label, model, generator_model, extra = starts[start]
        with torch.no_grad():
            generated = generator_model.generate(z_draw)
        for kind, x in (("generated", generated), ("real", real)):
            key = f"{'bigan' if generator_model is bigan else 'gan'}/{kind}/{args.split}/{args.n_seed}/{args.seed_steps}"
            if key not in seeds:
                torch.manual_seed(0)
                mse, cpu, wall = timed(lambda: seed_loop(generator_model, x[:args.n_seed], args.seed_steps, args.seed_lr))
                seeds[key] = {"mse": float(mse.mean()), "ms": 1000 * cpu / args.n_seed, "wall_ms": 1000 * wall / args.n_seed}
            seed = seeds[key]
            row = {"start": start, "kind": kind, "method": f"seed loop (Adam {args.seed_steps}, per image)",
                   "ms_per_image": seed["ms"], "wall_ms_per_image": seed["wall_ms"], "mse_first": seed["mse"],
                   "ratio": 1.0, "steps": args.seed_steps}
            rows.append(row)
            report(label, kind, row)
            for name, options in settings:
                result, cpu, wall = timed(lambda: invert(model, x, method="fast", progress=False, **extra, **options))
                mse = float(result.loss[:args.n_seed].mean())
                row = {"start": start, "kind": kind, "method": f"fast ({name})", "options": options,
                       "ms_per_image": 1000 * cpu / len(x), "wall_ms_per_image": 1000 * wall / len(x),
                       "mse_first": mse, "mse_all": float(result.loss.mean()),
                       "ratio": mse / max(seed["mse"], 1e-30), "steps": result.steps}
                rows.append(row)
                report(label, kind, row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, {"args": {k: v for k, v in vars(args).items() if k != "set"}, "sets": args.set,
                          "threads": torch.get_num_threads(), "seeds": seeds, "rows": rows})


def report(label: str, kind: str, r: dict) -> None:
    print(f"| {label} | {kind} | {r['method']} | {r['ms_per_image']:.1f} | {1000 / r['ms_per_image']:.2f} "
          f"| {r['mse_first']:.5f} | {r['ratio']:.2f} | {r['steps']} | {r['wall_ms_per_image']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
