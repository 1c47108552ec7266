"""Datasets: the toy mixtures' geometry, digits' split and range, Fashion-MNIST and its missing-data error."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

import latentcli.data.images as images
from latentcli.data import build_dataset
from latentcli.data.toy import load_toy, mode_centres
from latentcli.errors import UserError


@pytest.mark.parametrize("name, k, sigma", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_toy_mixtures_match_pacgan(name, k, sigma):
    centres, s = mode_centres(name)
    assert centres.shape == (k, 2) and s == sigma
    data = load_toy(name, 20000, 100)
    nearest = torch.cdist(data.train.x, centres).argmin(1)
    offsets = data.train.x - centres[nearest]
    assert offsets.std().item() == pytest.approx(sigma, rel=0.05)
    counts = torch.bincount(nearest, minlength=k).float()
    assert counts.min() > 0.8 * 20000 / k  # every mode equally weighted
    assert torch.equal(load_toy(name, 100, 10).train.x, load_toy(name, 100, 10).train.x)  # fixed seed


def test_grid25_centres():
    centres, _ = mode_centres("grid25")
    assert sorted(set(centres[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


def test_digits_split_shape_and_range():
    data = build_dataset(OmegaConf.create({"name": "digits"}))
    assert data.train.x.shape == (1437, 1, 16, 16) and data.test.x.shape == (360, 1, 16, 16)
    assert data.train.x.min() == -1 and data.train.x.max() <= 1
    assert data.info.shape == [1, 16, 16] and data.info.kind == "image"
    assert torch.bincount(data.test.y).min() >= 35  # stratified: every digit in the test split
    again = build_dataset(OmegaConf.create({"name": "digits"}))
    assert torch.equal(data.test.x, again.test.x)


def test_fashion_mnist_reads_the_local_copy(require_fashion_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path))
    data = build_dataset(OmegaConf.create({"name": "fashion_mnist", "download": False}))
    assert data.train.x.shape == (60000, 1, 28, 28) and data.test.x.shape == (10000, 1, 28, 28)
    assert data.train.x.min() == -1 and data.train.x.max() == 1
    assert sorted(torch.unique(data.test.y).tolist()) == list(range(10))


def test_missing_fashion_mnist_says_both_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as err:
        build_dataset(OmegaConf.create({"name": "fashion_mnist", "data_dir": str(tmp_path / "mine"),
                                        "download": False}))
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and "dataset.data_dir=" in message
    assert "\n" not in message
