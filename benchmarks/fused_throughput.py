"""Member-steps per second of fused training (hydra/launcher=fused) against separate runs, side by side on this
machine: M runs one after another in one process (one thread), M runs two at a time (two processes, one
thread each: the best use of a 2-core machine without fusing), M members fused in one process (one thread),
and M members as two fused groups of M/2 (two processes, one thread each: what `hydra.launcher.n_jobs=2` does).

    python benchmarks/fused_throughput.py                      # the four set-ups of RESULTS.md's table
    python benchmarks/fused_throughput.py --setups alice_toy --members 10 --steps 200
    python benchmarks/fused_throughput.py --device cuda --steps 300   # on a GPU (benchmarks/gpu_check.sh runs it)

On a GPU the table has two columns of rates, one after another and fused (one process), and a last line
projects PacGAN grid25's 50 runs (5 arms x 10 seeds, 5 fused groups of 10) at the paper's 400,000 steps.

Prints a Markdown table. Every figure is from this run; the time is that of the training loop (the data and
models are built before the clock starts); the fused runs' time includes writing each member's final checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETUPS = {  # name: (overrides, steps per run)
    "alice_toy": (["experiment=paper/alice_toy", "model=alice"], 60),
    "veegan_grid25": (["experiment=paper/veegan_grid25", "model=veegan"], 30),
    "pacgan_grid25": (["experiment=paper/pacgan_grid25"], 100),
    "fmnist_conv_bigan": (["model=bigan", "dataset=fashion_mnist", "batch_size=64"], 15),
    # the overhead-bound case: a small MLP GAN (width 64, depth 3, batch 64)
    "gan_grid25_small": (["model=gan", "dataset=grid25", "model.width=64", "model.depth=3", "batch_size=64"], 300),
}
QUIET = ["trainer.progress=false", "trainer.tensorboard=false", "trainer.sample_every=1000000",
         "trainer.checkpoint_every=1000000", "trainer.log_every=10"]


def worker(setup: str, mode: str, seeds: list[int], steps: int, device: str = "cpu") -> float:
    """Trains the runs of `seeds` (separately or fused) for `steps` steps; returns the loop's seconds."""
    import torch
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from latentcli.config import TrainerConfig, typed
    from latentcli.data import batch_stream, build_dataset
    from latentcli.engine.fused import FusedTrainer, Member
    from latentcli.engine.members import stack_models
    from latentcli.engine.trainer import Trainer
    from latentcli.models import build_model
    from latentcli.paths import config_dir
    from latentcli.tasks.common import seed_everything

    torch.set_num_threads(1)
    overrides, _ = SETUPS[setup]
    with initialize_config_dir(config_dir(), version_base=None):
        cfg = compose("train", overrides=[*overrides, *QUIET, f"trainer.max_steps={steps}", f"trainer.device={device}"])
    trainer_cfg = OmegaConf.to_object(typed(TrainerConfig, cfg.trainer))
    data = build_dataset(cfg.dataset)
    built = []
    for seed in seeds:
        seed_everything(seed)
        built.append((build_model(cfg.model, data.info), torch.get_rng_state()))
    seconds = 0.0
    if mode == "separate":
        for seed, (model, rng) in zip(seeds, built):
            torch.set_rng_state(rng)
            start = time.perf_counter()
            Trainer(trainer_cfg, in_memory=True).fit(model, lambda s, seed=seed: batch_stream(data.train, cfg.batch_size, seed, s))
            synchronize(device)
            seconds += time.perf_counter() - start
        return seconds
    with tempfile.TemporaryDirectory() as folder:
        members = [Member(Path(folder) / str(seed), {"config": {}, "data": {}}, model, rng)
                   for seed, (model, rng) in zip(seeds, built)]

        def batches(start):
            for parts in zip(*[batch_stream(data.train, cfg.batch_size, seed, start) for seed in seeds]):
                yield torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

        fused = stack_models([model for model, _ in built])
        start = time.perf_counter()
        FusedTrainer(trainer_cfg, members).fit(fused, batches)
        synchronize(device)
        return time.perf_counter() - start


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def launch(setup: str, mode: str, seed_lists: list[list[int]], steps: int, device: str = "cpu") -> float:
    """Runs one worker process per seed list at once (one thread each); the slowest one's seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", setup, mode, ",".join(map(str, seeds)), str(steps),
                               device],
                              stdout=subprocess.PIPE, text=True, env=env) for seeds in seed_lists]
    times = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"worker {setup} {mode} failed (exit {proc.returncode})")
        times.append(json.loads(out.strip().splitlines()[-1])["seconds"])
    return max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="steps per run (default: each set-up's own)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (then the table of a GPU, below)")
    parser.add_argument("--gpu-table", action="store_true", help="the GPU's table on any device (a check on the CPU)")
    args = parser.parse_args()
    m = args.members
    seeds = list(range(m))
    if args.device != "cpu" or args.gpu_table:
        gpu_table(args.setups.split(","), seeds, args.steps, args.device)
        return
    halves = [seeds[: m // 2], seeds[m // 2:]]
    print(f"{m} runs per set-up; member-steps per second (higher is better); {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} cores, torch threads 1 per process\n")
    print("| set-up | steps/run | one after another | 2 at a time | fused, 1 process | fused, 2 processes | "
          "fused 1 proc / one after another | fused 2 procs / 2 at a time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for setup in args.setups.split(","):
        steps = args.steps or SETUPS[setup][1]
        work = m * steps
        rates = [work / launch(setup, "separate", [seeds], steps), work / launch(setup, "separate", halves, steps),
                 work / launch(setup, "fused", [seeds], steps), work / launch(setup, "fused", halves, steps)]
        print(f"| {setup} | {steps} | " + " | ".join(f"{r:.0f}" for r in rates) +
              f" | {rates[2] / rates[0]:.1f}x | {rates[3] / rates[1]:.1f}x |", flush=True)


def gpu_table(setups: list[str], seeds: list[int], steps: int | None, device: str) -> None:
    """On a GPU: one run after another against the runs fused, each in a fresh process; then the projection."""
    import torch

    m = len(seeds)
    print(f"{m} runs per set-up on {torch.cuda.get_device_name() if device.startswith('cuda') else device}; "
          f"member-steps per second; {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| set-up | steps/run | one after another | fused | fused / one after another |")
    print("| --- | ---: | ---: | ---: | ---: |")
    fused_rates = {}
    for setup in setups:
        n = steps or SETUPS[setup][1]
        launch(setup, "fused", [seeds[:2]], max(n // 10, 2), device)  # CUDA context, kernels: not timed
        rates = [m * n / launch(setup, mode, [seeds], n, device) for mode in ("separate", "fused")]
        fused_rates[setup] = rates[1]
        print(f"| {setup} | {n} | {rates[0]:.0f} | {rates[1]:.0f} | {rates[1] / rates[0]:.1f}x |", flush=True)
    if "pacgan_grid25" in fused_rates:
        hours = 50 * 400_000 / fused_rates["pacgan_grid25"] / 3600  # member-steps of all 50 runs / fused rate
        print(f"\nprojected: PacGAN grid25's 50 runs ({-(-50 // m)} groups of at most {m}) at 400,000 steps, one group after another: "
              f"{hours * 60:.0f} min ({fused_rates['pacgan_grid25']:.0f} member-steps/s, the GAN arm's rate)")


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        _, _, name, how, seed_text, step_text, device_name = sys.argv
        print(json.dumps({"seconds": worker(name, how, [int(s) for s in seed_text.split(",")], int(step_text),
                                            device_name)}))
    else:
        main()
