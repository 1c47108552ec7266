"""dataset=: one schema per kind of data. Each configs/dataset/NAME.yaml sets its own sizes and budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from latentcli.config.checks import Checked, existing, fraction, one_of, positive

RESOLUTIONS = (16, 28, 32, 64)  # what the DCGAN networks take (models/nets.py)
NAMES = ("ring8", "grid25", "alice5", "digits", "shapes", "fashion_mnist", "mnist", "cifar10", "svhn", "celeba",
         "image_folder")


@dataclass
class DatasetConfig(Checked):
    """What every dataset carries: the suggested batch, budget and network sizes for it."""

    PREFIX = "dataset."
    name: str = one_of(*NAMES)
    batch_size: int = positive(64)
    steps: int = positive(5000)  # the suggested trainer.max_steps
    latent_dim: int = positive(64)
    width: int = positive(64)
    depth: int = positive(3)
    metrics: Optional[List[str]] = None  # what `latentcli evaluate` scores by default (the paper presets' protocol)
    classes: Optional[List[Any]] = None  # e.g. [0]: train only on these classes (labels or names); test keeps all


@dataclass
class ToyConfig(DatasetConfig):
    """ring8, grid25, alice5: 2-D Gaussian mixtures, generated from data_seed."""

    n_train: int = positive(100000)
    n_test: int = positive(2500)
    data_seed: int = 0


@dataclass
class DigitsConfig(DatasetConfig):
    resolution: int = one_of(*RESOLUTIONS)


@dataclass
class ShapesConfig(DatasetConfig):
    n_train: int = positive(20000)
    n_test: int = positive(2000)
    data_seed: int = 0
    resolution: int = one_of(*RESOLUTIONS, default=32)


@dataclass
class ImagesConfig(DatasetConfig):
    """The torchvision sets (and Fashion-MNIST), read from data_dir (null: the default folder)."""

    data_dir: Optional[str] = None
    download: bool = True
    channels: int = one_of(1, 3)
    resolution: int = one_of(*RESOLUTIONS, default=28)  # resized on load


@dataclass
class ImageFolderConfig(DatasetConfig):
    path: Optional[str] = existing("folder")  # required: dataset.path=DIR
    channels: int = one_of(1, 3, default=3)
    resolution: int = one_of(*RESOLUTIONS, default=64)
    test_fraction: float = fraction(0.1, open_top=True)  # held out at random (split_seed) as the test split
    split_seed: int = 0


SCHEMAS = {"ring8": ToyConfig, "grid25": ToyConfig, "alice5": ToyConfig, "digits": DigitsConfig,
           "shapes": ShapesConfig, "fashion_mnist": ImagesConfig, "mnist": ImagesConfig, "cifar10": ImagesConfig,
           "svhn": ImagesConfig, "celeba": ImagesConfig, "image_folder": ImageFolderConfig}
