"""metrics=[modes]: mode coverage on 2-D Gaussian mixtures (ring8, grid25), on 2,500 samples.

A sample is high quality if it lies within 3 sigma of its nearest mode centre. Two counting rules:
`modes_covered`: modes that are the nearest mode of at least one high-quality sample (the rule
latentcli has reported since the spine); `modes_covered_20`: modes with at least 20 of the 2,500
samples (the stricter rule of the PacGAN/VEEGAN grid experiments as we understand them: a mode with
fewer than 20 samples counts as lost). Also: the fraction of real points whose reconstruction lands
in their own mode.
"""

from __future__ import annotations

import torch

from latentcli.errors import UserError


def nearest_mode(points: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest centre, distance to it) for each point."""
    distances = torch.cdist(points.float(), centres.float())
    dist, index = distances.min(dim=1)
    return index, dist


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, sigma: float) -> dict[str, float]:
    index, dist = nearest_mode(samples, centres)
    high_quality = dist <= 3 * sigma
    per_mode = torch.bincount(index[high_quality], minlength=len(centres))
    return {
        "modes_covered": int((per_mode >= 1).sum()),
        "modes_covered_20": int((per_mode >= max(1, round(20 * len(samples) / 2500))).sum()),
        "modes_total": int(len(centres)),
        "high_quality_fraction": float(high_quality.float().mean()),
    }


def own_mode_fraction(real: torch.Tensor, reconstructed: torch.Tensor, centres: torch.Tensor) -> float:
    """Fraction of real points whose reconstruction G(z_hat) lands nearest to the real point's own mode."""
    own, _ = nearest_mode(real, centres)
    got, _ = nearest_mode(reconstructed, centres)
    return float((own == got).float().mean())


def evaluate(ctx) -> dict:
    info = ctx.model.info
    if info.centres is None:
        raise UserError(f"metrics=[modes] needs a 2-D mixture (ring8, grid25); {info.name} has no modes")
    from latentcli import viz

    centres = torch.tensor(info.centres)
    result = {**mode_coverage(ctx.samples, centres, info.sigma), "n_samples": len(ctx.samples),
              "reconstructed_into_own_mode": own_mode_fraction(ctx.test.x, ctx.test_inversion.x_hat.cpu(), centres)}
    viz.save_points_plot(ctx.figure("Samples, reconstructions and modes", "modes.png"), ctx.data.test.x,
                         samples=ctx.samples, reconstructions=ctx.test_inversion.x_hat, centres=centres,
                         title=f"{ctx.model.cfg.name}: {result['modes_covered']}/{result['modes_total']} modes, "
                               f"{100 * result['high_quality_fraction']:.1f}% high quality", radius=3 * info.sigma)
    return result
