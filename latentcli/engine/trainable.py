"""The contract between the Trainer and what it optimises (a model, a post-hoc regressor, inversion latents).

A trainable is an nn.Module with `optimizers()` and `losses(batch)`. The Trainer applies each yielded loss
to its optimiser in the order yielded (a GAN yields the discriminator's loss, then the generator's, computed
after the discriminator's update). Trainables never call backward() or step() themselves.

Three abilities are optional, each a protocol of its own:
- `converged()` (Converging): asked after every step; True stops the run early (latent optimisation does
  when no item improves any more).
- `closure(name, batch)` (Reevaluating): the loss of optimiser `name` computed again at the current
  parameters, for optimisers whose step() re-evaluates the loss (L-BFGS with a line search).
- `averaged_modules()` (Averaging): the sub-networks that trainer.ema_decay averages (a model's generator
  and encoder, not its discriminators); without it the whole trainable is averaged.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Iterator, Protocol, runtime_checkable

import torch


@runtime_checkable
class Trainable(Protocol):
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers by name, built once at the start of `fit` (a checkpoint stores them by name)."""

    def losses(self, batch) -> Iterator[tuple[str, torch.Tensor, dict[str, torch.Tensor]]]:
        """(optimiser name, scalar loss, {log name: scalar tensor}) in update order; each item is computed
        only when asked, so after the previous item's update."""


@runtime_checkable
class Converging(Trainable, Protocol):
    def converged(self) -> bool:
        """True once further steps would not help: the run stops with stopped_by="converged"."""


@runtime_checkable
class Reevaluating(Trainable, Protocol):
    def closure(self, name: str, batch) -> torch.Tensor:
        """The loss that `losses(batch)` yields for optimiser `name`, at the current parameters (no logs,
        no bookkeeping: a line search calls it at trial points)."""


@runtime_checkable
class Averaging(Trainable, Protocol):
    def averaged_modules(self) -> dict[str, torch.nn.Module]:
        """{attribute name: child module} of the children whose exponential moving average is kept and used
        after training (trainer.ema_decay); the others keep their trained weights."""


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimiser's step() requires a closure that re-evaluates the loss (L-BFGS)."""
    closure = inspect.signature(type(optimizer).step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


def reevaluate(model, name: str, batch, loss: torch.Tensor, backward):
    """The closure an optimiser that re-evaluates (L-BFGS) calls: the first call gives the loss whose
    gradients were just computed; every later one (a line search's trial point) is
    `backward(lambda: model.closure(name, batch))`, which computes the loss again with its gradients."""
    if not isinstance(model, Reevaluating):
        raise TypeError(f"optimizer {name!r} re-evaluates the loss: give {type(model).__name__} a "
                        "closure(name, batch) method")
    first = [loss]

    def closure() -> torch.Tensor:
        return first.pop() if first else backward(lambda: model.closure(name, batch))

    return closure


@dataclass
class TrainState:
    """What one run of the loop updates and a checkpoint saves, besides the step."""

    model: torch.nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    ema: torch.optim.swa_utils.AveragedModel | None
    scaler: torch.amp.GradScaler
    step: int = 0


@dataclass
class TrainResult:
    step: int
    stopped_by: str  # max_steps | max_seconds | converged | SIGTERM | SIGUSR2 | SIGINT
    seconds: float  # of this call's loop, from start_step (a resumed run's earlier steps are not in it)
    last_logs: dict[str, float] = field(default_factory=dict)
    start_step: int = 0
