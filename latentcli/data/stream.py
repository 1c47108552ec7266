"""In-memory datasets and the resumable batch stream: the batch at step s depends only on (seed, s)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class TensorPairs(Dataset):
    """Inputs x and labels y (long tensor, N; -1 where there are none).

    Images may be stored as uint8 (`stored`), a quarter of the memory of floats; they become floats in
    [-1, 1] per batch and whenever `x` is read, so every reader of `x` or of a batch sees floats.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None):
        self.stored = x
        self.y = y if y is not None else torch.full((len(x),), -1, dtype=torch.long)

    @property
    def x(self) -> torch.Tensor:
        """All inputs as floats (a converted copy if stored as uint8: take `subset(n).x` for a few)."""
        return as_float(self.stored)

    def __len__(self) -> int:
        return len(self.stored)

    def __getitem__(self, i):
        return as_float(self.stored[i]), self.y[i]

    def __getitems__(self, indices: list[int]):
        # DataLoader fetches a whole batch with one call: one gather instead of batch_size lookups.
        idx = torch.as_tensor(indices)
        return as_float(self.stored[idx]), self.y[idx]

    def subset(self, n: int | None) -> "TensorPairs":
        """The first n items (all if n is None): a fixed, reproducible evaluation set."""
        return self if n is None else TensorPairs(self.stored[:n], self.y[:n])


def as_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float in [-1, 1] (the arithmetic the float datasets were made with); floats as they are."""
    return x.float().div(127.5).sub(1.0) if x.dtype == torch.uint8 else x


@dataclass
class DataInfo:
    """What a model needs to know about its data; stored in every checkpoint."""

    name: str
    shape: list[int]  # one item: [d] for points, [c, h, w] for images
    kind: str  # "points" (raw coordinates) | "image" (values in [-1, 1])
    centres: list[list[float]] | None = None  # a Gaussian mixture's mode centres (ring8, grid25, alice5)
    sigma: float | None = None  # and the modes' standard deviation
    factors: list[str] | None = None  # shapes: the names of the label row's columns, the true factors
    shapes: list[str] | None = None  # shapes: the names of the first factor's values
    classes: list[str] | None = None  # image_folder: the sub-folder names, in label order
    normal_classes: list[int] | None = None  # dataset.classes: the classes kept (the rest are anomalies)

    def class_labels(self, y: torch.Tensor) -> torch.Tensor:
        """One class per item: the label itself, or for data whose label rows are factors (shapes) the
        first factor (the shape)."""
        return y[:, 0].long() if self.factors else y

    @classmethod
    def optional_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.default is None]

    def to_dict(self) -> dict:
        """The checkpoint's "data": name, shape, kind, and the fields that are set under "extra"."""
        extra = {name: getattr(self, name) for name in self.optional_fields() if getattr(self, name) is not None}
        return {"name": self.name, "shape": list(self.shape), "kind": self.kind, "extra": extra}

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        extra = {k: v for k, v in (d.get("extra") or {}).items() if k in cls.optional_fields()}
        return cls(d["name"], list(d["shape"]), d["kind"], **extra)


@dataclass
class DataBundle:
    train: TensorPairs
    test: TensorPairs
    info: DataInfo


class EpochBatches(Sampler):
    """Endless batches of indices, reshuffled every epoch from (seed, epoch); starts at any step."""

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0):
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than the dataset ({n} items)")
        self.n, self.batch_size, self.seed, self.start_step = n, batch_size, seed, start_step
        self.steps_per_epoch = n // batch_size  # the ragged last batch of an epoch is dropped

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        epoch, perm = -1, None
        while True:
            this_epoch, i = divmod(step, self.steps_per_epoch)
            if this_epoch != epoch:
                epoch = this_epoch
                generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
                perm = torch.randperm(self.n, generator=generator)
            yield perm[i * self.batch_size:(i + 1) * self.batch_size].tolist()
            step += 1


def _whole_batch(batch):
    return batch


def batch_stream(dataset: TensorPairs, batch_size: int, seed: int, start_step: int = 0,
                 num_workers: int = 0, pin_memory: bool = False) -> Iterator:
    """Yields (x, y) batches forever from `start_step` on, identical to an unbroken run's."""
    loader = DataLoader(
        dataset,
        batch_sampler=EpochBatches(len(dataset), batch_size, seed, start_step),
        collate_fn=_whole_batch,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator(),  # the loader's own seed draw must not touch the global RNG
        persistent_workers=False,
    )
    return iter(loader)
