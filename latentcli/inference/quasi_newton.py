"""BFGS per item, batched: each item's latent has its own inverse-Hessian estimate, step and stopping.

torch.optim.LBFGS treats the whole batch as one problem of N x d variables, so one item's curvature
bends every other item's step and one line search serves all. Inversion is N independent d-dimensional
problems (d = 64 or so), small enough for a dense d x d BFGS matrix per item: after a few iterations
each item steps like Newton's method on its own objective.

The step length is checked lazily, so that an iteration costs one forward and backward pass: the
Trainer evaluates the objective and gradient at the new point, and an item whose last step broke the
Armijo condition goes back and takes a shorter one instead of a new one. An item stops (no more
compute) when an accepted step improves its objective by less than `tol` (relative), its objective is
at most `atol` (exact enough), or its steps have shrunk to nothing.
"""

from __future__ import annotations

from typing import Callable

import torch

from latentcli.inference.per_item import PerItemOptimizer

ARMIJO = 1e-4  # the fraction of the predicted decrease a step must achieve
SHRINK = 0.25  # a failed step is retried this much shorter


class BatchedBFGS(PerItemOptimizer):
    """BFGS on one [N, d] latent tensor whose rows are independent problems.

    values(): each item's objective at the current latents (the loss the Trainer just differentiated).
    project(z): puts latents back in the feasible set, in place (constraints; identity if None).
    lr: the length in z of every item's first step, along its negative gradient."""

    def __init__(self, params, values: Callable[[], torch.Tensor], project: Callable[[torch.Tensor], None] | None = None,
                 lr: float = 0.5, tol: float = 1e-4, atol: float = 0.0):
        super().__init__(params, project, tol, lr, atol)
        self.values = values
        n, d = self.z.shape
        self.H = torch.eye(d, device=self.z.device).repeat(n, 1, 1)
        self.started = torch.zeros(n, dtype=torch.bool, device=self.z.device)  # has an accepted point
        self.z_prev = torch.zeros_like(self.z)
        self.f_prev = torch.zeros(n, device=self.z.device)
        self.g_prev = torch.zeros_like(self.z)
        self.direction = torch.zeros_like(self.z)
        self.t = torch.ones(n, device=self.z.device)
        self.updated = torch.zeros(n, dtype=torch.bool, device=self.z.device)  # has had a BFGS update

    @torch.no_grad()
    def step(self, closure=None):
        rows = self.active_rows()
        if len(rows) == 0:
            return None
        z, f, g = self.z.detach()[rows], self.values().detach()[rows], self.z.grad[rows]
        started = self.started[rows]
        z0, f0, g0 = self.z_prev[rows], self.f_prev[rows], self.g_prev[rows]
        s = z - z0
        ok = torch.isfinite(f) & (f <= f0 + ARMIJO * (g0 * s).sum(1))
        accept = ~started | ok
        retry = started & ~ok

        # accepted items: BFGS update with (s, y), then a new full step
        y = g - g0
        sy = (s * y).sum(1)
        update = accept & started & (sy > 1e-10 * s.norm(dim=1) * y.norm(dim=1))
        H = self.H[rows]
        first = update & ~self.updated[rows]
        scale = sy / y.pow(2).sum(1).clamp(min=1e-30)  # Shanno-Phua: H0 = (s.y / y.y) I before the first update
        H = torch.where(first[:, None, None], scale[:, None, None] * torch.eye(H.shape[1], device=H.device), H)
        rho = torch.where(update, 1 / sy.clamp(min=1e-30), torch.zeros_like(sy))
        eye = torch.eye(H.shape[1], device=H.device)
        left = eye - rho[:, None, None] * s[:, :, None] * y[:, None, :]
        H_new = left @ H @ left.transpose(1, 2) + rho[:, None, None] * s[:, :, None] * s[:, None, :]
        H = torch.where(update[:, None, None], H_new, H)
        d = -(H @ g.unsqueeze(2)).squeeze(2)
        # the very first step (and any non-descent direction): along -g, lr long
        steepest = -g * (self.param_groups[0]["lr"] / g.norm(dim=1, keepdim=True).clamp(min=1e-30))
        bad = ~self.updated[rows] & ~update | ((d * g).sum(1) >= 0)
        d = torch.where(bad[:, None], steepest, d)

        # stalled: a full quasi-Newton step (not the first, gradient-sized one, nor one shortened by the line
        # search, which may just be cautious) that improved the objective by less than tol, relative
        newton = self.updated[rows] & (self.t[rows] >= 1)
        stalled = accept & started & newton & (f0 - f <= self.tol * f0.abs())
        exact = accept & (f <= self.atol)  # exact enough: the objective is at most atol
        t = torch.where(retry, self.t[rows] * SHRINK, torch.ones_like(f))
        base = torch.where(retry[:, None], z0, z)
        d = torch.where(retry[:, None], self.direction[rows], d)
        new_z = base + t[:, None] * d
        self.project(new_z)

        # bookkeeping: the accepted points become the reference for the next Armijo check
        self.z_prev[rows] = torch.where(accept[:, None], z, z0)
        self.f_prev[rows] = torch.where(accept, f, f0)
        self.g_prev[rows] = torch.where(accept[:, None], g, g0)
        self.H[rows] = H
        self.updated[rows] |= update
        self.started[rows] = True
        self.direction[rows] = d
        self.t[rows] = t
        finished = stalled | exact | (t < 1e-6)
        # a finished item stays at its last accepted point
        self.z.data[rows] = torch.where(finished[:, None], self.z_prev[rows], new_z)
        self.active[rows[finished]] = False
        return None


class RestartingLBFGS(torch.optim.LBFGS):
    """torch's L-BFGS, which forgets its curvature pairs when its line search finds no step. On a generator
    with ReLUs the strong-Wolfe search can end at t = 0; torch's L-BFGS then tries the same direction from the
    same point at every later call and never moves again (VEEGAN on Fashion-MNIST, `inference=hybrid`: stuck
    at its encoder's start). Forgotten, the next step starts again along the gradient."""

    def step(self, closure):
        loss = super().step(closure)
        for state in self.state.values():
            if float(state.get("t", 1.0)) == 0.0:
                state.clear()
        return loss
