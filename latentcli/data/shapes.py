"""Procedural sprites with known generative factors, drawn in code (no download), in the spirit of dSprites.

Each item is a white shape on black; its label row holds the true factors
    shape (0 square, 1 ellipse, 2 triangle), scale (0.5-1), rotation (radians, 0-2pi), x, y (0.3-0.7)
so metrics can ask whether inferred latents recover them. Rotation is only identifiable up to each
shape's symmetry (90 degrees for the square, 180 for the ellipse, 120 for the triangle), as in dSprites.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs

FACTORS = ["shape", "scale", "rotation", "x", "y"]
SHAPES = ["square", "ellipse", "triangle"]
MAX_RADIUS = 0.3  # of the image width, at scale 1
SUPERSAMPLE = 4  # drawn at 4x and averaged down: anti-aliased edges


def sample_factors(n: int, generator: torch.Generator) -> torch.Tensor:
    """n x 5 factors drawn uniformly and independently."""
    def uniform(low, high):
        return torch.rand(n, generator=generator) * (high - low) + low

    shape = torch.randint(len(SHAPES), (n,), generator=generator).float()
    return torch.stack([shape, uniform(0.5, 1.0), uniform(0.0, 2 * math.pi), uniform(0.3, 0.7),
                        uniform(0.3, 0.7)], dim=1)


def render(factors: torch.Tensor, resolution: int) -> torch.Tensor:
    """n x 5 factors -> n x 1 x resolution x resolution images in [-1, 1]."""
    size = resolution * SUPERSAMPLE
    grid = (torch.arange(size) + 0.5) / size
    gy, gx = grid.view(1, -1, 1), grid.view(1, 1, -1)
    shape, scale, angle, cx, cy = (f.view(-1, 1, 1) for f in factors.T)
    dx, dy = (gx - cx) / (scale * MAX_RADIUS), (gy - cy) / (scale * MAX_RADIUS)
    u = torch.cos(angle) * dx + torch.sin(angle) * dy  # coordinates in the shape's own frame
    v = -torch.sin(angle) * dx + torch.cos(angle) * dy
    square = torch.maximum(u.abs(), v.abs()) <= 0.75
    ellipse = u.pow(2) + (v / 0.5).pow(2) <= 1
    # equilateral triangle with circumradius 1: inside all three edges, whose normals are 120 degrees apart
    triangle = torch.ones_like(square)
    for k in range(3):
        a = math.pi / 2 + k * 2 * math.pi / 3
        triangle &= u * math.cos(a) + v * math.sin(a) <= 0.5
    inside = torch.where(shape == 0, square, torch.where(shape == 1, ellipse, triangle)).float()
    return F.avg_pool2d(inside.unsqueeze(1), SUPERSAMPLE) * 2 - 1


def load_shapes(n_train: int, n_test: int, resolution: int = 32, seed: int = 0) -> DataBundle:
    generator = torch.Generator().manual_seed(seed)
    factors = sample_factors(n_train + n_test, generator)
    x = torch.cat([render(chunk, resolution) for chunk in factors.split(1024)])
    info = DataInfo("shapes", [1, resolution, resolution], "image", factors=FACTORS, shapes=SHAPES)
    return DataBundle(TensorPairs(x[:n_train], factors[:n_train]), TensorPairs(x[n_train:], factors[n_train:]), info)


def build_shapes(cfg) -> DataBundle:
    return load_shapes(cfg.n_train, cfg.n_test, resolution=cfg.resolution, seed=cfg.data_seed)
