"""A generator "trained elsewhere" for the model=external tests: PyTorch's DCGAN example in shape (transposed
convolutions from a 1 x 1 latent map, BatchNorm, ReLU), at 28 px, with a sigmoid: its images are in [0, 1]."""

import torch
from torch import nn


class DCGAN28(nn.Module):
    def __init__(self, nz: int = 16, ngf: int = 8, nc: int = 1):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 7 x 7
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 14
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False), nn.Sigmoid())  # 28 x 28

    def forward(self, z):
        return self.main(z.view(len(z), -1, 1, 1))


class ModeSnapper(nn.Module):
    """A generator of 2-D points that covers exactly k modes of grid25: z's first coordinate picks one of
    the first k centres (equally often under N(0, 1)), and the point lands within a tenth of sigma of it.
    Differentiable in z (through the small offset), so latent optimisation runs on it."""

    def __init__(self, k: int = 3):
        super().__init__()
        from latentcli.data.toy import mode_centres

        centres, sigma = mode_centres("grid25")
        self.register_buffer("centres", centres[:k].float())
        self.spread = nn.Parameter(torch.tensor(0.1 * sigma))

    def forward(self, z):
        k = len(self.centres)
        index = (torch.special.ndtr(z[:, 0]) * k).long().clamp(max=k - 1)
        return self.centres[index] + self.spread * torch.tanh(z[:, :2])
