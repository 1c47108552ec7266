"""VAE (Kingma and Welling 2014): Gaussian encoder q(z|x), decoder p(x|z), trained on the (beta-)ELBO.

likelihood=gaussian scores x with N(decoder(z), sigma^2); likelihood=bernoulli treats each pixel,
mapped from [-1, 1] to [0, 1], as a Bernoulli probability (images only). beta weights the KL term
(Higgins et al. 2017); beta = 1 is the plain ELBO. The prior must be normal.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentcli.errors import UserError
from latentcli.models.base import LatentModel
from latentcli.models.nets import GaussianEncoder, build_generator, kl_to_standard_normal, reparameterise


def negative_log_likelihood(x_hat: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float) -> torch.Tensor:
    """-log p(x | decoder output) per item, up to a constant, summed over dimensions."""
    if likelihood == "bernoulli":
        p = ((x_hat + 1) / 2).clamp(1e-6, 1 - 1e-6)
        return F.binary_cross_entropy(p, (x + 1) / 2, reduction="none").flatten(1).sum(1)
    return 0.5 * (x_hat - x).pow(2).flatten(1).sum(1) / sigma**2


class VAE(LatentModel):
    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.require_normal_prior()
        self.likelihood = cfg.likelihood
        if self.likelihood not in ("gaussian", "bernoulli"):
            raise UserError(f"model.likelihood={self.likelihood!r} is not one of gaussian, bernoulli")
        if self.likelihood == "bernoulli" and info.kind != "image":
            raise UserError("model.likelihood=bernoulli needs images in [-1, 1]; use gaussian for point data")
        self.generator = build_generator(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.encoder = GaussianEncoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encoder(x)
        return mean

    def optimizers(self):
        return {"vae": self.adam([self.encoder, self.generator], self.cfg.lr)}

    def losses(self, batch):
        x, _ = batch
        mean, log_var = self.encoder(x)
        z = reparameterise(mean, log_var)
        nll = negative_log_likelihood(self.generator(z), x, self.likelihood, self.cfg.sigma).mean()
        kl = kl_to_standard_normal(mean, log_var).mean()
        loss = nll + self.cfg.beta * kl
        yield "vae", loss, {"loss": loss, "nll": nll, "kl": kl}
