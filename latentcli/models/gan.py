"""GAN (Goodfellow et al. 2014) with the non-saturating generator loss: generates, cannot infer z."""

from __future__ import annotations

import torch.nn.functional as F

from latentcli.models.base import LatentModel
from latentcli.models.nets import build_discriminator, build_generator


class GAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.generator = build_generator(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.discriminator = build_discriminator(self.arch, info.shape, self.latent_dim, cfg.width, cfg.depth,
                                                 joint=False, dropout=cfg.get("d_dropout", 0.0),
                                                 spectral_norm=cfg.get("spectral_norm", False))

    def optimizers(self):
        return {
            "discriminator": self.adam([self.discriminator], self.cfg.lr_d),
            "generator": self.adam([self.generator], self.cfg.lr_g),
        }

    def losses(self, batch):
        x, _ = batch
        x_fake = self.generator(self.sample_latent(len(x)))
        d_real, d_fake = self.discriminator(x), self.discriminator(x_fake.detach())
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        yield "discriminator", loss_d, {"loss_d": loss_d, "d_real": d_real.sigmoid().mean(),
                                        "d_fake": d_fake.sigmoid().mean()}
        loss_g = F.softplus(-self.discriminator(x_fake)).mean()  # non-saturating: -log D(G(z))
        yield "generator", loss_g, {"loss_g": loss_g}
