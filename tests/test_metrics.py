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
from latentcli.errors import UserError
from latentcli.data.stream import DataBundle, DataInfo, TensorPairs
from latentcli.metrics.quality import (FeatureClassifier, InceptionFeatures, classifier_key, feature_classifier,
                                       features, prdc, quality_scores)
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
    x = features(classifier, images(300))
    same = quality_scores(x, x.clone())
    assert abs(same["fid"]) < 1e-2 and same["precision"] == 1.0 and same["recall"] == 1.0
    assert same["coverage"] == 1.0 and abs(same["kid"]) < 1e-3
    other = quality_scores(x, features(classifier, torch.full((300, 1, 16, 16), -1.0) + 0.01 * images(300, seed=2)))
    assert other["fid"] > 1000 * max(abs(same["fid"]), 1e-6) and other["precision"] < 0.1 and other["recall"] < 0.1


def image_data(seed: int = 0, normal_classes=None) -> DataBundle:
    """20 train and 10 test 16 px images with labels 0..1, all named "folder" (as two image_folders would be)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (30, 1, 16, 16), generator=g, dtype=torch.uint8)
    y = torch.arange(30) % 2
    info = DataInfo("folder", [1, 16, 16], "image", classes=["a", "b"], normal_classes=normal_classes)
    return DataBundle(TensorPairs(x[:20], y[:20]), TensorPairs(x[20:], y[20:]), info)


def test_feature_classifier_is_cached_per_data_content_not_per_name(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path))
    assert classifier_key(image_data(0), 3) == classifier_key(image_data(0), 3)  # the same data: one classifier
    assert classifier_key(image_data(0), 3) != classifier_key(image_data(1), 3)  # other pictures, same name
    assert classifier_key(image_data(0), 3) != classifier_key(image_data(0, normal_classes=[0]), 3)
    _, _, first = feature_classifier(image_data(0), steps=2)
    _, _, again = feature_classifier(image_data(0), steps=2)  # read back from the cache
    _, _, other = feature_classifier(image_data(1), steps=2)  # trained anew, not the cached one
    assert first == again == classifier_key(image_data(0), 2) and other != first
    assert sorted(p.stem for p in (tmp_path / "classifiers").iterdir()) == sorted([first, other])


def test_the_feature_classifier_is_the_same_whoever_trains_it_first(tmp_path, monkeypatch):
    """The cache key names one classifier: an evaluation with another seed, or another random state, that
    trains it first must train the same one, or two runs' FIDs with one key would be measured differently."""
    trained = []
    for folder, seed in (("a", 0), ("b", 1)):
        monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / folder))
        torch.manual_seed(seed)
        classifier, _, key = feature_classifier(image_data(0), steps=3)
        trained.append((key, classifier.state_dict()))
    (key_a, weights_a), (key_b, weights_b) = trained
    assert key_a == key_b
    assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)


def circle(n: int, centre: float = 0.0, turn: float = 0.0) -> torch.Tensor:
    """n points evenly spaced on the unit circle around (centre, 0), turned by `turn` steps: every point's
    two nearest neighbours lie one step away, so with k = 2 every k-NN ball has the one-step radius."""
    angle = 2 * np.pi * (torch.arange(n, dtype=torch.float64) + turn) / n
    return torch.stack([centre + angle.cos(), angle.sin()], dim=1)


def test_prdc_known_answers_on_constructed_feature_sets():
    n = 40
    # fakes half a step from the reals: each lies inside exactly two real balls (the next real is 1.5 steps off)
    assert prdc(circle(n), circle(n, turn=0.5), k=2) == {"precision": 1.0, "recall": 1.0, "density": 1.0,
                                                         "coverage": 1.0}
    # a sampler that drops one of two modes: all its samples are good, half the data is reached
    two_modes = torch.cat([circle(n), circle(n, centre=10.0)])
    assert prdc(two_modes, circle(n, turn=0.5), k=2) == {"precision": 1.0, "recall": 0.5, "density": 1.0,
                                                         "coverage": 0.5}
    # a collapsed sampler: every sample between reals 0 and 1, inside their two balls; its own balls are points
    collapsed = circle(n, turn=0.5)[:1].repeat(n, 1)
    assert prdc(circle(n), collapsed, k=2) == {"precision": 1.0, "recall": 0.0, "density": 1.0,
                                               "coverage": 2 / n}
    assert prdc(circle(n), circle(n, centre=10.0), k=2) == {"precision": 0.0, "recall": 0.0, "density": 0.0,
                                                            "coverage": 0.0}


def test_inception_features_load_from_a_weights_file_and_wrong_files_are_one_line(tmp_path, inception_weights):
    inception = InceptionFeatures(inception_weights)  # 299 px on the CPU: two images only
    assert "pt_inception-2015-12-05-6726825d.pth" in inception.space
    a = features(inception, images(2))
    assert a.shape == (2, 2048) and torch.isfinite(a).all() and not torch.equal(a[0], a[1])
    with pytest.raises(UserError, match=r"quality.inception_weights=.*no such file"):
        InceptionFeatures(tmp_path / "missing.pth")
    (tmp_path / "text.pth").write_text("not weights")
    with pytest.raises(UserError, match=r"quality.inception_weights=.*not a PyTorch weights file"):
        InceptionFeatures(tmp_path / "text.pth")
    torch.save(FeatureClassifier([1, 16, 16], 3).state_dict(), tmp_path / "other.pth")
    with pytest.raises(UserError, match=r"quality.inception_weights=.*does not hold the pt_inception"):
        InceptionFeatures(tmp_path / "other.pth")


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
    a, b = features(classifier, images(300)), features(classifier, images(300, seed=3) * 0.5)
    scores = quality_scores(a, b)  # subsets of 1,000 wanted; 300 items: one subset, no std
    assert scores["kid_std"] is None
    a, b = a.double(), b.double()
    kernel = lambda u, v: (u @ v.T / u.shape[1] + 1) ** 3  # noqa: E731  KID's polynomial kernel
    off_diagonal = lambda k: (k.sum() - k.diag().sum()) / (len(k) * (len(k) - 1))  # noqa: E731
    mmd = off_diagonal(kernel(a, a)) + off_diagonal(kernel(b, b)) - 2 * kernel(a, b).mean()
    assert scores["kid"] == pytest.approx(float(mmd), rel=1e-3, abs=1e-7)
    assert quality_scores(a.float(), b.float(), kid_subset=100)["kid_std"] > 0  # 3 x the subset: a spread
