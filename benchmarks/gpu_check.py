"""Helpers of benchmarks/gpu_check.sh: the throughput table and a bitwise checkpoint comparison.

    python benchmarks/gpu_check.py throughput --device cuda --runs digits:bigan:bf16 ... \
        [--cpu-runs digits:bigan:32 ...] --out table.md
    python benchmarks/gpu_check.py same A.ckpt B.ckpt      # exit 1 unless model, optimisers, EMA are equal

A run is DATASET:MODEL:PRECISION[:compile-MODE][:channels_last]. Each trains through the one Trainer,
with the model and dataset configs of `latentcli train` (composed by Hydra), in this process; steps/s
is timed over `--steps` steps after `--warmup` steps (CUDA context, cuDNN autotuning, compilation),
with the device synchronised at both ends.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from latentcli.cli import config_dir
from latentcli.data import batch_stream, build_dataset
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.files import write_text
from latentcli.models import build_model
from latentcli.tasks.common import seed_everything


def steps_per_second(run: str, device: str, warmup: int, steps: int) -> float:
    dataset, model, precision, *options = run.split(":")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", f"dataset={dataset}"])
    seed_everything(0)
    data = build_dataset(cfg.dataset)
    net = build_model(cfg.model, data.info)
    compile_mode = next((o.split("-", 1)[1] for o in options if o.startswith("compile-")), None)
    trainer_cfg = TrainerConfig(max_steps=warmup + steps, device=device, precision=precision, progress=False,
                                tensorboard=False, compile=compile_mode is not None,
                                compile_mode=compile_mode or "default", channels_last="channels_last" in options,
                                sample_every=warmup if warmup else steps)
    times: dict[int, float] = {}

    def clock(step: int) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times[step] = time.perf_counter()

    times[0] = time.perf_counter()
    Trainer(trainer_cfg, in_memory=True, on_periodic=clock).fit(net, lambda s: batch_stream(data.train, cfg.batch_size, 0, s))
    return steps / (times[warmup + steps] - times[warmup])


def throughput(args) -> None:
    runs = [(args.device, run) for run in args.runs] + [("cpu", run) for run in args.cpu_runs or []]
    rates: dict[tuple[str, str], dict[str, float]] = {}  # (dataset, model) -> {column: steps/s}
    for device, run in runs:
        started = time.perf_counter()
        rate = steps_per_second(run, device, args.warmup, args.steps)
        dataset, model, precision, *options = run.split(":")
        column = " ".join([device, "fp32" if precision == "32" else precision, *options])
        rates.setdefault((dataset, model), {})[column] = rate
        seconds = time.perf_counter() - started
        print(f"{device} {run}: {rate:.1f} steps/s ({seconds:.1f} s with warm-up)", flush=True)
    columns = list(dict.fromkeys(c for row in rates.values() for c in row))
    device_name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    lines = [
        f"Training steps per second ({args.steps} steps timed after {args.warmup} warm-up steps; batch size of "
        f"each dataset's config; torch {torch.__version__}; GPU: {device_name}; "
        f"CPU: {torch.get_num_threads()} threads).",
        "",
        "| dataset | model | " + " | ".join(columns) + " |",
        "| --- | --- |" + " ---: |" * len(columns),
    ]
    for (dataset, model), row in rates.items():
        lines.append(f"| {dataset} | {model} | " + " | ".join(f"{row[c]:.1f}" if c in row else "" for c in columns) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    write_text(Path(args.out), table)


def same(args) -> None:
    a, b = ckpt_io.load(args.a), ckpt_io.load(args.b)
    differ = [key for key in ("step", "model", "optimizers", "ema") if not _equal(a[key], b[key])]
    if differ:
        print(f"DIFFERENT ({', '.join(differ)}): {args.a} vs {args.b}")
        sys.exit(1)
    print(f"bitwise equal at step {a['step']}: {args.a} vs {args.b}")


def _equal(x, y) -> bool:
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(map(_equal, x, y))
    return x == y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("throughput")
    t.add_argument("--device", default="cuda")
    t.add_argument("--runs", nargs="+", required=True)
    t.add_argument("--cpu-runs", nargs="*", help="runs on the CPU too, for comparison")
    t.add_argument("--warmup", type=int, default=20)
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--out", required=True)
    t.set_defaults(func=throughput)
    s = commands.add_parser("same")
    s.add_argument("a")
    s.add_argument("b")
    s.set_defaults(func=same)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
