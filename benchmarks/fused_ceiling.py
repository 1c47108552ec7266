"""The most fusing can gain on this machine: a bare training loop (no latentcli) of M plain MLP GANs at each
preset's sizes, run one after another with nn.Linear against stacked on a member dimension (one baddbmm per
layer for all M, one Adam for the stack). Whatever latentcli's fused step does, it cannot beat this ratio, so
it tells a missed speed goal that is the machine's (compute-bound nets) from one that is latentcli's overhead.

    OMP_NUM_THREADS=1 python benchmarks/fused_ceiling.py            # every set-up, 10 members, one thread

The nets are the presets' widths, depths, batch sizes and input sizes with ReLU and no normalisation (the
preset's own layers are in latentcli/models/paper_nets.py); a step is one D update then one G update.
Prints a Markdown table: member-steps per second, each measured twice, interleaved.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

SETUPS = {  # name: (x dim, z dim, width, depth, batch, steps per run)
    "alice_toy": (2, 4, 256, 2, 128, 60),            # ALICE toy: 2 x 256, z 2-D plus 2-D noise
    "veegan_grid25": (2, 255, 128, 2, 500, 30),      # VEEGAN 2-D: 2 x 128, 254-D z plus 1-D noise
    "pacgan_grid25": (2, 2, 400, 4, 100, 30),        # PacGAN 2-D: 4 x 400
    "gan_grid25_small": (2, 8, 64, 3, 64, 300),      # the overhead-bound small GAN
}


def mlp(sizes: list[int]) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class StackedLinear(nn.Module):
    def __init__(self, members: int, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(members, n_out, n_in) / n_in ** 0.5)
        self.bias = nn.Parameter(torch.zeros(members, 1, n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [M, N, in]
        return torch.baddbmm(self.bias, x, self.weight.transpose(1, 2))


def stacked_mlp(members: int, sizes: list[int]) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [StackedLinear(members, a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def gan_steps(g: nn.Module, d: nn.Module, data: torch.Tensor, noise_shape: tuple, steps: int) -> None:
    opt_g, opt_d = (torch.optim.Adam(net.parameters(), 2e-4, betas=(0.5, 0.999)) for net in (g, d))
    batch = noise_shape[-2]
    for _ in range(steps):
        x = data[torch.randint(0, len(data), (noise_shape[0] * batch if len(noise_shape) == 3 else batch,))]
        x = x.reshape(*noise_shape[:-1], -1)
        fake = g(torch.randn(noise_shape))
        real_logits, fake_logits = d(x), d(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        logits = d(fake)
        loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    # a stacked loss is the mean over members too: its gradients are each member's divided by M, which Adam
    # ignores (scale-invariant), so the work per step is the same as M separate losses


def rates(setup: str, members: int) -> tuple[float, float]:
    x_dim, z_dim, width, depth, batch, steps = SETUPS[setup]
    data = torch.randn(10_000, x_dim)
    g_sizes, d_sizes = [z_dim, *[width] * depth, x_dim], [x_dim, *[width] * depth, 1]
    start = time.perf_counter()
    for _ in range(members):
        gan_steps(mlp(g_sizes), mlp(d_sizes), data, (batch, z_dim), steps)
    separate = members * steps / (time.perf_counter() - start)
    start = time.perf_counter()
    gan_steps(stacked_mlp(members, g_sizes), stacked_mlp(members, d_sizes), data, (members, batch, z_dim), steps)
    stacked = members * steps / (time.perf_counter() - start)
    return separate, stacked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default=",".join(SETUPS))
    parser.add_argument("--members", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"{args.members} members; member-steps per second, bare loop, torch threads {torch.get_num_threads()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| set-up | width x depth, batch | one after another | stacked | stacked / one after another |")
    print("| --- | --- | ---: | ---: | ---: |")
    for setup in args.setups.split(","):
        first, second = rates(setup, args.members), rates(setup, args.members)
        separate, stacked = (first[0] + second[0]) / 2, (first[1] + second[1]) / 2
        _, _, width, depth, batch, _ = SETUPS[setup]
        print(f"| {setup} | {width} x {depth}, {batch} | {separate:.0f} | {stacked:.0f} | {stacked / separate:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
