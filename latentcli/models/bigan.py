"""BiGAN (Donahue et al. 2017): generator G, deterministic encoder E, joint discriminator D(x, z).

D tells real pairs (x, E(x)) from generated pairs (G(z), z); G and E are trained together to fool it,
which at the optimum makes E the inverse of G. ALI and ALICE are this game with other encoders and
extra terms, so they subclass it.
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel
from latentcli.models.nets import build_encoder


class BiGAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.adversarial = AdversarialLoss(cfg)
        self.generator = self.make_generator()
        self.encoder = self.build_encoder()
        self.discriminator = self.make_discriminator(joint=True)

    def build_encoder(self) -> nn.Module:
        return build_encoder(self.arch, self.latent_dim, self.info.shape, self.cfg.width, self.cfg.depth,
                             noise=self.e_noise)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's z for x during training (ALI draws it from q(z|x); with e_noise, E(x, eps) draws eps)."""
        return self.to_support(self.encoder(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x, noise=False) if self.e_noise else self.encoder(x)  # eps = 0: a deterministic answer
        return self.to_support(z)

    def extra_losses(self, x, z, x_fake, z_real) -> dict[str, torch.Tensor]:
        """Further terms for G and E, by name (ALICE's cycle losses); none in BiGAN."""
        return {}

    def optimizers(self):
        return self.adversarial_optimizers([self.generator, self.encoder])

    def losses(self, batch):
        x, _ = batch
        z = self.sample_latent(len(x))
        x_fake, z_real = self.generator(z), self.infer(x)

        def discriminator_item():
            return "discriminator", *self.adversarial.discriminator_step(self.discriminator, (x, z_real), (x_fake, z))

        def generator_items():
            fake, real = x_fake, z_real
            for i in range(self.adversarial.g_steps):
                if i:  # the previous update changed G and E: the same x and z through them again
                    fake, real = self.generator(z), self.infer(x)
                loss_ge = self.adversarial.generator(self.discriminator(fake, z), d_real=self.discriminator(x, real))
                logs = {"loss_ge": loss_ge}
                for name, term in self.extra_losses(x, z, fake, real).items():
                    loss_ge = loss_ge + term
                    logs[name] = term
                yield "generator", loss_ge, logs

        yield from self.adversarial.schedule(discriminator_item, generator_items())
