"""Permutation-invariant BiGAN on MNIST-layout data, re-implemented in bare PyTorch from jeffdonahue/bigan.

Source: github.com/jeffdonahue/bigan train_mnist.sh (BiGAN objective), train_gan.py (schedule, updates,
evaluation), gan.py (losses), net.py (mnist_mlp, deconvnet_mnist_mlp, apply_cond), dist.py (U(-1, 1)^50
and the encoder's output), lib/updates.py (Adam, L2), load.py (50k/10k split). No latentcli import.
Reads MNIST's idx files (optionally .gz) from --data, e.g. /usr/share/datasets/fashion-mnist.

    python benchmarks/reference/bigan_mnist.py --data /usr/share/datasets/fashion-mnist --seed 0 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

Z_DIM, WIDTH, BATCH = 50, 1024, 128


def read_idx(folder: Path, stem: str) -> np.ndarray:
    path = folder / stem if (folder / stem).exists() else folder / f"{stem}.gz"
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fc(n_in: int, n_out: int) -> nn.Linear:
    """net.py FC: no bias (train_mnist.sh --nobias), weights N(0, 0.02)."""
    linear = nn.Linear(n_in, n_out, bias=False)
    nn.init.normal_(linear.weight, 0.0, 0.02)
    return linear


def bn() -> nn.BatchNorm1d:
    """kwargs28 with --nogain --nobias: plain normalisation, no learned scale or shift."""
    return nn.BatchNorm1d(WIDTH, affine=False)


class Generator(nn.Module):
    """deconvnet_mnist_mlp: FC-BN-ReLU, FC (+ FC(z), apply_cond) -BN-ReLU, FC 784, sigmoid."""

    def __init__(self):
        super().__init__()
        self.fc1, self.bn1 = fc(Z_DIM, WIDTH), bn()
        self.fc2, self.cond2, self.bn2 = fc(WIDTH, WIDTH), fc(Z_DIM, WIDTH), bn()
        self.out = fc(WIDTH, 784)

    def forward(self, z):
        h = torch.relu(self.bn1(self.fc1(z)))
        h = torch.relu(self.bn2(self.fc2(h) + self.cond2(z)))
        return torch.sigmoid(self.out(h))


class Features(nn.Module):
    """mnist_mlp: FC-LReLU(0.2), FC (+ FC(z) when conditioned, apply_cond) -BN-LReLU."""

    def __init__(self, cond: bool):
        super().__init__()
        self.fc1, self.fc2, self.bn2 = fc(784, WIDTH), fc(WIDTH, WIDTH), bn()
        self.cond2 = fc(Z_DIM, WIDTH) if cond else None

    def forward(self, x, z=None):
        h = nn.functional.leaky_relu(self.fc1(x), 0.2)
        h = self.fc2(h) + (self.cond2(z) if self.cond2 is not None else 0)
        return nn.functional.leaky_relu(self.bn2(h), 0.2)


class Encoder(nn.Module):
    """mnist_mlp features, then a linear predictor (no bias) mapped into (-1, 1) by dist.py's 'u'
    logits_to_recon (sigmoid, rescaled). Returns the code and the penultimate features."""

    def __init__(self):
        super().__init__()
        self.feats, self.out = Features(cond=False), fc(WIDTH, Z_DIM)

    def forward(self, x):
        h = self.feats(x)
        return 2 * torch.sigmoid(self.out(h)) - 1, h


class Discriminator(nn.Module):
    """The joint discriminator: mnist_mlp on x with z added at the second layer, then a bias-free logit."""

    def __init__(self):
        super().__init__()
        self.feats, self.out = Features(cond=True), fc(WIDTH, 1)

    def forward(self, x, z):
        return self.out(self.feats(x, z)).squeeze(1)


def learning_rate(epoch: int, epochs: int, lr: float = 2e-4, final_mult: float = 0.01) -> float:
    """train_gan.py set_lr without --linear_decay: constant for the first half, then exponential decay
    to final_lr_mult (0.01) x lr over the second half."""
    constant = epochs // 2
    if epoch < constant:
        return lr
    progress = (epoch - constant + 1) / (epochs - constant)
    return math.exp(math.log(lr) + progress * (math.log(final_mult * lr) - math.log(lr)))


def nearest_neighbour_accuracy(train_f, train_y, test_f, test_y, chunk: int = 1000) -> float:
    """lib/metrics.py nnc_score with metric='euclidean': 1-NN label of each test feature, in per cent."""
    correct = 0
    for i in range(0, len(test_f), chunk):
        idx = torch.cdist(test_f[i:i + chunk], train_f).argmin(1)
        correct += int((train_y[idx] == test_y[i:i + chunk]).sum())
    return 100.0 * correct / len(test_f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder of MNIST idx files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=400, help="train_mnist.sh: 200 constant + 200 decay")
    parser.add_argument("--steps", type=int, help="stop after this many iterations (the LR schedule keeps --epochs)")
    parser.add_argument("--deploy-iters", type=int, default=1000, help="batches for BN's evaluation statistics")
    parser.add_argument("--eval-train", type=int, default=50_000, help="train points the 1-NN searches")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="append one JSON line of results to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    folder = Path(args.data)
    images = read_idx(folder, "train-images-idx3-ubyte").reshape(-1, 784)
    labels = read_idx(folder, "train-labels-idx1-ubyte").astype(np.int64)
    order = np.random.RandomState(args.seed).permutation(len(images))  # load.py: shuffle, 50k train, rest val
    x_all = torch.from_numpy(images[order].astype(np.float32) / 255.0).to(device)
    y_all = torch.from_numpy(labels[order]).to(device)
    x_train, y_train, x_val, y_val = x_all[:50_000], y_all[:50_000], x_all[50_000:], y_all[50_000:]

    G, E, D = Generator().to(device), Encoder().to(device), Discriminator().to(device)
    # lib/updates.py Adam(b1 = --momentum 0.5) with Regularizer(l2 = 2.5e-5) added to the gradient
    opt_ge = torch.optim.Adam([*G.parameters(), *E.parameters()], lr=2e-4, betas=(0.5, 0.999), weight_decay=2.5e-5)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), weight_decay=2.5e-5)
    bce = nn.functional.binary_cross_entropy_with_logits
    ge_params, d_params = [*G.parameters(), *E.parameters()], list(D.parameters())

    start, step = time.time(), 0
    per_epoch = math.ceil(len(x_train) / BATCH)
    for epoch in range(args.epochs):
        if args.steps is not None and step >= args.steps:
            break
        for group in [*opt_ge.param_groups, *opt_d.param_groups]:
            group["lr"] = learning_rate(epoch, args.epochs)
        for _ in range(per_epoch):
            if args.steps is not None and step >= args.steps:
                break
            x = x_train[torch.randint(len(x_train), (BATCH,), device=device)]
            z = torch.rand(BATCH, Z_DIM, device=device) * 2 - 1
            ez, _ = E(x)
            # real and generated pairs go through D separately (no --cat_inputs): BN statistics per half
            real, fake = D(x, ez), D(G(z), z)
            ones, zeros = torch.ones_like(real), torch.zeros_like(real)
            d_loss = 0.5 * (bce(real, ones) + bce(fake, zeros))
            ge_loss = 0.5 * (bce(real, zeros) + bce(fake, ones))
            # k = 1: update_both, D and G/E from the same batch at the same parameters
            d_grads = torch.autograd.grad(d_loss, d_params, retain_graph=True)
            ge_grads = torch.autograd.grad(ge_loss, ge_params)
            for p, g in zip([*d_params, *ge_params], [*d_grads, *ge_grads]):
                p.grad = g
            opt_d.step()
            opt_ge.step()
            step += 1
    seconds = time.time() - start

    # train_gan.py deploy(): BN statistics re-estimated as a plain average over deploy_iters batches
    for m in [*G.modules(), *E.modules()]:
        if isinstance(m, nn.BatchNorm1d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for _ in range(args.deploy_iters):
            E(x_train[torch.randint(len(x_train), (BATCH,), device=device)])
            G(torch.rand(BATCH, Z_DIM, device=device) * 2 - 1)
        G.eval()
        E.eval()
        train_sub = slice(0, args.eval_train)
        train_code, train_feats = E(x_train[train_sub])
        val_code, val_feats = E(x_val)
        recon = G(val_code)
        error = (recon - x_val).norm(dim=1)
        baseline = (recon - torch.roll(x_val, -1, 0)).norm(dim=1)  # x' = the next image, as image_recon_error
        metrics = {
            "nnc_e": nearest_neighbour_accuracy(train_code, y_train[train_sub], val_code, y_val),
            "nnc_e_penultimate": nearest_neighbour_accuracy(train_feats, y_train[train_sub], val_feats, y_val),
            "egr": float(error.mean()), "egr_b": float(baseline.mean()),
        }
    record = {"script": "bigan_mnist", "config": f"{folder.name} epochs={args.epochs} steps={step}",
              "args": vars(args), "seed": args.seed, "steps": step, "seconds": round(seconds, 2),
              "steps_per_s": round(step / max(seconds, 1e-9), 2), "metrics": metrics}
    print(f"{step / max(seconds, 1e-9):.1f} steps/s; 1-NN on E(x) {metrics['nnc_e']:.2f} %, on E's penultimate "
          f"{metrics['nnc_e_penultimate']:.2f} %, recon {metrics['egr']:.2f} vs random {metrics['egr_b']:.2f}")
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
