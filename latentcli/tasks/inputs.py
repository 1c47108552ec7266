"""What `invert` inverts (`inputs=`): the checkpoint's test split, a folder of images, or generated samples
whose true latents are known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from latentcli.data.image_folder import find_images, read_images
from latentcli.errors import UserError

SOURCES = ("test", "folder", "samples")


@dataclass
class Inputs:
    x: torch.Tensor
    labels: torch.Tensor  # -1 where unknown
    ids: list[str]  # test-split indices, file paths, or sample numbers
    z_true: torch.Tensor | None = None  # inputs=samples: the latents they were generated from


def load_inputs(cfg, model, data=None, n: int | None = None) -> Inputs:
    """cfg: the `inputs` config (source, path, seed); n: how many items (None: all; samples: 256);
    data: the checkpoint's dataset, for source=test."""
    n = count_or_all(n)
    if cfg.source == "test":
        test = data.test.subset(n)
        return Inputs(test.x, test.y, [str(i) for i in range(len(test))])
    if cfg.source == "samples":
        n = n or 256
        z = model.sample_latent(n, generator=torch.Generator().manual_seed(cfg.seed))
        with torch.no_grad():
            x = torch.cat([model.generate(part) for part in z.split(1024)]).cpu()
        return Inputs(x, torch.full((n,), -1), [str(i) for i in range(n)], z_true=z.cpu())
    if cfg.source == "folder":
        return _folder(cfg.path, model.info.shape, n)
    raise UserError(f"inputs.source={cfg.source!r} is not one of {', '.join(SOURCES)}")


def _folder(path, shape: list[int], n: int | None) -> Inputs:
    if not path:
        raise UserError("inputs=folder needs the folder: add inputs.path=DIR")
    if len(shape) != 3:
        raise UserError(f"inputs=folder needs a model of images; this one models points of shape {shape}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"inputs.path={path} is not a folder")
    x, kept = read_images(find_images(root)[:n], shape[0], shape[1], desc=f"reading {root.name}")
    if not kept:
        raise UserError(f"no readable PNG, JPEG or WebP images under {root}")
    return Inputs(x, torch.full((len(kept),), -1), [str(f) for f in kept])


def count_or_all(n) -> int | None:
    if n is None:
        return None
    if int(n) <= 0:
        raise UserError(f"n={n} must be a positive number of items (or null for all)")
    return int(n)
