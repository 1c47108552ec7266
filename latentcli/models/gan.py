"""GAN (Goodfellow et al. 2014): generator and discriminator only; generates, cannot infer z."""

from __future__ import annotations

import torch

from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel


class GAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.adversarial = AdversarialLoss(cfg)
        self.generator = self.make_generator()
        self.discriminator = self.make_discriminator(joint=False)

    def optimizers(self):
        return self.adversarial_optimizers([self.generator])

    def generate_packed(self, z):
        """G(z) for a packed D: G runs once per pack slot (the j-th item of every pack), as PacGAN's code calls
        it, so that BatchNorm's batch statistics are over one sample per pack, not over all batch * pack."""
        if self.pack == 1:
            return self.generator(z)
        slots = z.view(len(z) // self.pack, self.pack, *z.shape[1:])
        return torch.stack([self.generator(slots[:, j]) for j in range(self.pack)], dim=1).flatten(0, 1)

    def losses(self, batch):
        """One trainer step, in order. The Trainer applies each yielded loss to its optimiser at the yield
        (zero_grad, backward, step), so the code after a yield sees the updated weights."""
        x, _ = batch
        z = self.sample_latent(len(x))
        x_fake = self.generate_packed(z)
        if self.adversarial.simultaneous:  # both losses at the same weights, then G's update, then D's
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x,), (x_fake,))
            loss_g = self.adversarial.generator(self.discriminator(x_fake))
            yield "generator", loss_g, {"loss_g": loss_g}
            yield "discriminator", loss_d, logs_d
            return
        for _ in range(self.adversarial.d_steps):  # D's inputs are detached: G's graph stays for G's loss
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x,), (x_fake,))
            yield "discriminator", loss_d, logs_d
        for i in range(self.adversarial.g_steps):
            if i:  # the previous update changed G: generate again from the same z
                x_fake = self.generate_packed(z)
            loss_g = self.adversarial.generator(self.discriminator(x_fake))
            yield "generator", loss_g, {"loss_g": loss_g}
