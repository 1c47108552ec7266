"""Multi-layer perceptrons: the networks for vector data, the heads of the discriminators, and the maxout
layers of the ALI and PacGAN code."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int, dropout: float = 0.0,
        batch_norm: bool = False, activation: Callable[[], nn.Module] = lambda: nn.LeakyReLU(0.2),
        bn_momentum: float = 0.1) -> nn.Sequential:
    """`depth` hidden layers of `hidden` units with `activation` (after BatchNorm if asked), then a linear layer."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden, momentum=bn_momentum))
        layers.append(activation())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def feature_mlp(in_dim: int, out_dim: int, depth: int, dropout: float = 0.0) -> nn.Sequential:
    """An MLP whose output is a hidden representation (it ends in the nonlinearity)."""
    return nn.Sequential(mlp(in_dim, out_dim, out_dim, depth - 1, dropout), nn.LeakyReLU(0.2))


class Maxout(nn.Module):
    """A linear layer to out_dim x pieces units and the maximum over each unit's pieces (Goodfellow et al. 2013),
    the LinearMaxout of the Blocks library the ALI and PacGAN code use."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int):
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.linear = nn.Linear(in_dim, out_dim * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(len(x), self.out_dim, self.pieces).amax(dim=2)


def maxout_mlp(in_dim: int, hidden: int, depth: int, pieces: int) -> nn.Sequential:
    """`depth` maxout layers of `hidden` units, then a linear layer to one score."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers.append(Maxout(width, hidden, pieces))
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)
