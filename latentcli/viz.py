"""Pictures: image grids (torchvision) and 2-D scatter plots (matplotlib), all written atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from latentcli.files import atomic_output  # noqa: E402


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8) -> None:
    """Images in [-1, 1] tiled nrow per row."""
    with atomic_output(path) as tmp:
        save_image(images.detach().float().cpu(), tmp, nrow=nrow, normalize=True, value_range=(-1, 1), padding=1)


def save_reconstruction_grid(x: torch.Tensor, x_hat: torch.Tensor, path: str | Path, n: int = 32,
                             per_row: int = 16) -> None:
    """Rows in pairs: a row of inputs, then their reconstructions directly below."""
    x, x_hat = x[:n].cpu(), x_hat[:n].cpu()
    rows = []
    for start in range(0, len(x), per_row):
        rows += [x[start:start + per_row], x_hat[start:start + per_row]]
    per_row = min(per_row, len(x))
    padded = [torch.cat([r, torch.full((per_row - len(r), *r.shape[1:]), -1.0)]) for r in rows]
    save_image_grid(torch.cat(padded), path, nrow=per_row)


def save_points_plot(path: str | Path, real: torch.Tensor, samples: torch.Tensor | None = None,
                     reconstructions: torch.Tensor | None = None, centres: torch.Tensor | None = None,
                     title: str = "") -> None:
    """2-D data (grey), generated samples (blue), reconstructions G(E(x)) (orange), mode centres (x)."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(*real.cpu().T, s=2, c="0.6", label="data")
    if samples is not None:
        ax.scatter(*samples.detach().cpu().T, s=2, c="tab:blue", alpha=0.6, label="samples G(z)")
    if reconstructions is not None:
        ax.scatter(*reconstructions.detach().cpu().T, s=2, c="tab:orange", alpha=0.6, label="reconstructions")
    if centres is not None:
        ax.scatter(*centres.cpu().T, s=30, c="k", marker="x", label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


@torch.no_grad()
def save_samples(model, path: str | Path, real: torch.Tensor, seed: int = 0, title: str = "") -> None:
    """A picture of what the model generates now, from fixed latents (the same at every call)."""
    was_training = model.training
    model.eval()
    try:
        generator = torch.Generator().manual_seed(seed)
        if model.info.kind == "image":
            save_image_grid(model.generate(model.sample_latent(64, generator=generator)), path, nrow=8)
        else:
            centres = torch.tensor(model.info.extra["centres"]) if "centres" in model.info.extra else None
            samples = model.generate(model.sample_latent(2500, generator=generator))
            save_points_plot(path, real[:2500], samples=samples, centres=centres, title=title)
    finally:
        model.train(was_training)
