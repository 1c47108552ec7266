"""GAN (Goodfellow et al. 2014): generator and discriminator only; generates, cannot infer z."""

from __future__ import annotations

from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel
from latentcli.models.nets import build_discriminator, build_generator


class GAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.adversarial = AdversarialLoss(cfg)
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
        loss_d = self.adversarial.discriminator(d_real, d_fake)
        penalty = self.adversarial.penalty(self.discriminator, (x,), (x_fake,))
        yield "discriminator", loss_d + penalty, {"loss_d": loss_d, "d_real": d_real.mean(), "d_fake": d_fake.mean(),
                                                  "penalty": penalty}
        loss_g = self.adversarial.generator(self.discriminator(x_fake))
        yield "generator", loss_g, {"loss_g": loss_g}
