"""VEEGAN (Srivastava et al. 2017, *VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational
Learning*): a generator G(z) and a reconstructor network F(x) -> z that, trained with G, learns to invert G
on generated data; a discriminator on (x, z) pairs estimates the density ratio between the generated pairs
(G(z), z) and the pairs (x, z ~ N(F(x), I)) of real data.

As in the paper's notebook (akashgit/VEEGAN, VEEGAN_2D_RING.ipynb):
    discriminator  logistic loss telling real pairs (x, z ~ N(F(x), I)) from generated pairs (G(z), z)
    G and F        minimise  E[log-ratio on (G(z), z)] + E[0.5 * ||z - F(G(z))||^2]
where the log-ratio is D's raw score of the generated pair with the sign that makes it the generated-vs-real
log density ratio (D scores real pairs high here), and the second term is -log N(z; F(G(z)), I) up to a
constant. F gets no gradient from D: only from the reconstruction of z. Inversion uses F(x).
"""

from __future__ import annotations

import torch

from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel
from latentcli.models.nets import build_encoder


class VEEGAN(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.adversarial = AdversarialLoss(cfg)
        self.generator = self.make_generator()
        self.encoder = build_encoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)  # F
        self.discriminator = self.make_discriminator(joint=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_support(self.encoder(x))

    def optimizers(self):
        return self.adversarial_optimizers([self.generator, self.encoder])

    def generator_loss(self, z, x_fake) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G and F's loss: the log-ratio on generated pairs plus z's reconstruction; and what to log."""
        log_ratio = -self.discriminator(x_fake, z).mean()
        reconstruction = 0.5 * (z - self.encoder(x_fake)).pow(2).sum(1).mean()
        return log_ratio + reconstruction, {"log_ratio": log_ratio, "recon_z": reconstruction}

    def losses(self, batch):
        """One trainer step, in order. The Trainer applies each yielded loss to its optimiser at the yield
        (zero_grad, backward, step), so the code after a yield sees the updated weights."""
        x, _ = batch
        z = self.sample_latent(len(x))
        x_fake = self.generator(z)
        z_real = self.encoder(x)
        z_real = z_real + torch.randn_like(z_real)  # a draw from N(F(x), I)
        if self.adversarial.simultaneous:  # both losses at the same weights, then G and F's update, then D's
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x, z_real), (x_fake, z))
            loss_g, logs_g = self.generator_loss(z, x_fake)
            yield "generator", loss_g, logs_g
            yield "discriminator", loss_d, logs_d
            return
        for _ in range(self.adversarial.d_steps):  # D's inputs are detached: G's graph stays for G's loss
            loss_d, logs_d = self.adversarial.discriminator_step(self.discriminator, (x, z_real), (x_fake, z))
            yield "discriminator", loss_d, logs_d
        for i in range(self.adversarial.g_steps):
            if i:  # the previous update changed G: generate again from the same z
                x_fake = self.generator(z)
            loss_g, logs_g = self.generator_loss(z, x_fake)
            yield "generator", loss_g, logs_g
