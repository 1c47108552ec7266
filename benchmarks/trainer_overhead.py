"""Training-loop overhead: latentcli's Trainer against a bare hand-written PyTorch loop, on the same model,
the same batches and the same number of steps (CPU, one process).

    python benchmarks/trainer_overhead.py [--model bigan] [--dataset digits] [--steps 500] [--repeats 3]

The bare loop does only what any loop must: fetch the batch, and for each of the model's losses
zero_grad / backward / step. The Trainer adds logging, the progress bar (off here, as in a batch job),
NaN checks, EMA and checkpoint hooks (off). Prints steps/s of each and the overhead in percent, best
of --repeats runs each.
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra import compose, initialize_config_dir

from latentcli.cli import config_dir
from latentcli.data import batch_stream, build_dataset
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.models import build_model


def fresh(cfg, data):
    torch.manual_seed(0)
    return build_model(cfg.model, data.info)


def bare_loop(model, data, batch_size: int, steps: int) -> float:
    optimizers = model.optimizers()
    batches = batch_stream(data.train, batch_size, 0)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        for name, loss, _ in model.losses(next(batches)):
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            optimizers[name].step()
    return time.perf_counter() - start


def trainer_loop(model, data, batch_size: int, steps: int) -> float:
    cfg = TrainerConfig(max_steps=steps, device="cpu", progress=False, tensorboard=False)
    result = Trainer(cfg, in_memory=True).fit(model, lambda start: batch_stream(data.train, batch_size, 0, start))
    return result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bigan")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with initialize_config_dir(config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={args.model}", f"dataset={args.dataset}"])
    data = build_dataset(cfg.dataset)
    times = {"bare loop": [], "Trainer": []}
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both alike
        times["bare loop"].append(bare_loop(fresh(cfg, data), data, cfg.batch_size, args.steps))
        times["Trainer"].append(trainer_loop(fresh(cfg, data), data, cfg.batch_size, args.steps))
    best = {name: min(t) for name, t in times.items()}
    for name, seconds in best.items():
        print(f"{name:<10} {args.steps / seconds:8.1f} steps/s  (best of {args.repeats}: {seconds:.2f} s)")
    print(f"overhead   {100 * (best['Trainer'] / best['bare loop'] - 1):+.1f} %  "
          f"({args.model} on {args.dataset}, batch {cfg.batch_size}, {args.steps} steps)")


if __name__ == "__main__":
    main()
