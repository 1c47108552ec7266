"""scikit-learn's bundled 8x8 handwritten digits, upsampled to 16x16, in [-1, 1]; always offline."""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from latentcli.data.stream import DataBundle, DataInfo, TensorPairs

TEST_FRACTION = 0.2  # fixed, stratified split: 1437 train / 360 test
SPLIT_SEED = 0


def load_digits(resolution: int = 16) -> DataBundle:
    images, labels = sklearn_digits(return_X_y=True)
    x = torch.tensor(images, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    x = TF.resize(x, [resolution, resolution], antialias=True).clamp(0, 1) * 2 - 1
    y = torch.tensor(labels, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        torch.arange(len(y)).numpy(), test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels
    )
    train = TensorPairs(x[train_idx], y[train_idx])
    test = TensorPairs(x[test_idx], y[test_idx])
    return DataBundle(train, test, DataInfo("digits", [1, resolution, resolution], "image"))


def build_digits(cfg) -> DataBundle:
    return load_digits(resolution=cfg.resolution)
