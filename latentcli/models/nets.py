"""The networks models are built from, by family: MLPs for vector data (models/mlp.py), DCGAN-style conv
nets for 16-64 px images (models/conv.py) and the papers' own networks by name (models/paper_nets.py).
This file holds the builders the models call and the wrappers every family shares.

`arch=auto` picks by the data's shape: [d] -> MLP, [c, h, w] -> DCGAN. The named families are the
fixed networks of a paper's experiments (PAPER_NETS); they take flat vectors, so images are flattened
going in and reshaped coming out. Options every family takes: noise inputs (a stochastic G(z, eps) or
E(x, eps), eps ~ N(0, I) concatenated to the input, as in ALI's and ALICE's code) and packing of D's
inputs (PacGAN).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from latentcli.errors import UserError
from latentcli.models.conv import DCGANFeatures, DCGANGenerator
from latentcli.models.mlp import feature_mlp, mlp
from latentcli.models.paper_nets import (PAPER_NETS, BiGANDiscriminator, BiGANEncoder, BiGANGenerator,
                                         paper_discriminator_head, paper_encoder, paper_generator)


class Discriminator(nn.Module):
    """D(x), or with z_features the joint D(x, z) of BiGAN/ALI: a small head on [features(x), features(z)]."""

    def __init__(self, x_features: nn.Module, x_dim: int, z_features: nn.Module | None, z_dim: int,
                 hidden: int, dropout: float = 0.0, head: nn.Module | None = None):
        super().__init__()
        self.x_features = x_features
        self.z_features = z_features
        self.head = head if head is not None else mlp(x_dim + z_dim, 1, hidden, 1, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """D's representation of x: VAE-GAN measures reconstructions in this space."""
        return self.x_features(x)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        h = self.x_features(x)
        if self.z_features is not None:
            h = torch.cat([h, self.z_features(z)], dim=1)
        return self.head(h).squeeze(1)


