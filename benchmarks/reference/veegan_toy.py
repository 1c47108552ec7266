"""VEEGAN (and its GAN baseline) on grid25 / ring8, in bare PyTorch from the VEEGAN authors' 2-D notebook.

Source: github.com/akashgit/VEEGAN VEEGAN_2D_RING.ipynb. Its blob is missing from the stored snapshot, so
this follows two third-party exports of that notebook found in public code (TF1 scripts keeping its
`params`, networks, losses and evaluation cell verbatim); see README.md for what is unverified.
No latentcli import.

The notebook's names are swapped: its "inference_network" is the generator (noise -> data) and its
"generative_network" the reconstructor F (data -> noise); here they are called G and F.

`--model gan` is Table 1's GAN row, which the notebook does not hold: the same G and D (D sees x alone, one
hidden layer), the same optimiser, batch and simultaneous updates, and no reconstructor. Its generator loss is
not public, so `--generator-loss` picks one of three readings: `ns` (non-saturating, -log sigmoid of "real";
latentcli's `loss=ns`), `minimax` (the paper's and project page's equation, log sigmoid of "fake") or `logit`
(the notebook's VEEGAN loss with the reconstructor term removed: the raw logit of "fake").
`--model ali` is the ALI row, also not in the notebook: G and D(z, x) as VEEGAN's, and in F's place a Gaussian
encoder q(z | x) (2 x 128 ReLU to a mean and a log-variance, reparameterised; latentcli's ALI), trained with G on
the non-saturating loss with swapped labels, and no reconstruction term.

    python benchmarks/reference/veegan_toy.py --dataset grid25 --seed 0 --steps 100000 --out runs.jsonl
    python benchmarks/reference/veegan_toy.py --model gan --generator-loss ns --seed 0 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time

import numpy as np
import torch
from torch import nn

BATCH, NOISE_DIM, EPS_DIM, HIDDEN = 500, 254, 1, 128  # the notebook's params
N_EVAL = 2_500  # 5 x 500 generator samples
# the GAN row's generator loss on D's logit (label 1: generated), per reading of it
GAN_GENERATOR_LOSSES = {
    "ns": nn.functional.softplus,  # -log(1 - sigmoid): G's samples called data
    "minimax": lambda logit: -nn.functional.softplus(-logit),  # log sigmoid: minus D's own loss on G's samples
    "logit": lambda logit: logit,  # the notebook's VEEGAN loss less its reconstruction term
}


def mixture(dataset: str) -> tuple[np.ndarray, float]:
    """grid25 as the notebook (std 0.05 per coordinate); ring8 as PacGAN's (radius 1, std 0.01), unverified."""
    if dataset == "grid25":
        return np.array(list(itertools.product(range(-4, 5, 2), range(-4, 5, 2))), dtype=np.float64), 0.05
    if dataset == "ring8":
        angles = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angles), np.sin(angles)], 1), 0.01
    raise ValueError(dataset)


