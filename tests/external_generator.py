"""A generator "trained elsewhere" for the model=external tests: PyTorch's DCGAN example in shape (transposed
convolutions from a 1 x 1 latent map, BatchNorm, ReLU), at 28 px, with a sigmoid: its images are in [0, 1]."""

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
