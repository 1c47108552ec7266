"""Adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose codes are pushed to the prior
by a discriminator on z.

Each step has the paper's two phases: the reconstruction phase updates encoder and decoder on the
mean squared error; the regularisation phase updates D(z) to tell prior draws from codes E(x), then
the encoder to fool it. Samples are decoder(z) with z from the prior.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentcli.models.adversarial import AdversarialLoss
from latentcli.models.base import LatentModel
from latentcli.models.nets import build_encoder, build_latent_discriminator


class AAE(LatentModel):
    x_discriminator = None  # its discriminator judges codes z, not data

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.adversarial = AdversarialLoss(cfg)
        # No BatchNorm in the decoder: the codes it is trained on shift from step to step under the
        # adversarial phase, so running statistics lag behind and eval-mode reconstructions suffer.
        self.generator = self.make_generator(batch_norm=False)
        self.encoder = build_encoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.discriminator = build_latent_discriminator(self.latent_dim, int(cfg.z_width), 3,
                                                        dropout=cfg.d_dropout,
                                                        spectral_norm=cfg.spectral_norm,
                                                        pack=self.pack)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_support(self.encoder(x))

    def optimizers(self):
        return {
            "autoencoder": self.adam([self.encoder, self.generator], self.cfg.lr_g),
            "discriminator": self.adam([self.discriminator], self.cfg.lr_d),
            "encoder": self.adam([self.encoder], self.cfg.lr_g),
        }

    def losses(self, batch):
        x, _ = batch
        recon = F.mse_loss(self.generator(self.encoder(x)), x)
        yield "autoencoder", recon, {"recon": recon}

        z_prior, z_code = self.sample_latent(len(x)), self.encoder(x)
        yield "discriminator", *self.adversarial.discriminator_step(self.discriminator, (z_prior,), (z_code,))

        loss_e = self.adversarial.generator(self.discriminator(z_code))
        yield "encoder", loss_e, {"loss_e": loss_e}
