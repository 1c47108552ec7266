"""trainer=: the training loop's settings (configs/trainer/default.yaml sets only what differs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from latentcli.config.checks import Check, Checked, at_least, checked, fraction, is_number, one_of, positive

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass
class TrainerConfig(Checked):
    PREFIX = "trainer."
    max_steps: int = positive(1000)
    max_seconds: Optional[float] = positive(None)  # wall-clock budget of this process; a checkpoint is saved when it runs out
    device: str = "auto"  # auto: cuda, then mps, then cpu; or cpu, cuda, cuda:1, mps
    precision: str = one_of("auto", "32", "fp32", "bf16", "fp16")  # mixed precision only on CUDA
    compile: bool = False  # torch.compile every network
    # torch.compile's mode; reduce-overhead captures CUDA graphs (small MLPs)
    compile_mode: str = one_of(*COMPILE_MODES)
    channels_last: bool = False  # NHWC memory layout for conv nets (faster convolutions on tensor cores)
    deterministic: bool = False  # deterministic CUDA kernels, so that resume is exact on a GPU too (slower)
    grad_clip: Optional[float] = positive(None)  # max gradient norm per optimiser
    ema_decay: Optional[float] = fraction(None, open_top=True)  # EMA of G and E (not D), used for sampling and inversion
    log_every: int = positive(50)
    sample_every: int = positive(500)  # calls on_periodic (sample grids) every N steps and at the end
    checkpoint_every: int = positive(1000)
    checkpoint_every_seconds: Optional[float] = positive(None)  # also save this often: a preempted job loses at most this
    keep_checkpoints: int = at_least(0, 3)  # periodic step-N.ckpt files kept besides last.ckpt
    num_workers: int = at_least(0, 0)
    # CPU threads of this process. auto: on a CPU device, the cores shared among the jobs training at once on
    # this machine (a joblib sweep's n_jobs, torchrun's processes), or OMP_NUM_THREADS when set; a number as given
    threads: Any = checked("auto", Check(lambda v: v == "auto" or (is_number(v) and v == int(v) and v > 0),
                                         " must be auto or a number of threads > 0"))
    progress: bool = True
    tensorboard: bool = True
    weight_decay: float = at_least(0, 0.0)  # L2 added to every optimiser's gradients (Adam's coupled weight decay, as BiGAN's code)
    # none | linear | exponential: after lr_decay_start, every lr falls to lr_decay_to x itself
    lr_decay: str = one_of("none", "linear", "exponential")
    lr_decay_start: float = fraction(0.5)  # the fraction of max_steps after which the decay begins
    lr_decay_to: float = fraction(0.0)  # the factor reached at max_steps (exponential needs > 0; BiGAN: 0.01)

    def together(self) -> str | None:
        if self.lr_decay == "exponential" and self.lr_decay_to <= 0:
            return "trainer.lr_decay=exponential needs trainer.lr_decay_to > 0"
        return None

    def lr_factor(self, step: int) -> float:
        """The multiplier of every base learning rate at `step` (0-based): a pure function of the step, so a
        resumed run follows the same schedule."""
        start = self.lr_decay_start * self.max_steps
        if self.lr_decay == "none" or step < start:
            return 1.0
        progress = min(1.0, (step - start) / max(1.0, self.max_steps - start))
        if self.lr_decay == "linear":
            return 1.0 + progress * (self.lr_decay_to - 1.0)
        return self.lr_decay_to ** progress
