"""The adversarial objectives every GAN-family model can use: `loss=ns|hinge|wgan_gp`.

D outputs an unbounded score. "ns" is the non-saturating logistic loss of Goodfellow et al.; "hinge"
is that of Miyato et al. (2018); "wgan_gp" is the Wasserstein critic of Gulrajani et al. (2017) with its
gradient penalty, taken on the whole input of D, so for BiGAN/ALI on the joint (x, z).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentcli.config import typed
from latentcli.config.model import AdversarialConfig, DiscriminatorConfig
from latentcli.errors import UserError

KINDS = ("ns", "hinge", "wgan_gp")


class AdversarialLoss:
    def __init__(self, cfg):
        cfg = typed(DiscriminatorConfig if "d_steps" not in cfg else AdversarialConfig, cfg)
        self.kind = cfg.loss
        self.gp_weight = cfg.gp_weight
        # One trainer step: d_steps updates of D, then g_steps of the other players, on the same batch
        # (ALICE's code: 1 and 5). "simultaneous" takes both players' gradients at the same weights, as
        # the ALI and PacGAN code (Blocks) do; "alternating" computes the generator's loss after D's update.
        # Each model's losses() follows these settings in its own code; vaegan and aae have no such settings
        # (AdversarialConfig's) and keep one update of each player
        self.d_steps, self.g_steps, updates = ((cfg.d_steps, cfg.g_steps, cfg.updates) if "d_steps" in cfg
                                               else (1, 1, "alternating"))
        self.simultaneous = updates == "simultaneous"
        if self.simultaneous and (self.d_steps, self.g_steps) != (1, 1):
            raise UserError("model.updates=simultaneous takes one step of each player: set d_steps=g_steps=1")

    def discriminator(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """D's loss: high scores for real inputs, low for generated ones."""
        if self.kind == "ns":
            return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        if self.kind == "hinge":
            return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        return d_fake.mean() - d_real.mean()

    def generator(self, d_fake: torch.Tensor, d_real: torch.Tensor | None = None) -> torch.Tensor:
        """The other players' loss: make D score `d_fake` as real and, for BiGAN-style encoders, `d_real`
        as fake (the labels swapped, the non-saturating form of the min-max game)."""
        if self.kind == "ns":
            loss = F.softplus(-d_fake).mean()
            return loss if d_real is None else loss + F.softplus(d_real).mean()
        loss = -d_fake.mean()  # hinge and WGAN train the generator on the raw critic score
        return loss if d_real is None else loss + d_real.mean()

    def discriminator_step(self, discriminator, real: tuple[torch.Tensor, ...],
                           fake: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """D's whole loss (with the penalty) on real and generated inputs, and what to log.

        Inputs are detached here: this loss trains D only.
        """
        d_real = discriminator(*(t.detach() for t in real))
        d_fake = discriminator(*(t.detach() for t in fake))
        loss = self.discriminator(d_real, d_fake)
        penalty = self.penalty(discriminator, real, fake)
        return loss + penalty, {"loss_d": loss, "d_real": d_real.mean(), "d_fake": d_fake.mean(), "penalty": penalty}

    def penalty(self, discriminator, real: tuple[torch.Tensor, ...], fake: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """WGAN-GP: (||grad D||_2 - 1)^2 at random points between real and fake inputs; 0 for other losses.

        Every input of D (x, or x and z) is interpolated with the same mixing weight per item and the
        gradient norm is over all of them together, so the joint critic is 1-Lipschitz jointly.
        """
        if self.kind != "wgan_gp":
            return real[0].new_zeros(())
        n = len(fake[0])
        pack = getattr(discriminator, "pack", 1)  # a packed D: one mixing weight and one norm per pack
        alpha = torch.rand(n // pack, device=fake[0].device).repeat_interleave(pack)
        mixed = []
        for r, f in zip(real, fake):
            if len(r) != n:  # more fakes than reals (VAE-GAN): reuse the real items in turn
                r = r.repeat(n // len(r), *[1] * (r.dim() - 1))
            a = alpha.view(-1, *[1] * (r.dim() - 1))
            mixed.append((a * r.detach() + (1 - a) * f.detach()).requires_grad_(True))
        scores = discriminator(*mixed)
        # grad_outputs rather than scores.sum(): a fused group's sum is one per member (engine/members.py)
        grads = torch.autograd.grad(scores, mixed, grad_outputs=torch.ones_like(scores), create_graph=True)
        norm = torch.cat([g.reshape(n // pack, -1) for g in grads], dim=1).norm(dim=1)
        return self.gp_weight * (norm - 1).pow(2).mean()
