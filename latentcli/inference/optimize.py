"""Optimisation inversion: z found by gradient descent through the frozen generator, batched over all
items at once and run by the shared Trainer (`optimize`, and `hybrid` when started from the encoder
and kept near it).

The "model" the Trainer optimises is `LatentFit`, whose only parameters are the latents; the
generator is held frozen beside it. Each item's loss is independent, so summing them gives each
z[i] its own gradient. `restarts=K` stacks K starts per item into the same batch; the best z seen
for each item, over all steps and starts, is the answer.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, fields

import torch
from torch import nn

from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.inference.base import Inversion, chunks, frozen, per_item_mse


@dataclass
class OptimizeOptions:
    """Settings of optimisation inversion; configs/inference/optimize.yaml documents each."""

    steps: int = 500
    optimizer: str = "adam"  # adam | lbfgs
    lr: float = 0.05
    loss: str = "mse"  # mse | l1
    perceptual_weight: float = 0.0
    prior_weight: float = 0.0
    encoder_weight: float = 0.0
    init: str = "prior_mean"  # prior_mean | random | encoder
    restarts: int = 1
    patience: int | None = None
    tol: float = 1e-4
    history_every: int = 10
    batch_size: int = 1024
    progress: bool = True

    @classmethod
    def from_cfg(cls, cfg) -> "OptimizeOptions":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(cfg).items() if k != "method"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown inference option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        options = cls(**values)
        for name, allowed in [("optimizer", ("adam", "lbfgs")), ("loss", ("mse", "l1")),
                              ("init", ("prior_mean", "random", "encoder"))]:
            if getattr(options, name) not in allowed:
                raise UserError(f"inference.{name}={getattr(options, name)!r} is not one of {', '.join(allowed)}")
        if options.restarts < 1 or options.steps < 1:
            raise UserError("inference.restarts and inference.steps must be at least 1")
        return options


def prior_penalty(model, z: torch.Tensor) -> torch.Tensor:
    """Negative log-density of the model's prior per item, up to a constant (0 inside a uniform prior)."""
    if model.prior == "uniform":
        return (z.abs() - 1).clamp(min=0).pow(2).sum(1)
    return 0.5 * z.pow(2).sum(1)


class LatentFit(nn.Module):
    """The latents of one batch as a trainable: loss per item, best z per item, a loss history."""

    def __init__(self, model, x: torch.Tensor, z_init: torch.Tensor, options: OptimizeOptions):
        super().__init__()
        self._model = (model,)  # a tuple, so the model is not registered as a submodule of this problem
        self.x = x
        self.options = options
        self.z = nn.Parameter(z_init.clone())
        self.best_loss = torch.full((len(z_init),), float("inf"), device=z_init.device)
        self.best_z = z_init.clone()
        self.history: list[torch.Tensor] = []
        self.steps_taken = 0
        self.steps_without_progress = 0
        self.x_features = None
        if options.perceptual_weight:
            features = model.x_discriminator.features if model.x_discriminator is not None else None
            if features is None:
                raise UserError(f"inference.perceptual_weight needs a discriminator on images; model "
                                f"{model.cfg.name!r} has none (gan, bigan, ali, alice and vaegan do)")
            self.x_features = features(x).detach()

    @property
    def model(self):
        return self._model[0]

    def optimizers(self):
        if self.options.optimizer == "lbfgs":
            # one L-BFGS iteration per trainer step, its step length found by a strong-Wolfe line search
            # (which re-evaluates the loss through `closure`): from z = 0, where the gradient is tiny, a fixed
            # gradient-sized step stalls
            return {"latent": torch.optim.LBFGS([self.z], lr=self.options.lr, max_iter=1, history_size=20,
                                                line_search_fn="strong_wolfe")}
        return {"latent": torch.optim.Adam([self.z], lr=self.options.lr)}

    def item_losses(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective, reconstruction error) per item."""
        model, options = self.model, self.options
        x_hat = model.generate(z)
        diff = (x_hat - self.x).flatten(1)
        recon = diff.pow(2).mean(1) if options.loss == "mse" else diff.abs().mean(1)
        objective = recon
        if self.x_features is not None:
            objective = objective + options.perceptual_weight * (
                model.x_discriminator.features(x_hat) - self.x_features).pow(2).mean(1)
        if options.prior_weight:
            objective = objective + options.prior_weight * prior_penalty(model, z) / model.latent_dim
        if options.encoder_weight:  # In-Domain GAN inversion's regulariser: z should be what E sees in G(z)
            objective = objective + options.encoder_weight * (z - model.encode(x_hat)).pow(2).mean(1)
        return objective, recon

    def project(self) -> None:
        """Projected descent for a uniform prior: z is put back inside its support before every use."""
        if self.model.prior == "uniform":
            with torch.no_grad():
                self.z.clamp_(-1, 1)

    def losses(self, batch):
        self.project()
        objective, recon = self.item_losses(self.z)
        self.record(recon.detach())
        yield "latent", objective.sum(), {"loss": recon.mean()}

    def closure(self, name: str, batch) -> torch.Tensor:
        """The objective again at the current z, for the line search's trial points (nothing recorded)."""
        return self.item_losses(self.z)[0].sum()

    def record(self, recon: torch.Tensor) -> None:
        """Keeps each item's best z so far, the loss history, and whether anything still improves."""
        with torch.no_grad():
            improved = recon < self.best_loss * (1 - self.options.tol)
            better = recon < self.best_loss
            self.best_loss = torch.where(better, recon, self.best_loss)
            self.best_z[better] = self.z.detach()[better]
        self.steps_without_progress = 0 if improved.any() else self.steps_without_progress + 1
        if self.steps_taken % self.options.history_every == 0:
            self.history.append(recon.cpu())
        self.steps_taken += 1

    def converged(self) -> bool:
        patience = self.options.patience
        return patience is not None and self.steps_without_progress >= patience


