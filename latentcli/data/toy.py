"""2-D Gaussian mixtures, raw coordinates: ring8 and grid25 from PacGAN (Lin et al. 2018), alice5 from ALICE
(Li et al. 2017, toy_data/ALICE_l2.py: 5 modes at (0, 0) and (+-2, +-2), variance 0.04)."""

from __future__ import annotations

import math

import torch

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs


def mode_centres(name: str) -> tuple[torch.Tensor, float]:
    """The mixture's centres (k x 2) and its per-component standard deviation."""
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return torch.stack([angles.cos(), angles.sin()], dim=1).float(), 0.01
    if name == "grid25":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis), 0.05
    if name == "alice5":  # ALICE's code calls 0.04 std_x but uses it as the variance: std 0.2
        return torch.tensor([[0.0, 0.0], [2.0, 2.0], [-2.0, -2.0], [2.0, -2.0], [-2.0, 2.0]]), 0.2
    raise ValueError(f"unknown toy mixture {name!r}")


def sample_mixture(name: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points and their component labels, drawn with equal weights from a fixed-seed generator."""
    centres, sigma = mode_centres(name)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centres), (n,), generator=generator)
    points = centres[labels] + sigma * torch.randn(n, 2, generator=generator)
    return points, labels


def load_toy(name: str, n_train: int, n_test: int, seed: int = 0) -> DataBundle:
    centres, sigma = mode_centres(name)
    train = TensorPairs(*sample_mixture(name, n_train, seed=seed))
    test = TensorPairs(*sample_mixture(name, n_test, seed=seed + 1))
    info = DataInfo(name, [2], "points", centres=centres.tolist(), sigma=sigma)
    return DataBundle(train, test, info)


def build_toy(cfg) -> DataBundle:
    """dataset=ring8|grid25|alice5."""
    return load_toy(cfg.name, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.data_seed)
