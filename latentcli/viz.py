"""Pictures: image grids (torchvision, labelled with Pillow) and plots (matplotlib), all written atomically.

Small images are enlarged by a whole factor (nearest neighbour, so no pixel is invented) until one item is
at least ITEM_PX pixels on screen: a grid of 16 px digits is judged at 64 px, not as a 132 px stamp."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402
from torchvision.utils import make_grid  # noqa: E402

from latentcli.files import atomic_output  # noqa: E402

ITEM_PX = 64  # the least size of one grid item on screen
GAP = 2  # pixels between grid items
FONT_PX = 15

plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "legend.fontsize": 10, "figure.dpi": 110})


def enlarged(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W images enlarged by the whole factor that makes their smaller side >= ITEM_PX."""
    factor = max(1, math.ceil(ITEM_PX / min(images.shape[-2:])))
    return F.interpolate(images, scale_factor=factor, mode="nearest") if factor > 1 else images


def _font(size: int = FONT_PX):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def grid_picture(images: torch.Tensor, nrow: int = 8, row_labels: list[str] | None = None,
                 title: str = "") -> Image.Image:
    """Images in [-1, 1] tiled nrow per row, enlarged (see ITEM_PX), on grey gaps; row_labels (one per grid
    row) are written left of their rows, the title above."""
    images = enlarged(images.detach().float().cpu().clamp(-1, 1))
    grid = make_grid(images, nrow=nrow, padding=GAP, normalize=True, value_range=(-1, 1), pad_value=0.5)
    pixels = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)  # rounded, as torchvision's save_image
    picture = Image.fromarray(pixels.permute(1, 2, 0).numpy()).convert("RGB")
    font = _font()
    draw = ImageDraw.Draw(picture)
    margin = 8 + max((draw.textlength(label, font=font) for label in row_labels or []), default=-8)
    top = FONT_PX + 12 if title else 0
    width = max(picture.width + int(margin), int(draw.textlength(title, font=font)) + 16 if title else 0)
    canvas = Image.new("RGB", (width, picture.height + top), "white")
    canvas.paste(picture, (int(margin), top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((int(margin) + 4, 5), title, fill="black", font=font)
    row_height = images.shape[-2] + GAP
    for i, label in enumerate(row_labels or []):
        draw.text((4, top + GAP + i * row_height + row_height // 2), label, fill="black", font=font, anchor="lm")
    return canvas


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, row_labels: list[str] | None = None,
                    title: str = "") -> None:
    """Images in [-1, 1] tiled nrow per row (grid_picture)."""
    picture = grid_picture(images, nrow, row_labels, title)
    with atomic_output(path) as tmp:
        picture.save(tmp, format="PNG")


def save_reconstruction_grid(x: torch.Tensor, x_hat: torch.Tensor, path: str | Path, n: int = 32,
                             per_row: int = 8) -> None:
    """Rows in pairs, labelled: a row of inputs, then their reconstructions directly below."""
    x, x_hat = x[:n].cpu(), x_hat[:n].cpu()
    rows = []
    for start in range(0, len(x), per_row):
        rows += [x[start:start + per_row], x_hat[start:start + per_row]]
    per_row = min(per_row, len(x))
    padded = [torch.cat([r, torch.full((per_row - len(r), *r.shape[1:]), -1.0)]) for r in rows]
    save_image_grid(torch.cat(padded), path, nrow=per_row,
                    row_labels=["input", "reconstruction"] * (len(rows) // 2))


def save_points_plot(path: str | Path, real: torch.Tensor, samples: torch.Tensor | None = None,
                     reconstructions: torch.Tensor | None = None, centres: torch.Tensor | None = None,
                     title: str = "", radius: float | None = None) -> None:
    """2-D data (grey), generated samples (blue), reconstructions G(E(x)) (orange; reconstructions[i] is of
    real[i], and a thin line joins the first pairs), mode centres (black +) with a circle of `radius` around
    each (3 sigma: the high-quality region). The legend sits beside the points so that it hides none."""
    fig, ax = plt.subplots(figsize=(8.0, 5.8), layout="constrained")  # room for the legend beside the square
    ax.scatter(*real.cpu().T, s=5, c="0.65", linewidths=0, label="data x")
    if samples is not None:
        ax.scatter(*samples.detach().cpu().T, s=5, c="tab:blue", alpha=0.5, linewidths=0, label="samples G(z)")
    if reconstructions is not None:
        recon = reconstructions.detach().cpu()
        pairs = torch.stack([real[:len(recon)].cpu(), recon], dim=1)[:300]
        ax.add_collection(LineCollection(pairs.numpy(), colors="tab:orange", linewidths=0.5, alpha=0.35,
                                         label="x to its reconstruction"))
        ax.scatter(*recon.T, s=5, c="tab:orange", alpha=0.6, linewidths=0, label="reconstructions G(E(x))")
    if centres is not None:
        ax.scatter(*centres.cpu().T, s=90, c="black", marker="+", linewidths=1.8, label="mode centres")
        if radius is not None:
            for i, (cx, cy) in enumerate(centres.cpu().tolist()):
                ax.add_patch(Circle((cx, cy), radius, fill=False, color="black", linewidth=0.6, alpha=0.5,
                                    label="3 sigma (high quality)" if i == 0 else None))
    ax.set_aspect("equal", adjustable="datalim")  # square units; the axes keep the layout's box
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.grid(alpha=0.25)
    legend = fig.legend(loc="outside right upper", frameon=False)
    for handle in legend.legend_handles:  # legible keys, whatever the points' size and transparency
        if hasattr(handle, "set_sizes"):
            handle.set_sizes([40])
        handle.set_alpha(1)
    if title:
        ax.set_title(title)
    save_figure(fig, path)


@torch.no_grad()
def save_samples(model, path: str | Path, real: torch.Tensor, seed: int = 0, title: str = "") -> None:
    """A picture of what the model generates now, from fixed latents (the same at every call)."""
    was_training = model.training
    model.eval()
    try:
        generator = torch.Generator().manual_seed(seed)
        if model.info.kind == "image":
            save_image_grid(model.generate(model.sample_latent(64, generator=generator)), path, nrow=8, title=title)
        else:
            centres = torch.tensor(model.info.centres) if model.info.centres is not None else None
            samples = model.generate(model.sample_latent(2500, generator=generator))
            radius = 3 * model.info.sigma if model.info.sigma is not None and centres is not None else None
            save_points_plot(path, real[:2500], samples=samples, centres=centres, title=title, radius=radius)
    finally:
        model.train(was_training)


def save_labelled_scatter(path: str | Path, xy, labels, title: str = "",
                          names: list[str] | None = None) -> list[str]:
    """2-D points coloured by their integer label, named names[label] in the legend where names are given
    (an image folder's class names). Returns the legend's entries."""
    fig, ax = plt.subplots(figsize=(7.4, 5.8), layout="constrained")
    colours = plt.get_cmap("tab10")
    entries = []
    for i, label in enumerate(sorted(set(labels.tolist()))):
        entries.append(names[label] if names and 0 <= label < len(names) else str(label))
        at = labels == label
        ax.scatter(xy[at, 0], xy[at, 1], s=8, color=colours(i % 10), linewidths=0, label=entries[-1])
    legend = fig.legend(loc="outside right upper", title="label", frameon=False)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.set_title(title)
    save_figure(fig, path)
    return entries


def save_line_plot(path: str | Path, series: dict, xlabel: str, ylabel: str, title: str = "",
                   log_x: bool = False) -> None:
    """One line per entry of series {name: (xs, ys)}, with markers."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=4, label=name)
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labelled decades only
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    save_figure(fig, path)


def save_figure(fig, path: str | Path, dpi: float | None = None) -> None:
    """A matplotlib figure as a PNG, written atomically (laid out tight unless it has its own layout), then closed."""
    if fig.get_layout_engine() is None:  # a constrained layout (legend beside the axes) has placed itself
        fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)


def save_curves(path: str | Path, steps, curves: dict, title: str = "") -> None:
    """Training curves: one panel per logged quantity, against the step."""
    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.9 * rows), squeeze=False)
    for ax, (name, values) in zip(axes.flat, curves.items()):
        ax.plot(steps, values, linewidth=1.2)
        ax.set_title(name)
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def save_bar_plot(path: str | Path, names: list[str], means, stds, ylabel: str, title: str = "") -> None:
    """One horizontal bar per configuration, top to bottom in the order given, with its standard deviation
    over seeds as an error bar; the configurations' names (often long: every swept setting) read level."""
    fig, ax = plt.subplots(figsize=(7.5, 1.4 + 0.42 * len(names)), layout="constrained")
    ax.barh(range(len(names)), means, xerr=stds, capsize=4, color="tab:blue", height=0.6)
    ax.set_yticks(range(len(names)), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(ylabel)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    save_figure(fig, path)


def save_errorbar_plot(path: str | Path, series: dict, xlabel: str, ylabel: str, title: str = "",
                       legend_title: str = "") -> None:
    """One line per entry of series {name: (xs, means, stds)}, the stds as error bars. Numeric xs share one
    axis (logarithmic where they span two decades or more); text xs are categories in order of appearance."""
    xs_all = [x for xs, _, _ in series.values() for x in xs]
    numeric = all(isinstance(x, (int, float)) for x in xs_all)
    categories = list(dict.fromkeys(xs_all))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, (xs, means, stds) in series.items():
        order = sorted(range(len(xs)), key=lambda i: xs[i] if numeric else categories.index(xs[i]))
        where = [xs[i] if numeric else categories.index(xs[i]) for i in order]
        ax.errorbar(where, [means[i] for i in order], yerr=[stds[i] for i in order], marker="o", markersize=5,
                    capsize=4, label=name)
    if numeric and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 100:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1 or legend_title:
        ax.legend(title=legend_title or None)
    ax.set_title(title)
    save_figure(fig, path)
