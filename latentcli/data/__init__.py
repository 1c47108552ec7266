"""Datasets: `build_dataset(cfg.dataset)` returns train and test splits plus the data's shape."""

from __future__ import annotations

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs, batch_stream
from latentcli.errors import UserError

__all__ = ["DataBundle", "DataInfo", "TensorPairs", "batch_stream", "build_dataset", "DATASETS"]

DATASETS = ("ring8", "grid25", "digits", "fashion_mnist")


def build_dataset(cfg) -> DataBundle:
    name = cfg.name
    if name in ("ring8", "grid25"):
        from latentcli.data.toy import load_toy

        return load_toy(name, n_train=cfg.n_train, n_test=cfg.n_test, seed=cfg.get("data_seed", 0))
    if name == "digits":
        from latentcli.data.digits import load_digits

        return load_digits(resolution=cfg.get("resolution", 16))
    if name == "fashion_mnist":
        from latentcli.data.images import load_fashion_mnist

        return load_fashion_mnist(data_dir=cfg.get("data_dir"), download=cfg.get("download", True))
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
