"""What every latentcli model shares: the latent prior and its support, sampling, the networks' builders,
what the model can do (an encoder, image features), optimisers, and the model contract.

Contract (ARCHITECTURE.md): `latent_dim`, `sample_latent(n)`, `generate(z)`, `encode(x)`, and the Trainer's
`optimizers()` and `losses(batch)` yielding (optimizer_name, loss, logs) in update order
(latentcli.engine.trainable). Models never call backward() or step(): the Trainer does.
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.data.stream import DataInfo
from latentcli.errors import UserError
from latentcli.models.nets import build_discriminator, build_generator, resolve_arch


class NoEncoderError(UserError):
    pass


class LatentModel(nn.Module):
    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        self.cfg = cfg
        self.info = info
        self.latent_dim = int(cfg.latent_dim)
        self.prior = cfg.prior
        self.arch = resolve_arch(cfg.arch, info.shape)
        self.pack = cfg.pack  # PacGAN's packing of the discriminator's inputs
        self.g_noise = cfg.g_noise  # noise inputs of a stochastic G(z, eps) / E(x, eps)
        self.e_noise = cfg.e_noise

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

    def to_support(self, z: torch.Tensor) -> torch.Tensor:
        """z inside the prior's support: clamped to [-1, 1] for the uniform prior (encoders' outputs)."""
        return z.clamp(-1, 1) if self.prior == "uniform" else z

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NoEncoderError(
            f"model {self.cfg.name!r} has no encoder: invert it with inference=optimize "
            "(or train a latent regressor for it)"
        )

    @property
    def has_encoder(self) -> bool:
        """Whether encode(x) answers: the model defines its own."""
        return type(self).encode is not LatentModel.encode

    @property
    def x_discriminator(self) -> nn.Module | None:
        """The discriminator that looks at data items x (D(x), or the joint D(x, z)), whose features(x) are
        the image features of perceptual distances and anomaly scores; None for a model without one (a model
        whose D judges z says so)."""
        return self._modules.get("discriminator")

    def averaged_modules(self) -> dict[str, nn.Module]:
        """What trainer.ema_decay averages (engine.trainable.Averaging): the networks that generate and encode,
        every child but the discriminators (named discriminator*), which must stay the ones that trained:
        their features feed anomaly scores and perceptual inversion."""
        return {name: m for name, m in self.named_children() if not name.startswith("discriminator")}

    def make_generator(self, batch_norm: bool = True) -> nn.Module:
        """G(z) (with model.g_noise, G(z, eps)) of the model's architecture and size."""
        cfg = self.cfg
        return build_generator(self.arch, self.latent_dim, self.info.shape, cfg.width, cfg.depth,
                               batch_norm=batch_norm, noise=self.g_noise)

    def make_discriminator(self, joint: bool) -> nn.Module:
        """D(x), or with joint=True the D(x, z) of BiGAN/ALI, with the model's dropout, spectral norm and packing."""
        cfg = self.cfg
        return build_discriminator(self.arch, self.info.shape, self.latent_dim, cfg.width, cfg.depth, joint=joint,
                                   dropout=cfg.d_dropout, spectral_norm=cfg.spectral_norm,
                                   pack=self.pack, pieces=cfg.maxout_pieces)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def losses(self, batch):
        raise NotImplementedError

    def adam(self, modules: list[nn.Module], lr: float) -> torch.optim.Adam:
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=lr, betas=tuple(self.cfg.betas))

    def adversarial_optimizers(self, players: list[nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """The discriminator's optimiser (model.lr_d) and the other players' one (model.lr_g)."""
        return {"discriminator": self.adam([self.discriminator], self.cfg.lr_d),
                "generator": self.adam(players, self.cfg.lr_g)}
