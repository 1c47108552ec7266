"""Latent regressor (the baseline of the BiGAN paper, Donahue et al. 2017): an encoder trained after the
fact on pairs (G(z), z) from the frozen generator of another run.

    latentcli train model=regressor model.generator_ckpt=PATH dataset=<that run's dataset>

The result is an ordinary checkpoint: it holds a copy of the generator and the generator's model config
(model.source), so it rebuilds, inverts and evaluates without the original file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf, open_dict

from latentcli.config.options import typed_option
from latentcli.engine import checkpoint as ckpt_io
from latentcli.errors import UserError
from latentcli.models.base import LatentModel
from latentcli.models.external import ExternalGenerator, external_info
from latentcli.models.nets import build_encoder, build_generator, resolve_arch


class Regressor(LatentModel):
    def __init__(self, cfg, info):
        generator_weights = None
        if cfg.source is None:  # training starts: take the generator from its checkpoint
            generator_weights = self._adopt_source(cfg, info)
        super().__init__(cfg, info)
        source = typed_option("model", cfg.source)  # the generator's run, as its schema completes it
        if source.name == "external":  # a generator trained outside latentcli; its weights are in our checkpoint
            self.generator = ExternalGenerator(source, images=info.kind == "image", load_weights=False)
        else:
            self.generator = build_generator(resolve_arch(source.arch, info.shape), self.latent_dim,
                                             info.shape, source.width, source.depth, noise=source.g_noise)
        self.generator.requires_grad_(False)
        if generator_weights is not None:
            self.generator.load_state_dict(generator_weights)
        self.encoder = build_encoder(self.arch, self.latent_dim, info.shape, cfg.width, cfg.depth)
        self.distance = cfg.distance
        self.pixel_weight = cfg.pixel_weight

    @staticmethod
    def _adopt_source(cfg, info) -> dict:
        """Reads model.generator_ckpt, records its model config in ours, and returns the generator's weights."""
        external = cfg.external
        if external is not None and external.target:
            source = OmegaConf.create({**OmegaConf.to_container(external, resolve=True), "name": "external"})
            if source.latent_dim is None:
                raise UserError("model.external needs the size of z: add model.external.latent_dim=D")
            external_info(source, info)  # its outputs must have the data's shape
            weights = ExternalGenerator(source, images=info.kind == "image").state_dict()
            with open_dict(cfg):
                cfg.source = source
                cfg.latent_dim = source.latent_dim
                cfg.prior = source.prior
            return weights
        path = cfg.generator_ckpt
        if not path:
            raise UserError("model=regressor needs the generator to invert: add model.generator_ckpt=PATH")
        source_ckpt = ckpt_io.load(path)
        source = source_ckpt["config"]["model"]
        prior = typed_option("model", source).prior
        trained_on = source_ckpt["data"]
        if trained_on["name"] != info.name or list(trained_on["shape"]) != list(info.shape):
            raise UserError(f"the generator in {path} was trained on {trained_on['name']} {trained_on['shape']}, "
                            f"not {info.name} {info.shape}: add dataset={trained_on['name']} (with its settings)")
        weights = ckpt_io.model_weights(source_ckpt)
        prefix = "generator."
        with open_dict(cfg):
            cfg.source = source
            cfg.latent_dim = source["latent_dim"]
            cfg.prior = prior
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
        x, _ = batch  # the latent loss uses only its size: those pairs come from the generator
        z = self.sample_latent(len(x))
        with torch.no_grad():
            x_fake = self.generator(z)
        z_hat = self.encoder(x_fake)
        loss = F.mse_loss(z_hat, z) if self.distance == "l2" else F.l1_loss(z_hat, z)
        logs = {"loss": loss}
        if self.pixel_weight:  # amortised inversion of the real images: G(E(x)) should be x
            pixels = F.mse_loss(self.generator(self.encode(x)), x)
            loss = loss + self.pixel_weight * pixels
            logs["pixels"] = pixels
        yield "encoder", loss, logs
