"""ALI (--lam 0) and ALICE (--lam 1) on the 5-Gaussian toy, re-implemented in bare PyTorch from ALICE_l2.py.

Source: github.com/ChunyuanLI/ALICE, toy_data/ALICE_l2.py (with toy_data/utils/data_gmm.py, data_utils.py,
rng.py) for data, networks, losses and schedule; plot_generation/alice_plots_paper.ipynb for the published
numbers; github.com/ChunyuanLI/MNIST_Inception_Score mnist_cnn_icp_eval.py for the score's formula.
No latentcli import. See benchmarks/reference/README.md for what is inferred and what differs.

    python benchmarks/reference/alice_toy.py --lam 1 --seed 0 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

MEANS_X = np.array([[0, 0], [2, 2], [-2, -2], [2, -2], [-2, 2]], dtype=np.float64)
VARIANCE_X = 0.04  # ALICE_l2.py: `std_x = 0.04` is used as the variance (np.eye(2) * std_x), so std 0.2
N_TRAIN, N_TEST = 2048, 1024  # 512*4 and 512*2
BATCH, EPS_DIM, HIDDEN = 128, 2, 256
MSE_CAP = 10.0  # the notebook's ALI MSEs stop at exactly 10.0: their evaluation clipped there


def sample_gmm(n: int, means: np.ndarray, variance: float) -> np.ndarray:
    """data_gmm.py sample_GMM with its default RandomState(0): every run sees the same points.
    The component draws come first, then one 2-vector of normals per point, as there."""
    rng = np.random.RandomState(0)
    labels = rng.choice(len(means), size=n, replace=True, p=[1.0 / len(means)] * len(means))
    return (means[labels] + np.sqrt(variance) * rng.normal(size=(n, 2))).astype(np.float32)


def mlp(n_in: int, n_out: int) -> nn.Sequential:
    """slim.repeat(fully_connected, 2 x 256, relu) then a linear layer; slim's Xavier-uniform weights, zero biases."""
    net = nn.Sequential(nn.Linear(n_in, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                        nn.Linear(HIDDEN, n_out))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return net


class Stochastic(nn.Module):
    """generative_network / inference_network: fresh N(0, I) noise concatenated to the input on every call."""

    def __init__(self):
        super().__init__()
        self.net = mlp(2 + EPS_DIM, 2)

    def forward(self, h):
        return self.net(torch.cat([h, torch.randn(h.shape[0], EPS_DIM, device=h.device)], 1))


def inception_score(samples: torch.Tensor, splits: int = 10) -> float:
    """mnist_cnn_icp_eval.py's score with the ideal toy classifier: the true mixture's posterior p(y|x)
    (the authors used a pre-trained classifier with 100 % training accuracy, not published)."""
    means = torch.from_numpy(MEANS_X).to(samples)
    log_p = torch.log_softmax(-((samples[:, None, :] - means[None]) ** 2).sum(-1) / (2 * VARIANCE_X), 1)
    scores = []
    for i in range(splits):
        part = log_p[i * len(log_p) // splits:(i + 1) * len(log_p) // splits]
        log_marginal = torch.logsumexp(part, 0) - np.log(len(part))
        kl = (part.exp() * (part - log_marginal)).sum(1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores))


def set_adam_clock(optimizer: torch.optim.Adam, t: int) -> None:
    """Makes the next step() use bias corrections for step t + 1. TF1 keeps ONE beta-power pair per
    AdamOptimizer object and ALICE_l2.py uses one object for both ops, so its bias corrections count the
    steps of D and G/E together (6 per iteration): D's steps come out up to sqrt(6) times larger than
    with a clock of its own (still 1.1 times at the end of the 1,600 D steps)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p)
            if state and "step" in state:
                state["step"].fill_(t)


def bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lam", type=float, default=1.0, help="weight of the two l2 cycle terms; 0 is ALI")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--steps", type=int, help="stop after this many iterations (1 D + 5 G/E steps each)")
    parser.add_argument("--adam-clock", choices=["shared", "separate"], default="shared",
                        help="shared: TF1's one AdamOptimizer for D and G/E, as ALICE_l2.py; separate: PyTorch's usual")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="append one JSON line of results to this file")
    parser.add_argument("--z-pool", choices=["fixed", "fresh"], default="fixed",
                        help="fixed: ALICE_l2.py's 2,048 prior draws, reshuffled each epoch; fresh: new draws each "
                             "batch (as latentcli samples z), to tell the two apart")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_train = sample_gmm(N_TRAIN, MEANS_X, VARIANCE_X)
    z_train = sample_gmm(N_TRAIN, np.zeros((1, 2)), 1.0)  # a fixed set of prior draws, reshuffled each epoch
    x_test = torch.from_numpy(sample_gmm(N_TEST, MEANS_X, VARIANCE_X)).to(device)
    z_test = torch.from_numpy(sample_gmm(N_TEST, np.zeros((1, 2)), 1.0)).to(device)
    shuffle_rng = np.random.RandomState(2)  # utils/rng.py np_rng, the same in every run

    G, E = Stochastic().to(device), Stochastic().to(device)
    D = mlp(4, 1).to(device)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_ge = torch.optim.Adam([*G.parameters(), *E.parameters()], lr=1e-3, betas=(0.5, 0.999))

    def d_logit(x, z):
        return D(torch.cat([x, z], 1)).squeeze(1)

    start, iterations, adam_steps = time.time(), 0, 0

    def step(optimizer: torch.optim.Adam) -> None:
        nonlocal adam_steps
        if args.adam_clock == "shared":
            set_adam_clock(optimizer, adam_steps)
        optimizer.step()
        adam_steps += 1

    for _ in range(args.epochs):
        if args.steps is not None and iterations >= args.steps:
            break
        order_x, order_z = np.arange(N_TRAIN), np.arange(N_TRAIN)
        shuffle_rng.shuffle(order_x)  # sklearn.utils.shuffle(X, random_state=np_rng), then the same for Z
        shuffle_rng.shuffle(order_z)
        xs, zs = x_train[order_x], z_train[order_z]
        for b in range(N_TRAIN // BATCH):
            if args.steps is not None and iterations >= args.steps:
                break
            x = torch.from_numpy(xs[b * BATCH:(b + 1) * BATCH]).to(device)
            z = torch.from_numpy(zs[b * BATCH:(b + 1) * BATCH]).to(device)
            if args.z_pool == "fresh":
                z = torch.randn_like(z)
            # one discriminator step: (x, E(x)) is labelled 1, (G(z), z) 0
            with torch.no_grad():
                fake_x, fake_z = G(z), E(x)
            d_loss = bce(d_logit(x, fake_z), 1.0) + bce(d_logit(fake_x, z), 0.0)
            opt_d.zero_grad()
            d_loss.backward()
            step(opt_d)
            # five generator/encoder steps on the same minibatch, fresh noise each time
            for _ in range(5):
                p_x, q_z = G(z), E(x)
                g_loss = bce(d_logit(p_x, z), 1.0) + bce(d_logit(x, q_z), 0.0)
                if args.lam:
                    cost_x = ((G(q_z) - x) ** 2).mean()
                    cost_z = ((E(p_x) - z) ** 2).mean()
                    g_loss = g_loss + args.lam * (cost_x + cost_z)
                opt_ge.zero_grad()
                g_loss.backward()
                step(opt_ge)
            iterations += 1
    seconds = time.time() - start

    with torch.no_grad():
        mse = float(((G(E(x_test)) - x_test) ** 2).mean())
        icp = inception_score(G(z_test).double())
        icp_true = inception_score(x_test.double())
    metrics = {"mse": min(mse, MSE_CAP), "mse_raw": mse, "icp": icp, "icp_true_x": icp_true}
    record = {"script": "alice_toy", "config": f"lam={args.lam:g} adam_clock={args.adam_clock} z_pool={args.z_pool} epochs={args.epochs} steps={iterations}",
              "args": vars(args), "seed": args.seed, "steps": iterations, "seconds": round(seconds, 2),
              "steps_per_s": round(iterations / max(seconds, 1e-9), 2), "metrics": metrics}
    print(f"{iterations / max(seconds, 1e-9):.1f} iterations/s; MSE {mse:.4f}, ICP {icp:.3f} (true x {icp_true:.3f})")
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