def mlp(sizes: list[int]) -> nn.Sequential:
    """slim.fully_connected layers: ReLU between, linear output, Xavier-uniform weights, zero biases."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        layers += [linear] if i == len(sizes) - 2 else [linear, nn.ReLU()]
    return nn.Sequential(*layers)


def evaluate(samples: np.ndarray, means: np.ndarray, std: float) -> dict:
    """The notebook's evaluation cell: nearest centre by Euclidean distance, high quality within 3 std
    (0.15 on the grid), modes = distinct centres among high-quality samples. Reverse KL as PacGAN's."""
    dist = np.sqrt(((samples[:, None, :] - means[None]) ** 2).sum(-1))
    nearest, closest = dist.argmin(1), dist.min(1)
    counts = np.bincount(nearest[closest <= 3 * std], minlength=len(means))
    n_hq = int(counts.sum())
    p = counts[counts > 0] / max(n_hq, 1)
    reverse_kl = float((p * np.log(p * len(means))).sum()) if n_hq else float("nan")
    return {"modes": int((counts > 0).sum()), "high_quality": n_hq / len(samples), "reverse_kl": reverse_kl,
            "mode_counts": counts.tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["grid25", "ring8"], default="grid25")
    parser.add_argument("--model", choices=["veegan", "gan", "ali"], default="veegan")
    parser.add_argument("--generator-loss", choices=sorted(GAN_GENERATOR_LOSSES),
                        help="--model gan only (default ns): the reading of the GAN row's generator loss (see the docstring)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=100_000, help="the notebook: 100 epochs x 1000 iterations")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="append one JSON line of results to this file")
    args = parser.parse_args()
    if args.model != "gan" and args.generator_loss:
        parser.error(f"--generator-loss applies to --model gan only, not to --model {args.model}")
    args.generator_loss = args.generator_loss or ("ns" if args.model == "gan" else None)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    means, std = mixture(args.dataset)
    means_t = torch.from_numpy(means).float().to(device)

    def real_batch(n: int) -> torch.Tensor:  # fresh mixture samples every step, as tf.contrib Mixture.sample
        labels = torch.randint(len(means), (n,), device=device)
        return means_t[labels] + std * torch.randn(n, 2, device=device)

    G = mlp([NOISE_DIM + EPS_DIM, HIDDEN, HIDDEN, 2]).to(device)
    gan = args.model == "gan"
    ali = args.model == "ali"
    # VEEGAN: the mean of p(z | x) = N(F(x), I); ALI: the mean and log-variance of q(z | x)
    F = None if gan else mlp([2, HIDDEN, HIDDEN, NOISE_DIM * (2 if ali else 1)]).to(device)
    D = mlp([2 if gan else NOISE_DIM + 2, HIDDEN, 1]).to(device)  # one hidden layer in the notebook's data_network

    def generate(z: torch.Tensor) -> torch.Tensor:
        return G(torch.cat([z, torch.randn(z.shape[0], EPS_DIM, device=device)], 1))

    def d_logit(z, x):
        return D(x if gan else torch.cat([z, x], 1)).squeeze(1)

    g_params = [*G.parameters()] + ([] if gan else [*F.parameters()])
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_gf = torch.optim.Adam(g_params, lr=1e-3, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    softplus = nn.functional.softplus

    start = time.time()
    for _ in range(args.steps):
        z = torch.randn(BATCH, NOISE_DIM, device=device)
        x = real_batch(BATCH)
        fake_x = generate(z)
        if gan:
            z_of_x = None  # D sees x alone
        elif ali:
            mean, log_var = F(x).chunk(2, 1)
            z_of_x = mean + (0.5 * log_var.clamp(-20, 10)).exp() * torch.randn_like(mean)
        else:  # VEEGAN's sample of p(z | x); F learns from the reconstruction term alone
            z_of_x = F(x) + torch.randn(BATCH, NOISE_DIM, device=device)
        posterior, prior = d_logit(z, fake_x), d_logit(z_of_x, x)  # label 1: generated, 0: data
        d_loss = (bce(posterior, torch.ones_like(posterior)) + bce(prior, torch.zeros_like(prior))).mean()
        if gan:
            g_loss = GAN_GENERATOR_LOSSES[args.generator_loss](posterior).mean()
        elif ali:  # swapped labels, non-saturating: G's pairs called data, E's called generated
            g_loss = softplus(posterior).mean() + softplus(-prior).mean()
        else:  # log N(z; F(G(z)), I) summed over the noise dimensions
            recon = (-0.5 * (z - F(fake_x)) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1)
            g_loss = posterior.mean() - recon.mean()
        # the notebook runs both train ops in one session call: gradients at the same parameters
        d_grads = torch.autograd.grad(d_loss, list(D.parameters()), retain_graph=True)
        gf_grads = torch.autograd.grad(g_loss, g_params)
        for p, g in zip([*D.parameters(), *g_params], [*d_grads, *gf_grads]):
            p.grad = g
        opt_d.step()
        opt_gf.step()
    seconds = time.time() - start

    with torch.no_grad():
        samples = torch.cat([generate(torch.randn(BATCH, NOISE_DIM, device=device)) for _ in range(N_EVAL // BATCH)])
    metrics = evaluate(samples.cpu().double().numpy(), means, std)
    record = {"script": "veegan_toy", "config": f"{args.model} {args.dataset} steps={args.steps}", "args": vars(args),
              "seed": args.seed, "steps": args.steps, "seconds": round(seconds, 2),
              "steps_per_s": round(args.steps / max(seconds, 1e-9), 2), "metrics": metrics}
    print(f"{args.steps / max(seconds, 1e-9):.1f} steps/s; modes {metrics['modes']}, "
          f"high quality {100 * metrics['high_quality']:.1f} %, reverse KL {metrics['reverse_kl']:.3f}")
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
