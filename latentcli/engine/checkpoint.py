"""The checkpoint file: one dict of plain types and tensors, written atomically, read with weights_only=True
(`load`, the one reader of the file; `latentcli.models.load_checkpoint` rebuilds the model from it). A run's
CheckpointManager saves, restores and prunes them.

Layout (FORMAT_VERSION 1):
    format_version  int
    config          the run's resolved config as a plain dict
    data            {"name", "shape", "kind", "extra"}: what the model was trained on (DataInfo.to_dict)
    step            optimisation steps completed
    model           model.state_dict()
    optimizers      {name: optimizer.state_dict()}
    ema             EMA state_dict or None: the average of the model's averaged_modules() (keys
                    "module.NAME.*", as the model's own; older files: of the whole model), or of the whole
                    trainable where it names none
    scaler          GradScaler state_dict or None
    rng             {"python", "numpy", "torch", "cuda"} generator states at `step`
    checksum        SHA-256 of all the above (see content_digest): torch's zip format does not check its
                    CRCs on load, so without it a flipped or torn byte inside a tensor loads silently
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from latentcli.engine.trainable import TrainState
from latentcli.errors import UserError
from latentcli.files import WriteErrors, atomic_output

FORMAT_VERSION = 1


def save_atomic(obj: dict, path: str | Path) -> None:
    """Writes `obj` to `path` so that a crash at any moment leaves either the old file or the new one.
    A checkpoint (a dict with format_version) gets its checksum added."""
    if "format_version" in obj:
        obj = {**obj, "checksum": content_digest(obj)}
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f = WriteErrors(f)
        try:
            torch.save(obj, f)  # a file object, not a path: the archive's inner name is then fixed, not the temp name
        except RuntimeError:
            if f.error is not None:  # a full disk, not a torch problem
                raise f.error from None
            raise


def load(path: str | Path, map_location="cpu") -> dict:
    """Reads a checkpoint with weights_only=True; any problem becomes one clear UserError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated file, not a torch file, or pickled objects outside the allow-list
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        # torch's weights_only failure goes on to suggest weights_only=False, which latentcli never does
        first_line = first_line.split(". In PyTorch 2.6")[0]
        raise UserError(f"cannot read checkpoint {path}: not a PyTorch file, or damaged "
                        f"({type(err).__name__}: {first_line})") from err
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise UserError(f"{path} is not a latentcli checkpoint (no format_version)")
    if "checksum" in ckpt and ckpt["checksum"] != content_digest(ckpt):
        raise UserError(f"cannot read checkpoint {path}: damaged (its content does not match the checksum "
                        f"written with it)")
    if ckpt["format_version"] > FORMAT_VERSION:
        raise UserError(
            f"{path} has checkpoint format {ckpt['format_version']}, newer than this latentcli "
            f"understands ({FORMAT_VERSION}): upgrade latentcli"
        )
    return ckpt


def content_digest(obj) -> str:
    """SHA-256 over every value in `obj` (tensors by dtype, shape and bytes), the key "checksum" aside."""
    digest = hashlib.sha256()

    def feed(value) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor {value.dtype} {tuple(value.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            keys = sorted((k for k in value if k != "checksum"), key=str)
            digest.update(f"dict {len(keys)};".encode())
            for key in keys:
                digest.update(f"{key!r}:".encode())
                feed(value[key])
        elif isinstance(value, (list, tuple)):  # a tuple may come back as a list: the same content
            digest.update(f"list {len(value)};".encode())
            for item in value:
                feed(item)
        else:
            digest.update(f"{value!r};".encode())

    feed(obj)
    return digest.hexdigest()


def newest_readable(directory: Path) -> tuple[dict, Path]:
    """(checkpoint, its path): last.ckpt, else the newest step-N.ckpt that reads back whole. The first
    file's error is raised when none does."""
    found = sorted(((int(m.group(1)), p) for p in directory.glob("step-*.ckpt")
                    if (m := _PERIODIC.match(p.name))), reverse=True)
    first_error = None
    for path in [directory / "last.ckpt", *(p for _, p in found)]:
        try:
            return load(path), path
        except UserError as err:
            first_error = first_error or err
    raise first_error


def model_weights(ckpt: dict) -> dict:
    """The weights to use from a checkpoint: the EMA average where the run kept one (the generator and
    encoder), the live ones for the rest (the discriminators)."""
    if ckpt.get("ema") is None:
        return ckpt["model"]
    prefix = "module."  # AveragedModel wraps what it averages
    return {**ckpt["model"], **{k[len(prefix):]: v for k, v in ckpt["ema"].items() if k.startswith(prefix)}}


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


def training_state(state: TrainState) -> dict:
    """What a checkpoint holds of a run besides its meta: step, every state dict and the random streams."""
    return {
        "step": state.step,
        "model": state.model.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in state.optimizers.items()},
        "ema": state.ema.state_dict() if state.ema is not None else None,
        "scaler": state.scaler.state_dict() if state.scaler.is_enabled() else None,
        "rng": rng_state(),
    }


class CheckpointManager:
    """A run's checkpoints/ folder: every save writes last.ckpt; a periodic save writes step-N.ckpt (of which
    the newest `keep` are kept) and links last.ckpt to it. `meta` is stored in every file besides the
    training state (the config, the data's description). `group`: the processes of a torchrun run, whose
    random streams are all saved and of which only the first writes."""

    def __init__(self, directory: str | Path, meta: dict, keep: int, group):
        self.directory, self.meta, self.keep, self.group = Path(directory), meta, keep, group

    @property
    def last(self) -> Path:
        return self.directory / "last.ckpt"

    def save(self, state: TrainState, periodic: bool) -> None:
        training = training_state(state)
        if self.group.size > 1:  # every process's random streams, so that each resumes its own
            training["rng_ranks"] = self.group.gather(training["rng"])
        if self.group.is_main:
            self.write(training, periodic)

    def write(self, training: dict, periodic: bool) -> None:
        """Writes a checkpoint of `training` (what `training_state` gives) with this run's meta."""
        ckpt = {"format_version": FORMAT_VERSION, **self.meta, **training}
        if not periodic:
            save_atomic(ckpt, self.last)
            return
        path = self.directory / periodic_name(training["step"])
        save_atomic(ckpt, path)
        _link_atomic(path, self.last)  # last.ckpt is the same bytes: a hard link, not a second write
        prune_periodic(self.directory, self.keep)

    def restore(self, ckpt: dict, state: TrainState) -> None:
        """Puts a checkpoint's weights, optimiser and scaler states, step and random streams into `state`."""
        state.model.load_state_dict(ckpt["model"])
        for name, opt in state.optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        if state.ema is not None:
            if ckpt.get("ema") is None:
                raise UserError("trainer.ema_decay is set but the checkpoint has no EMA weights to resume")
            expected = state.ema.state_dict().keys()  # an older file also averaged the discriminators: not kept
            state.ema.load_state_dict({k: v for k, v in ckpt["ema"].items() if k in expected})
        if state.scaler.is_enabled() and ckpt.get("scaler") is not None:
            state.scaler.load_state_dict(ckpt["scaler"])
        ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
        if len(ranks) != self.group.size:
            raise UserError(f"this checkpoint was written by {len(ranks)} process(es) and can only resume exactly "
                            f"in as many: run it with torchrun --nproc_per_node={len(ranks)}" if len(ranks) > 1 else
                            "this checkpoint was written by one process: resume it without torchrun")
        set_rng_state(ranks[self.group.rank])
        state.step = int(ckpt["step"])


def _link_atomic(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # filesystems without hard links: copy instead
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
