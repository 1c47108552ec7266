"""model=: one schema per family, and OPTIONS, the table of the models: each name, its class and its schema with
what it sets differently (ALI's dropout, VEEGAN's learning rates). latentcli.config.options says how an entry
becomes `model=NAME`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from omegaconf import II

from latentcli.config.checks import Check, Checked, at_least, checked, fraction, is_number, one_of, positive
from latentcli.config.options import Option, add_options, option_name

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
    name: str = option_name("model")  # an entry of OPTIONS below
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


# model=NAME: the class (models/NAME.py) and the schema of each model, with what it sets differently from the schema
OPTIONS = add_options("model", {
    # GAN with the non-saturating loss (Goodfellow et al. 2014): no encoder; invert with inference=optimize.
    "gan": Option("latentcli.models.gan:GAN", AdversarialConfig),
    # BiGAN (Donahue et al. 2017): generator, deterministic encoder, joint discriminator D(x, z).
    "bigan": Option("latentcli.models.bigan:BiGAN", AdversarialConfig),
    # ALI (Dumoulin et al. 2017): BiGAN with a stochastic Gaussian encoder; the paper's discriminator uses dropout 0.2.
    "ali": Option("latentcli.models.ali:ALI", AdversarialConfig, {"d_dropout": 0.2}),
    # ALICE (Li et al. 2017): ALI plus cycle losses on x and z with weight lambda; lambda=0 is exactly ALI.
    "alice": Option("latentcli.models.alice:ALICE", AliceConfig, {"d_dropout": 0.2}),
    # VAE (Kingma and Welling 2014): Gaussian encoder, decoder with a Gaussian or Bernoulli likelihood.
    "vae": Option("latentcli.models.vae:VAE", VaeConfig),
    # VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction loss lives in the discriminator's feature space.
    "vaegan": Option("latentcli.models.vaegan:VAEGAN", VaeGanConfig),
    # Adversarial autoencoder (Makhzani et al. 2016): autoencoder whose codes a discriminator on z pushes to the prior.
    "aae": Option("latentcli.models.aae:AAE", AaeConfig),
    # VEEGAN (Srivastava et al. 2017): G, a reconstructor F(x) -> z trained with G to invert it, D on (x, z) pairs;
    # G and F learn at the notebook's Adam rate.
    "veegan": Option("latentcli.models.veegan:VEEGAN", AdversarialConfig, {"lr_g": 1e-3, "lr_d": 1e-3}),
    # ALAD (Zenati et al. 2018): BiGAN plus discriminators on (x, x') and (z, z') for cycle consistency, spectrally
    # normalised with dropout 0.2 in all three, as in the paper; its anomaly score is D_xx's feature distance between
    # (x, x) and (x, G(E(x))). It takes arch auto, mlp or dcgan (the pair discriminators need one of these), pack=1.
    "alad": Option("latentcli.models.alad:ALAD", AdversarialConfig, {"d_dropout": 0.2, "spectral_norm": True}),
    # Latent regressor (the BiGAN paper's baseline): an encoder trained on (G(z), z) from another run's frozen G.
    # latent_dim and prior are taken from that run; the dataset must be the one it was trained on.
    "regressor": Option("latentcli.models.regressor:Regressor", RegressorConfig),
    # A generator trained outside latentcli, inverted as it is (invert and evaluate take model=external instead of
    # ckpt=): model.target=package.module:Class, model.kwargs="{nz: 100}", model.weights=PATH (a state dict),
    # model.latent_dim=D, model.output_range=[lo,hi] (its images' range, mapped to latentcli's [-1, 1]),
    # model.dataset=NAME (test images for inputs=test and evaluate).
    "external": Option("latentcli.models.external:External", ExternalConfig),
})
