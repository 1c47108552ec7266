"""Datasets: `build_dataset(cfg.dataset)` returns train and test splits plus the data's shape."""

from __future__ import annotations

import torch

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs, batch_stream
from latentcli.errors import UserError

__all__ = ["DataBundle", "DataInfo", "TensorPairs", "batch_stream", "build_dataset", "load_images", "DATASETS"]


def load_images(path, shape: list[int]):
    """Your pictures (a file or a folder) as latentcli.invert takes them; see data.image_folder.load_images."""
    from latentcli.data.image_folder import load_images as _load

    return _load(path, shape)

DATASETS = ("ring8", "grid25", "alice5", "digits", "shapes", "fashion_mnist", "mnist", "cifar10", "svhn", "celeba",
            "image_folder")


def build_dataset(cfg) -> DataBundle:
    """The dataset cfg names; with cfg.classes set, the train split keeps only those classes (the test
    split keeps all: the one-class anomaly protocol trains on one class and tests on every class)."""
    data = _load(cfg)
    classes = cfg.get("classes")
    if classes is not None:
        data = _only_classes(data, class_indices(list(classes), data.info))
    return data


def class_indices(classes: list, info: DataInfo) -> list[int]:
    """dataset.classes as label numbers: each a number, or a class name of the data (an image folder's
    sub-folders, whose names info.classes lists in label order: the map the checkpoint keeps)."""
    names = list(info.classes or [])
    indices = []
    for c in classes:
        if isinstance(c, str) and c in names:
            indices.append(names.index(c))
        elif isinstance(c, int) or (isinstance(c, str) and c.lstrip("-").isdigit()):
            indices.append(int(c))
        else:
            known = ", ".join(f"{name} ({i})" for i, name in enumerate(names)) or "none by name, only numbers"
            raise UserError(f"dataset.classes: {c!r} is not a class of {info.name}; its classes: {known}")
    return indices


def _only_classes(data: DataBundle, classes: list[int]) -> DataBundle:
    labels = data.info.class_labels(data.train.y)
    keep = torch.isin(labels, torch.tensor(classes))
    if not keep.any():
        raise UserError(f"dataset.classes={classes}: no training items have these labels")
    data.info.normal_classes = classes
    return DataBundle(TensorPairs(data.train.stored[keep], data.train.y[keep]), data.test, data.info)


def _load(cfg) -> DataBundle:
    name = cfg.name
    if name in ("ring8", "grid25", "alice5"):
        from latentcli.data.toy import load_toy

        return load_toy(name, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.get("data_seed", 0))
    if name == "digits":
        from latentcli.data.digits import load_digits

        return load_digits(resolution=cfg.get("resolution", 16))
    if name == "shapes":
        from latentcli.data.shapes import load_shapes

        return load_shapes(cfg.n_train, cfg.n_test, resolution=cfg.resolution, seed=cfg.get("data_seed", 0))
    if name == "fashion_mnist":
        from latentcli.data.images import load_fashion_mnist

        return load_fashion_mnist(data_dir=cfg.get("data_dir"), download=cfg.get("download", True),
                                  channels=cfg.get("channels", 1), resolution=cfg.get("resolution", 28))
    if name in ("mnist", "cifar10", "svhn", "celeba"):
        from latentcli.data.images import load_torchvision_set

        return load_torchvision_set(name, cfg.get("data_dir"), cfg.get("download", True), cfg.channels,
                                    cfg.resolution)
    if name == "image_folder":
        from latentcli.data.image_folder import load_image_folder

        return load_image_folder(cfg.get("path"), channels=cfg.channels, resolution=cfg.resolution,
                                 test_fraction=cfg.get("test_fraction", 0.1), split_seed=cfg.get("split_seed", 0))
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
