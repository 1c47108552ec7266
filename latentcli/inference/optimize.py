"""Optimisation inversion: Adam on z for a whole batch at once, run by the shared Trainer.

The "model" the Trainer optimises is `LatentFit`, whose only parameters are the latents; the
generator is held frozen beside it. Each item's loss is independent, so summing them gives each
z[i] its own gradient, and the best z seen for each item is kept.
"""

from __future__ import annotations

import itertools
import time

import torch
from torch import nn

from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.inference.base import Inversion, chunks, frozen, per_item_mse


class LatentFit(nn.Module):
    def __init__(self, model, z_init: torch.Tensor, lr: float, prior_weight: float):
        super().__init__()
        self._model = (model,)  # a tuple, so the model is not registered as a submodule of this problem
        self.z = nn.Parameter(z_init.clone())
        self.lr = lr
        self.prior_weight = prior_weight
        self.best_loss = torch.full((len(z_init),), float("inf"), device=z_init.device)
        self.best_z = z_init.clone()

    @property
    def model(self):
        return self._model[0]

    def optimizers(self):
        return {"latent": torch.optim.Adam([self.z], lr=self.lr)}

    def prior_penalty(self, z: torch.Tensor) -> torch.Tensor:
        """Negative log-density of the prior per item, up to a constant."""
        if self.model.prior == "uniform":  # zero inside the support, growing outside it
            return (z.abs() - 1).clamp(min=0).pow(2).sum(1)
        return 0.5 * z.pow(2).sum(1)

    def losses(self, batch):
        x = batch
        recon = per_item_mse(self.model.generate(self.z), x)
        with torch.no_grad():  # keep each item's best latent so far
            better = recon < self.best_loss
            self.best_loss = torch.where(better, recon.detach(), self.best_loss)
            self.best_z[better] = self.z.detach()[better]
        loss = recon
        if self.prior_weight:
            loss = loss + self.prior_weight * self.prior_penalty(self.z) / self.model.latent_dim
        yield "latent", loss.sum(), {"mse": recon.mean()}


class OptimizeInverter:
    method = "optimize"

    def __init__(self, steps: int = 500, lr: float = 0.05, batch_size: int = 1024, init: str = "prior_mean",
                 prior_weight: float = 0.0, progress: bool = True, seed: int = 0):
        self.steps, self.lr, self.batch_size = steps, lr, batch_size
        self.init, self.prior_weight, self.progress, self.seed = init, prior_weight, progress, seed

    def initial_latents(self, model, n: int) -> torch.Tensor:
        if self.init == "random":
            return model.sample_latent(n, generator=torch.Generator().manual_seed(self.seed))
        return torch.zeros(n, model.latent_dim, device=next(model.parameters()).device)

    def invert(self, model, x: torch.Tensor) -> Inversion:
        start = time.perf_counter()
        device = next(model.parameters()).device
        cfg = TrainerConfig(max_steps=self.steps, device=str(device), precision="32", log_every=10,
                            progress=self.progress, tensorboard=False)
        zs = []
        with frozen(model):
            for i, part in enumerate(chunks(x, self.batch_size)):
                part = part.to(device)
                problem = LatentFit(model, self.initial_latents(model, len(part)), self.lr, self.prior_weight)
                trainer = Trainer(cfg, desc=f"invert {i * self.batch_size + len(part)}/{len(x)}")
                trainer.fit(problem, lambda start_step: itertools.repeat(part))
                with torch.no_grad():
                    list(problem.losses(part))  # scores the final step's latents too
                zs.append(problem.best_z)
            z = torch.cat(zs)
            with torch.no_grad():
                x_hat = torch.cat([model.generate(part) for part in chunks(z, self.batch_size)])
        return Inversion(z, x_hat, per_item_mse(x_hat, x.to(device)), self.method, self.steps,
                         time.perf_counter() - start)
