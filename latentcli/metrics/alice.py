"""metrics=[alice]: the toy protocol of ALICE (Li et al. 2017; ChunyuanLI/ALICE, toy_data and the notebook
plot_generation/alice_plots_paper.ipynb), on the test split (1,024 points for alice5).

- mse: the reconstruction error as ALICE's training cost defines it, the mean over points and coordinates of
  (G(E(x)) - x)^2 with fresh noise in a stochastic E and G (mse_capped: min(mse, 10), as the notebook's
  per-run numbers are capped; null without an encoder);
- icp: the toy "inception score" of samples G(z) for as many prior draws: exp(E_x KL(p(y|x) || p(y))), the
  mean over 10 equal splits, with p(y|x) the posterior of the true mixture (the ideal classifier; the
  repository's trained classifier is not public). icp_real is the same score of the real test points
  (about the number of modes for a perfect sampler).
"""

from __future__ import annotations

import torch

from latentcli.errors import UserError


def mixture_posterior(points: torch.Tensor, centres: torch.Tensor, sigma: float) -> torch.Tensor:
    """p(mode | x) of an equal-weight isotropic Gaussian mixture, rows summing to 1."""
    return torch.softmax(-torch.cdist(points.double(), centres.double()).pow(2) / (2 * sigma**2), dim=1)


def inception_score(p_y_given_x: torch.Tensor, splits: int = 10) -> float:
    """exp(mean_x KL(p(y|x) || p(y))), p(y) the split's mean prediction; the mean over `splits` equal splits."""
    scores = []
    for part in p_y_given_x.chunk(splits):
        p_y = part.mean(0, keepdim=True)
        kl = torch.xlogy(part, part) - part * p_y.log()
        scores.append(float(kl.sum(1).mean().exp()))
    return sum(scores) / len(scores)


def reconstruction_mse(x: torch.Tensor, x_rec: torch.Tensor) -> float:
    return float((x_rec - x).pow(2).mean())


@torch.no_grad()
def evaluate(ctx) -> dict:
    model, info = ctx.model, ctx.model.info
    if info.centres is None:
        raise UserError(f"metrics=[alice] needs a 2-D mixture (alice5, ring8, grid25); {info.name} has no modes")
    centres, sigma = torch.tensor(info.centres), info.sigma
    x = ctx.data.test.x
    z = model.sample_latent(len(x), generator=torch.Generator().manual_seed(ctx.cfg.seed))
    result = {"icp": inception_score(mixture_posterior(ctx.generate(z), centres, sigma)),
              "icp_real": inception_score(mixture_posterior(x, centres, sigma)), "mse": None, "mse_capped": None,
              "n": len(x)}
    if model.has_encoder:
        infer = getattr(model, "infer", model.encode)  # with noise, as in training
        x_rec = torch.cat([model.generate(infer(part.to(ctx.device))).cpu() for part in x.split(1024)])
        result["mse"] = reconstruction_mse(x, x_rec)
        result["mse_capped"] = min(result["mse"], 10.0)
    return result
