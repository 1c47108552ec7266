"""A user's own images: every PNG/JPEG/WebP/GIF under a folder (recursively), fitted to the configured
channels and resolution. Images in sub-folders get the sub-folder's index as label, as in ImageFolder.

An unreadable file is named in one warning line and skipped; the run goes on with the rest. Files are
read a batch at a time (read_batches), so that a folder of any size can be inverted in bounded memory.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image, ImageOps
from tqdm import tqdm

from latentcli.data.images import fit_images, to_unit_range
from latentcli.data.stream import DataBundle, DataInfo, TensorPairs
from latentcli.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif"}
# The decoders tried, whatever the suffix (a JPEG named .png still reads); not Pillow's every format, some
# of which (TGA) have no signature and would take random bytes for a picture. (A camera's MPO is a JPEG.)
FORMATS = ["PNG", "JPEG", "WEBP", "GIF"]
Image.init()  # registers all of Pillow's decoders (WEBP among them), which Image.open(formats=...) looks up
# Pillow's integer modes wider than 8 bits. PNG's only one is 16-bit grey (read as I;16, or as I by older
# Pillow versions); Pillow's own convert("L") clips such values at 255 instead of scaling them.
WIDE_MODES = {"I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 16}


def find_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


GREY_MODES = {"1", "L", "LA", "F", *WIDE_MODES}  # Pillow's modes of one colour channel (LA: with alpha)


def picture_format(path: Path) -> tuple[int, int, int] | None:
    """(width, height, channels: 1 grey or 3 colour) from the file's header alone; None if unreadable."""
    try:
        with Image.open(path, formats=FORMATS) as image:
            return image.width, image.height, 1 if image.mode in GREY_MODES else 3
    except Exception:  # read_batches names the unreadable files
        return None


def read_image(path: Path, channels: int, resolution: int) -> torch.Tensor:
    """1 x channels x resolution x resolution uint8; any mode (palette, alpha, 16-bit, CMYK) is converted
    first, a camera's EXIF orientation applied, and an animation's first frame taken."""
    with Image.open(path, formats=FORMATS) as image, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's advice on palettes with transparency: not the user's concern
        image = _square(upright(image))
        image = to_8_bit(image).convert("L" if channels == 1 else "RGB")
    return fit_images(TF.pil_to_tensor(image).unsqueeze(0), channels, resolution)


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as it is where there is no such tag, or a broken one."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block: the pixels are still good
        return image


def _square(image: Image.Image) -> Image.Image:
    """The centred square that fit_images would keep: a very wide picture is never resized whole."""
    width, height = image.size
    side = min(width, height)
    if width == height:
        return image
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def to_8_bit(image: Image.Image) -> Image.Image:
    """A 16-bit grey image scaled by its bit depth to 8-bit grey (0..65535 -> 0..255); others as they are."""
    bits = WIDE_MODES.get(image.mode)
    if bits is None:
        return image
    values = np.asarray(image, dtype=np.float64) * 255 / (2**bits - 1)
    return Image.fromarray(values.round().clip(0, 255).astype(np.uint8), mode="L")


def read_batches(files, channels: int, resolution: int, size: int,
                 skipped: list[str]) -> Iterator[tuple[torch.Tensor, list[Path]]]:
    """(floats in [-1, 1] of up to `size` images, their files), one batch at a time as it is asked for: only
    one batch is ever in memory. Each unreadable file adds its warning line to `skipped` (for the caller to
    print when its progress bar is done) and is left out."""
    images, kept = [], []
    for f in files:
        try:
            images.append(read_image(f, channels, resolution))
            kept.append(f)
        except Exception as err:  # truncated, corrupt or not really an image
            reason = " ".join(str(err).split()) or "(no message)"
            skipped.append(f"warning: skipping unreadable image {f}: {type(err).__name__}: {reason}")
        if len(images) == size:
            yield to_unit_range(torch.cat(images), channels, resolution), kept
            images, kept = [], []
    if images:
        yield to_unit_range(torch.cat(images), channels, resolution), kept


def read_images(files: list[Path], channels: int, resolution: int, desc: str = "reading images"):
    """(N x channels x resolution x resolution floats in [-1, 1], the files that were read). An unreadable
    file is named in one warning line on stderr and skipped."""
    skipped: list[str] = []
    batches = list(read_batches(tqdm(files, desc=desc, mininterval=5), channels, resolution, 4096, skipped))
    for line in skipped:  # once the bar has ended its line, so that no warning lands inside it
        print(line, file=sys.stderr)
    x = torch.cat([x for x, _ in batches]) if batches else torch.empty(0)
    return x, [f for _, kept in batches for f in kept]


def load_images(path, shape: list[int]) -> tuple[torch.Tensor, list[Path]]:
    """Your pictures for the Python API: one file, or every PNG/JPEG/WebP/GIF under a folder (recursively, in
    sorted order), fitted to a model's item shape [channels, size, size] (model.info.shape) as floats in
    [-1, 1], what latentcli.invert takes. Returns them and the files read (an unreadable one is skipped)."""
    if len(shape) != 3:
        raise UserError(f"pictures need a model of images; this one models points of shape {list(shape)}")
    root = Path(path).expanduser()
    if not root.exists():
        raise UserError(f"{path} is neither a picture nor a folder")
    x, kept = read_images([root] if root.is_file() else find_images(root), shape[0], shape[1],
                          desc=f"reading {root.name}")
    if not kept:
        raise UserError(f"no readable PNG, JPEG, WebP or GIF images at {root}")
    return x, kept


def load_image_folder(path: str | None, channels: int = 3, resolution: int = 64, test_fraction: float = 0.1,
                      split_seed: int = 0) -> DataBundle:
    if not path:
        raise UserError("dataset=image_folder needs the folder: add dataset.path=DIR")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"dataset.path={path} is not a folder")
    files = find_images(root)
    if not files:
        raise UserError(f"no PNG, JPEG, WebP or GIF images under {root}")
    classes = sorted({f.relative_to(root).parts[0] for f in files if len(f.relative_to(root).parts) > 1})
    x, kept = read_images(files, channels, resolution, desc=f"reading {root.name}")
    if len(kept) < 2:
        raise UserError(f"{root} holds {len(kept)} readable image(s); at least 2 are needed (train and test)")
    parts = [f.relative_to(root).parts for f in kept]
    y = torch.tensor([classes.index(p[0]) if len(p) > 1 else -1 for p in parts], dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split_seed))
    n_test = min(len(x) - 1, max(1, round(len(x) * test_fraction)))
    test, train = order[:n_test], order[n_test:]
    info = DataInfo("image_folder", [channels, resolution, resolution], "image", classes=classes)
    return DataBundle(TensorPairs(x[train], y[train]), TensorPairs(x[test], y[test]), info)


def build_image_folder(cfg) -> DataBundle:
    return load_image_folder(cfg.path, channels=cfg.channels, resolution=cfg.resolution,
                             test_fraction=cfg.test_fraction, split_seed=cfg.split_seed)
