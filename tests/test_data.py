"""Datasets: the toy mixtures' geometry, digits' split and range, Fashion-MNIST and its missing-data error."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

import latentcli.data.images as images
from latentcli.data import TensorPairs, batch_stream, build_dataset
from latentcli.data.stream import EpochBatches
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
    assert data.train.stored.dtype == torch.uint8  # a quarter of the memory of floats
    x, _ = next(batch_stream(data.train, 64, seed=0))
    assert x.dtype == torch.float32 and torch.equal(x, data.train.x[next(iter(EpochBatches(60000, 64, 0)))])


def test_missing_fashion_mnist_says_both_ways_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))
    with pytest.raises(UserError) as err:
        build_dataset(OmegaConf.create({"name": "fashion_mnist", "data_dir": str(tmp_path / "mine"),
                                        "download": False}))
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message and "dataset.data_dir=" in message
    assert "\n" not in message


def test_shapes_factors_are_the_labels_and_the_generation_is_fixed():
    from latentcli.data.shapes import FACTORS

    data = build_dataset(OmegaConf.create({"name": "shapes", "n_train": 300, "n_test": 30, "resolution": 32}))
    assert data.train.x.shape == (300, 1, 32, 32) and data.train.y.shape == (300, len(FACTORS))
    assert data.info.factors == ["shape", "scale", "rotation", "x", "y"]
    assert data.train.x.min() == -1 and data.train.x.max() == 1
    shape, scale, rotation, x, y = data.train.y.T
    assert set(shape.tolist()) == {0.0, 1.0, 2.0} and 0.5 <= scale.min() and scale.max() <= 1
    again = build_dataset(OmegaConf.create({"name": "shapes", "n_train": 300, "n_test": 30, "resolution": 32}))
    assert torch.equal(data.train.x, again.train.x) and torch.equal(data.test.y, again.test.y)


@pytest.mark.parametrize("shape, area", [(0, 1.5**2), (1, math.pi * 0.5), (2, 3 * math.sqrt(3) / 4)])
def test_shapes_draws_each_sprite_with_its_known_area(shape, area):
    """Areas in units of (scale * MAX_RADIUS)^2: a square of half-side 0.75, an ellipse with semi-axes 1 and
    0.5, an equilateral triangle of circumradius 1."""
    from latentcli.data.shapes import MAX_RADIUS, render

    factors = torch.tensor([[shape, 1.0, 0.3, 0.5, 0.5]])
    ink = (render(factors, 64) + 1) / 2
    assert ink.mean().item() == pytest.approx(area * MAX_RADIUS**2, rel=0.02)


def test_fit_images_converts_channels_and_crops_to_a_square():
    from latentcli.data.images import fit_images, to_unit_range

    rgb = torch.randint(0, 256, (2, 3, 40, 60), dtype=torch.uint8)
    assert fit_images(rgb, 1, 16).shape == (2, 1, 16, 16)
    grey = torch.full((1, 1, 16, 16), 255, dtype=torch.uint8)
    assert torch.equal(fit_images(grey, 3, 16), grey.repeat(1, 3, 1, 1))
    assert to_unit_range(grey, 1, 16).unique().tolist() == [1.0]


def _write_images(root):
    from PIL import Image

    (root / "cats" / "deeper").mkdir(parents=True)
    (root / "dogs").mkdir()
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(root / "cats" / "a.png")
    Image.new("L", (20, 20), 200).save(root / "cats" / "deeper" / "b.JPG", format="JPEG")
    Image.new("P", (64, 64)).save(root / "dogs" / "c.png")
    Image.new("RGB", (16, 50), (0, 0, 255)).save(root / "dogs" / "d.webp", format="WEBP")
    (root / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "notes.txt").write_text("not an image")


def test_image_folder_reads_everything_readable_and_names_what_it_skips(tmp_path, capsys):
    _write_images(tmp_path)
    data = build_dataset(OmegaConf.create({"name": "image_folder", "path": str(tmp_path), "channels": 3,
                                           "resolution": 16, "test_fraction": 0.25}))
    assert len(data.train) + len(data.test) == 4 and len(data.test) == 1
    assert data.train.x.shape[1:] == (3, 16, 16) and data.info.shape == [3, 16, 16]
    assert data.train.x.min() >= -1 and data.train.x.max() <= 1
    assert data.info.classes == ["cats", "dogs"]
    assert sorted(torch.cat([data.train.y, data.test.y]).tolist()) == [0, 0, 1, 1]
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipping unreadable image")
    assert "broken.png" in warnings[0]
    bar, warning = err.rsplit("\r", 1)[-1].split("\n", 1)  # the bar's last state, then the next line
    assert "100%" in bar and "5/5" in bar and warning.startswith("warning:")  # not written into the bar


def test_image_folder_errors_name_the_fix(tmp_path):
    with pytest.raises(UserError, match="add dataset.path=DIR"):
        build_dataset(OmegaConf.create({"name": "image_folder", "channels": 1, "resolution": 16}))
    with pytest.raises(UserError, match="no PNG, JPEG, WebP or GIF images under"):
        build_dataset(OmegaConf.create({"name": "image_folder", "path": str(tmp_path), "channels": 1,
                                        "resolution": 16}))


@pytest.mark.parametrize("name, layout", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py"),
                                          ("svhn", "train_32x32.mat")])
def test_torchvision_sets_offline_without_files_say_where_to_put_them(tmp_path, name, layout):
    with pytest.raises(UserError) as err:
        build_dataset(OmegaConf.create({"name": name, "data_dir": str(tmp_path), "download": False,
                                        "channels": 1, "resolution": 28}))
    message = str(err.value)
    assert str(tmp_path) in message and layout in message and "dataset.download=true" in message
    assert "\n" not in message


def test_mnist_reads_torchvision_layout_from_data_dir(require_fashion_mnist, tmp_path):
    """MNIST's files share Fashion-MNIST's idx format, so the local Fashion-MNIST stands in for them."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in images.FASHION_FILES:
        source = images.DEBIAN_FASHION_MNIST / f"{name}.gz"
        if not source.exists():
            source = images.DEBIAN_FASHION_MNIST / name
            (raw / name).symlink_to(source)
        else:
            images._gunzip_atomic(source, raw / name)
    data = build_dataset(OmegaConf.create({"name": "mnist", "data_dir": str(tmp_path), "download": False,
                                           "channels": 3, "resolution": 32}))
    assert data.train.x.shape == (60000, 3, 32, 32) and data.test.x.shape == (10000, 3, 32, 32)
    assert data.info.shape == [3, 32, 32] and len(data.test.y) == 10000


