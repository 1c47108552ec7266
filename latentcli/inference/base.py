"""The result every inversion method returns, and helpers they share."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from latentcli.errors import UserError


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


def checked_inputs(x, info) -> torch.Tensor:
    """x as inversion takes it from the Python API: a float tensor of N items of the model's shape,
    images in [-1, 1]. Any other input gets one clear error (instead of one from deep inside torch)."""
    shape = list(info.shape)
    fit = " (latentcli.data.load_images(path, model.info.shape) reads pictures fitted to the model)"
    fit = fit if info.kind == "image" else ""
    if not isinstance(x, torch.Tensor):
        raise UserError(f"x is a {type(x).__name__}; invert takes a torch tensor of N x {shape}{fit}")
    if not x.is_floating_point():
        scale = ": x.float() / 127.5 - 1 for 8-bit pictures" if info.kind == "image" else ""
        raise UserError(f"x is {x.dtype}; invert takes floats{' in [-1, 1]' if info.kind == 'image' else ''}"
                        f"{scale}")
    if list(x.shape) == shape:
        raise UserError(f"x is one item of shape {shape}; invert takes a batch of them: x.unsqueeze(0)")
    if list(x.shape[1:]) != shape or len(x) == 0:
        raise UserError(f"x has shape {list(x.shape)}; this model takes N x {shape} with N >= 1{fit}")
    if info.kind == "image":
        low, high = float(x.min()), float(x.max())
        if low < -1.001 or high > 1.001:  # a little slack for rounding
            raise UserError(f"x holds values in [{low:.4g}, {high:.4g}]; images are floats in [-1, 1] "
                            "(x / 127.5 - 1 for values in [0, 255])")
    return x.float()
