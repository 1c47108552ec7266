"""Optimisation inversion: z found by gradient descent through the frozen generator, batched over all
items at once and run by the shared Trainer (`optimize`, and `hybrid` when started from the encoder
and kept near it).

The "model" the Trainer optimises is `LatentFit`, whose only parameters are the latents; the
generator is held frozen beside it. Each item's loss is independent, so summing them gives each
z[i] its own gradient. `restarts=K` stacks K starts per item into the same batch; the best z seen
for each item, over all steps and starts, is the answer.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time

import torch
from omegaconf import OmegaConf
from torch import nn

from latentcli.config.inference import InferenceConfig as OptimizeOptions  # the settings of optimisation inversion
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.inference.base import Inversion, chunks, frozen, per_item_mse
from latentcli.inference.gauss_newton import LevenbergMarquardt
from latentcli.inference.quasi_newton import BatchedBFGS, RestartingLBFGS


def project_latents(z: torch.Tensor, prior: str, constraint: str = "none", radius: float | None = None) -> None:
    """In place: z inside a uniform prior's support, then inside the constraint set (truncate: |z_i| <= radius;
    ball: ||z|| <= radius; sphere: ||z|| = radius, sqrt(d) by default, the norm a normal draw concentrates at)."""
    if prior == "uniform":
        z.clamp_(-1, 1)
    if constraint == "truncate":
        z.clamp_(-radius, radius)
    elif constraint in ("ball", "sphere"):
        r = radius if radius else z.shape[1] ** 0.5
        norm = z.norm(dim=1, keepdim=True).clamp(min=1e-12)
        z.mul_((r / norm).clamp(max=1.0) if constraint == "ball" else r / norm)


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
        self.recon_now = torch.zeros(len(z_init), device=z_init.device)
        self.objective_now = torch.zeros(len(z_init), device=z_init.device)
        self.solver = None  # bfgs and lm: the per-item solver, which knows the items still active
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
        options = self.options
        if options.optimizer == "lbfgs":
            # one L-BFGS iteration per trainer step, its step length found by a strong-Wolfe line search
            # (which re-evaluates the loss through `closure`): from z = 0, where the gradient is tiny, a fixed
            # gradient-sized step stalls
            return {"latent": RestartingLBFGS([self.z], lr=options.lr, max_iter=1, history_size=20,
                                              line_search_fn="strong_wolfe")}
        if options.optimizer == "bfgs":
            self.solver = BatchedBFGS([self.z], values=lambda: self.objective_now, project=self.constrain,
                                      lr=options.lr, tol=options.tol, atol=options.atol)
            return {"latent": self.solver}
        if options.optimizer == "lm":
            self.solver = LevenbergMarquardt([self.z], residuals=self.residuals, project=self.constrain,
                                             tol=options.tol, atol=options.atol)
            return {"latent": self.solver}
        return {"latent": torch.optim.Adam([self.z], lr=self.options.lr)}

    def item_losses(self, z: torch.Tensor, rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(objective, reconstruction error) per item; `rows`: which items z holds (default all)."""
        model, options = self.model, self.options
        x_hat = model.generate(z)
        x = self.x if rows is None else self.x[rows]
        diff = (x_hat - x).flatten(1)
        recon = diff.pow(2).mean(1) if options.loss == "mse" else diff.abs().mean(1)
        objective = recon
        if self.x_features is not None:
            objective = objective + options.perceptual_weight * (
                model.x_discriminator.features(x_hat) - self.x_features[rows if rows is not None else slice(None)]
            ).pow(2).mean(1)
        if options.prior_weight:
            objective = objective + options.prior_weight * prior_penalty(model, z) / model.latent_dim
        if options.encoder_weight:  # In-Domain GAN inversion's regulariser: z should be what E sees in G(z)
            objective = objective + options.encoder_weight * (z - model.encode(x_hat)).pow(2).mean(1)
        return objective, recon

    def residuals(self, z: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """For optimizer=lm: per item, the residuals whose squared sum is (pixels x) its objective."""
        model = self.model
        r = (model.generate(z) - self.x[rows]).flatten(1)
        if self.options.prior_weight and model.prior == "normal":
            r = torch.cat([r, (self.options.prior_weight * r.shape[1] / (2 * model.latent_dim)) ** 0.5 * z], 1)
        return r

    def constrain(self, z: torch.Tensor) -> None:
        """Puts z (in place) back in the feasible set: a uniform prior's support, then inference.constraint."""
        with torch.no_grad():
            project_latents(z, self.model.prior, self.options.constraint, self.options.radius)

    def project(self) -> None:
        """Projected descent: z is put back in the feasible set before every use."""
        self.constrain(self.z.data)

    def losses(self, batch):
        self.project()
        rows = None if self.solver is None or self.solver.active.all() else self.solver.active.nonzero().squeeze(1)
        if rows is None:
            objective, recon = self.item_losses(self.z)
            self.objective_now, self.recon_now = objective.detach(), recon.detach()
        else:  # finished items cost nothing: only the active ones are evaluated
            objective, recon = self.item_losses(self.z[rows], rows)
            self.objective_now[rows], self.recon_now[rows] = objective.detach(), recon.detach()
        self.record(self.recon_now.clone())
        yield "latent", objective.sum(), {"loss": self.recon_now.mean()}

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
        if self.solver is not None and self.solver.done:
            return True
        patience = self.options.patience
        return patience is not None and self.steps_without_progress >= patience


class OptimizeInverter:
    """Batched latent optimisation; with init=encoder and encoder_weight > 0 it is the hybrid method."""

    def __init__(self, options: OptimizeOptions, method: str = "optimize", seed: int = 0):
        self.options, self.method, self.seed = options, method, seed

    @classmethod
    def build(cls, cfg, model, seed: int, regressor) -> "OptimizeInverter":
        """method=optimize or hybrid, from the inference config."""
        return cls(OmegaConf.to_object(cfg), method=cfg.method, seed=seed)  # cfg: typed by build_inverter

    def initial_latents(self, model, x: torch.Tensor) -> torch.Tensor:
        """restarts x n starting points: the first block from `init`, the others random prior draws."""
        n, device = len(x), x.device
        if self.options.init == "encoder":
            first = model.encode(x).detach()
        elif self.options.init == "random":
            first = model.sample_latent(n, generator=torch.Generator().manual_seed(self.seed))
        else:
            first = torch.zeros(n, model.latent_dim, device=device)
        if self.options.candidates > 1:
            first = self.best_candidate(model, x, first)
        if self.options.restarts == 1:
            return first
        generator = torch.Generator().manual_seed(self.seed + 1)
        return torch.cat([first, model.sample_latent(n * (self.options.restarts - 1), generator=generator)])

    @torch.no_grad()
    def best_candidate(self, model, x: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """Per item, the best of `first` and candidates - 1 prior draws by reconstruction error: one forward
        pass each, a cheap way out of a poor start's basin."""
        options = self.options
        draws = model.sample_latent(len(x) * (options.candidates - 1), generator=torch.Generator().manual_seed(self.seed + 2))
        z = torch.cat([first, draws]).view(options.candidates, len(x), -1)
        for k in range(len(z)):
            project_latents(z[k], model.prior, options.constraint, options.radius)
        errors = torch.stack([per_item_mse(model.generate(zk), x) for zk in z])
        return z[errors.argmin(0), torch.arange(len(x), device=x.device)]

    def expected_seconds(self, model, x: torch.Tensor, probe_steps: int = 3) -> float:
        """A rough time for invert(model, x): `probe_steps` steps of the first batch, timed, scaled to every
        batch's steps (patience may stop sooner). Costs probe_steps / steps of one batch."""
        probe = OptimizeInverter(dataclasses.replace(self.options, steps=probe_steps, progress=False), self.method,
                                 self.seed)
        seconds = probe.invert(model, x[:self.options.batch_size]).seconds
        return seconds / probe_steps * self.options.steps * math.ceil(len(x) / self.options.batch_size)

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
