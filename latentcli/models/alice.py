"""ALICE (Li et al. 2017): ALI plus its conditional-entropy terms made explicit as cycle losses.

G and E additionally minimise  lambda * (||x - G(z~q(z|x))||^2 + ||z - E(G(z))||^2)  (mean squared
errors), which ties x to its own reconstruction; ALI alone only matches the joint distributions.
With lambda = 0 nothing is computed, so the run is step for step the ALI run.
"""

from __future__ import annotations

import torch.nn.functional as F

from latentcli.models.ali import ALI


class ALICE(ALI):
    def extra_losses(self, x, z, x_fake, z_real):
        weight = self.cfg["lambda"]  # model.lambda
        if weight == 0:
            return {}
        return {
            "cycle_x": weight * F.mse_loss(self.generator(z_real), x),
            "cycle_z": weight * F.mse_loss(self.infer(x_fake), z),
        }
