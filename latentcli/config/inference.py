"""inference=: how latents are found. Every method's config carries the optimisation options, so that one sweep
sets them for every method it compares (`latentcli evaluate -m sweep=DIR inference=encoder,hybrid
inference.steps=30`); READS names what the methods that do not optimise actually read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from latentcli.config.checks import Checked, at_least, existing, one_of, positive
from latentcli.config.options import Option, add_options, option_name

READS = {"encoder": ("batch_size",), "regressor": ("regressor_ckpt", "batch_size")}


@dataclass
class InferenceConfig(Checked):
    """inference=optimize: gradient descent on z through the frozen generator, batched over all items."""

    PREFIX = "inference."
    # an entry of OPTIONS below; optimize for Python's OptimizeInverter(InferenceConfig(...))
    method: str = option_name("inference", "optimize")
    steps: int = positive(500)
    # lbfgs: one L-BFGS iteration per step (strong-Wolfe line search), the batch as one problem; bfgs: a dense BFGS
    # matrix per item, lazy Armijo steps (lr: the first step's length); lm: Levenberg-Marquardt per item
    optimizer: str = one_of("adam", "lbfgs", "bfgs", "lm")
    lr: float = positive(0.05)
    loss: str = one_of("mse", "l1")  # the pixel distance minimised
    perceptual_weight: float = at_least(0, 0.0)  # ||D.features(G(z)) - D.features(x)||^2 (an image discriminator)
    prior_weight: float = at_least(0, 0.0)  # the prior's negative log-density of z, per latent dimension
    encoder_weight: float = at_least(0, 0.0)  # ||z - E(G(z))||^2 (In-Domain GAN inversion's regulariser)
    init: str = one_of("prior_mean", "random", "encoder")  # prior_mean: z = 0; random: a prior draw; encoder: E(x)
    candidates: int = positive(1)  # the start is the best of init's and candidates - 1 prior draws (a forward each)
    restarts: int = positive(1)  # starts per item: the first from init, the rest random prior draws; the best kept
    # stop once no item has improved by more than tol (relative) for this many steps; null: never
    patience: Optional[int] = positive(100)
    tol: float = at_least(0, 1e-4)
    # bfgs and lm stop each item on its own once a step improves its objective by less than tol (relative), or
    # once its objective is at most atol (exact enough: a generated image's error tends to 0)
    atol: float = at_least(0, 0.0)
    history_every: int = positive(10)  # every item's loss is recorded every N steps (latents.pt: history)
    batch_size: int = positive(1024)  # items optimised together (x restarts)
    progress: bool = True
    # none | truncate (|z_i| <= radius) | ball (||z|| <= radius) | sphere (||z|| = radius; null: sqrt(latent_dim))
    constraint: str = one_of("none", "truncate", "ball", "sphere")
    radius: Optional[float] = positive(None)

    def together(self) -> str | None:
        if self.constraint in ("truncate", "ball") and self.radius is None:
            bound = "|z_i|" if self.constraint == "truncate" else "||z||"
            return f"inference.constraint={self.constraint} needs inference.radius > 0 ({bound} <= radius)"
        if self.optimizer == "lm" and (self.loss != "mse" or self.perceptual_weight or self.encoder_weight):
            return ("inference.optimizer=lm minimises squared pixel error (with prior_weight): it takes loss=mse and "
                    "no perceptual_weight or encoder_weight; use optimizer=bfgs for those")
        return None


@dataclass
class HybridConfig(InferenceConfig):
    """Encoder start, then optimisation that keeps z near E(G(z)) (Zhu et al. 2020, In-Domain GAN Inversion).
    Chosen on Fashion-MNIST *train* images with a BiGAN (benchmarks/RESULTS.md): L-BFGS converges in far fewer
    steps than Adam from a good start."""

    init: str = one_of("prior_mean", "random", "encoder", default="encoder")
    optimizer: str = one_of("adam", "lbfgs", default="lbfgs")
    lr: float = positive(0.5)
    steps: int = positive(50)
    encoder_weight: float = at_least(0, 0.01)


@dataclass
class RegressorConfig(InferenceConfig):
    """A plain GAN's images mapped to z by a latent regressor trained on its generator (model=regressor)."""

    regressor_ckpt: Optional[str] = existing("checkpoint")


@dataclass
class FastConfig(InferenceConfig):
    """The seed loop's quality at a fraction of its cost from every start latentcli offers (benchmarks/RESULTS.md,
    issues 14 and 22): the encoder's start (a BiGAN's own, a latent regressor's, or z = 0 with init=prior_mean for
    a GAN with neither), then per-item BFGS steps, each item stopping on its own once a step improves its MSE by
    less than tol (relative: a real image's fit has levelled off) or its MSE is at most atol (a generated image's
    fit is exact enough: PSNR 66 dB). steps is only a cap: on Fashion-MNIST's train images a batch of 64 stopped
    after 85-220. tol and atol chosen on those train images (benchmarks/invert_fast_starts.py --split train)."""

    init: str = one_of("prior_mean", "random", "encoder", default="encoder")
    optimizer: str = one_of("adam", "lbfgs", "bfgs", "lm", default="bfgs")
    lr: float = positive(0.5)
    steps: int = positive(500)
    tol: float = at_least(0, 1e-4)
    atol: float = at_least(0, 1e-6)
    batch_size: int = positive(64)


OPTIMIZE = "latentcli.inference.optimize:OptimizeInverter.build"

# inference=NAME: the function that builds each method's inverter from (cfg, model, seed, regressor), and its schema
OPTIONS = add_options("inference", {
    # The model's encoder when it has one, otherwise optimisation (with optimize's settings).
    "auto": Option("latentcli.inference:_auto", InferenceConfig),
    # One forward pass through the model's encoder (bigan, ali, alice, vae, vaegan, aae, regressor). A gan has none.
    # It reads only batch_size (READS).
    "encoder": Option("latentcli.inference.encoder:EncoderInverter.build", InferenceConfig),
    # Gradient descent on z through the frozen generator, batched over all items, run by the shared loop.
    "optimize": Option(OPTIMIZE, InferenceConfig),
    "hybrid": Option(OPTIMIZE, HybridConfig),
    # A plain GAN's images mapped to z by a latent regressor trained on its generator:
    #   latentcli train model=regressor model.generator_ckpt=<gan ckpt>   then
    #   latentcli invert ckpt=<gan ckpt> inference=regressor inference.regressor_ckpt=<regressor ckpt>
    # It reads only regressor_ckpt and batch_size (READS).
    "regressor": Option("latentcli.inference.regressor:RegressorInverter.build", RegressorConfig),
    # The seed loop's quality at a fraction of its cost: the model's encoder (or `latentcli train model=regressor
    # model.generator_ckpt=G model.pixel_weight=1`, then `invert ckpt=<regressor> inference=fast`; or, for a GAN with
    # neither, inference.init=prior_mean), then BFGS per item until it converges.
    "fast": Option(OPTIMIZE, FastConfig),
})
