"""The bare-PyTorch reference scripts in benchmarks/reference/: they run, write their JSON line, score a
constructed case right, and never import latentcli (they are the independent check on it)."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "benchmarks" / "reference"
SCRIPTS = {
    "pacgan_toy.py": ["--dataset", "grid25", "--pack", "2", "--steps", "3"],
    "alice_toy.py": ["--lam", "1", "--steps", "2"],
    "veegan_toy.py": ["--dataset", "ring8", "--steps", "3"],
    "bigan_mnist.py": ["--data", "/usr/share/datasets/fashion-mnist", "--steps", "2", "--deploy-iters", "2",
                       "--eval-train", "500"],
}


def load(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), REFERENCE / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_runs_and_appends_one_json_line(script, tmp_path):
    if script == "bigan_mnist.py" and not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("Fashion-MNIST is not installed")
    out = tmp_path / "runs.jsonl"
    out.write_text('{"earlier": "line"}\n')
    cmd = [sys.executable, str(REFERENCE / script), *SCRIPTS[script], "--seed", "3", "--device", "cpu",
           "--threads", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    lines = out.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == {"earlier": "line"}
    record = json.loads(lines[1])
    assert {"script", "config", "args", "seed", "steps", "seconds", "steps_per_s", "metrics"} <= set(record)
    assert record["seed"] == 3 and record["script"] == script.removesuffix(".py")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_does_not_import_latentcli(script):
    source = (REFERENCE / script).read_text()
    assert not re.search(r"^\s*(import|from)\s+latentcli", source, re.MULTILINE)


def test_pacgan_protocol_on_a_constructed_sample():
    pacgan = load("pacgan_toy.py")
    means, std = pacgan.mixture("grid25")
    # 5 modes hit evenly, 2 std from their centre (high quality), plus 10 points between modes (not)
    good = np.repeat(means[:5], 10, axis=0) + np.array([2 * std, 0.0])
    bad = np.tile([[1.0, 1.0]], (10, 1))
    metrics = pacgan.evaluate(np.vstack([good, bad]), means, std)
    assert metrics["modes"] == 5
    assert metrics["high_quality"] == pytest.approx(50 / 60)
    assert metrics["reverse_kl"] == pytest.approx(math.log(25 / 5))


def test_alice_score_is_five_for_a_balanced_sample_at_the_centres():
    alice = load("alice_toy.py")
    import torch

    samples = torch.from_numpy(np.repeat(alice.MEANS_X, 20, axis=0)[np.random.RandomState(0).permutation(100)])
    balanced_splits = torch.from_numpy(np.tile(alice.MEANS_X, (20, 1)))  # every split of 10 holds each class twice
    assert alice.inception_score(balanced_splits) == pytest.approx(5.0, rel=1e-6)
    assert alice.inception_score(samples) < 5.0
