"""The checkpoint file: one dict of plain types and tensors, written atomically, read with weights_only=True.

Layout (FORMAT_VERSION 1):
    format_version  int
    config          the run's resolved config as a plain dict
    data            {"name", "shape", "kind", "range"}: what the model was trained on
    step            optimisation steps completed
    model           model.state_dict()
    optimizers      {name: optimizer.state_dict()}
    ema             EMA model state_dict or None
    scaler          GradScaler state_dict or None
    rng             {"python", "numpy", "torch", "cuda"} generator states at `step`
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import torch

from latentcli.errors import UserError
from latentcli.files import atomic_output

FORMAT_VERSION = 1


def save_atomic(obj: dict, path: str | Path) -> None:
    """Writes `obj` to `path` so that a crash at any moment leaves either the old file or the new one."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)  # a file object, not a path: the archive's inner name is then fixed, not the temp name


def load(path: str | Path, map_location="cpu") -> dict:
    """Reads a checkpoint with weights_only=True; any problem becomes one clear UserError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated file, not a torch file, or pickled objects outside the allow-list
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read checkpoint {path}: not a PyTorch file, or damaged "
                        f"({type(err).__name__}: {first_line})") from err
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise UserError(f"{path} is not a latentcli checkpoint (no format_version)")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise UserError(
            f"{path} has checkpoint format {ckpt['format_version']}, newer than this latentcli "
            f"understands ({FORMAT_VERSION}): upgrade latentcli"
        )
    return ckpt


def model_weights(ckpt: dict) -> dict:
    """The weights to use from a checkpoint: the EMA average when the run kept one, else the live ones."""
    if ckpt.get("ema") is None:
        return ckpt["model"]
    prefix = "module."  # AveragedModel wraps the model
    return {k[len(prefix):]: v for k, v in ckpt["ema"].items() if k.startswith(prefix)}


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    random.setstate(_as_tuples(state["python"]))
    np_state = state["numpy"]
    np.random.set_state(
        ("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"], np_state["has_gauss"],
         np_state["cached_gaussian"])
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(value):
    # random.setstate wants (version, tuple_of_ints, gauss_next); loading may hand back lists.
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_as_tuples(v) for v in value)
    return value


_PERIODIC = re.compile(r"^step-(\d+)\.ckpt$")


def periodic_name(step: int) -> str:
    return f"step-{step:08d}.ckpt"


def prune_periodic(directory: Path, keep: int) -> None:
    """Deletes all but the `keep` newest step-N.ckpt files (last.ckpt is never touched)."""
    found = sorted(
        (int(m.group(1)), p) for p in directory.glob("step-*.ckpt") if (m := _PERIODIC.match(p.name))
    )
    for _, old in found[: max(len(found) - keep, 0)]:
        old.unlink(missing_ok=True)
