"""Pictures at a size a person can judge: enlarged grids with labelled rows, and a sweep's metric against
its swept setting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from latentcli import sweep, viz


def digits(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_grid_of_16_px_items_shows_each_at_64_px_by_nearest_neighbour(tmp_path):
    x = digits(16)
    viz.save_image_grid(x, tmp_path / "grid.png", nrow=8)
    picture = np.asarray(Image.open(tmp_path / "grid.png").convert("L"), dtype=np.float64)
    gap, size = viz.GAP, 64
    assert picture.shape == (2 * (size + gap) + gap, 8 * (size + gap) + gap)
    # item 9 (row 1, column 1) is its 16 x 16 pixels, each a 4 x 4 block, grey levels as save_image's
    top, left = gap + (size + gap), gap + (size + gap)
    cell = picture[top:top + size, left:left + size]
    expected = np.kron(((x[9, 0].numpy() + 1) / 2 * 255 + 0.5).clip(0, 255).astype(np.uint8), np.ones((4, 4)))
    assert np.array_equal(cell, expected)


def test_large_images_are_not_enlarged():
    assert viz.enlarged(torch.zeros(2, 3, 64, 64)).shape == (2, 3, 64, 64)
    assert viz.enlarged(torch.zeros(2, 1, 28, 28)).shape == (2, 1, 84, 84)  # x3: the least whole factor


def test_reconstruction_rows_are_labelled_inputs_and_reconstructions(tmp_path):
    x = digits(8)
    viz.save_reconstruction_grid(x, -x, tmp_path / "recon.png")
    labelled = np.asarray(Image.open(tmp_path / "recon.png").convert("L"))
    viz.save_image_grid(torch.cat([x, -x]), tmp_path / "plain.png", nrow=8)
    plain = np.asarray(Image.open(tmp_path / "plain.png").convert("L"))
    margin = labelled.shape[1] - plain.shape[1]
    assert labelled.shape[0] == plain.shape[0] and margin > 60  # room for "reconstruction" left of the rows
    assert np.array_equal(labelled[:, margin:], plain)  # the grid itself unchanged
    assert (labelled[:, :margin] < 128).any()  # dark text on the white margin


def test_sweep_plots_each_metric_against_the_swept_setting_a_line_per_model(tmp_path, monkeypatch):
    results = []
    for model, offset in (("gan", 0.0), ("bigan", 10.0)):
        for weight in ("0.1", "1.0", "10.0"):
            for seed in (0, 1):
                settings = {"model": model, "model.weight": weight, "dataset": "digits"}
                psnr = offset + float(weight) + seed  # seeds 0 and 1: mean +0.5, std 0.707
                results.append((settings, {"recon": {"psnr": psnr, "mse": 1.0 / psnr}}))
    drawn = {}
    real_plot = viz.save_errorbar_plot

    def capture(path, series, **kwargs):
        drawn[path.name] = (series, kwargs)
        real_plot(path, series, **kwargs)

    monkeypatch.setattr(viz, "save_errorbar_plot", capture)
    sweep.summarise(results, tmp_path, "recon.psnr", plot_metrics=["recon.psnr", "recon.mse"])
    assert set(drawn) == {"summary_recon.psnr_vs_model.weight.png", "summary_recon.mse_vs_model.weight.png"}
    series, options = drawn["summary_recon.psnr_vs_model.weight.png"]
    assert set(series) == {"gan", "bigan"} and options["xlabel"] == "model.weight"
    xs, means, stds = series["bigan"]
    assert xs == [0.1, 1.0, 10.0] and means == pytest.approx([10.6, 11.5, 20.5])
    assert stds == pytest.approx([2 ** -0.5] * 3)
    summary = (tmp_path / "summary.md").read_text()
    assert "](summary_recon.psnr_vs_model.weight.png)" in summary and "](summary_recon.mse_vs_model.weight.png)" in summary
    assert Image.open(tmp_path / "summary_recon.psnr_vs_model.weight.png").size[0] >= 600


def test_a_sweep_over_models_alone_has_its_bar_plot_and_no_line_plot(tmp_path):
    results = [({"model": m, "dataset": "digits"}, {"recon": {"psnr": p}}) for m, p in (("gan", 1.0), ("vae", 2.0))]
    sweep.summarise(results, tmp_path, "recon.psnr")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["summary.png"]
