"""The anomaly scores on constructed data, each against its known answer, and ALAD's training game."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from latentcli.data.stream import DataInfo
from latentcli.metrics.anomaly import discriminator_scores, joint_features, prior_nll
from latentcli.metrics.anomaly_baselines import knn_distance, ocsvm_score, pca_error, pixel_baselines
from latentcli.models import build_model
from latentcli.models.nets import Discriminator
from test_models import model_cfg
from test_zoo import train


def test_knn_distance_is_the_mean_distance_to_the_k_nearest_training_items():
    train_points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [10.0, 10.0]])
    test_points = np.array([[0.0, 0.0], [3.0, 4.0]])
    # (0, 0): distances 0, 3, 4 -> k=2: 1.5, k=3: 7/3; (3, 4): distances 5, 4, 3 -> k=2: 3.5
    assert knn_distance(train_points, test_points, 2) == pytest.approx([1.5, 3.5])
    assert knn_distance(train_points, test_points, 3)[0] == pytest.approx(7 / 3)


def test_pca_error_is_zero_in_the_span_and_the_squared_distance_outside_it():
    rng = np.random.default_rng(0)
    offset = np.array([1.0, -2.0, 0.5])
    train_points = np.c_[rng.normal(size=(200, 2)) * [3.0, 1.0], np.zeros(200)] + offset  # the plane z = 0.5
    test_points = np.array([[4.0, 7.0, 0.0], [4.0, 7.0, 5.0]]) + offset
    assert pca_error(train_points, test_points, 2) == pytest.approx([0.0, 25.0], abs=1e-9)


def test_prior_nll_of_known_latents():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    assert prior_nll(z).tolist() == pytest.approx([math.log(2 * math.pi), 12.5 + math.log(2 * math.pi)])


def test_one_class_svm_ranks_an_obvious_outlier_above_every_inlier():
    rng = np.random.default_rng(0)
    inliers = rng.normal(size=(300, 5))
    test_points = np.vstack([rng.normal(size=(50, 5)), np.full((1, 5), 8.0)])
    scores = ocsvm_score(inliers, test_points, nu=0.1, gamma="scale")
    assert scores[-1] > scores[:-1].max()


def test_pixel_baselines_are_computed_once_per_data_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    train_x, test_x = torch.from_numpy(rng.normal(size=(60, 1, 4, 4))), torch.from_numpy(rng.normal(size=(20, 1, 4, 4)))
    cfg = OmegaConf.create({"k": 5, "pca_components": 3, "ocsvm_nu": 0.1, "ocsvm_gamma": "scale"})
    first = pixel_baselines(train_x, test_x, cfg)
    assert first["knn"] == pytest.approx(knn_distance(train_x.flatten(1).numpy(), test_x.flatten(1).numpy(), 5))
    assert len(list(tmp_path.glob("anomaly/*.npz"))) == 1
    again = pixel_baselines(train_x.clone(), test_x.clone(), cfg)  # same content: read from the cache
    assert all(np.array_equal(first[k], again[k]) for k in first) and len(list(tmp_path.glob("anomaly/*"))) == 1
    cfg.k = 1
    assert not np.array_equal(pixel_baselines(train_x, test_x, cfg)["knn"], first["knn"])
    assert len(list(tmp_path.glob("anomaly/*.npz"))) == 2


def joint_discriminator(scale: float) -> Discriminator:
    """D(x, z) whose layer before the score is scale * [x, z]."""
    first = nn.Linear(4, 4, bias=False)
    nn.init.eye_(first.weight)
    first.weight.data *= scale
    return Discriminator(nn.Identity(), 2, nn.Identity(), 2, 4, head=nn.Sequential(first, nn.Linear(4, 1)))


def test_egbad_score_mixes_pixel_and_joint_feature_l1_norms():
    d = joint_discriminator(2.0)
    x, x_hat, z = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]), torch.tensor([[5.0, -5.0]])
    assert joint_features(d, d.features(x), z).tolist() == [[2.0, 4.0, 10.0, -10.0]]
    # ||x - x_hat||_1 = 3; the joint features differ by 2 * 3 = 6 (the same z on both sides cancels);
    # D's image features (the identity here) differ by 1.5 on average
    feature, egbad = discriminator_scores(d, x, x_hat, z, 0.1)[0].tolist()
    assert feature == pytest.approx(1.5) and egbad == pytest.approx(0.9 * 3 + 0.1 * 6)
    assert discriminator_scores(d, x, x, z, 0.1).tolist() == [[0.0, 0.0]]


def test_alad_score_is_zero_for_a_perfect_reconstruction_and_grows_with_the_error():
    model = build_model(model_cfg("alad"), DataInfo("x", [2], "points")).eval()
    x = torch.randn(32, 2)
    assert torch.equal(model.anomaly_score(x, x), torch.zeros(32))
    assert (model.anomaly_score(x, x + 3) > 0).all()


def test_alad_trains_its_cycle_games():
    torch.manual_seed(0)
    model = build_model(model_cfg("alad"), DataInfo("x", [1, 16, 16], "image"))
    names = [name for name, _, _ in model.losses((torch.rand(16, 1, 16, 16) * 2 - 1, None))]
    assert names == ["discriminator", "generator"] and set(names) == set(model.optimizers())
    _, loss_ge, logs = list(model.losses((torch.rand(16, 1, 16, 16) * 2 - 1, None)))[1]
    assert {"loss_ge", "cycle_x", "cycle_z"} <= set(logs)
    loss_ge.backward()  # G and E get gradients from the cycle games
    assert all(p.grad is not None for p in model.encoder.parameters())
    model.zero_grad()

    data = torch.rand(256, 1, 16, 16) * 2 - 1

    def d_xx_loss():  # D_xx's loss on (x, x) against (x, G(E(x))): 2 log 2 while it cannot tell them apart
        with torch.no_grad():
            return next(model.losses((data[:64], None)))[2]["loss_d_xx"].item()

    assert d_xx_loss() == pytest.approx(2 * math.log(2), abs=0.1)
    train(model, 30, data=data)
    assert d_xx_loss() < 2 * math.log(2) - 0.1  # 1.22 after these 30 steps
