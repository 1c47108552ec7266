"""model=: one schema per family. configs/model/NAME.yaml names its schema in its defaults list and sets only
what differs from it (ALI's dropout, VEEGAN's learning rates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from omegaconf import II

from latentcli.config.checks import Check, Checked, at_least, checked, fraction, is_number, one_of, positive

ARCHS = ("auto", "mlp", "dcgan", "pacgan", "alice_toy", "veegan", "bigan_fc1024")


def betas(first: float, second: float = 0.999):
    """Adam's two coefficients, each in [0, 1)."""
    return checked(check=Check(lambda v: isinstance(v, Sequence) and len(v) == 2 and all(is_number(b) and 0 <= b < 1
                                                                                        for b in v),
                               " must be two numbers in [0, 1) (Adam's beta1, beta2)"), factory=lambda: [first, second])


@dataclass
class ModelConfig(Checked):
    """What every model reads (models/base.py): the prior, the networks and their initialisation."""

    PREFIX = "model."
    name: str = one_of("gan", "bigan", "ali", "alice", "vae", "vaegan", "aae", "veegan", "regressor", "alad",
                       "external")
    # auto: mlp for vector data, dcgan for images; or a paper's nets: pacgan, alice_toy, veegan, bigan_fc1024
    arch: str = one_of(*ARCHS)
    latent_dim: int = positive(II("dataset.latent_dim"))
    prior: str = one_of("normal", "uniform")  # uniform: U(-1, 1)
    width: int = positive(II("dataset.width"))  # hidden units (mlp) or base channels (dcgan)
    depth: int = positive(II("dataset.depth"))  # hidden layers (mlp)
    betas: List[float] = betas(0.5)  # Adam's
    # default (PyTorch's) | normal (N(0, init_std), biases 0) | xavier (Glorot-uniform, biases 0)
    init: str = one_of("default", "normal", "xavier")
    init_std: float = positive(0.02)
    pack: int = positive(1)  # PacGAN: D scores packs of this many items (batch_size must be a multiple of it)
    g_noise: int = at_least(0, 0)  # > 0: a stochastic G(z, eps) with this much N(0, I) noise concatenated to z
    e_noise: int = at_least(0, 0)  # > 0: a stochastic E(x, eps) likewise (ali/alice: instead of the Gaussian q(z|x))


@dataclass
class DiscriminatorConfig(ModelConfig):
    """Models with a discriminator (gan, bigan, ali, alice, veegan, vaegan, aae)."""

    lr_g: float = positive(2e-4)  # the generator's (and encoder's)
    lr_d: float = positive(2e-4)
    d_dropout: float = fraction(0.0, open_top=True)
    loss: str = one_of("ns", "hinge", "wgan_gp")  # ns: non-saturating; wgan_gp: gradient penalty on D's whole input
    gp_weight: float = at_least(0, 10.0)  # weight of the wgan_gp gradient penalty
    spectral_norm: bool = False  # spectral normalisation on every discriminator layer
    maxout_pieces: int = positive(5)  # pieces per maxout unit of the arch=pacgan discriminator


@dataclass
class AdversarialConfig(DiscriminatorConfig):
    """The GAN game on x or on (x, z) pairs: gan, bigan, ali, veegan, alad."""

    # alternating (G's loss after D's update) | simultaneous (both players' gradients at the same weights)
    updates: str = one_of("alternating", "simultaneous")
    d_steps: int = positive(1)  # per trainer step: D updates, then G (and E) updates, on the same batch
    g_steps: int = positive(1)


@dataclass
class AliceConfig(AdversarialConfig):
    # model.lambda: weight of the cycle losses ||x - G(E(x))||^2 and ||z - E(G(z))||^2 (mean squared); 0 is exactly
    # ALI. A Python keyword cannot be a dataclass field, so the key is added to the schema's node as a float.
    KEYWORD_FIELDS = {"lambda": at_least(0, 1.0)}


@dataclass
class VaeConfig(ModelConfig):
    lr: float = positive(1e-3)
    betas: List[float] = betas(0.9)
    beta: float = at_least(0, 1.0)  # weight of the KL term (beta-VAE); 1 is the ELBO
    likelihood: str = one_of("gaussian", "bernoulli")  # bernoulli: images only
    sigma: float = positive(0.1)  # standard deviation of the Gaussian likelihood, in data units


@dataclass
class VaeGanConfig(DiscriminatorConfig):
    beta: float = at_least(0, 1.0)  # weight of the KL term in the encoder's loss
    gamma: float = at_least(0, 1.0)  # weight of the feature-space reconstruction in the decoder's loss


@dataclass
class AaeConfig(DiscriminatorConfig):
    z_width: int = positive(256)  # hidden units of the discriminator on z


@dataclass
class ExternalSource(Checked):
    """A generator trained outside latentcli (models/external.py): the class, its keyword arguments and weights."""

    PREFIX = "model."
    target: Optional[str] = None  # package.module:Class, an nn.Module mapping z [N, latent_dim] to [N, ...]
    kwargs: Optional[Any] = None  # Class(**kwargs)
    weights: Optional[str] = None  # its state dict, read with torch.load(weights_only=True)
    latent_dim: Optional[int] = positive(None)  # the size of z
    output_range: List[float] = field(default_factory=lambda: [-1.0, 1.0])  # [lo, hi] of its images
    prior: str = one_of("normal", "uniform")


@dataclass
class ExternalConfig(ModelConfig):
    """model=external (invert and evaluate): ExternalSource's keys, and the dataset whose test images to use."""

    name: str = one_of("external")
    latent_dim: Optional[int] = positive(None)
    width: int = positive(1)  # unused: the networks are the user's
    depth: int = positive(1)
    target: Optional[str] = None
    kwargs: Optional[Any] = None
    weights: Optional[str] = None
    output_range: List[float] = field(default_factory=lambda: [-1.0, 1.0])
    dataset: Optional[str] = None  # a latentcli dataset (fashion_mnist, ...) for inputs=test and evaluate


@dataclass
class RegressorConfig(ModelConfig):
    """latent_dim and prior are taken from the generator's run when training starts."""

    generator_ckpt: Optional[str] = None  # required to train: the run whose generator to invert
    lr: float = positive(1e-3)
    betas: List[float] = betas(0.9)
    distance: str = one_of("l2", "l1")  # between E(G(z)) and z
    # > 0: also ||G(E(x)) - x||^2 on the real training images, this much (a start fitted to real data)
    pixel_weight: float = at_least(0, 0.0)
    # or, instead of generator_ckpt, a generator trained outside latentcli: model.external.target=... etc.
    external: ExternalSource = field(default_factory=ExternalSource)
    source: Optional[Any] = None  # the generator's model config, recorded when training starts

    def together(self) -> str | None:
        # once the source run is recorded, the regressor no longer needs its file
        if self.source is None and self.generator_ckpt and not Path(self.generator_ckpt).expanduser().is_file():
            return f"model.generator_ckpt={self.generator_ckpt}: checkpoint not found"
        return None


SCHEMAS = {"gan": AdversarialConfig, "bigan": AdversarialConfig, "ali": AdversarialConfig, "veegan": AdversarialConfig,
           "alice": AliceConfig, "vae": VaeConfig, "vaegan": VaeGanConfig, "aae": AaeConfig, "regressor": RegressorConfig,
           "alad": AdversarialConfig, "external": ExternalConfig}
