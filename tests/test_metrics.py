"""Metrics against cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentcli.data.toy import mode_centres
from latentcli.metrics.anomaly import detection_scores
from latentcli.metrics.compression import jpeg_round_trip, quantise
from latentcli.metrics.modes import mode_coverage, own_mode_fraction
from latentcli.metrics.probe import classification_probes, factor_r2
from latentcli.metrics.quality import FeatureClassifier, precision_recall, quality_scores
from latentcli.metrics.reconstruction import PSNR_CAP, distance_ratio, latent_recovery, reconstruction_metrics


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
    assert reconstruction_metrics(x, x.clone(), "image")["psnr"] == PSNR_CAP  # infinite, capped for JSON


def test_points_get_mse_only():
    assert set(reconstruction_metrics(torch.zeros(3, 2), torch.ones(3, 2), "points")) == {"mse"}


def images(n=64, seed=0):
    return torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_perfect_autoencoder_gets_capped_psnr_ssim_1_and_ratio_0():
    x = images()
    metrics = reconstruction_metrics(x, x.clone(), "image")
    assert metrics["mse"] == 0 and metrics["psnr"] == PSNR_CAP and metrics["ssim"] == pytest.approx(1.0)
    assert distance_ratio(x, x.clone()) == 0.0
    assert distance_ratio(x, images(seed=1)) == pytest.approx(1.0, abs=0.05)  # unrelated: about 1


def test_latent_recovery_known_values():
    z = torch.randn(10, 4)
    assert latent_recovery(z, z) == {"latent_error_mean": 0.0, "latent_error_median": 0.0, "latent_cosine": 1.0}
    assert latent_recovery(z, -z)["latent_error_mean"] == pytest.approx(2.0)
    assert latent_recovery(z, -z)["latent_cosine"] == pytest.approx(-1.0)


def test_identical_sets_give_fid_near_0_and_full_precision_and_recall():
    torch.manual_seed(0)
    classifier = FeatureClassifier([1, 16, 16], num_classes=3).eval()
    x = images(300)
    same = quality_scores(classifier, x, x.clone())
    assert abs(same["fid"]) < 1e-2 and same["precision"] == 1.0 and same["recall"] == 1.0
    assert abs(same["kid"]) < 1e-3
    other = quality_scores(classifier, x, torch.full_like(x, -1.0) + 0.01 * images(300, seed=2))
    assert other["fid"] > 1000 * max(abs(same["fid"]), 1e-6) and other["precision"] < 0.1 and other["recall"] < 0.1


def test_precision_recall_of_a_sampler_that_covers_half_the_data():
    real = torch.cat([torch.randn(200, 2), torch.randn(200, 2) + 20])
    fake = torch.randn(200, 2)  # only the first cluster
    precision, recall = precision_recall(real, fake)
    assert precision > 0.9 and 0.4 < recall < 0.6


def test_a_sampler_at_the_25_centres_covers_25_modes_and_one_dropping_half_covers_half():
    centres, sigma = mode_centres("grid25")
    at_centres = centres.repeat(100, 1)
    full = mode_coverage(at_centres, centres, sigma)
    assert full["modes_covered"] == 25 and full["modes_covered_20"] == 25 and full["high_quality_fraction"] == 1.0
    half = mode_coverage(centres[:12].repeat(200, 1), centres, sigma)
    assert half["modes_covered"] == 12 and half["modes_covered_20"] == 12
    far = mode_coverage(centres.repeat(100, 1) + 1.0, centres, sigma)
    assert far["modes_covered"] == 0 and far["high_quality_fraction"] == 0.0


def test_separable_anomaly_scores_give_auroc_1():
    is_anomaly = np.array([0] * 50 + [1] * 10)
    score = np.concatenate([np.random.rand(50), np.random.rand(10) + 2])
    scores = detection_scores(is_anomaly, score)
    assert scores["auroc"] == 1.0 and scores["auprc"] == pytest.approx(1.0)
    assert detection_scores(is_anomaly, -score)["auroc"] == 0.0


def test_probes_on_separable_classes_and_linear_factors():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = np.eye(3)[y] * 10 + rng.normal(size=(300, 3))
    assert classification_probes(x[:200], y[:200], x[200:], y[200:]) == {"1nn": 1.0, "logistic": 1.0}
    factors = x @ np.array([[1.0, 0.5], [2.0, -1.0], [0.0, 3.0]])
    r2 = factor_r2(x[:200], factors[:200], x[200:], factors[200:], ["a", "b"])
    assert r2["a"] == pytest.approx(1.0) and r2["b"] == pytest.approx(1.0)


def test_quantisation_and_jpeg_round_trips():
    z = torch.linspace(-3, 3, 101).view(-1, 1)
    assert torch.unique(quantise(z, 2, -3.0, 3.0)).tolist() == [-3.0, -1.0, 1.0, 3.0]  # 2 bits: 4 levels
    assert (quantise(z, 12, -3.0, 3.0) - z).abs().max() < 1e-3
    x = images(8)
    good, good_bits = jpeg_round_trip(x, 95)
    bad, bad_bits = jpeg_round_trip(x, 5)
    assert good.shape == x.shape and good_bits > bad_bits
    assert reconstruction_metrics(x, good, "image")["psnr"] > reconstruction_metrics(x, bad, "image")["psnr"]


def test_kid_on_too_few_items_for_several_subsets_is_the_whole_set_mmd_without_a_std():
    torch.manual_seed(0)
    classifier = FeatureClassifier([1, 16, 16], num_classes=3).eval()
    real, fake = images(300), images(300, seed=3) * 0.5
    scores = quality_scores(classifier, real, fake)  # subsets of 1,000 wanted; 300 items: one subset, no std
    assert scores["kid_std"] is None
    with torch.no_grad():
        a, b = classifier(real).double(), classifier(fake).double()
    kernel = lambda u, v: (u @ v.T / u.shape[1] + 1) ** 3  # noqa: E731  KID's polynomial kernel
    off_diagonal = lambda k: (k.sum() - k.diag().sum()) / (len(k) * (len(k) - 1))  # noqa: E731
    mmd = off_diagonal(kernel(a, a)) + off_diagonal(kernel(b, b)) - 2 * kernel(a, b).mean()
    assert scores["kid"] == pytest.approx(float(mmd), rel=1e-3, abs=1e-7)
    assert quality_scores(classifier, real, fake, kid_subset=100)["kid_std"] > 0  # 3 x the subset: a spread
