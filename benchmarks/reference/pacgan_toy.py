"""GAN / PacGAN-m on grid25 or ring8, re-implemented in bare PyTorch from the PacGAN authors' code.

Source: github.com/fjxmlzn/PacGAN, synthetic_data_experiments/ (2DGrid_GAN&PacGAN/config.py and
pacgan_task.py, PacGAN/pacgan/{bricks,datasets,extensions}.py) and the ALI library it builds on.
No latentcli import: this is the independent reference that latentcli's `paper/pacgan_*` presets are
compared against. See benchmarks/reference/README.md for what differs from the Theano original.

    python benchmarks/reference/pacgan_toy.py --dataset grid25 --pack 2 --seed 0 --steps 10000 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch
from torch import nn

N_TRAIN = 100_000  # config.py "num_sample"
BATCH = 100  # packed rows per batch (config.py "batch_size")
N_EVAL = 2_500  # config.py "num_log_figure_sample"
EVAL_Z_SEED = 2333  # extensions.py GraphLogger: one fixed z set, the same for every run


def mixture(dataset: str) -> tuple[np.ndarray, float]:
    """Mode centres and the per-coordinate standard deviation (config.py MEANS / VARIANCES)."""
    if dataset == "grid25":
        return np.array(list(itertools.product(range(-4, 5, 2), range(-4, 5, 2))), dtype=np.float64), 0.05
    if dataset == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], 1), 0.01
    raise ValueError(dataset)


def packed_train_set(means: np.ndarray, std: float, pack: int, rng: np.random.RandomState) -> np.ndarray:
    """datasets.py GaussianPackingMixture: N points, then per slot an independent resample with replacement,
    the slots side by side, so one row holds `pack` real points."""
    labels = rng.randint(len(means), size=N_TRAIN)
    points = means[labels] + std * rng.normal(size=(N_TRAIN, 2))
    slots = [points[rng.randint(N_TRAIN, size=N_TRAIN)] for _ in range(pack)]
    return np.hstack(slots).astype(np.float32)


class Maxout(nn.Module):
    """blocks LinearMaxout: a linear map to units*pieces, then the max over each consecutive group of pieces."""

    def __init__(self, n_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(n_in, units * pieces)

    def forward(self, h):
        return self.linear(h).view(-1, self.units, self.pieces).max(-1).values


def generator() -> nn.Sequential:
    """pacgan_task.py decoder: 4 x (Linear without bias, BN, ReLU) of 400, then a biased linear output."""
    layers, width = [], 2
    for _ in range(4):
        # blocks' BatchNormalization epsilon is 1e-4; momentum is handled by hand (see generate_packed)
        layers += [nn.Linear(width, 400, bias=False), nn.BatchNorm1d(400, eps=1e-4, momentum=1.0), nn.ReLU()]
        width = 400
    layers.append(nn.Linear(width, 2))
    return nn.Sequential(*layers)


def discriminator(pack: int) -> nn.Sequential:
    """pacgan_task.py discriminator: 3 LinearMaxout layers of 200 units x 5 pieces, then a linear logit."""
    return nn.Sequential(Maxout(2 * pack, 200, 5), Maxout(200, 200, 5), Maxout(200, 200, 5), nn.Linear(200, 1))


def init_weights(module: nn.Module) -> None:
    """IsotropicGaussian(0.02) weights and zero biases everywhere (config.py); BN scale 1, shift 0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def generate_packed(G: nn.Sequential, zs: list[torch.Tensor]):
    """bricks.py compute_losses: G runs once per packing slot (so BN batch statistics are per slot), the
    outputs side by side. Returns the packed fakes and a function that moves the population statistics
    5 % towards the slots' mean estimate (pacgan_task.py lines 129-149), to be called after the backward
    pass (BN momentum 1.0 makes each call leave its batch estimate in running_mean/var)."""
    bns = [m for m in G if isinstance(m, nn.BatchNorm1d)]
    old = [(b.running_mean.clone(), b.running_var.clone()) for b in bns]
    means = [torch.zeros_like(b.running_mean) for b in bns]
    variances = [torch.zeros_like(b.running_var) for b in bns]
    outs = []
    for z in zs:
        outs.append(G(z))
        for b, mu, var in zip(bns, means, variances):
            mu += b.running_mean / len(zs)
            var += b.running_var / len(zs)

    def update_population_statistics() -> None:
        with torch.no_grad():
            for b, (old_mu, old_var), mu, var in zip(bns, old, means, variances):
                b.running_mean.copy_(0.95 * old_mu + 0.05 * mu)
                b.running_var.copy_(0.95 * old_var + 0.05 * var)

    return torch.cat(outs, 1), update_population_statistics


