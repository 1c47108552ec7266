"""Mode coverage on 2-D Gaussian mixtures, with the PacGAN protocol (Lin et al. 2018).

A sample is high quality if it lies within 3 sigma of its nearest mode centre; a mode is covered
if it is the nearest mode of at least one high-quality sample. The protocol uses 2,500 samples.
"""

from __future__ import annotations

import torch


def nearest_mode(points: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest centre, distance to it) for each point."""
    distances = torch.cdist(points.float(), centres.float())
    dist, index = distances.min(dim=1)
    return index, dist


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, sigma: float) -> dict[str, float]:
    index, dist = nearest_mode(samples, centres)
    high_quality = dist <= 3 * sigma
    covered = torch.unique(index[high_quality])
    return {
        "modes_covered": int(len(covered)),
        "modes_total": int(len(centres)),
        "high_quality_fraction": float(high_quality.float().mean()),
    }


def own_mode_fraction(real: torch.Tensor, reconstructed: torch.Tensor, centres: torch.Tensor) -> float:
    """Fraction of real points whose reconstruction G(z_hat) lands nearest to the real point's own mode."""
    own, _ = nearest_mode(real, centres)
    got, _ = nearest_mode(reconstructed, centres)
    return float((own == got).float().mean())
