"""Datasets: `build_dataset(cfg.dataset)` returns train and test splits plus the data's shape."""

from __future__ import annotations

import torch

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs, batch_stream
from latentcli.config.options import OPTIONS, typed_option
from latentcli.errors import UserError

__all__ = ["DataBundle", "DataInfo", "TensorPairs", "batch_stream", "build_dataset", "load_images", "DATASETS"]


def load_images(path, shape: list[int]):
    """Your pictures (a file or a folder) as latentcli.invert takes them; see data.image_folder.load_images."""
    from latentcli.data.image_folder import load_images as _load

    return _load(path, shape)


# name -> `build_NAME(cfg) -> DataBundle`, from the table of latentcli/config/dataset.py
DATASETS = OPTIONS["dataset"]


def build_dataset(cfg) -> DataBundle:
    """The dataset cfg names; with cfg.classes set, the train split keeps only those classes (the test
    split keeps all: the one-class anomaly protocol trains on one class and tests on every class)."""
    builder = DATASETS[cfg.name]  # one error for an unknown name
    cfg = typed_option("dataset", cfg)  # the option's settings and schema under what cfg gives; types and ranges checked
    data = builder(cfg)
    classes = cfg.classes
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
