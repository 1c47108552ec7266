"""The one registry style for what a config names: models (model=gan), datasets (dataset=digits), inference
methods (inference=optimize) and metrics (metrics=[recon]).

Each registry maps a name to "module:attribute" (a dotted attribute: "module:Class.method"; or a whole
"module"), or to an entry whose `code` is that (latentcli.config.options.Option), imported the first time that name is
used, so that listing the names costs nothing and a chosen model does not import all the others. An unknown
name is one UserError naming the valid ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from latentcli.errors import UserError


class Registry(Mapping):
    def __init__(self, kind: str, entries: dict[str, str], help: dict[str, str] | None = None):
        self.kind, self.entries = kind, entries
        self.help = help or {}  # name -> one line for --help

    def entry(self, name: str):
        """What the registry holds for `name`, not imported; an unknown name is one UserError listing the valid ones."""
        if name not in self.entries:
            raise UserError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.entries)}")
        return self.entries[name]

    def __getitem__(self, name: str):
        entry = self.entry(name)
        module, _, attribute = getattr(entry, "code", entry).partition(":")
        found = importlib.import_module(module)
        for part in attribute.split(".") if attribute else []:
            found = getattr(found, part)
        return found

    def __contains__(self, name) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)
