"""Image datasets read through torchvision, held in memory as float tensors in [-1, 1]."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import torch
import torchvision

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs
from latentcli.errors import UserError

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"]


def cache_dir() -> Path:
    return Path(os.environ.get("LATENTCLI_CACHE", Path.home() / ".cache" / "latentcli"))


def _find_idx_files(directory: Path) -> Path | None:
    """A folder holding the four Fashion-MNIST idx files (plain or .gz), directly or in torchvision's layout."""
    for candidate in (directory, directory / "FashionMNIST" / "raw"):
        if all((candidate / f).exists() or (candidate / f"{f}.gz").exists() for f in FASHION_FILES):
            return candidate
    return None


def _torchvision_root(source: Path) -> Path:
    """A root in torchvision's FashionMNIST layout with unpacked files, unpacking into the cache if needed."""
    if source.name == "raw" and source.parent.name == "FashionMNIST" and all(
        (source / f).exists() for f in FASHION_FILES
    ):
        return source.parent.parent
    root = cache_dir() / "fashion_mnist"
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FASHION_FILES:
        if (raw / name).exists():
            continue
        if (source / name).exists():
            os.symlink((source / name).resolve(), raw / name)
        else:
            _gunzip_atomic(source / f"{name}.gz", raw / name)
    return root


def _gunzip_atomic(src: Path, dst: Path) -> None:
    """Unpacks src to dst via a temporary file, so an interrupted unpack never leaves a truncated dst."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with gzip.open(src, "rb") as fin, tmp.open("wb") as fout:
        shutil.copyfileobj(fin, fout)
    os.replace(tmp, dst)


def load_fashion_mnist(data_dir: str | None = None, download: bool = True) -> DataBundle:
    searched = [Path(data_dir).expanduser()] if data_dir else []
    searched.append(DEBIAN_FASHION_MNIST)
    source = next((found for d in searched if d.is_dir() and (found := _find_idx_files(d))), None)
    if source is not None:
        root, download = _torchvision_root(source), False
    else:
        root = cache_dir() / "fashion_mnist"
    try:
        splits = [torchvision.datasets.FashionMNIST(str(root), train=t, download=download) for t in (True, False)]
    except Exception as err:
        looked = ", ".join(str(d) for d in searched)
        raise UserError(
            f"Fashion-MNIST not found (looked in {looked}) and could not be downloaded ({type(err).__name__}): "
            "install Debian's package (apt-get install dataset-fashion-mnist) or put the four idx files "
            "in a folder and pass dataset.data_dir=FOLDER"
        ) from err
    train, test = (TensorPairs(_to_unit_range(s.data), s.targets.clone()) for s in splits)
    return DataBundle(train, test, DataInfo("fashion_mnist", [1, 28, 28], "image"))


def _to_unit_range(images_uint8: torch.Tensor) -> torch.Tensor:
    """N x H x W uint8 -> N x 1 x H x W float in [-1, 1]."""
    return images_uint8.unsqueeze(1).float().div(127.5).sub(1.0)
