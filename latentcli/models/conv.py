"""DCGAN-style convolutional networks for square images of 16, 28, 32 or 64 px (Radford et al. 2016)."""

from __future__ import annotations

import torch
from torch import nn

from latentcli.errors import UserError


def dcgan_plan(shape: list[int]) -> tuple[int, int]:
    """(base resolution, number of stride-2 stages) for a square image: 16 -> (4, 2), 28 -> (7, 2), 64 -> (4, 4)."""
    _, height, width = shape
    res, stages = height, 0
    while res > 7 and res % 2 == 0:
        res //= 2
        stages += 1
    if height != width or stages == 0 or res < 4:
        raise UserError(f"DCGAN networks need square images of 16, 28, 32 or 64 px; got {height}x{width}")
    return res, stages


class DCGANGenerator(nn.Module):
    """z -> linear to a base x base map -> stride-2 transposed convs doubling the size -> tanh image."""

    def __init__(self, latent_dim: int, shape: list[int], width: int, batch_norm: bool = True):
        super().__init__()
        channels, base, stages = shape[0], *dcgan_plan(shape)
        top = width * 2 ** (stages - 1)
        self.project = nn.Sequential(nn.Linear(latent_dim, top * base * base),
                                     nn.BatchNorm1d(top * base * base) if batch_norm else nn.Identity(), nn.ReLU())
        self.top, self.base = top, base
        layers: list[nn.Module] = []
        ch = top
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batch_norm),
                       nn.BatchNorm2d(ch // 2) if batch_norm else nn.Identity(), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.top, self.base, self.base))


class DCGANFeatures(nn.Module):
    """image -> stride-2 convs halving the size down to base x base -> flat feature vector."""

    def __init__(self, shape: list[int], width: int, batch_norm: bool, dropout: float = 0.0):
        super().__init__()
        channels, base, stages = shape[0], *dcgan_plan(shape)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(stages - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
            ch *= 2
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.out_dim = ch * base * base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
