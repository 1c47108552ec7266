"""Device choice and mixed-precision settings: `auto` picks cuda, then mps, then cpu."""

from __future__ import annotations

import contextlib

import torch

from latentcli.errors import UserError


def pick_device(name: str = "auto", key: str = "device") -> torch.device:
    """The torch device `name` asks for; `key` is the option that gave it, for the messages."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise UserError(f"unknown {key}={name}: use auto, cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"{key}={name} asked for, but torch sees no CUDA GPU: use {key}=auto or {key}=cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"{key}=mps asked for, but this torch has no MPS support: use {key}=auto or {key}=cpu")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype to autocast to, or None for plain fp32.

    Mixed precision is only used on CUDA: `auto` means bf16 where the GPU supports it, else fp16
    (which needs the grad scaler); on cpu and mps everything runs in fp32.
    """
    if precision in ("32", "fp32"):
        return None
    if precision not in ("auto", "bf16", "fp16"):
        raise UserError(f"trainer.precision={precision!r} is not one of auto, 32, bf16, fp16")
    if device.type != "cuda":
        return None
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(batch, device: torch.device):
    """Moves a tensor, or the tensors in a tuple/list/dict, to `device` (asynchronously from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
