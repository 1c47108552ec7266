"""Datasets: `build_dataset(cfg.dataset)` returns train and test splits plus the data's shape."""

from __future__ import annotations

import torch

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs, batch_stream
from latentcli.errors import UserError

__all__ = ["DataBundle", "DataInfo", "TensorPairs", "batch_stream", "build_dataset", "DATASETS"]

DATASETS = ("ring8", "grid25", "alice5", "digits", "shapes", "fashion_mnist", "mnist", "cifar10", "svhn", "celeba",
            "image_folder")


def build_dataset(cfg) -> DataBundle:
    """The dataset cfg names; with cfg.classes set, the train split keeps only those classes (the test
    split keeps all: the one-class anomaly protocol trains on one class and tests on every class)."""
    data = _load(cfg)
    classes = cfg.get("classes")
    if classes is not None:
        data = _only_classes(data, [int(c) for c in classes])
    return data


def _only_classes(data: DataBundle, classes: list[int]) -> DataBundle:
    labels = data.info.class_labels(data.train.y)
    keep = torch.isin(labels, torch.tensor(classes))
    if not keep.any():
        raise UserError(f"dataset.classes={classes}: no training items have these labels")
    data.info.extra["normal_classes"] = classes
    return DataBundle(TensorPairs(data.train.x[keep], data.train.y[keep]), data.test, data.info)


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
