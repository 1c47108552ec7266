"""Layers only point down: cli -> tasks -> (inference, metrics, report) -> (models, engine, data) -> (files, errors).

Each package is imported alone in a fresh interpreter and must not load a module of a higher layer; the
imports inside functions (loaded only when called) are read from the source, so they are held to the
same rule.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "latentcli"

LAYERS = {
    "errors": 0, "files": 0, "paths": 0, "registry": 0, "config": 0,
    "models": 1, "engine": 1, "data": 1, "viz": 1,
    "inference": 2, "metrics": 2, "report": 2, "sweep": 2, "compare": 2, "editing": 2,
    "tasks": 3,
    "cli": 4, "overrides": 4, "__main__": 4,
}


def layer(module: str) -> int:
    """The layer of latentcli.X or latentcli.X.Y; every module of the package must have one."""
    top = module.split(".")[1]
    assert top in LAYERS, f"{module} has no layer: add latentcli.{top} to LAYERS"
    return LAYERS[top]


def test_every_module_has_a_layer():
    for path in PACKAGE.iterdir():
        if path.suffix == ".py" and path.stem != "__init__" or (path / "__init__.py").is_file():
            layer(f"latentcli.{path.stem}")


def test_importing_a_package_loads_nothing_above_it():
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
    names = ["latentcli", *(f"latentcli.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py"))]
    procs = {name: subprocess.Popen([sys.executable, "-c", code, name], env=env, stdout=subprocess.PIPE, text=True)
             for name in names}  # side by side: each pays torch's import time
    wrong = []
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"import {name} failed"
        loaded = [m for m in json.loads(out) if m.startswith("latentcli.")]
        if name == "latentcli":  # the API's names are imported on first use, not with the package
            wrong += [f"latentcli loads {m}" for m in loaded]
            continue
        wrong += [f"{name} loads {m}" for m in loaded if layer(m) > layer(name)]
    assert not wrong, "\n".join(wrong)
    assert "latentcli.models loads latentcli.inference" not in wrong  # the case that once pointed up


def imported_modules(path: Path):
    """(line, module) for every latentcli import in the file, those inside functions included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("latentcli."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "latentcli":  # from latentcli import viz: a module; __version__: the package
                yield from ((node.lineno, f"latentcli.{a.name}") for a in node.names if a.name in LAYERS)
            elif node.module.startswith("latentcli."):
                yield node.lineno, node.module


def test_no_source_file_imports_a_higher_layer():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if relative.parts == ("latentcli", "__init__"):  # the API: imports what it re-exports on first use
            continue
        here = ".".join(relative.parts)
        for line, module in imported_modules(path):
            if layer(module) > layer(here):
                wrong.append(f"{relative}.py:{line} imports {module}")
    assert not wrong, "\n".join(wrong)
