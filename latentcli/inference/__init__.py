"""Inversion methods: `build_inverter(cfg.inference, model)` returns an object with invert(model, x);
`invert(model, x, method=..., **options)` is the same for the Python API, with the CLI's defaults."""

from __future__ import annotations

from omegaconf import OmegaConf

from latentcli.config.inference import READS
from latentcli.config.options import OPTIONS, typed_option
from latentcli.errors import UserError
from latentcli.inference.base import Inversion, checked_inputs
from latentcli.inference.encoder import EncoderInverter
from latentcli.inference.optimize import OptimizeInverter
from latentcli.inference.regressor import RegressorInverter

# name -> the function that builds its inverter from (cfg, model, seed, regressor), from the table of
# latentcli/config/inference.py
METHODS = OPTIONS["inference"]

__all__ = ["Inversion", "checked_inputs", "EncoderInverter", "OptimizeInverter", "RegressorInverter", "build_inverter",
           "invert", "method_config", "unread_options", "METHODS"]


def invert(model, x, method: str = "auto", regressor=None, seed: int = 0, **options) -> Inversion:
    """Latents for the inputs x (on any device), as `latentcli invert inference=METHOD` finds them.

    x: floats, N items of the model's shape (model.info.shape), images in [-1, 1], as
    latentcli.data.load_images(path, model.info.shape) reads your pictures; anything else is refused.

    method: auto | encoder | optimize | hybrid | regressor (pass the loaded regressor model);
    options: that method's settings (latentcli/config/inference.py), e.g. steps=200, restarts=4.
    """
    cfg = method_config(method, **options)
    return build_inverter(cfg, model, seed=seed, regressor=regressor).invert(model, checked_inputs(x, model.info))


def method_config(method: str, **options):
    """The method's schema (latentcli.config.inference, what inference=METHOD composes) with `options` on top:
    the CLI's defaults, types and ranges, for the Python API."""
    schema = METHODS.entry(method).schema  # one error for an unknown method
    takes = READS.get(method) or [k for k in OmegaConf.structured(schema) if k != "method"]
    wrong = sorted(set(options) - set(takes))
    if wrong:
        raise UserError(f"unknown option(s) {', '.join(wrong)} for method {method!r}; it takes {', '.join(takes)}")
    return typed_option("inference", {**options, "method": method})


def unread_options(method: str, names) -> list[str]:
    """Those of the option names that `method` ignores (none for the methods that optimise)."""
    reads = READS.get(method)
    return [] if reads is None else [n for n in names if n not in reads and n != "method"]


def build_inverter(cfg, model, seed: int = 0, regressor=None):
    """The inverter `cfg.method` names, checked against what `model` can do. `regressor`: a loaded
    model=regressor checkpoint, for method=regressor."""
    build = METHODS[cfg.method]  # one error for an unknown method
    cfg = typed_option("inference", cfg)  # the option's settings and schema under what cfg gives; types, ranges checked
    # fast starts from the encoder by default (init=encoder); with init=prior_mean (z = 0) or random it needs none
    needs_encoder = cfg.method in ("encoder", "hybrid") or cfg.init == "encoder" or cfg.encoder_weight > 0
    if needs_encoder and not model.has_encoder:
        zero = ", inference=fast inference.init=prior_mean (z = 0)" if cfg.method == "fast" else ""
        raise UserError(
            f"model {model.cfg.name!r} has no encoder, so inference={cfg.method} cannot invert it; use "
            f"inference=optimize{zero}, or inference=regressor with a latent regressor trained on its generator"
        )
    return build(cfg, model, seed, regressor)


def _auto(cfg, model, seed: int, regressor):
    """The model's encoder when it has one, else latent optimisation."""
    method = "encoder" if model.has_encoder else "optimize"
    plain = OmegaConf.create({**OmegaConf.to_container(cfg), "method": method})  # untyped: completed as the chosen method's option
    return METHODS[method](typed_option("inference", plain), model, seed, regressor)
