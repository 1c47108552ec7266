"""benchmarks/anomaly_figure.py: the numbers it plots from constructed runs (no training), and the picture."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import anomaly_figure  # noqa: E402


def run(model: str, seed: int, normal: int, latent_knn: float, knn: float) -> dict:
    return {"model": model, "seed": seed, "step": 10, "classes": (normal,),
            "anomaly": {"latent_knn": {"auroc": latent_knn}, "reconstruction": {"auroc": 0.5},
                        "baselines": {"knn": {"auroc": knn}}}}


def test_seeds_are_averaged_over_classes_first_then_mean_and_standard_error():
    runs = [run("vae", 0, 0, 0.90, 0.8), run("vae", 0, 1, 0.70, 0.6),  # seed 0: mean 0.80 over its classes
            run("vae", 1, 0, 0.95, 0.8), run("vae", 1, 1, 0.85, 0.6),  # seed 1: mean 0.90
            run("bigan", 0, 0, 0.60, 0.8)]
    summary = anomaly_figure.summarise(runs, "latent_knn")
    mean, se, seeds, count = summary["overall"]["vae", "latent_knn"]
    assert (mean, seeds, count) == (pytest.approx(0.85), 2, 4)
    assert se == pytest.approx(math.sqrt(0.005) / math.sqrt(2))  # stdev of (0.80, 0.90) over sqrt(2)
    assert summary["overall"]["bigan", "latent_knn"][:3] == (pytest.approx(0.60), 0.0, 1)  # one seed: no spread
    assert summary["per_class"]["vae"][(1,)] == (pytest.approx(0.775), pytest.approx(0.075))  # 0.70, 0.85
    assert summary["baselines"] == {"knn": {(0,): 0.8, (1,): 0.6}}
    assert summary["models"] == ["vae", "bigan"] and summary["names"]["vae"] == "vae (10 steps)"


def test_the_picture_is_written(tmp_path):
    runs = [run("vae", s, c, 0.8 + 0.01 * s, 0.7) for s in (0, 1) for c in (0, 1, 2)]
    path = tmp_path / "anomaly.png"
    anomaly_figure.plot(anomaly_figure.summarise(runs, "latent_knn"), "latent_knn", path)
    assert path.read_bytes()[:4] == b"\x89PNG"
