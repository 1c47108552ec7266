"""Image datasets read through torchvision (Fashion-MNIST, MNIST, CIFAR-10, SVHN, CelebA), held in memory
as uint8 at the configured channels and resolution (batches and `x` are floats in [-1, 1]: data.stream)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torchvision
import torchvision.transforms.v2.functional as TF
from tqdm import tqdm

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


def load_fashion_mnist(data_dir: str | None = None, download: bool = True, channels: int = 1,
                       resolution: int = 28) -> DataBundle:
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
    train, test = (TensorPairs(fit_all(s.data.unsqueeze(1), channels, resolution), s.targets.clone())
                   for s in splits)
    return DataBundle(train, test, DataInfo("fashion_mnist", [channels, resolution, resolution], "image"))


def build_fashion_mnist(cfg) -> DataBundle:
    return load_fashion_mnist(data_dir=cfg.data_dir, download=cfg.download,
                              channels=cfg.channels, resolution=cfg.resolution)


def fit_images(images: torch.Tensor, channels: int, resolution: int) -> torch.Tensor:
    """N x C x H x W uint8 -> N x channels x resolution x resolution uint8.

    Colour becomes grey by luminance and grey becomes colour by repetition; non-square images are
    resized on their shorter side and centre-cropped.
    """
    if images.shape[1] == 3 and channels == 1:
        images = TF.rgb_to_grayscale(images)
    elif images.shape[1] == 1 and channels == 3:
        images = images.repeat(1, 3, 1, 1)
    if list(images.shape[-2:]) != [resolution, resolution]:
        images = TF.center_crop(TF.resize(images, resolution, antialias=True), [resolution, resolution])
    return images


def fit_all(images: torch.Tensor, channels: int, resolution: int) -> torch.Tensor:
    """N x C x H x W uint8 -> fitted (see fit_images) uint8, in chunks to bound memory."""
    return torch.cat([fit_images(chunk, channels, resolution) for chunk in images.split(4096)])


def to_unit_range(images: torch.Tensor, channels: int, resolution: int) -> torch.Tensor:
    """N x C x H x W uint8 -> fitted (see fit_images) float in [-1, 1], in chunks to bound memory."""
    return torch.cat([fit_images(chunk, channels, resolution).float().div(127.5).sub(1.0)
                      for chunk in images.split(4096)])


# name -> (torchvision class, how to ask for each split, where torchvision expects the files under data_dir)
TORCHVISION_SETS = {
    "mnist": (torchvision.datasets.MNIST, lambda train: {"train": train}, "MNIST/raw/*-ubyte"),
    "cifar10": (torchvision.datasets.CIFAR10, lambda train: {"train": train}, "cifar-10-batches-py/"),
    "svhn": (torchvision.datasets.SVHN, lambda train: {"split": "train" if train else "test"},
             "train_32x32.mat and test_32x32.mat"),
    "celeba": (torchvision.datasets.CelebA, lambda train: {"split": "train" if train else "test"},
               "celeba/img_align_celeba/ and celeba/list_*.txt"),
}


def load_torchvision_set(name: str, data_dir: str | None, download: bool, channels: int,
                         resolution: int) -> DataBundle:
    """One of TORCHVISION_SETS, read from data_dir (default: the cache folder) or downloaded there."""
    cls, split_args, layout = TORCHVISION_SETS[name]
    root = Path(data_dir).expanduser() if data_dir else cache_dir() / name
    try:
        splits = [cls(str(root), download=download, **split_args(train)) for train in (True, False)]
    except Exception as err:
        why = f"the download failed: {type(err).__name__}" if download else "dataset.download=false"
        raise UserError(
            f"{name} not found under {root} (torchvision expects {layout} there; {why}): put the files there, "
            "point dataset.data_dir at them, or run with dataset.download=true where there is network"
        ) from err
    bundles = [_as_tensors(split, name, channels, resolution) for split in splits]
    return DataBundle(*bundles, DataInfo(name, [channels, resolution, resolution], "image"))


def _as_tensors(split, name: str, channels: int, resolution: int) -> TensorPairs:
    if name == "celeba":  # ~200k JPEGs: decode one by one, shrinking each before keeping it
        images, labels = [], []
        for i in tqdm(range(len(split)), desc=f"reading {name}", leave=False, mininterval=5):
            image, attributes = split[i]
            images.append(fit_images(TF.pil_to_tensor(image).unsqueeze(0), channels, resolution))
            labels.append(attributes)
        return TensorPairs(torch.cat(images), torch.stack(labels).long())
    raw = torch.as_tensor(np.asarray(split.data))
    if raw.dim() == 3:  # MNIST: N x H x W
        raw = raw.unsqueeze(1)
    elif raw.shape[-1] == 3:  # CIFAR-10: N x H x W x C
        raw = raw.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(split.labels if name == "svhn" else split.targets)).long()
    return TensorPairs(fit_all(raw, channels, resolution), labels)


def build_torchvision_set(cfg) -> DataBundle:
    """dataset=mnist|cifar10|svhn|celeba."""
    return load_torchvision_set(cfg.name, cfg.data_dir, cfg.download, cfg.channels, cfg.resolution)