def evaluate(samples: np.ndarray, means: np.ndarray, std: float) -> dict:
    """extensions.py MetricLogger: nearest mode in std units; high quality if closer than 3 std; a mode is
    covered with >= 1 high-quality sample. Reverse KL (not in the code; the paper's): KL(p || uniform) of the
    high-quality samples' mode histogram = log(K) - its entropy, natural log, no smoothing."""
    dist = np.sqrt((((samples[:, None, :] - means[None]) / std) ** 2).sum(-1))
    nearest, closest = dist.argmin(1), dist.min(1)
    counts = np.bincount(nearest[closest < 3], minlength=len(means))
    n_hq = int(counts.sum())
    p = counts[counts > 0] / max(n_hq, 1)
    reverse_kl = float((p * np.log(p * len(means))).sum()) if n_hq else float("nan")
    return {"modes": int((counts > 0).sum()), "high_quality": n_hq / len(samples), "reverse_kl": reverse_kl,
            "mode_counts": counts.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["grid25", "ring8"], default="grid25")
    parser.add_argument("--pack", type=int, default=1, help="samples per discriminator input; 1 is the plain GAN")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=400_000, help="PacGAN: 400 epochs x 1000 = 400,000")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="append one JSON line of results to this file")
    parser.add_argument("--beta1", type=float, default=0.8,
                        help="PyTorch's Adam beta1; 0.2 is the other reading of config.py's 0.8 (see below)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.RandomState(args.seed)
    device = torch.device(args.device)
    means, std = mixture(args.dataset)
    data = torch.from_numpy(packed_train_set(means, std, args.pack, rng)).to(device)
    eval_z = torch.from_numpy(np.random.RandomState(EVAL_Z_SEED).normal(size=(N_EVAL, 2)).astype(np.float32))

    G, D = generator().to(device), discriminator(args.pack).to(device)
    G.apply(init_weights)
    D.apply(init_weights)
    # config.py says Adam(lr 1e-4, beta1 0.8). Blocks weighted the NEW gradient by beta1 until its commit
    # aa064519 (2017-01-24), then switched to the standard convention; PacGAN's code is from late 2017, so the
    # default reads 0.8 as PyTorch's beta1, as latentcli's preset does. --beta1 0.2 is the old-Blocks reading.
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(args.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(args.beta1, 0.999))
    softplus = nn.functional.softplus

    start = time.time()
    order = torch.empty(0, dtype=torch.long)
    batches_per_epoch = N_TRAIN // BATCH
    for step in range(args.steps):
        if step % batches_per_epoch == 0:  # fuel ShuffledScheme: a new permutation each epoch
            order = torch.randperm(N_TRAIN)
        x = data[order[(step % batches_per_epoch) * BATCH:(step % batches_per_epoch + 1) * BATCH].to(device)]
        zs = [torch.randn(BATCH, 2).to(device) for _ in range(args.pack)]
        fake, update_population_statistics = generate_packed(G, zs)
        logits = D(torch.cat([x, fake], 0)).squeeze(1)
        real_logit, fake_logit = logits[:BATCH], logits[BATCH:]
        d_loss = (softplus(-real_logit) + softplus(fake_logit)).mean()
        g_loss = (softplus(real_logit) + softplus(-fake_logit)).mean()
        # ali_algorithm: both gradients at the same parameters, then both updates (simultaneous, not alternating)
        d_grads = torch.autograd.grad(d_loss, list(D.parameters()), retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, list(G.parameters()))
        update_population_statistics()
        for p, g in zip(D.parameters(), d_grads):
            p.grad = g
        for p, g in zip(G.parameters(), g_grads):
            p.grad = g
        opt_d.step()
        opt_g.step()
    seconds = time.time() - start

    G.eval()
    with torch.no_grad():
        samples = G(eval_z.to(device)).cpu().double().numpy()
    metrics = evaluate(samples, means, std)
    record = {"script": "pacgan_toy", "config": f"{args.dataset} pack={args.pack} beta1={args.beta1:g} steps={args.steps}",
              "args": vars(args), "seed": args.seed, "steps": args.steps, "seconds": round(seconds, 2),
              "steps_per_s": round(args.steps / max(seconds, 1e-9), 2), "metrics": metrics}
    print(f"{args.steps / max(seconds, 1e-9):.1f} steps/s; modes {metrics['modes']}, "
          f"high quality {100 * metrics['high_quality']:.1f} %, reverse KL {metrics['reverse_kl']:.3f}")
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
