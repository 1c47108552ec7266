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


def load(name: str, folder: Path = REFERENCE):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), folder / name)
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


def test_alice_shared_adam_clock_uses_the_shared_step_count_in_the_bias_corrections():
    alice = load("alice_toy.py")
    import torch

    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1.0, betas=(0.5, 0.999))
    p.grad = torch.ones(1)
    opt.step()  # own step 1: m = 0.5, v = 0.001, p = -1
    alice.set_adam_clock(opt, 5)  # five steps of the other optimizer happened meanwhile: this is step 6
    opt.step()
    m, v = 0.5 * 0.5 + 0.5, 0.999 * 0.001 + 0.001
    expected = -1.0 - (m / (1 - 0.5 ** 6)) / (math.sqrt(v / (1 - 0.999 ** 6)) + 1e-8)
    assert float(p.detach()) == pytest.approx(expected, rel=1e-5)


def test_veegan_reference_rows_are_tabulated_under_their_arms(tmp_path):
    """Each row of VEEGAN's Table 1 that the reference runs lands in paper_table.py under its own arm name."""
    out = tmp_path / "reference.jsonl"
    rows = {"gan": ["--model", "gan"], "gan_minimax": ["--model", "gan", "--generator-loss", "minimax"],
            "gan_logit": ["--model", "gan", "--generator-loss", "logit"], "ali": ["--model", "ali"], "veegan": []}
    for args in rows.values():
        cmd = [sys.executable, str(REFERENCE / "veegan_toy.py"), "--steps", "2", "--threads", "1", "--out", str(out),
               *args]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    protocol, table = load("paper_table.py", REFERENCE.parent).collect(tmp_path)
    assert protocol == "veegan"
    assert {arm for arm, side in table if side == "reference"} == set(rows)
    assert all(len(table[(arm, "reference")]["modes"]) == 1 for arm in rows)


def test_veegan_reference_refuses_a_generator_loss_for_a_model_that_has_none(tmp_path):
    cmd = [sys.executable, str(REFERENCE / "veegan_toy.py"), "--model", "ali", "--generator-loss", "minimax",
           "--steps", "2", "--out", str(tmp_path / "runs.jsonl")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "--generator-loss applies to --model gan only, not to --model ali" in done.stderr
    assert not (tmp_path / "runs.jsonl").exists()


def test_paper_table_of_a_folder_without_results_fails_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(REFERENCE.parent / "paper_table.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"no results under {tmp_path}: it holds no reference.jsonl line and "
                                                "no scored run of benchmarks/paper_compare.sh"]
