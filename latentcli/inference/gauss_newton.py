"""Levenberg-Marquardt in z: Gauss-Newton steps on each item's pixel residuals, with per-item damping.

Inverting G is a small nonlinear least-squares problem per item: d latents against m pixels. The full
Jacobian dG/dz (m x d) costs d forward-mode passes, about what 20 Adam steps cost, but one damped
Gauss-Newton step does what hundreds of gradient steps do near a solution, and for an image G can
produce exactly (zero residual) it converges quadratically. Each item has its own damping, is
accepted or rejected on its own, and stops costing Jacobians once it has converged.

It is a torch.optim.Optimizer so that the shared Trainer runs it like any other: one Trainer step is
one LM iteration over the items still active. It ignores the gradient the Trainer computes.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import jvp, vmap

from latentcli.inference.per_item import PerItemOptimizer

Residuals = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (z rows [n, d], row indices [n]) -> [n, m]


def jacobian(residuals: Residuals, z: torch.Tensor, rows: torch.Tensor, chunk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(r [n, m], J [n, m, d]) by forward mode: one jvp per latent direction, batched with vmap, `chunk`
    items at a time to bound memory (a jvp's activations are d times a forward's)."""
    rs, js = [], []
    eye = torch.eye(z.shape[1], device=z.device, dtype=z.dtype)
    for start in range(0, len(z), chunk):
        part, idx = z[start:start + chunk], rows[start:start + chunk]

        def along(direction):
            return jvp(lambda v: residuals(v, idx), (part,), (direction.expand_as(part),))

        r, j = vmap(along, out_dims=(None, 0), randomness="same")(eye)  # j: [d, n, m]
        rs.append(r)
        js.append(j.permute(1, 2, 0))
    return torch.cat(rs), torch.cat(js)


class LevenbergMarquardt(PerItemOptimizer):
    """Batched LM on one [N, d] latent tensor. `residuals(z_rows, rows)` gives the residuals whose squared
    sum is each item's objective; `project(z)` puts trial latents back in the feasible set (in place).

    damping: the starting lambda in (J^T J + lambda diag(J^T J)) dz = -J^T r (Marquardt's scaling);
    an accepted step divides an item's lambda by 3, a rejected one multiplies it by 4 (Nielsen-like).
    max_step: the longest first step (None: sqrt(d), the length of a typical N(0, I) draw), a trust region
    that doubles with each accepted step and shrinks 4x with each rejected one. Marquardt's scaling leaves
    directions in which G hardly moves (a saturated output) almost undamped: unbounded, the first step from
    z = 0 of a GAN on Fashion-MNIST went to |z| = 271 and the run never came back.
    An item stops when a step improves its objective by less than `tol` (relative), its objective is at most
    `atol` (per residual), or its lambda has
    grown past 1e8 (no descent left to find)."""

    def __init__(self, params, residuals: Residuals, project: Callable[[torch.Tensor], None] | None = None,
                 damping: float = 1.0, tol: float = 1e-4, chunk: int = 64, lr: float = 1.0, atol: float = 0.0,
                 max_step: float | None = None):
        super().__init__(params, project, tol, lr, atol)
        self.residuals, self.chunk = residuals, chunk
        start = max_step if max_step is not None else self.z.shape[1] ** 0.5
        self.radius = torch.full((len(self.z),), float(start), device=self.z.device)
        self.damping = torch.full((len(self.z),), float(damping), device=self.z.device)

    @torch.no_grad()
    def step(self, closure=None):
        rows = self.active_rows()
        if len(rows) == 0:
            return None
        z = self.z.detach()[rows]
        r, J = jacobian(self.residuals, z, rows, self.chunk)
        cost = r.pow(2).sum(1)
        JtJ = J.transpose(1, 2) @ J
        g = (J.transpose(1, 2) @ r.unsqueeze(2)).squeeze(2)
        diag = JtJ.diagonal(dim1=1, dim2=2).clamp(min=1e-9)
        lam = self.damping[rows]
        A = JtJ + torch.diag_embed(lam.unsqueeze(1) * diag)
        dz = -torch.linalg.solve(A, g)
        radius = self.radius[rows]
        dz *= (radius / dz.norm(dim=1).clamp(min=1e-30)).clamp(max=1.0).unsqueeze(1)  # within the trust region
        trial = z + self.param_groups[0]["lr"] * dz
        self.project(trial)
        new_cost = self.residuals(trial, rows).pow(2).sum(1)
        accept = new_cost < cost
        self.z.data[rows[accept]] = trial[accept]
        self.damping[rows] = torch.where(accept, lam / 3, lam * 4).clamp(1e-9, 1e9)
        self.radius[rows] = torch.where(accept, radius * 2, radius / 4)
        # converged: a step (taken or not) that changes the objective by less than tol, relative, or by
        # no more than float32 rounding of an exact fit
        noise = 1e-12 * r.shape[1]
        finished = ((cost - new_cost).abs() <= self.tol * cost + noise) | (self.damping[rows] > 1e8)
        finished |= torch.minimum(cost, new_cost) <= self.atol * r.shape[1]  # exact enough
        self.active[rows[finished]] = False
        return None