def test_uint8_images_become_floats_in_minus_one_to_one_per_batch():
    stored = torch.tensor([0, 51, 255], dtype=torch.uint8).view(3, 1, 1, 1).repeat(2, 1, 1, 1)  # 6 items
    pairs = TensorPairs(stored)
    assert torch.allclose(pairs.x.flatten(), torch.tensor([-1.0, -0.6, 1.0] * 2), atol=1e-7)
    assert pairs.x.min() == -1 and pairs.x.max() == 1
    assert pairs.subset(2).stored.dtype == torch.uint8 and pairs.subset(2).x.dtype == torch.float32
    x, y = next(batch_stream(pairs, 6, seed=0))
    assert x.dtype == torch.float32 and sorted(x.flatten().tolist()) == sorted(pairs.x.flatten().tolist())
    assert pairs[2][0].item() == 1.0


@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<i4"])
def test_16_bit_grey_is_scaled_by_its_bit_depth_not_clipped(tmp_path, dtype):
    import numpy as np
    from PIL import Image

    from latentcli.data.image_folder import read_image, to_8_bit

    ramp = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=dtype)  # 0, 64, 128, 255 in 8 bits
    assert np.asarray(to_8_bit(Image.fromarray(ramp))).tolist() == [[0, 64, 128, 255]]
    Image.fromarray(np.full((8, 8), 257 * 128, dtype=np.uint16)).save(tmp_path / "grey16.png")
    assert read_image(tmp_path / "grey16.png", 1, 16).unique().tolist() == [128]
    assert read_image(tmp_path / "grey16.png", 3, 16).unique().tolist() == [128]


def test_folder_classes_by_name_travel_in_the_checkpoint_into_the_legend(tmp_path):
    from conftest import run_cli, run_task
    from latentcli import viz
    from latentcli import load_checkpoint

    from PIL import Image

    for name, grey in (("cats", 50), ("dogs", 200)):
        (tmp_path / "pictures" / name).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (16, 16), grey + i).save(tmp_path / "pictures" / name / f"{i}.png")
    folder = {"name": "image_folder", "path": str(tmp_path / "pictures"), "channels": 1, "resolution": 16,
              "test_fraction": 0.25}
    data = build_dataset(OmegaConf.create({**folder, "classes": ["dogs"]}))
    assert data.train.y.unique().tolist() == [1] and data.info.normal_classes == [1]
    assert build_dataset(OmegaConf.create({**folder, "classes": [0]})).train.y.unique().tolist() == [0]
    with pytest.raises(UserError, match=r"'birds' is not a class of image_folder; its classes: cats \(0\), dogs \(1\)"):
        build_dataset(OmegaConf.create({**folder, "classes": ["birds"]}))

    run_task("train", "dataset=image_folder", f"dataset.path={tmp_path / 'pictures'}", "dataset.channels=1",
             "dataset.resolution=16", "dataset.test_fraction=0.25", "dataset.classes=[cats]", "batch_size=2",
             "model.width=8", "trainer.max_steps=2", "trainer.device=cpu", "trainer.progress=false",
             "trainer.tensorboard=false", f"hydra.run.dir={tmp_path / 'run'}")
    model, ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", device="cpu")
    assert ckpt["data"]["extra"]["classes"] == ["cats", "dogs"] and ckpt["data"]["extra"]["normal_classes"] == [0]
    labels = torch.tensor([1, 0, -1]).numpy()
    legend = viz.save_labelled_scatter(tmp_path / "pca.png", torch.zeros(3, 2).numpy(), labels,
                                       names=model.info.classes)
    assert legend == ["-1", "cats", "dogs"]  # -1: an image directly in the folder, of no class
    proc = run_cli("evaluate", f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}", "metrics=probe",
                   "device=cpu", f"hydra.run.dir={tmp_path / 'probe'}", check=False)
    assert proc.returncode == 2 and "which holds one class only (dataset.classes=[0])" in proc.stderr


