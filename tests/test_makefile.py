"""The Makefile's venv recipe: PyTorch's CPU wheel index on request, nothing extra by default (CI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_venv_passes_the_torch_index_to_pip_only_when_given(tmp_path):
    def pip_line(*args: str) -> str:  # make -n: the commands it would run, none run
        out = subprocess.run(["make", "-n", "venv", f"VENV={tmp_path / 'venv'}", *args], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        return next(line for line in out.splitlines() if "pip install" in line)

    cpu = "https://download.pytorch.org/whl/cpu"
    assert f"pip install -q --extra-index-url {cpu} -e '.[test]'" in pip_line(f"TORCH_INDEX={cpu}")
    assert "index" not in pip_line()
