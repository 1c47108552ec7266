"""Ranges next to the types: a schema field says which values it allows, and `Checked` refuses the others.

    width: int = positive(64)
    prior: str = one_of("normal", "uniform")
    d_dropout: float = fraction(0.0)

Each helper returns a dataclass field whose metadata holds the check. A schema inherits `Checked`, whose
__post_init__ runs every field's check when the dataclass is built: by OmegaConf.to_object (the validation
pass right after Hydra composes the config, see latentcli.config.validate) or by Python code directly
(TrainerConfig(max_steps=0)). A failed check is one UserError naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, ClassVar

from omegaconf import MISSING, DictConfig, OmegaConf, open_dict
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException
from omegaconf.nodes import FloatNode

from latentcli.errors import UserError


@dataclasses.dataclass
class Check:
    ok: Callable[[Any], bool]
    allowed: str | Callable[[], str]  # what the message says after "KEY=VALUE" (a callable: made when needed)
    show: Callable[[Any], str] = repr  # how the value is shown: strings quoted, paths as they are


def checked(default: Any = MISSING, check: Check | None = None, factory: Callable[[], Any] | None = None):
    metadata = {"check": check} if check else {}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(default: Any = MISSING):
    """> 0 (None passes where the type is Optional: it means "off" or "all")."""
    return checked(default, Check(lambda v: is_number(v) and v > 0, " must be > 0"))


def at_least(low, default: Any = MISSING):
    return checked(default, Check(lambda v: is_number(v) and v >= low, f" must be >= {low}"))


def between(low, high, default: Any = MISSING):
    return checked(default, Check(lambda v: is_number(v) and low <= v <= high, f" must be in [{low}, {high}]"))


def fraction(default: Any = MISSING, open_top: bool = False):
    """A probability or a share: in [0, 1] (or [0, 1))."""
    if open_top:
        return checked(default, Check(lambda v: is_number(v) and 0 <= v < 1, " must be in [0, 1)"))
    return checked(default, Check(lambda v: is_number(v) and 0 <= v <= 1, " must be in [0, 1]"))


def one_of(*choices, default: Any = MISSING):
    """An enum-like setting; the default is the first choice unless given."""
    shown = ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in choices)
    return checked(choices[0] if default is MISSING else default,
                   Check(lambda v: any(v == c and type(v) is type(c) for c in choices), f" is not one of {shown}"))


def each(check_field, factory: Callable[[], list]):
    """A list whose every item passes the check of `check_field` (e.g. each(fraction(open_top=True), ...))."""
    inner: Check = check_field.metadata["check"]
    return checked(check=Check(lambda v: isinstance(v, Sequence) and not isinstance(v, str) and all(inner.ok(x) for x in v),
                               f" must be a list whose every item{inner.allowed.replace('must be', 'is')}"),
                   factory=factory)


def existing(what: str = "file", default: Any = None):
    """A path that must exist when set (None: not given); `what` is file, folder or checkpoint."""
    test = {"file": Path.is_file, "checkpoint": Path.is_file, "folder": Path.is_dir}[what]
    message = ": checkpoint not found" if what == "checkpoint" else f" is not a {what}"
    return checked(default, Check(lambda v: test(Path(str(v)).expanduser()), message, show=str))


class Checked:
    """Base of every schema: `PREFIX` is where its node sits in the composed config ("model."), for messages."""

    PREFIX: ClassVar[str] = ""
    KEYWORD_FIELDS: ClassVar[dict] = {}  # {name: float field} for keys that are Python keywords (model.lambda)

    def __post_init__(self) -> None:
        check_values(type(self), self)

    def together(self) -> str | None:
        """A check across fields; a subclass returns the message when they do not fit together."""
        return None


def check_values(schema: type, values) -> None:
    """Every field check of `schema` on `values` (an instance, or a node whose unresolvable fields are skipped)."""
    keyword_fields = [(name, f) for name, f in schema.KEYWORD_FIELDS.items() if isinstance(values, DictConfig)]
    for name, f in [(f.name, f) for f in dataclasses.fields(schema)] + keyword_fields:
        check = f.metadata.get("check")
        try:
            value = values[name] if isinstance(values, DictConfig) else getattr(values, name)
        except InterpolationResolutionError:  # ${dataset.latent_dim} outside a task's config: checked where it resolves
            continue
        if check is not None and value is not None and not check.ok(value):
            allowed = check.allowed() if callable(check.allowed) else check.allowed
            raise UserError(f"{schema.PREFIX}{name}={check.show(value)}{allowed}")
    try:
        problem = schema.together(values)
    except InterpolationResolutionError:
        return
    if problem:
        raise UserError(problem)


def schema_node(schema: type) -> DictConfig:
    """The schema as an OmegaConf node (what ConfigStore holds and what `typed` merges onto), keyword keys included."""
    node = OmegaConf.structured(schema)
    with open_dict(node):
        for name, f in schema.KEYWORD_FIELDS.items():
            node[name] = FloatNode(f.default)
    return node


def typed(schema: type, cfg, base: DictConfig | None = None) -> DictConfig:
    """`cfg` completed by the schema's defaults (or by `base`, a node of the schema with some values set: an
    option's, see latentcli.config.options), with its types and ranges checked: what Python callers and stored
    checkpoints get, as the command line gets it from Hydra. A config (DictConfig) is completed in place, so what
    the caller holds is the typed config (the regressor records its source run in it); one Hydra already built on
    this schema is returned as it is."""
    if isinstance(cfg, DictConfig) and issubclass(OmegaConf.get_type(cfg) or dict, schema):
        return cfg
    node = schema_node(schema) if base is None else base
    unknown = [key for key in cfg if key not in node.keys()]  # `in` alone says no for a key whose value is ??? (name)
    if unknown:
        raise UserError(f"{schema.PREFIX}{unknown[0]}: Key '{unknown[0]}' not in '{schema.__name__}'")
    try:
        node = OmegaConf.merge(node, cfg)
        if isinstance(cfg, DictConfig):
            cfg._set_value(node)  # OmegaConf's own way to replace a node's content and type in place
            node = cfg
    except OmegaConfBaseException as err:  # a wrong type, as Hydra reports it on the command line
        raise UserError(f"{schema.PREFIX}{err.full_key}: {str(err.msg).splitlines()[0]}") from None
    check_values(schema, node)
    return node
