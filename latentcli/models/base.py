"""What every latentcli model shares: the latent prior, sampling, optimisers, and the model contract.

Contract (DESIGN.md): `latent_dim`, `sample_latent(n)`, `generate(z)`, `encode(x)`, `optimizers()`,
and `losses(batch)` yielding (optimizer_name, loss, logs) in update order. Models never call
backward() or step(): the Trainer does.
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.models.nets import resolve_arch


class NoEncoderError(UserError):
    pass


class LatentModel(nn.Module):
    has_encoder = False

    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        self.cfg = cfg
        self.info = info
        self.latent_dim = int(cfg.latent_dim)
        self.prior = cfg.get("prior", "normal")
        if self.prior not in ("normal", "uniform"):
            raise UserError(f"model.prior={self.prior!r} is not one of normal, uniform")
        self.arch = resolve_arch(cfg.get("arch", "auto"), info.shape)
        self.pack = int(cfg.get("pack", 1))  # PacGAN's packing of the discriminator's inputs
        self.g_noise = int(cfg.get("g_noise", 0))  # noise inputs of a stochastic G(z, eps) / E(x, eps)
        self.e_noise = int(cfg.get("e_noise", 0))
        if self.pack < 1 or self.g_noise < 0 or self.e_noise < 0:
            raise UserError("model.pack must be >= 1 and model.g_noise, model.e_noise >= 0")

    def require_normal_prior(self) -> None:
        """For models with a KL term to N(0, I) (the VAEs)."""
        if self.prior != "normal":
            raise UserError(f"model {self.cfg.name!r} needs prior=normal: its KL term is to N(0, I)")

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from the prior; with a (CPU) generator, reproducible whatever the device."""
        device = next(self.parameters()).device
        where = "cpu" if generator is not None else device
        if self.prior == "uniform":  # U(-1, 1), as in the BiGAN paper
            z = torch.rand(n, self.latent_dim, generator=generator, device=where) * 2 - 1
        else:
            z = torch.randn(n, self.latent_dim, generator=generator, device=where)
        return z.to(device)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NoEncoderError(
            f"model {self.cfg.name!r} has no encoder: invert it with inference=optimize "
            "(or train a latent regressor for it)"
        )

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def losses(self, batch):
        raise NotImplementedError

    def adam(self, modules: list[nn.Module], lr: float) -> torch.optim.Adam:
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=lr, betas=tuple(self.cfg.betas))
