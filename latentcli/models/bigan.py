"""BiGAN (Donahue et al. 2017): generator G, deterministic encoder E, joint discriminator D(x, z).

D tells real pairs (x, E(x)) from generated pairs (G(z), z); G and E are trained together to fool it,
which at the optimum makes E the inverse of G.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentcli.models.base import LatentModel
from latentcli.models.nets import build_discriminator, build_encoder, build_generator


class BiGAN(LatentModel):
    has_encoder = True

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.generator = build_generator(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.encoder = build_encoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.discriminator = build_discriminator(self.arch, info.shape, self.latent_dim, cfg.width, cfg.depth,
                                                 joint=True, dropout=cfg.get("d_dropout", 0.0),
                                                 spectral_norm=cfg.get("spectral_norm", False))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)
        return z.clamp(-1, 1) if self.prior == "uniform" else z

    def optimizers(self):
        return {
            "discriminator": self.adam([self.discriminator], self.cfg.lr_d),
            "generator": self.adam([self.generator, self.encoder], self.cfg.lr_g),
        }

    def losses(self, batch):
        x, _ = batch
        z = self.sample_latent(len(x))
        x_fake, z_real = self.generator(z), self.encode(x)
        d_real = self.discriminator(x, z_real.detach())
        d_fake = self.discriminator(x_fake.detach(), z)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        yield "discriminator", loss_d, {"loss_d": loss_d, "d_real": d_real.sigmoid().mean(),
                                        "d_fake": d_fake.sigmoid().mean()}
        # G and E swap the labels (the non-saturating form of the BiGAN objective)
        loss_ge = F.softplus(self.discriminator(x, z_real)).mean() + F.softplus(-self.discriminator(x_fake, z)).mean()
        yield "generator", loss_ge, {"loss_ge": loss_ge}
