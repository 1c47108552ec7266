"""Latent-space edits of inverted inputs: interpolation walks (linear and spherical) and vector arithmetic."""

from __future__ import annotations

import torch

from latentcli.errors import UserError


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): follows the great circle, where Gaussian latents' mass lies."""
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7).unsqueeze(-1)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin


def interpolation_latents(z: torch.Tensor, pairs: int, steps: int, mode: str) -> torch.Tensor:
    """[pairs * steps, d]: row p walks from z[2p] to z[2p + 1] in `steps` even steps, ends included."""
    pairs = min(pairs, len(z) // 2)
    if pairs == 0:
        raise UserError("edit=interpolate needs at least 2 inverted items")
    start, end = z[0:2 * pairs:2], z[1:2 * pairs:2]
    t = torch.linspace(0, 1, steps, device=z.device).view(1, steps, 1)
    walk = lerp if mode == "linear" else slerp
    return walk(start.unsqueeze(1), end.unsqueeze(1), t).reshape(pairs * steps, -1)


def arithmetic_latents(z: torch.Tensor, labels: torch.Tensor, a, b, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices of up to n items of class b, their latents moved by mean z of class a minus mean z of class b)."""
    if a is None or b is None:  # the CLI checks this before inverting; the API may not
        raise UserError("edit=arithmetic needs two classes: add edit.a=LABEL edit.b=LABEL")
    if labels.dim() != 1:
        raise UserError("edit=arithmetic needs one class label per item; these inputs have several label columns")
    present = sorted(set(labels.tolist()) - {-1})
    for name, value in (("a", a), ("b", b)):
        if value not in present:
            raise UserError(f"edit.{name}={value} is not a label of the inverted items; they have {present}")
    labels = labels.to(z.device)
    in_a, in_b = labels == a, labels == b
    direction = z[in_a].mean(0) - z[in_b].mean(0)
    chosen = torch.nonzero(in_b).squeeze(1)[:n]
    return chosen, z[chosen] + direction
