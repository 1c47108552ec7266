"""ALI (Dumoulin et al. 2017): BiGAN's game with a stochastic Gaussian encoder q(z|x), reparameterised.

As in the paper, the joint discriminator uses dropout (model.d_dropout, 0.2 by default). Inversion uses
the encoder's mean; training uses draws from q(z|x).
"""

from __future__ import annotations

import torch

from latentcli.models.bigan import BiGAN
from latentcli.models.nets import GaussianEncoder


class ALI(BiGAN):
    def build_encoder(self) -> GaussianEncoder:
        return GaussianEncoder(self.arch, self.latent_dim, self.info.shape, self.cfg.width, self.cfg.depth)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder.sample(x)
        return z.clamp(-1, 1) if self.prior == "uniform" else z

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encoder(x)
        return mean.clamp(-1, 1) if self.prior == "uniform" else mean
