"""Raw-pixel baselines of the one-class protocol, fitted on the normal class's training split only:
the mean distance to the k nearest training items, the PCA reconstruction error, and a one-class SVM.

The OC-SVM's hyper-parameters come from the training data alone: nu fixed (anomaly.ocsvm_nu) and the RBF
width by scikit-learn's "scale" rule, gamma = 1 / (n_features * Var(train)). Published OC-SVM baselines
chose theirs on the test AUROC, which a detector in use cannot do.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM

from latentcli.data.images import cache_dir
from latentcli.files import atomic_output



def knn_distance(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Mean Euclidean distance from each test row to its k nearest training rows."""
    distances, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
    return distances.mean(1)


def pca_error(train: np.ndarray, test: np.ndarray, components: int) -> np.ndarray:
    """Squared distance from each test row to the training data's top principal subspace (mean removed)."""
    pca = PCA(n_components=components, random_state=0).fit(train)
    return ((test - pca.inverse_transform(pca.transform(test))) ** 2).sum(1)


def ocsvm_score(train: np.ndarray, test: np.ndarray, nu: float, gamma) -> np.ndarray:
    """Minus the RBF one-class SVM's decision function: higher is more anomalous."""
    return -OneClassSVM(nu=nu, gamma=gamma).fit(train).decision_function(test)


def pixel_baselines(train, test, cfg) -> dict[str, np.ndarray]:
    """{name: score per test item} on flattened pixels. They depend on the data and the settings only, so
    they are cached on disk by content (~/.cache/latentcli/anomaly): a sweep computes them once per class."""
    gamma = cfg.ocsvm_gamma if isinstance(cfg.ocsvm_gamma, str) else float(cfg.ocsvm_gamma)
    train = train.flatten(1).double().numpy()
    test = test.flatten(1).double().numpy()
    settings = [int(cfg.k), int(cfg.pca_components), float(cfg.ocsvm_nu), gamma]
    key = hashlib.sha256(json.dumps(settings).encode() + _digest(train) + _digest(test)).hexdigest()[:32]
    path = cache_dir() / "anomaly" / f"baselines_{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    scores = {"knn": knn_distance(train, test, int(cfg.k)),
              "pca": pca_error(train, test, int(cfg.pca_components)),
              "ocsvm": ocsvm_score(train, test, float(cfg.ocsvm_nu), gamma)}
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **scores)
    return scores


def _digest(a: np.ndarray) -> bytes:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).digest()
