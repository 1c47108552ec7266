"""Latent regressor (the baseline of the BiGAN paper, Donahue et al. 2017): an encoder trained after the
fact on pairs (G(z), z) from the frozen generator of another run.

    latentcli train model=regressor model.generator_ckpt=PATH dataset=<that run's dataset>

The result is an ordinary checkpoint: it holds a copy of the generator and the generator's model config
(model.source), so it rebuilds, inverts and evaluates without the original file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import open_dict

from latentcli.engine import checkpoint as ckpt_io
from latentcli.errors import UserError
from latentcli.models.base import LatentModel
from latentcli.models.nets import build_encoder, build_generator, resolve_arch


class Regressor(LatentModel):
    def __init__(self, cfg, info):
        generator_weights = None
        if cfg.get("source") is None:  # training starts: take the generator from its checkpoint
            generator_weights = self._adopt_source(cfg, info)
        super().__init__(cfg, info)
        source = cfg.source
        self.generator = build_generator(resolve_arch(source.get("arch", "auto"), info.shape), self.latent_dim,
                                         info.shape, source.width, source.depth, noise=int(source.get("g_noise", 0)))
        self.generator.requires_grad_(False)
        if generator_weights is not None:
            self.generator.load_state_dict(generator_weights)
        self.encoder = build_encoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.distance = cfg.get("distance", "l2")
        if self.distance not in ("l2", "l1"):
            raise UserError(f"model.distance={self.distance!r} is not one of l2, l1")

    @staticmethod
    def _adopt_source(cfg, info) -> dict:
        """Reads model.generator_ckpt, records its model config in ours, and returns the generator's weights."""
        path = cfg.get("generator_ckpt")
        if not path:
            raise UserError("model=regressor needs the generator to invert: add model.generator_ckpt=PATH")
        source_ckpt = ckpt_io.load(path)
        source = source_ckpt["config"]["model"]
        trained_on = source_ckpt["data"]
        if trained_on["name"] != info.name or list(trained_on["shape"]) != list(info.shape):
            raise UserError(f"the generator in {path} was trained on {trained_on['name']} {trained_on['shape']}, "
                            f"not {info.name} {info.shape}: add dataset={trained_on['name']} (with its settings)")
        weights = ckpt_io.model_weights(source_ckpt)
        prefix = "generator."
        with open_dict(cfg):
            cfg.source = source
            cfg.latent_dim = source["latent_dim"]
            cfg.prior = source.get("prior", "normal")
        return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}

    def train(self, mode: bool = True):
        super().train(mode)
        self.generator.eval()  # frozen: BatchNorm keeps the statistics G was trained with
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_support(self.encoder(x))

    def optimizers(self):
        return {"encoder": self.adam([self.encoder], self.cfg.lr)}

    def losses(self, batch):
        x, _ = batch  # only its size is used: the training pairs come from the generator
        z = self.sample_latent(len(x))
        with torch.no_grad():
            x_fake = self.generator(z)
        z_hat = self.encoder(x_fake)
        loss = F.mse_loss(z_hat, z) if self.distance == "l2" else F.l1_loss(z_hat, z)
        yield "encoder", loss, {"loss": loss}
