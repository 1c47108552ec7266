"""The papers' own networks, by name (model.arch=NAME): each takes flat vectors; their widths and depths are
the papers', so model.width and model.depth do not apply."""

from __future__ import annotations

import torch
from torch import nn

from latentcli.models.mlp import maxout_mlp, mlp

PAPER_NETS = ("pacgan", "alice_toy", "veegan", "bigan_fc1024")


class BiGANGenerator(nn.Module):
    """BiGAN's MNIST generator (jeffdonahue/bigan, net.py deconvnet_mnist_mlp): FC1024-BN-ReLU, then
    FC1024 of h1 plus FC1024 of z (the code's conditioning on the input), BN, ReLU, then FC to the pixels;
    no biases, BatchNorm without gain or bias (--nogain --nobias). Its sigmoid to [0, 1] is a tanh here,
    latentcli's images being in [-1, 1]."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 1024):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden, affine=False)
        self.fc2 = nn.Linear(hidden, hidden, bias=False)
        self.fc2_in = nn.Linear(in_dim, hidden, bias=False)
        self.bn2 = nn.BatchNorm1d(hidden, affine=False)
        self.out = nn.Linear(hidden, out_dim, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.fc1(z)))
        h = torch.relu(self.bn2(self.fc2(h) + self.fc2_in(z)))
        return torch.tanh(self.out(h))


class BiGANEncoder(nn.Module):
    """BiGAN's MNIST encoder (net.py mnist_mlp): FC1024-LReLU(0.2), FC1024-BN-LReLU, linear code mapped into
    (-1, 1) by 2 sigmoid - 1 for the uniform prior, as the code's UniformDistribution does; no biases."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 1024):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_dim, hidden, bias=False), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden, affine=False),
                                  nn.LeakyReLU(0.2))
        self.out = nn.Linear(hidden, out_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.sigmoid(self.out(self.body(x))) - 1


class BiGANDiscriminator(nn.Module):
    """BiGAN's joint MNIST discriminator (net.py mnist_mlp with z as its condition): FC1024-LReLU on x, then
    FC1024 of that plus FC1024 of z, BN, LReLU, then a linear score; no biases. Without z, D(x) alone."""

    def __init__(self, x_dim: int, z_dim: int, hidden: int = 1024):
        super().__init__()
        self.fc1 = nn.Linear(x_dim, hidden, bias=False)
        self.fc2 = nn.Linear(hidden, hidden, bias=False)
        self.fc2_z = nn.Linear(z_dim, hidden, bias=False) if z_dim else None
        self.bn2 = nn.BatchNorm1d(hidden, affine=False)
        self.out = nn.Linear(hidden, 1, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.leaky_relu(self.fc1(x.flatten(1)), 0.2)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc2(self.features(x))
        if self.fc2_z is not None:
            h = h + self.fc2_z(z)
        return self.out(nn.functional.leaky_relu(self.bn2(h), 0.2)).squeeze(1)


def paper_generator(arch: str, in_dim: int, out_dim: int) -> nn.Sequential:
    if arch == "pacgan":  # PacGAN's synthetic_data_experiments: 4 x 400, BatchNorm (Blocks' 0.05 momentum) + ReLU
        return mlp(in_dim, out_dim, 400, 4, batch_norm=True, activation=nn.ReLU, bn_momentum=0.05)
    if arch == "veegan":  # VEEGAN's 2-D notebook: 2 x 128 ReLU
        return mlp(in_dim, out_dim, 128, 2, activation=nn.ReLU)
    return mlp(in_dim, out_dim, 256, 2, activation=nn.ReLU)  # alice_toy: ALICE's toy_data, 2 x 256 ReLU


def paper_encoder(arch: str, in_dim: int, out_dim: int) -> nn.Sequential:
    if arch == "pacgan":  # the encoder of PacGAN's ALI runs: 2 x 400, BatchNorm + ReLU
        return mlp(in_dim, out_dim, 400, 2, batch_norm=True, activation=nn.ReLU, bn_momentum=0.05)
    if arch == "veegan":  # VEEGAN's reconstructor: 2 x 128 ReLU
        return mlp(in_dim, out_dim, 128, 2, activation=nn.ReLU)
    return mlp(in_dim, out_dim, 256, 2, activation=nn.ReLU)


def paper_discriminator_head(arch: str, in_dim: int, pieces: int) -> nn.Sequential:
    if arch == "pacgan":  # 3 maxout layers of 200 units, then linear
        return maxout_mlp(in_dim, 200, 3, pieces)
    if arch == "veegan":  # one hidden layer of 128 ReLU (the notebook's data_network)
        return mlp(in_dim, 1, 128, 1, activation=nn.ReLU)
    return mlp(in_dim, 1, 256, 2, activation=nn.ReLU)
