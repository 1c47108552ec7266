"""Metrics against cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from latentcli.data.toy import mode_centres
from latentcli.metrics.modes import mode_coverage, own_mode_fraction
from latentcli.metrics.reconstruction import reconstruction_metrics


def test_samples_at_every_centre_cover_all_25_modes():
    centres, sigma = mode_centres("grid25")
    samples = centres.repeat(100, 1) + 0.5 * sigma * torch.randn(2500, 2)
    result = mode_coverage(samples, centres, sigma)
    assert result["modes_covered"] == 25 and result["modes_total"] == 25
    assert result["high_quality_fraction"] > 0.99


def test_a_generator_that_drops_half_the_modes_covers_half():
    centres, sigma = mode_centres("grid25")
    samples = centres[:12].repeat(10, 1)
    assert mode_coverage(samples, centres, sigma)["modes_covered"] == 12


def test_far_samples_are_not_high_quality_and_cover_nothing():
    centres, sigma = mode_centres("ring8")
    samples = centres * (1 + 4 * sigma)  # 4 sigma out from every centre
    result = mode_coverage(samples, centres, sigma)
    assert result["high_quality_fraction"] == 0 and result["modes_covered"] == 0


def test_own_mode_fraction():
    centres, _ = mode_centres("ring8")
    real = centres.repeat(2, 1)
    assert own_mode_fraction(real, real, centres) == 1.0
    assert own_mode_fraction(real, torch.roll(real, 1, dims=0), centres) == 0.0


def test_psnr_known_value_and_perfect_reconstruction():
    x = torch.rand(4, 1, 8, 8) * 1.6 - 0.8  # inside [-1, 1] even after the shift (torchmetrics clips)
    x_hat = x + 0.2  # MSE 0.04 on a range of 2: PSNR = 10 log10(4 / 0.04) = 20 dB
    result = reconstruction_metrics(x, x_hat, "image")
    assert result["mse"] == pytest.approx(0.04, rel=1e-4)
    assert result["psnr"] == pytest.approx(20.0, abs=1e-3)
    assert math.isinf(reconstruction_metrics(x, x.clone(), "image")["psnr"])


def test_points_get_mse_only():
    assert set(reconstruction_metrics(torch.zeros(3, 2), torch.ones(3, 2), "points")) == {"mse"}
