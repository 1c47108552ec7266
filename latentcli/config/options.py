"""The options of the groups that choose code (model=, dataset=, inference=) or a kind of input or edit (inputs=,
edit=): each is one entry of its group's table, `Option(code, schema, settings)`, and nothing else names it.

    "ali": Option("latentcli.models.ali:ALI", AdversarialConfig, {"d_dropout": 0.2}),

`add_option` stores the entry in Hydra's ConfigStore as the group's option (model=ali composes the schema's node
with the option's name and settings; no YAML file) and in the group's registry (`OPTIONS["model"]`, which
latentcli.models calls MODELS), so the name check of the config, the unknown-name message, `latentcli TASK --help`
and the code that builds the object all read the same entry. The built-in tables are in the group's schema module
(latentcli/config/model.py, dataset.py, inference.py, tasks.py); code outside latentcli calls `add_option` itself
before `latentcli.cli.main` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig

from latentcli.config.checks import Check, checked, schema_node, typed
from latentcli.registry import Registry

# group -> the key of its config that holds the option's name
NAME_KEYS = {"model": "name", "dataset": "name", "inference": "method", "inputs": "source", "edit": "kind"}
KINDS = {"model": "model", "dataset": "dataset", "inference": "inference method", "inputs": "inputs", "edit": "edit"}

# group -> its registry of {name: Option}: the one table of the group's names
OPTIONS: dict[str, Registry] = {group: Registry(KINDS[group], {}) for group in NAME_KEYS}


@dataclass(frozen=True)
class Option:
    code: str | None  # "module:attribute" that the group's registry imports when the option is used (None: no code)
    schema: type  # the dataclass of its config: every key's type, default and range
    settings: dict[str, Any] = field(default_factory=dict)  # what this option sets differently from the schema

    def node(self, group: str, name: str) -> DictConfig:
        """The config `GROUP=NAME` composes: the schema's node with the option's name and settings."""
        node = schema_node(self.schema)
        node.merge_with({NAME_KEYS[group]: name, **self.settings})
        return node


def add_option(group: str, name: str, option: Option) -> None:
    """Makes NAME an option of GROUP for the command line (ConfigStore), the name checks and the registry."""
    OPTIONS[group].entries[name] = option
    ConfigStore.instance().store(group=group, name=name, node=option.node(group, name))


def add_options(group: str, table: dict[str, Option]) -> dict[str, Option]:
    for name, option in table.items():
        add_option(group, name, option)
    return table


def option_name(group: str, default: Any = MISSING):
    """The schema field that holds the option's name: one of the group's options, as they are when checked (an
    option added after the schema was defined included). No default but where Python builds the schema itself."""
    names = OPTIONS[group].entries
    return checked(default, Check(lambda v: v in names, lambda: f" is not one of {', '.join(names)}"))


def typed_option(group: str, cfg) -> DictConfig:
    """`cfg` (a config of GROUP, or a dict) completed as `GROUP=cfg.NAME` composes it: the option's settings and its
    schema's defaults under what cfg gives, types and ranges checked. An unknown name is one UserError listing the
    valid ones."""
    name = cfg[NAME_KEYS[group]]
    option = OPTIONS[group].entry(name)
    return typed(option.schema, cfg, base=option.node(group, name))
