"""The result every inversion method returns, and helpers they share."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass
class Inversion:
    """z[i] is the latent found for input i; x_hat[i] = G(z[i]); loss[i] its reconstruction error."""

    z: torch.Tensor
    x_hat: torch.Tensor
    loss: torch.Tensor  # per item: mean squared error over the item's values
    method: str
    steps: int
    seconds: float
    history: torch.Tensor | None = None  # optimisation: [records x items] reconstruction error
    history_every: int = 0  # steps between the history's records


def per_item_mse(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (x_hat - x).pow(2).flatten(1).mean(1)


@contextlib.contextmanager
def frozen(model: torch.nn.Module):
    """Eval mode and no weight gradients for the duration (only the latents are optimised)."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)


def chunks(x: torch.Tensor, size: int):
    for start in range(0, len(x), size):
        yield x[start:start + size]
