"""What `invert` inverts (`inputs=`): the checkpoint's test split, a folder of images, or generated samples
whose true latents are known. A folder is read a batch at a time while it is inverted (FolderInputs), so
that one of 100,000 pictures never has to fit in memory."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from tqdm import tqdm

from latentcli.data.image_folder import find_images, picture_format, read_batches
from latentcli.errors import UserError

SOURCES = ("test", "folder", "samples")
FOLDER_BATCH = 1024  # pictures read, inverted and let go at a time
FORMAT_SAMPLE = 200  # pictures whose headers are read to compare their size and colour with the model's


@dataclass
class Inputs:
    x: torch.Tensor
    labels: torch.Tensor  # -1 where unknown
    ids: list[str]  # test-split indices, file paths, or sample numbers
    z_true: torch.Tensor | None = None  # inputs=samples: the latents they were generated from

    def parts(self) -> Iterator["Inputs"]:
        """The items in parts to invert one after the other: held in memory already, so all in one."""
        yield self


class FolderInputs:
    """inputs=folder: the pictures under a folder, read FOLDER_BATCH at a time as parts() is iterated.
    Unreadable files are named in one warning line each once all are read; none readable is an error."""

    def __init__(self, files: list[Path], shape: list[int], root: Path):
        self.files, self.shape, self.root = files, shape, root

    def parts(self) -> Iterator[Inputs]:
        skipped: list[str] = []
        read = 0
        with tqdm(self.files, desc=f"reading {self.root.name}", mininterval=5) as files:
            for x, kept in read_batches(files, self.shape[0], self.shape[1], FOLDER_BATCH, skipped):
                read += len(kept)
                yield Inputs(x, torch.full((len(kept),), -1), [str(f) for f in kept])
        for line in skipped:  # once the bar has ended its line, so that no warning lands inside it
            print(line, file=sys.stderr)
        if not read:
            raise UserError(f"no readable PNG, JPEG, WebP or GIF images under {self.root}")


def load_inputs(cfg, model, data=None, n: int | None = None) -> Inputs | FolderInputs:
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


def _folder(path, shape: list[int], n: int | None) -> FolderInputs:
    if not path:
        raise UserError("inputs=folder needs the folder: add inputs.path=DIR")
    if len(shape) != 3:
        raise UserError(f"inputs=folder needs a model of images; this one models points of shape {shape}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"inputs.path={path} is not a folder")
    files = find_images(root)[:n]
    if not files:
        raise UserError(f"no PNG, JPEG, WebP or GIF images under {root}")
    for line in format_notes(files[:FORMAT_SAMPLE], shape):  # a note: the pictures are still used
        print(f"note: {line}", file=sys.stderr)
    return FolderInputs(files, shape, root)


def format_notes(files: list[Path], shape: list[int]) -> list[str]:
    """A line for pictures of another size, and one for pictures of other colours, than the model's items
    (shape [channels, size, size]): they are fitted to it, which a user would otherwise not know."""
    channels, size = shape[0], shape[1]
    formats = {f: fmt for f in files if (fmt := picture_format(f)) is not None}
    lines = []
    other_size = [(f, (w, h)) for f, (w, h, _) in formats.items() if (w, h) != (size, size)]
    if other_size:
        f, (w, h) = other_size[0]
        lines.append(f"pictures of another size than the model's ({len(other_size)} of {len(formats)} read, e.g. "
                     f"{f.name}, {w}x{h}): the model was trained on {size}x{size}, so each is cropped to its centre "
                     "square and resized to that")
    other_colour = [f for f, (_, _, c) in formats.items() if c != channels]
    if other_colour:
        given, made = ("colour", "grey") if channels == 1 else ("grey", "colour")
        lines.append(f"{given} pictures ({len(other_colour)} of {len(formats)} read, e.g. {other_colour[0].name}): "
                     f"the model was trained on {made} items, so each is made {made}")
    return lines


def count_or_all(n) -> int | None:
    if n is None:
        return None
    if int(n) <= 0:
        raise UserError(f"n={n} must be a positive number of items (or null for all)")
    return int(n)
