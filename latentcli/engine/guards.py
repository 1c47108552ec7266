"""What makes the training loop stop besides its budget: a non-finite loss, and a scheduler's signal."""

from __future__ import annotations

import signal
import threading

import torch

from latentcli.errors import UserError


class DivergedError(UserError):
    """A loss became NaN or infinite; the run stopped without saving the bad weights."""

    exit_code = 1


class FiniteWatch:
    """The losses since the host last looked at them, left on the device until it does.

    Asking `torch.isfinite(loss)` in a Python `if` every step would make the host wait for the GPU
    every step; the loop looks instead when it logs or saves (one wait for all of them), and finds
    the first non-finite loss, its step and its optimiser.
    """

    LIMIT = 1024  # losses kept before the loop must look, whatever log_every is

    def __init__(self):
        self.pending: list[tuple[int, str, torch.Tensor]] = []

    def record(self, name: str, loss: torch.Tensor, step: int) -> None:
        self.pending.append((step, name, loss.detach()))

    def full(self) -> bool:
        return len(self.pending) >= self.LIMIT

    def first_bad(self) -> tuple[str, float, int] | None:
        if not self.pending:
            return None
        pending, self.pending = self.pending, []
        finite = torch.isfinite(torch.stack([loss.float() for _, _, loss in pending])).tolist()
        return next(((name, loss.item(), step) for ok, (step, name, loss) in zip(finite, pending) if not ok), None)


class StopSignals:
    """While active, SIGTERM/SIGUSR2 (a scheduler's preemption) and Ctrl-C ask the loop to save and stop.

    Only runs that save checkpoints catch them (`active`); elsewhere (inversion) the signals act as usual.
    """

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR2", "SIGINT") if hasattr(signal, name))

    def __init__(self, active: bool, on_signal):
        self.active, self.on_signal = active, on_signal  # on_signal(name): the loop's request to stop
        self.previous = {}
        self.caught: int | None = None

    def __enter__(self):
        if self.active and threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.caught = signum
        self.on_signal(signal.Signals(signum).name)

    def forward(self) -> None:
        """Hands a caught signal to the handler it displaced, if that was a Python function (submitit's
        SIGUSR2 handler requeues a timed-out or preempted job); Ctrl-C and default actions are not repeated."""
        handler = self.previous.get(self.caught)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(self.caught, None)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)  # `previous` stays: forward() runs after the final save, outside the block
        return False
