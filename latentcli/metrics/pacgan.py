"""metrics=[pacgan]: the mode-collapse protocol of PacGAN (Lin et al. 2018, Table 1), on 2,500 samples.

As the PacGAN code's MetricLogger computes it: each sample goes to its nearest mode; it is high quality
if its distance to that mode is below 3 standard deviations (strictly); a mode is covered if at least
one high-quality sample went to it. The reverse KL is KL(p || uniform) of the histogram p of the
high-quality samples over the modes, log(K) - H(p) (the code logs the entropy H(p); with no high-quality
sample it is undefined and reported as null).
"""

from __future__ import annotations

import torch

from latentcli.errors import UserError
from latentcli.metrics.modes import nearest_mode


def pacgan_protocol(samples: torch.Tensor, centres: torch.Tensor, sigma: float) -> dict:
    index, dist = nearest_mode(samples, centres)
    high_quality = dist < 3 * sigma
    counts = torch.bincount(index[high_quality], minlength=len(centres)).double()
    reverse_kl = None
    if counts.sum() > 0:
        p = counts[counts > 0] / counts.sum()
        reverse_kl = float((p * (p * len(centres)).log()).sum())
    return {
        "modes": int((counts >= 1).sum()),
        "high_quality": float(high_quality.float().mean()),
        "reverse_kl": reverse_kl,
        "modes_total": len(centres),
        "n_samples": len(samples),
    }


def evaluate(ctx) -> dict:
    info = ctx.model.info
    if info.centres is None:
        raise UserError(f"metrics=[pacgan] needs a 2-D mixture (ring8, grid25); {info.name} has no modes")
    return pacgan_protocol(ctx.samples, torch.tensor(info.centres), info.sigma)
