"""Where latentcli's own files are: the config tree that Hydra composes and the Python API reads."""

from __future__ import annotations

from pathlib import Path


def config_dir() -> str:
    """configs/ inside the installed package (wheel), else the source tree's top-level configs/."""
    here = Path(__file__).resolve().parent
    installed = here / "configs"
    return str(installed if installed.is_dir() else here.parent / "configs")
