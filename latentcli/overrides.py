"""The command line's overrides checked against the task's own config before the task runs.

Hydra accepts `+key=value` and `++key=value` for keys the config does not have, and a group the task
does not use (`latentcli invert +dataset=fashion_mnist`); the task would carry them along and ignore
them. Such keys are refused with one line naming them. So is an inference option that the chosen method
does not read (`inference=encoder inference.steps=30`), except in a sweep (-m), where one setting is
shared by every method compared and each job that ignores it says so. A renamed key's old spelling
still works, with a note.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

from latentcli.config import OPTIONS
from latentcli.paths import config_dir
from latentcli.errors import UserError
from latentcli.inference import unread_options


# task -> {old spelling: the one to use}; the old spelling still works, with a note
RENAMED = {"invert": {"inputs.n": "n"}}


def check_overrides(task: str, cfg) -> None:
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    for o in overrides:
        new_key = RENAMED.get(task, {}).get(o.key_or_group)
        if new_key:
            print(f"note: {o.key_or_group}= is now spelled {new_key}= (as in every task); the old spelling will go",
                  file=sys.stderr)
    added = [o for o in overrides if o.is_add() or o.is_force_add()]
    if added:
        _refuse_new_keys(task, cfg, overrides, added)
    if "inference" in cfg:
        _unread_inference_options(task, cfg.inference.method, overrides)


def _refuse_new_keys(task: str, cfg, overrides, added) -> None:
    """Composes the task's config again without the `+`/`++` overrides: what they alone bring, under their
    own key, is new. (A group in Hydra's _global_ package, such as variant=, sets other keys: not refused.)"""
    others = [o.input_line for o in overrides if o not in added]
    reference = _paths(OmegaConf.to_container(compose(config_name=task, overrides=others), resolve=False))
    new = {_first_new(path, reference) for path in _paths(OmegaConf.to_container(cfg, resolve=False))
           if path not in reference}
    refused, sources = set(), []
    for o in added:
        key = o.key_or_group.replace("/", ".")
        mine = {path for path in new if path == key or path.startswith(key + ".") or key.startswith(path + ".")}
        if mine:  # a whole group is named as such, not key by key
            refused |= {f"config group {o.key_or_group}"} if _is_group(o.key_or_group) else mine
            sources.append(o.input_line)
    if not refused:
        return
    shown = sorted(refused)
    shown = ", ".join(shown[:6]) + (f" and {len(shown) - 6} more" if len(shown) > 6 else "")
    hint = f"`latentcli {task} --help` lists what {task} takes"
    if "config group dataset" in refused:  # invert, evaluate: the data comes with the checkpoint
        hint = (f"{task} reads the data the model was trained on from its checkpoint; if that data moved, "
                "dataset.path=DIR (image_folder) or dataset.data_dir=DIR relocates it")
    raise UserError(f"{task} has no {shown} (from {' '.join(sources)}), so it would be ignored; {hint}")


def _unread_inference_options(task: str, method: str, overrides) -> None:
    names = [o.key_or_group.split(".", 1)[1] for o in overrides
             if o.key_or_group.startswith("inference.") and not o.is_delete()]
    unread = unread_options(method, names)
    if not unread:
        return
    keys = ", ".join(f"inference.{name}" for name in unread)
    if HydraConfig.get().mode == RunMode.MULTIRUN:
        print(f"note: inference={method} does not read {keys}", file=sys.stderr)
        return
    raise UserError(f"inference={method} does not read {keys}; drop it, or choose a method that optimises "
                    "(optimize, hybrid)")


def _is_group(name: str) -> bool:
    """A config group: a table's (model, dataset, ...: latentcli.config.options) or a folder of YAML files."""
    return name in OPTIONS or (Path(config_dir()) / name).is_dir()


def _paths(node: dict, prefix: str = "") -> set[str]:
    """Every key path of a nested dict, inner nodes included: {"a": {"b": 1}} -> {"a", "a.b"}."""
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths.add(path)
        if isinstance(value, dict):
            paths |= _paths(value, f"{path}.")
    return paths


def _first_new(path: str, reference: set[str]) -> str:
    """The shortest prefix of `path` that the reference config lacks: `dataset` for `dataset.name`."""
    parts = path.split(".")
    return next(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) not in reference)