def pack_items(t: torch.Tensor, pack: int) -> torch.Tensor:
    """n items -> n / pack packed items, each the concatenation of `pack` consecutive items (along the
    feature axis for vectors, the channel axis for images), as PacGAN's discriminator sees them."""
    n = len(t)
    if n % pack:
        raise UserError(f"model.pack={pack} needs a batch size that is a multiple of it; got a batch of {n} "
                        f"(PacGAN's batch of B packed inputs is batch_size=B*pack)")
    return t.reshape(n // pack, pack * t.shape[1], *t.shape[2:])


class Packed(nn.Module):
    """PacGAN's packing (Lin et al. 2018): D scores `pack` items at once, real ones together or generated ones
    together; for the joint D(x, z) the (x, z) pairs are packed, each pair kept together."""

    def __init__(self, inner: nn.Module, pack: int):
        super().__init__()
        self.inner, self.pack = inner, pack

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            return self.inner(pack_items(x, self.pack))
        return self.inner(pack_items(x, self.pack), pack_items(z, self.pack))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise UserError("a packed discriminator scores packs, not items: this model needs model.pack=1")


class WithNoise(nn.Module):
    """net([input, eps]) with eps ~ N(0, I) of noise_dim drawn on every call: a stochastic G(z) or E(x) by a
    change of variables (ALI's COVConditional, ALICE's networks). noise=False feeds eps = 0, its mean, for a
    deterministic answer (inversion)."""

    def __init__(self, net: nn.Module, noise_dim: int):
        super().__init__()
        self.net, self.noise_dim = net, noise_dim

    def forward(self, x: torch.Tensor, noise: bool = True) -> torch.Tensor:
        eps = x.new_zeros(len(x), self.noise_dim)
        if noise:
            eps = torch.randn_like(eps)
        return self.net(torch.cat([x.flatten(1), eps], dim=1))


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every linear and conv layer: a 1-Lipschitz critic."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            with_spectral_norm(child)
    return module


def init_weights(module: nn.Module, kind: str, std: float = 0.02) -> None:
    """model.init: every linear and conv weight from N(0, std) (`normal`, as in the PacGAN and BiGAN code) or
    Glorot-uniform (`xavier`, TensorFlow-slim's default, ALICE's code), biases 0; `default` keeps PyTorch's.
    Frozen parameters (a regressor's generator) keep their values."""
    if kind == "default":
        return
    if kind not in ("normal", "xavier"):
        raise UserError(f"model.init={kind!r} is not one of default, normal, xavier")
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and layer.weight.requires_grad:
            if kind == "normal":
                nn.init.normal_(layer.weight, 0.0, std)
            else:
                nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def resolve_arch(arch: str, shape: list[int]) -> str:
    if arch == "auto":
        return "mlp" if len(shape) == 1 else "dcgan"
    if arch not in ("mlp", "dcgan", *PAPER_NETS):
        raise UserError(f"model.arch={arch!r} is not one of auto, mlp, dcgan, {', '.join(PAPER_NETS)}")
    if arch == "dcgan" and len(shape) != 3:
        raise UserError(f"model.arch=dcgan needs image data; this dataset's items have shape {shape}")
    return arch


def _with_noise(net: nn.Module, noise: int) -> nn.Module:
    return WithNoise(net, noise) if noise else net


def build_generator(arch: str, latent_dim: int, shape: list[int], width: int, depth: int,
                    batch_norm: bool = True, noise: int = 0) -> nn.Module:
    """G(z), or with noise > 0 the stochastic G(z, eps); BatchNorm (as in DCGAN: it helps G spread out) unless
    the model's decoder must not depend on batch statistics."""
    if arch == "bigan_fc1024":
        net = BiGANGenerator(latent_dim + noise, math.prod(shape))
        if len(shape) > 1:
            net = nn.Sequential(net, nn.Unflatten(1, shape))
    elif arch in PAPER_NETS:
        net = paper_generator(arch, latent_dim + noise, math.prod(shape))
        if len(shape) > 1:
            net = nn.Sequential(net, nn.Unflatten(1, shape))
    elif arch == "mlp":
        net = mlp(latent_dim + noise, shape[0], width, depth, batch_norm=batch_norm)
    else:
        net = DCGANGenerator(latent_dim + noise, shape, width, batch_norm)
    return _with_noise(net, noise)


def build_encoder(arch: str, latent_dim: int, shape: list[int], width: int, depth: int, noise: int = 0) -> nn.Module:
    """E(x), or with noise > 0 the stochastic E(x, eps)."""
    if arch == "bigan_fc1024":
        return _with_noise(BiGANEncoder(math.prod(shape) + noise, latent_dim), noise)
    if arch in PAPER_NETS:
        net = paper_encoder(arch, math.prod(shape) + noise, latent_dim)
        if noise:
            return WithNoise(net, noise)  # it flattens images itself
        return nn.Sequential(nn.Flatten(), net) if len(shape) > 1 else net
    if arch == "mlp":
        return _with_noise(mlp(shape[0] + noise, latent_dim, width, depth), noise)
    if noise:
        raise UserError("model.e_noise needs vector data or a named paper arch (noise is concatenated to x)")
    features = DCGANFeatures(shape, width, batch_norm=True)
    return nn.Sequential(features, nn.Linear(features.out_dim, latent_dim))


def build_discriminator(arch: str, shape: list[int], latent_dim: int, width: int, depth: int,
                        joint: bool, dropout: float = 0.0, spectral_norm: bool = False, pack: int = 1,
                        pieces: int = 5) -> nn.Module:
    """D(x) for a GAN; with joint=True the D(x, z) of BiGAN/ALI; with pack > 1 D on packs of that many items."""
    if pack > 1:
        shape, latent_dim = [shape[0] * pack, *shape[1:]], latent_dim * pack
    if arch == "bigan_fc1024":
        discriminator = BiGANDiscriminator(math.prod(shape), latent_dim if joint else 0)
    elif arch in PAPER_NETS:
        x_dim = math.prod(shape)
        head = paper_discriminator_head(arch, x_dim + (latent_dim if joint else 0), pieces)
        discriminator = Discriminator(nn.Flatten(), x_dim, nn.Identity() if joint else None, 0, 0, head=head)
    else:
        if arch == "mlp":
            x_features, x_dim = feature_mlp(shape[0], width, depth - 1, dropout), width
        else:
            x_features = DCGANFeatures(shape, width, batch_norm=False, dropout=dropout)
            x_dim = x_features.out_dim
        hidden = width if arch == "mlp" else width * 8
        z_features = feature_mlp(latent_dim, hidden, 2, dropout) if joint else None
        discriminator = Discriminator(x_features, x_dim, z_features, hidden if joint else 0, hidden, dropout)
    if spectral_norm:
        discriminator = with_spectral_norm(discriminator)
    return Packed(discriminator, pack) if pack > 1 else discriminator


def build_latent_discriminator(latent_dim: int, width: int, depth: int, dropout: float = 0.0,
                               spectral_norm: bool = False, pack: int = 1) -> nn.Module:
    """D(z) for the AAE: tells encoded latents from prior draws."""
    in_dim = latent_dim * pack
    discriminator = Discriminator(feature_mlp(in_dim, width, depth - 1, dropout), width, None, 0, width, dropout)
    if spectral_norm:
        discriminator = with_spectral_norm(discriminator)
    return Packed(discriminator, pack) if pack > 1 else discriminator


class GaussianEncoder(nn.Module):
    """x -> (mean, log-variance) of a diagonal Gaussian q(z|x): the stochastic encoder of ALI and the VAEs."""

    def __init__(self, arch: str, latent_dim: int, shape: list[int], width: int, depth: int):
        super().__init__()
        self.net = build_encoder(arch, 2 * latent_dim, shape, width, depth)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.net(x).chunk(2, dim=1)
        return mean, log_var.clamp(-20.0, 10.0)  # keeps exp() finite early in training

    def sample(self, x: torch.Tensor) -> torch.Tensor:
        return reparameterise(*self(x))


def reparameterise(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """A draw z = mean + sigma * eps from N(mean, exp(log_var)), differentiable in mean and log_var."""
    return mean + torch.randn_like(mean) * (0.5 * log_var).exp()


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per item, summed over latent dimensions."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(1)
