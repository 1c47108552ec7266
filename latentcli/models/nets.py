"""Network families: MLPs for vector data and DCGAN-style conv nets for 16-64 px images.

`arch=auto` picks by the data's shape: [d] -> MLP, [c, h, w] -> DCGAN.
"""

from __future__ import annotations

import torch
from torch import nn

from latentcli.errors import UserError


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int, dropout: float = 0.0,
        batch_norm: bool = False) -> nn.Sequential:
    """`depth` hidden layers of `hidden` units with LeakyReLU(0.2) (after BatchNorm if asked), then a linear layer."""
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers.append(nn.Linear(width, hidden, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def dcgan_plan(shape: list[int]) -> tuple[int, int]:
    """(base resolution, number of stride-2 stages) for a square image: 16 -> (4, 2), 28 -> (7, 2), 64 -> (4, 4)."""
    _, height, width = shape
    res, stages = height, 0
    while res > 7 and res % 2 == 0:
        res //= 2
        stages += 1
    if height != width or stages == 0 or res < 4:
        raise UserError(f"DCGAN networks need square images of 16, 28, 32 or 64 px; got {height}x{width}")
    return res, stages


class DCGANGenerator(nn.Module):
    """z -> linear to a base x base map -> stride-2 transposed convs doubling the size -> tanh image."""

    def __init__(self, latent_dim: int, shape: list[int], width: int, batch_norm: bool = True):
        super().__init__()
        channels, base, stages = shape[0], *dcgan_plan(shape)
        top = width * 2 ** (stages - 1)
        self.project = nn.Sequential(nn.Linear(latent_dim, top * base * base),
                                     nn.BatchNorm1d(top * base * base) if batch_norm else nn.Identity(), nn.ReLU())
        self.top, self.base = top, base
        layers: list[nn.Module] = []
        ch = top
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batch_norm),
                       nn.BatchNorm2d(ch // 2) if batch_norm else nn.Identity(), nn.ReLU()]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.top, self.base, self.base))


class DCGANFeatures(nn.Module):
    """image -> stride-2 convs halving the size down to base x base -> flat feature vector."""

    def __init__(self, shape: list[int], width: int, batch_norm: bool, dropout: float = 0.0):
        super().__init__()
        channels, base, stages = shape[0], *dcgan_plan(shape)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(stages - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
            ch *= 2
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.out_dim = ch * base * base

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def feature_mlp(in_dim: int, out_dim: int, depth: int, dropout: float = 0.0) -> nn.Sequential:
    """An MLP whose output is a hidden representation (it ends in the nonlinearity)."""
    return nn.Sequential(mlp(in_dim, out_dim, out_dim, depth - 1, dropout), nn.LeakyReLU(0.2))


class Discriminator(nn.Module):
    """D(x), or with z_features the joint D(x, z) of BiGAN/ALI: a small head on [features(x), features(z)]."""

    def __init__(self, x_features: nn.Module, x_dim: int, z_features: nn.Module | None, z_dim: int,
                 hidden: int, dropout: float = 0.0):
        super().__init__()
        self.x_features = x_features
        self.z_features = z_features
        self.head = mlp(x_dim + z_dim, 1, hidden, 1, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """D's representation of x: VAE-GAN measures reconstructions in this space."""
        return self.x_features(x)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        h = self.x_features(x)
        if self.z_features is not None:
            h = torch.cat([h, self.z_features(z)], dim=1)
        return self.head(h).squeeze(1)


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every linear and conv layer: a 1-Lipschitz critic."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            with_spectral_norm(child)
    return module


def resolve_arch(arch: str, shape: list[int]) -> str:
    if arch == "auto":
        return "mlp" if len(shape) == 1 else "dcgan"
    if arch not in ("mlp", "dcgan"):
        raise UserError(f"model.arch={arch!r} is not one of auto, mlp, dcgan")
    if arch == "dcgan" and len(shape) != 3:
        raise UserError(f"model.arch=dcgan needs image data; this dataset's items have shape {shape}")
    return arch


def build_generator(arch: str, latent_dim: int, shape: list[int], width: int, depth: int,
                    batch_norm: bool = True) -> nn.Module:
    """G(z); BatchNorm (as in DCGAN: it helps G spread out) unless the model's decoder must not depend
    on batch statistics."""
    if arch == "mlp":
        return mlp(latent_dim, shape[0], width, depth, batch_norm=batch_norm)
    return DCGANGenerator(latent_dim, shape, width, batch_norm)


def build_encoder(arch: str, latent_dim: int, shape: list[int], width: int, depth: int) -> nn.Module:
    if arch == "mlp":
        return mlp(shape[0], latent_dim, width, depth)
    features = DCGANFeatures(shape, width, batch_norm=True)
    return nn.Sequential(features, nn.Linear(features.out_dim, latent_dim))


def build_discriminator(arch: str, shape: list[int], latent_dim: int, width: int, depth: int,
                        joint: bool, dropout: float = 0.0, spectral_norm: bool = False) -> Discriminator:
    """D(x) for a GAN; with joint=True the D(x, z) of BiGAN/ALI."""
    if arch == "mlp":
        x_features, x_dim = feature_mlp(shape[0], width, depth - 1, dropout), width
    else:
        x_features = DCGANFeatures(shape, width, batch_norm=False, dropout=dropout)
        x_dim = x_features.out_dim
    hidden = width if arch == "mlp" else width * 8
    z_features = feature_mlp(latent_dim, hidden, 2, dropout) if joint else None
    discriminator = Discriminator(x_features, x_dim, z_features, hidden if joint else 0, hidden, dropout)
    return with_spectral_norm(discriminator) if spectral_norm else discriminator


def build_latent_discriminator(latent_dim: int, width: int, depth: int, dropout: float = 0.0,
                               spectral_norm: bool = False) -> Discriminator:
    """D(z) for the AAE: tells encoded latents from prior draws."""
    discriminator = Discriminator(feature_mlp(latent_dim, width, depth - 1, dropout), width, None, 0, width, dropout)
    return with_spectral_norm(discriminator) if spectral_norm else discriminator


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