def test_load_images_reads_a_picture_or_a_folder_as_the_model_takes_them(tmp_path):
    from latentcli.data import load_images

    _write_images(tmp_path)
    x, files = load_images(tmp_path, [3, 16, 16])
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32 and len(files) == 4
    one, _ = load_images(tmp_path / "dogs" / "d.webp", [1, 16, 16])
    assert one.shape == (1, 1, 16, 16) and -1 <= one.min() <= one.max() <= 1
    with pytest.raises(UserError, match="models points of shape"):
        load_images(tmp_path, [2])
    with pytest.raises(UserError, match="is neither a picture nor a folder"):
        load_images(tmp_path / "nothing", [1, 16, 16])


def _shapes_folder(root, classes, size: int, mode: str, n_each: int) -> None:
    from PIL import Image, ImageDraw

    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(n_each):
            image = Image.new(mode, (size, size))
            box = (size // 4 + i % 3, size // 4, 3 * size // 4, 3 * size // 4)
            (ImageDraw.Draw(image).ellipse if k == 0 else ImageDraw.Draw(image).rectangle)(box, fill="white")
            image.save(root / name / f"{i}.png")


def test_a_small_folder_and_data_of_another_kind_are_said_so(tmp_path, capsys):
    import json

    from latentcli.cli import main

    _shapes_folder(tmp_path / "shapes", ["circles", "squares"], 16, "L", 25)  # 50 pictures: 45 train, 5 test
    train = ["train", "dataset=image_folder", f"dataset.path={tmp_path / 'shapes'}", "dataset.channels=1",
             "dataset.resolution=16", "model.width=8", "trainer.max_steps=2", "trainer.device=cpu",
             "trainer.progress=false", "trainer.tensorboard=false", f"hydra.run.dir={tmp_path / 'run'}"]
    with pytest.raises(SystemExit):  # the README's command at its batch of 64
        main(train)
    assert capsys.readouterr().err.splitlines()[-1] == (
        "latentcli train: error: batch_size=64 is larger than the training set (45 items; 5 of the folder's "
        "pictures, dataset.test_fraction=0.1, are held out for testing): set batch_size=45 or less")
    assert main([*train, "batch_size=8"]) == 0
    ckpt = f"ckpt={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}"
    capsys.readouterr()
    assert main(["evaluate", ckpt, "metrics=[recon,probe]", "device=cpu", f"hydra.run.dir={tmp_path / 'ev'}"]) == 0
    err = capsys.readouterr().err.splitlines()
    few = "recon, probe rest on 5 test items (fewer than 50): differences this small are noise, not measurements"
    smallest = json.loads((tmp_path / "ev" / "metrics.json").read_text())["probe"]["n_test_smallest_class"]
    assert 1 <= smallest <= 4
    small_class = (f"probe: its smallest class has {smallest} test item{'s' if smallest > 1 else ''} (fewer than 10 "
                   "a class): its accuracies say little")
    assert [line for line in err if line.startswith("warning: ")] == [f"warning: {few}", f"warning: {small_class}"]
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["warnings"] == [few, small_class]
    assert f"**Warning:** {few}" in (tmp_path / "ev" / "report.md").read_text()

    # other data, moved in with dataset.path=: other classes, and bigger colour pictures
    _shapes_folder(tmp_path / "pets", ["cats", "dogs"], 56, "RGB", 3)
    assert main(["evaluate", ckpt, f"dataset.path={tmp_path / 'pets'}", "metrics=recon", "device=cpu",
                 f"hydra.run.dir={tmp_path / 'ev2'}"]) == 0
    assert ("warning: the data's classes (cats, dogs) are not the ones the model was trained on (circles, squares): "
            "labels are matched by number, so per-class results (probe, anomaly, edits) compare different things"
            in capsys.readouterr().err.splitlines())
    assert main(["invert", ckpt, "inputs=folder", f"inputs.path={tmp_path / 'pets'}", "inference=encoder",
                 "device=cpu", f"hydra.run.dir={tmp_path / 'inv'}"]) == 0
    assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")] == [
        "note: pictures of another size than the model's (6 of 6 read, e.g. 0.png, 56x56): the model was trained "
        "on 16x16, so each is cropped to its centre square and resized to that",
        "note: colour pictures (6 of 6 read, e.g. 0.png): the model was trained on grey items, so each is made grey"]
