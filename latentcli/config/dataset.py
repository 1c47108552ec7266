"""dataset=: one schema per kind of data, and OPTIONS, the table of the datasets: each name, its builder and its
schema with its own sizes and budget. latentcli.config.options says how an entry becomes `dataset=NAME`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from latentcli.config.checks import Checked, existing, fraction, one_of, positive
from latentcli.config.options import Option, add_options, option_name

RESOLUTIONS = (16, 28, 32, 64)  # what the DCGAN networks take (models/nets.py)


@dataclass
class DatasetConfig(Checked):
    """What every dataset carries: the suggested batch, budget and network sizes for it."""

    PREFIX = "dataset."
    name: str = option_name("dataset")  # an entry of OPTIONS below
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


TORCHVISION = "latentcli.data.images:build_torchvision_set"

# dataset=NAME: the function that builds each dataset (`build_NAME(cfg) -> DataBundle` in latentcli/data/) and its
# schema, with its own sizes and budget ("steps": the suggested trainer.max_steps, one that fits a laptop CPU)
OPTIONS = add_options("dataset", {
    # 8 Gaussians on the unit circle with sigma 0.01 (PacGAN, Lin et al. 2018). Raw 2-D coordinates.
    "ring8": Option("latentcli.data.toy:build_toy", ToyConfig,
                    {"batch_size": 256, "steps": 20000, "latent_dim": 8, "width": 128}),
    # 25 Gaussians at {-4,-2,0,2,4}^2 with sigma 0.05 (PacGAN, Lin et al. 2018). Raw 2-D coordinates.
    "grid25": Option("latentcli.data.toy:build_toy", ToyConfig,
                     {"batch_size": 256, "steps": 20000, "latent_dim": 8, "width": 128}),
    # 5 Gaussians at (0, 0) and (+-2, +-2), variance 0.04 (ALICE, Li et al. 2017, toy_data/ALICE_l2.py): ALICE's
    # training set of 2,048 points and test set of 1,024, its 100 epochs of 16 batches; what `latentcli evaluate`
    # scores by default on this data.
    "alice5": Option("latentcli.data.toy:build_toy", ToyConfig,
                     {"n_train": 2048, "n_test": 1024, "batch_size": 128, "steps": 1600, "latent_dim": 2,
                      "width": 256, "depth": 2, "metrics": ["recon", "latent", "modes", "alice"]}),
    # scikit-learn's bundled 8x8 handwritten digits, upsampled to 16x16, in [-1, 1]. Offline, 1437/360 split.
    "digits": Option("latentcli.data.digits:build_digits", DigitsConfig, {"steps": 1500, "latent_dim": 32, "width": 32}),
    # Procedural sprites (square, ellipse, triangle) with known factors shape, scale, rotation, x, y as labels.
    # Generated in code from data_seed: no download.
    "shapes": Option("latentcli.data.shapes:build_shapes", ShapesConfig, {"steps": 3000, "latent_dim": 10, "width": 32}),
    # Fashion-MNIST 28x28 in [-1, 1], 60000/10000 official split. Read from data_dir or
    # /usr/share/datasets/fashion-mnist (Debian: apt-get install dataset-fashion-mnist); else downloaded.
    "fashion_mnist": Option("latentcli.data.images:build_fashion_mnist", ImagesConfig),
    # The torchvision sets, read from data_dir (default ~/.cache/latentcli/NAME); download=true fetches them there.
    # MNIST handwritten digits, 60000/10000 official split, in [-1, 1].
    "mnist": Option(TORCHVISION, ImagesConfig),
    # CIFAR-10, 50000/10000 official split, in [-1, 1].
    "cifar10": Option(TORCHVISION, ImagesConfig, {"channels": 3, "resolution": 32}),
    # SVHN cropped digits, 73257/26032 official split (train/test), in [-1, 1].
    "svhn": Option(TORCHVISION, ImagesConfig, {"channels": 3, "resolution": 32}),
    # CelebA aligned faces, official train/test split, centre-cropped; 40 attributes as labels. ~8 GB RAM at 64 px.
    "celeba": Option(TORCHVISION, ImagesConfig, {"channels": 3, "resolution": 64}),
    # Your own images: every PNG/JPEG/WebP/GIF under `path` (recursively), any size and mode, fitted to
    # `channels` and `resolution` (central square, resized). Unreadable files are skipped with a warning.
    "image_folder": Option("latentcli.data.image_folder:build_image_folder", ImageFolderConfig),
})
