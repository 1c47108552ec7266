"""`latentcli invert` end to end: every method, the three input sources, edits, and the README's API example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from conftest import run_cli, run_task
from test_data import _write_images

ROOT = Path(__file__).resolve().parent.parent
TINY = ["dataset=digits", "model.width=8", "batch_size=16", "trainer.device=cpu", "trainer.progress=false",
        "trainer.tensorboard=false", "trainer.max_steps=30", "trainer.sample_every=30"]
OPTIMISE_BRIEFLY = ["inference.steps=20", "inference.progress=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny BiGAN, a tiny GAN, and a latent regressor trained on that GAN's generator, all on digits."""
    root = tmp_path_factory.mktemp("runs")
    run_task("train", "model=bigan", *TINY, f"hydra.run.dir={root / 'bigan'}")
    run_task("train", "model=gan", *TINY, f"hydra.run.dir={root / 'gan'}")
    run_task("train", "model=regressor", f"model.generator_ckpt={root / 'gan' / 'checkpoints' / 'last.ckpt'}", *TINY,
             f"hydra.run.dir={root / 'regressor'}")
    return {name: root / name / "checkpoints" / "last.ckpt" for name in ("bigan", "gan", "regressor")}


def invert(tmp_path, ckpt, *args) -> tuple[dict, dict]:
    out = tmp_path / "inv"
    run_task("invert", f"ckpt={ckpt}", "device=cpu", *args, f"hydra.run.dir={out}")
    return json.loads((out / "summary.json").read_text()), torch.load(out / "latents.pt", weights_only=True)


@pytest.mark.parametrize("method", ["encoder", "optimize", "hybrid"])
def test_each_method_inverts_the_test_split(runs, tmp_path, method):
    options = OPTIMISE_BRIEFLY if method != "encoder" else []
    summary, latents = invert(tmp_path, runs["bigan"], f"inference={method}", *options, "n=32")
    assert summary["method"] == method and summary["n"] == 32 and summary["inputs"] == "test"
    assert 0 < summary["psnr"] < 80 and summary["images_per_second"] > 0
    assert latents["z"].shape == (32, 32) and latents["ids"] == [str(i) for i in range(32)]
    if method != "encoder":
        assert latents["history"].shape[1] == 32


def test_regressor_method_on_a_plain_gan(runs, tmp_path, capsys):
    summary, _ = invert(tmp_path, runs["gan"], "inference=regressor",
                        f"inference.regressor_ckpt={runs['regressor']}", "inputs.n=16")  # the old spelling of n
    assert summary["method"] == "regressor" and summary["n"] == 16
    assert "note: inputs.n= is now spelled n=" in capsys.readouterr().err


def test_samples_measure_latent_recovery(runs, tmp_path):
    summary, latents = invert(tmp_path, runs["bigan"], "inference=optimize", "inputs=samples", "n=16",
                              "inference.steps=100", "inference.progress=false")
    assert latents["z_true"].shape == (16, 32)
    relative = ((latents["z"] - latents["z_true"]).norm(dim=1) / latents["z_true"].norm(dim=1)).mean()
    assert summary["latent_error_mean"] == pytest.approx(float(relative), rel=1e-5)
    assert summary["regeneration_psnr"] == summary["psnr"]


def test_folder_inputs_skip_a_corrupt_file_and_name_it(runs, tmp_path):
    folder = tmp_path / "mine"
    _write_images(folder)
    proc = run_cli("invert", f"ckpt={runs['bigan']}", "inputs=folder", f"inputs.path={folder}", "device=cpu",
                   f"hydra.run.dir={tmp_path / 'inv'}")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "broken.png" in warnings[0]
    latents = torch.load(tmp_path / "inv" / "latents.pt", weights_only=True)
    assert len(latents["ids"]) == 4 and all(Path(i).is_file() for i in latents["ids"])
    assert "inverted 4 images with" in proc.stdout
    reading = [line for line in proc.stderr.splitlines() if line.startswith("reading mine")]
    assert "100%" in reading[-1] and "5/5" in reading[-1]  # the bar is left at its end


def test_folder_without_readable_images_is_an_error(runs, tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli("invert", f"ckpt={runs['bigan']}", "inputs=folder", f"inputs.path={tmp_path / 'empty'}",
                   f"hydra.run.dir={tmp_path / 'inv'}", check=False)
    assert proc.returncode == 2 and "no PNG, JPEG, WebP or GIF images under" in proc.stderr


def test_edits_write_their_pictures(runs, tmp_path):
    invert(tmp_path, runs["bigan"], "inference=encoder", "edit=interpolate", "edit.pairs=3", "edit.steps=5")
    assert (tmp_path / "inv" / "interpolate_linear.png").exists()
    assert (tmp_path / "inv" / "interpolate_slerp.png").exists()
    invert(tmp_path, runs["bigan"], "inference=encoder", "n=null", "edit=arithmetic", "edit.a=1", "edit.b=7")
    assert (tmp_path / "inv" / "arithmetic.png").exists()
    proc = run_cli("invert", f"ckpt={runs['bigan']}", "edit=arithmetic", "edit.a=1", "edit.b=12",
                   f"hydra.run.dir={tmp_path / 'bad'}", check=False)
    assert proc.returncode == 2 and "edit.b=12 is not a label of the inverted items" in proc.stderr


def test_readme_python_example_runs(runs, tmp_path, capsys):
    readme = (ROOT / "docs/guides/image-folder.md").read_text()
    example = re.search(r"<!-- api-example -->\n```python\n(.*?)```", readme, re.S).group(1)
    assert len(example.strip().splitlines()) <= 12
    _write_images(tmp_path / "mine")
    exec(example.replace("outputs/train/<run>/checkpoints/last.ckpt", str(runs["bigan"]))
         .replace("my_pictures/", str(tmp_path / "mine")), {})
    assert "hybrid torch.Size([4, 32])" in capsys.readouterr().out  # the 4 readable pictures
