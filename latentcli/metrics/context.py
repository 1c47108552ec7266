"""What every metric may ask for, each computed once per evaluation: the model, its data, the inverted
test items, generated samples, and where pictures go."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from latentcli.data import DataBundle
from latentcli.inference import Inversion, OptimizeInverter


@dataclass
class Figure:
    title: str
    path: Path


@dataclass
class EvaluationContext:
    model: object
    data: DataBundle
    inverter: object
    cfg: object  # the evaluate config: n, n_samples, seed, and each metric's settings
    out: Path
    figures: list[Figure] = field(default_factory=list)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @cached_property
    def test(self):
        """The first cfg.n test items."""
        return self.data.test.subset(self.cfg.n)

    @cached_property
    def test_inversion(self) -> Inversion:
        if isinstance(self.inverter, OptimizeInverter):  # optimize, hybrid, fast: minutes, not a forward pass
            print(optimisation_cost(self.inverter, self.model, self.test.x))
        return self.inverter.invert(self.model, self.test.x)

    @cached_property
    def samples(self) -> torch.Tensor:
        """cfg.n_samples generated items from seeded prior draws (on the CPU)."""
        return self.generate(self.model.sample_latent(self.cfg.n_samples,
                                                      generator=torch.Generator().manual_seed(self.cfg.seed)))

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.model.generate(part.to(self.device)).cpu() for part in z.split(1024)])

    def figure(self, title: str, name: str) -> Path:
        """The path to write a picture to; it is listed in report.md under `title`."""
        path = self.out / name
        self.figures.append(Figure(title, path))
        return path


def optimisation_cost(inverter: OptimizeInverter, model, x: torch.Tensor) -> str:
    """The line said before a slow inversion starts: items x steps, and the time a few timed steps predict (high
    by a third to a half in a measurement on digits: the first steps are the slowest, and patience stops early)."""
    options, n = inverter.options, len(x)
    starts = f" x {options.restarts} restarts" if options.restarts > 1 else ""
    seconds = inverter.expected_seconds(model, x)
    about = f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"
    return (f"inference={inverter.method}: {n} test items{starts} x up to {options.steps} steps "
            f"({n * options.restarts * options.steps:,} item-steps), up to about {about} here; "
            f"n= and inference.steps= make it smaller")
