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

    def generator_loss(self, x, z, x_fake, z_real) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G and E's loss: D fooled on both pairs, plus the extra terms; and what to log."""
        loss_ge = self.adversarial.generator(self.discriminator(x_fake, z), d_real=self.discriminator(x, z_real))
        logs = {"loss_ge": loss_ge}
        for name, term in self.extra_losses(x, z, x_fake, z_real).items():
            loss_ge = loss_ge + term
            logs[name] = term
        return loss_ge, logs

    def losses(self, batch):
        """One trainer step, in order. The Trainer applies each yielded loss to its optimiser at the yield
        (zero_grad, backward, step), so the code after a yield sees the updated weights."""
        x, _ = batch
        z = self.sample_latent(len(x))
        x_fake, z_real = self.generator(z), self.infer(x)
        if self.adversarial.simultaneous:  # both losses at the same weights, then G and E's update, then D's
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x, z_real), (x_fake, z))
            loss_ge, logs_ge = self.generator_loss(x, z, x_fake, z_real)
            yield "generator", loss_ge, logs_ge
            yield "discriminator", loss_d, logs_d
            return
        for _ in range(self.adversarial.d_steps):  # D's inputs are detached: G and E's graph stays
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x, z_real), (x_fake, z))
            yield "discriminator", loss_d, logs_d
        for i in range(self.adversarial.g_steps):
            if i:  # the previous update changed G and E: the same x and z through them again
                x_fake, z_real = self.generator(z), self.infer(x)
            loss_ge, logs_ge = self.generator_loss(x, z, x_fake, z_real)
            yield "generator", loss_ge, logs_ge
