"""VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction error is measured in the discriminator's
feature space, plus a GAN loss on both reconstructions and prior samples.

Three players, as in the paper:
    discriminator  tells real x from reconstructions G(E(x)) and samples G(z), z ~ prior
    encoder        minimises  beta * KL(q(z|x) || N(0, I)) + L_feat
    generator      minimises  gamma * L_feat + adversarial loss on reconstructions and samples
where L_feat = 0.5 * ||D.features(x) - D.features(G(z~q(z|x)))||^2 per item (a Gaussian in D's
feature space). The prior must be normal.
"""

from __future__ import annotations

import torch

from latentcli.errors import UserError
from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel
from latentcli.models.nets import (
    GaussianEncoder,
    build_generator,
    kl_to_standard_normal,
    reparameterise,
)


class VAEGAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.require_normal_prior()
        if self.pack > 1:
            raise UserError("model=vaegan measures reconstructions in D's per-item features: it cannot pack (model.pack=1)")
        self.adversarial = AdversarialLoss(cfg)
        self.generator = build_generator(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.encoder = GaussianEncoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.discriminator = self.make_discriminator(joint=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encoder(x)
        return mean

    def optimizers(self):
        return {
            "discriminator": self.adam([self.discriminator], self.cfg.lr_d),
            "encoder": self.adam([self.encoder], self.cfg.lr_g),
            "generator": self.adam([self.generator], self.cfg.lr_g),
        }

    def feature_loss(self, x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
        target = self.discriminator.features(x).detach()
        return 0.5 * (self.discriminator.features(x_rec) - target).pow(2).sum(1).mean()

    def losses(self, batch):
        x, _ = batch
        mean, log_var = self.encoder(x)
        z = reparameterise(mean, log_var)
        x_rec, x_prior = self.generator(z), self.generator(self.sample_latent(len(x)))
        x_fake = torch.cat([x_rec, x_prior])

        yield "discriminator", *self.adversarial.discriminator_step(self.discriminator, (x,), (x_fake,))

        # Each later loss is built after the previous update, so no graph spans a changed weight.
        kl = kl_to_standard_normal(mean, log_var).mean()
        feature = self.feature_loss(x, x_rec)
        yield "encoder", self.cfg.beta * kl + feature, {"kl": kl, "feature": feature}

        x_rec = self.generator(z.detach())
        loss_adv = self.adversarial.generator(self.discriminator(torch.cat([x_rec, x_prior])))
        loss_g = self.cfg.gamma * self.feature_loss(x, x_rec) + loss_adv
        yield "generator", loss_g, {"loss_g": loss_adv}
