"""Shared test helpers: tiny budgets, CPU only, and running the installed `latentcli` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from latentcli.data.images import DEBIAN_FASHION_MNIST

# `make test` runs two pytest workers (pytest-xdist) on this 2-core machine, one thread each, and the runs they
# start in subprocesses take one thread too: two busy workers with a thread per core each ran far slower.
THREADS = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 2
if THREADS == 1:
    os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(THREADS)


@pytest.fixture(autouse=True)
def _threads_restored():
    """Each test starts with the suite's threads: a task run in this process (trainer.threads) or a test may set
    torch's thread count, and numerics that depend on it (a solver's step count) must not depend on test order."""
    yield
    torch.set_num_threads(THREADS)

# Small, fast settings for a real end-to-end run on grid25 (seconds on 2 CPU cores).
TINY_TOY = [
    "dataset=grid25", "dataset.n_train=2048", "dataset.n_test=256", "batch_size=64",
    "model.width=32", "trainer.device=cpu", "trainer.progress=false", "trainer.tensorboard=false",
    "trainer.log_every=5",
]


def run_cli(*args: str, cwd: Path | None = None, check: bool = True, timeout: float = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `python -m latentcli ARGS` in a fresh process and returns the finished process."""
    full_env = {**os.environ, "HYDRA_FULL_ERROR": "0", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR")  # users see Hydra's short errors; so must the tests
    proc = subprocess.run([sys.executable, "-m", "latentcli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"latentcli {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def fashion_mnist_available() -> bool:
    return DEBIAN_FASHION_MNIST.is_dir()


@pytest.fixture
def require_fashion_mnist():
    """Skips when Fashion-MNIST is absent, unless LATENTCLI_REQUIRE_DATA=1 (CI), where it fails instead."""
    if not fashion_mnist_available():
        message = f"Fashion-MNIST not installed at {DEBIAN_FASHION_MNIST} (apt-get install dataset-fashion-mnist)"
        if os.environ.get("LATENTCLI_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)


def run_task(*args: str) -> None:
    """Runs `latentcli ARGS` inside this process: the whole task without a new interpreter's start-up.

    For the many quick round trips; error paths and anything about the process itself use run_cli.
    """
    from latentcli.cli import main

    try:
        code = main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    assert code in (0, None), f"latentcli {' '.join(args)} exited {code}"


def states_equal(a, b) -> bool:
    """Bitwise equality of nested checkpoint entries (tensors, dicts, lists, plain values)."""
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(states_equal(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory) -> Path:
    """A stand-in for pt_inception-2015-12-05-6726825d.pth (quality.inception_weights): a randomly
    initialised InceptionV3 of its architecture, saved as a state dict. torchvision's network has the
    same layers but for its 1000-way head (the file's has 1008). It proves the loading path, not numbers."""
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    net.fc = torch.nn.Linear(2048, 1008)
    path = tmp_path_factory.mktemp("inception") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), path)
    return path
