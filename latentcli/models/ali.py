"""ALI (Dumoulin et al. 2017): BiGAN's game with a stochastic Gaussian encoder q(z|x), reparameterised.

As in the paper, the joint discriminator uses dropout (model.d_dropout, 0.2 by default). Inversion uses
the encoder's mean; training uses draws from q(z|x). With model.e_noise=k the encoder is instead
E(x, eps), eps ~ N(0, I_k) concatenated to x, as in the ALI code's COVConditional (PacGAN's and ALICE's
toy runs); inversion then feeds eps = 0.
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.models.bigan import BiGAN
from latentcli.models.nets import GaussianEncoder


class ALI(BiGAN):
    def build_encoder(self) -> nn.Module:
        if self.e_noise:  # q(z|x) as E(x, eps) (ALI's change-of-variables conditional), not a Gaussian
            return super().build_encoder()
        return GaussianEncoder(self.arch, self.latent_dim, self.info.shape, self.cfg.width, self.cfg.depth)

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        if self.e_noise:
            return super().infer(x)
        return self.to_support(self.encoder.sample(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.e_noise:
            return super().encode(x)
        return self.to_support(self.encoder(x)[0])  # the mean
