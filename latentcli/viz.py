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
            centres = torch.tensor(model.info.centres) if model.info.centres is not None else None
            samples = model.generate(model.sample_latent(2500, generator=generator))
            save_points_plot(path, real[:2500], samples=samples, centres=centres, title=title)
    finally:
        model.train(was_training)


def save_labelled_scatter(path: str | Path, xy, labels, title: str = "",
                          names: list[str] | None = None) -> list[str]:
    """2-D points coloured by their integer label, named names[label] in the legend where names are given
    (an image folder's class names). Returns the legend's entries."""
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    colours = plt.get_cmap("tab10")
    entries = []
    for i, label in enumerate(sorted(set(labels.tolist()))):
        entries.append(names[label] if names and 0 <= label < len(names) else str(label))
        at = labels == label
        ax.scatter(xy[at, 0], xy[at, 1], s=4, color=colours(i % 10), label=entries[-1])
    ax.legend(fontsize=7, loc="best", title="label", markerscale=3)
    ax.set_title(title, fontsize=9)
    _save(fig, path)
    return entries


def save_line_plot(path: str | Path, series: dict, xlabel: str, ylabel: str, title: str = "",
                   log_x: bool = False) -> None:
    """One line per entry of series {name: (xs, ys)}, with markers."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labelled decades only
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    _save(fig, path)


def _save(fig, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def save_curves(path: str | Path, steps, curves: dict, title: str = "") -> None:
    """Training curves: one small panel per logged quantity, against the step."""
    n = len(curves)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), dpi=100, squeeze=False)
    for ax, (name, values) in zip(axes.flat, curves.items()):
        ax.plot(steps, values, linewidth=1)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    _save(fig, path)


def save_bar_plot(path: str | Path, names: list[str], means, stds, ylabel: str, title: str = "") -> None:
    """One bar per configuration, with its standard deviation over seeds as an error bar."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 4), dpi=100)
    ax.bar(range(len(names)), means, yerr=stds, capsize=3, color="tab:blue")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=9)
    _save(fig, path)
