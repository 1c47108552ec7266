"""Device choice and mixed-precision settings: `auto` picks cuda, then mps, then cpu."""

from __future__ import annotations

import contextlib
import os

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
    precision = str(precision)  # `trainer.precision=32` on the command line arrives as the integer 32
    if precision in ("32", "fp32"):
        return None
    if precision not in ("auto", "bf16", "fp16"):
        raise UserError(f"trainer.precision={precision!r} is not one of auto, 32, bf16, fp16")
    if device.type != "cuda":
        return None
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def use_deterministic_algorithms() -> None:
    """Deterministic kernels everywhere (an error names any op that has none), for bitwise-exact GPU runs.

    cuBLAS needs its workspace fixed before its first use; an explicit CUBLAS_WORKSPACE_CONFIG wins.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def to_device(batch, device: torch.device, channels_last: bool = False):
    """Moves a tensor, or the tensors in a tuple/list/dict, to `device` (asynchronously from pinned memory).

    channels_last=True also lays image batches (4-D tensors) out as NHWC, as the conv weights are.
    """
    if isinstance(batch, torch.Tensor):
        moved = batch.to(device, non_blocking=device.type == "cuda")
        return moved.contiguous(memory_format=torch.channels_last) if channels_last and moved.dim() == 4 else moved
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    return batch
