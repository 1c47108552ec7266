"""What the per-item solvers (BFGS, Levenberg-Marquardt) share: one [N, d] latent tensor whose rows are
independent problems, a projection onto the feasible set, and a mask of the items still being solved."""

from __future__ import annotations

from typing import Callable

import torch


class PerItemOptimizer(torch.optim.Optimizer):
    """project(z): puts latents back in the feasible set, in place (constraints; identity if None).
    tol: an item stops once an accepted step improves its objective by less than this (relative): its fit has
    levelled off (a real image). atol: or once its objective is at most this: its fit is exact enough (a
    generated image, whose error tends to 0 and would otherwise be halved again and again)."""

    def __init__(self, params, project: Callable[[torch.Tensor], None] | None, tol: float, lr: float,
                 atol: float = 0.0):
        super().__init__(params, {"lr": lr})
        (self.z,) = self.param_groups[0]["params"]
        self.project, self.tol, self.atol = project or (lambda z: None), tol, atol
        self.active = torch.ones(len(self.z), dtype=torch.bool, device=self.z.device)

    @property
    def done(self) -> bool:
        return not bool(self.active.any())

    def active_rows(self) -> torch.Tensor:
        """The indices of the items still being solved (finished ones cost nothing more)."""
        return self.active.nonzero().squeeze(1)
