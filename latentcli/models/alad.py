"""ALAD (Zenati et al. 2018, *Adversarially Learned Anomaly Detection*): BiGAN's joint game plus two
discriminators for cycle consistency, with spectral normalisation (model.spectral_norm) on all three.

D_xz tells (x, E(x)) from (G(z), z) as in BiGAN; D_xx tells (x, x) from (x, G(E(x))) and D_zz tells
(z, z) from (z, E(G(z))). G and E play all three games with the labels swapped, as in the authors' code
(houssamzenati/Adversarially-Learned-Anomaly-Detection): its generator and encoder losses are the joint
term plus the cycle terms. The anomaly score is the L1 distance between D_xx's features of (x, x) and of
(x, G(E(x))) (`latentcli evaluate metrics=[anomaly]`, score `alad`).
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.errors import UserError
from latentcli.models.bigan import BiGAN
from latentcli.models.nets import build_discriminator, build_latent_discriminator


class PairDiscriminator(nn.Module):
    """D(a, b) as one discriminator on [a, b] stacked along channels (images) or features (vectors)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.inner(torch.cat([a, b], dim=1))

    def features(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The layer before the score (the authors' `intermediate_layer`)."""
        return self.inner.head[:-1](self.inner.x_features(torch.cat([a, b], dim=1)))


class ALAD(BiGAN):
    def __init__(self, cfg, info):
        if cfg.pack != 1:
            raise UserError("model=alad does not pack its discriminators: leave model.pack=1")
        if cfg.arch not in ("auto", "mlp", "dcgan"):
            raise UserError("model=alad builds its pair discriminators from the mlp or dcgan family: "
                            "model.arch=auto, mlp or dcgan")
        super().__init__(cfg, info)
        spectral_norm, dropout = cfg.spectral_norm, cfg.d_dropout
        pair_shape = [2 * info.shape[0], *info.shape[1:]]
        self.discriminator_xx = PairDiscriminator(build_discriminator(
            self.arch, pair_shape, self.latent_dim, cfg.width, cfg.depth, joint=False, dropout=dropout,
            spectral_norm=spectral_norm))
        self.discriminator_zz = PairDiscriminator(build_latent_discriminator(
            2 * self.latent_dim, cfg.width, cfg.depth, dropout=dropout, spectral_norm=spectral_norm))

    def optimizers(self):
        return {
            "discriminator": self.adam([self.discriminator, self.discriminator_xx, self.discriminator_zz],
                                       self.cfg.lr_d),
            "generator": self.adam([self.generator, self.encoder], self.cfg.lr_g),
        }

    def passes(self, x, z):
        """G and E on the batch: G(z), E(x) and the reconstructions G(E(x)), E(G(z))."""
        x_fake, z_real = self.generator(z), self.infer(x)
        return x_fake, z_real, self.generator(z_real), self.infer(x_fake)

    def discriminators_loss(self, x, z, x_fake, z_real, x_rec, z_rec) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The three discriminators' losses summed (one optimiser), and what to log."""
        step = self.adversarial.discriminator_step
        loss_xz, logs = step(self.discriminator, (x, z_real), (x_fake, z))
        loss_xx, logs_xx = step(self.discriminator_xx, (x, x), (x, x_rec))
        loss_zz, logs_zz = step(self.discriminator_zz, (z, z), (z, z_rec))
        logs.update({"loss_d_xx": logs_xx["loss_d"], "loss_d_zz": logs_zz["loss_d"]})
        return loss_xz + loss_xx + loss_zz, logs

    def generators_loss(self, x, z, x_fake, z_real, x_rec, z_rec) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """G and E's loss in all three games, labels swapped, and what to log."""
        gen = self.adversarial.generator
        loss_xz = gen(self.discriminator(x_fake, z), d_real=self.discriminator(x, z_real))
        cycle_x = gen(self.discriminator_xx(x, x_rec), d_real=self.discriminator_xx(x, x))
        cycle_z = gen(self.discriminator_zz(z, z_rec), d_real=self.discriminator_zz(z, z))
        return loss_xz + cycle_x + cycle_z, {"loss_ge": loss_xz, "cycle_x": cycle_x, "cycle_z": cycle_z}

    def losses(self, batch):
        """One trainer step, in order. The Trainer applies each yielded loss to its optimiser at the yield
        (zero_grad, backward, step), so the code after a yield sees the updated weights."""
        x, _ = batch
        z = self.sample_latent(len(x))
        outputs = self.passes(x, z)
        if self.adversarial.simultaneous:  # both losses at the same weights, then G and E's update, then D's
            loss_d, logs_d = self.discriminators_loss(x, z, *outputs)
            loss_ge, logs_ge = self.generators_loss(x, z, *outputs)
            yield "generator", loss_ge, logs_ge
            yield "discriminator", loss_d, logs_d
            return
        for _ in range(self.adversarial.d_steps):  # D's inputs are detached: G and E's graph stays
            loss_d, logs_d = self.discriminators_loss(x, z, *outputs)
            yield "discriminator", loss_d, logs_d
        for i in range(self.adversarial.g_steps):
            if i:  # the previous update changed G and E: the same x and z through them again
                outputs = self.passes(x, z)
            loss_ge, logs_ge = self.generators_loss(x, z, *outputs)
            yield "generator", loss_ge, logs_ge

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """ALAD's score: ||f_xx(x, x) - f_xx(x, x_hat)||_1 per item."""
        d = self.discriminator_xx
        return (d.features(x, x) - d.features(x, x_hat)).abs().sum(1)
