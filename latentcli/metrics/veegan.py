"""metrics=[veegan]: the mode-collapse protocol of VEEGAN (Srivastava et al. 2017, Table 1), on 2,500 samples.

As the paper's notebook counts it (akashgit/VEEGAN): each sample goes to its nearest mode (Euclidean); it is
high quality if that distance is at most 3 standard deviations; `modes` is the number of distinct modes among
the high-quality samples and `high_quality` their fraction of all samples. (PacGAN's rule differs only in
the strict "< 3 std".)
"""

from __future__ import annotations

import torch

from latentcli.errors import UserError
from latentcli.metrics.modes import nearest_mode


def veegan_protocol(samples: torch.Tensor, centres: torch.Tensor, sigma: float) -> dict:
    index, dist = nearest_mode(samples, centres)
    high_quality = dist <= 3 * sigma
    return {"modes": len(torch.unique(index[high_quality])), "high_quality": float(high_quality.float().mean()),
            "modes_total": len(centres), "n_samples": len(samples)}


def evaluate(ctx) -> dict:
    info = ctx.model.info
    if info.centres is None:
        raise UserError(f"metrics=[veegan] needs a 2-D mixture (ring8, grid25); {info.name} has no modes")
    return veegan_protocol(ctx.samples, torch.tensor(info.centres), info.sigma)