class OptimizeInverter:
    """Batched latent optimisation; with init=encoder and encoder_weight > 0 it is the hybrid method."""

    def __init__(self, options: OptimizeOptions, method: str = "optimize", seed: int = 0):
        self.options, self.method, self.seed = options, method, seed

    @classmethod
    def build(cls, cfg, model, seed: int, regressor) -> "OptimizeInverter":
        """method=optimize or hybrid, from the inference config."""
        options = {k: v for k, v in cfg.items() if k not in ("method", "regressor_ckpt")}
        return cls(OptimizeOptions.from_cfg(options), method=cfg.method, seed=seed)

    def initial_latents(self, model, x: torch.Tensor) -> torch.Tensor:
        """restarts x n starting points: the first block from `init`, the others random prior draws."""
        n, device = len(x), x.device
        if self.options.init == "encoder":
            first = model.encode(x).detach()
        elif self.options.init == "random":
            first = model.sample_latent(n, generator=torch.Generator().manual_seed(self.seed))
        else:
            first = torch.zeros(n, model.latent_dim, device=device)
        if self.options.restarts == 1:
            return first
        generator = torch.Generator().manual_seed(self.seed + 1)
        return torch.cat([first, model.sample_latent(n * (self.options.restarts - 1), generator=generator)])

    def invert(self, model, x: torch.Tensor) -> Inversion:
        options = self.options
        start = time.perf_counter()
        device = next(model.parameters()).device
        cfg = TrainerConfig(max_steps=options.steps, device=str(device), precision="32", log_every=10,
                            progress=options.progress, tensorboard=False)
        zs, histories, steps = [], [], 0
        with frozen(model):
            for done, part in enumerate(chunks(x, options.batch_size)):
                part = part.to(device)
                k = options.restarts
                targets = part.repeat(k, *[1] * (part.dim() - 1))
                problem = LatentFit(model, targets, self.initial_latents(model, part), options)
                trainer = Trainer(cfg, in_memory=True, desc=f"{self.method} {done * options.batch_size + len(part)}/{len(x)}")
                result = trainer.fit(problem, lambda start_step: itertools.repeat(None))
                steps = max(steps, result.step)
                problem.project()
                with torch.no_grad():
                    problem.record(problem.item_losses(problem.z)[1])  # score the final step's latents too
                # of each item's k starts, keep the one with the lowest loss
                best = problem.best_loss.view(k, -1).argmin(0)
                rows = best * len(part) + torch.arange(len(part), device=device)
                zs.append(problem.best_z[rows])
                histories.append(torch.stack(problem.history).view(-1, k, len(part)).min(1).values)
            z = torch.cat(zs)
            with torch.no_grad():
                x_hat = torch.cat([model.generate(part) for part in chunks(z, options.batch_size)])
        return Inversion(z, x_hat, per_item_mse(x_hat, x.to(device)), self.method, steps,
                         time.perf_counter() - start, history=_side_by_side(histories),
                         history_every=options.history_every)


def _side_by_side(histories: list[torch.Tensor]) -> torch.Tensor:
    """Joins the chunks' [records x items] histories; a chunk that stopped early repeats its last record."""
    length = max(len(h) for h in histories)
    return torch.cat([torch.cat([h, h[-1:].expand(length - len(h), -1)]) for h in histories], dim=1)
