"""The docs are true: every `latentcli ...` line of the shell blocks of README.md, ARCHITECTURE.md and the
documentation site's pages (docs/**/*.md) runs as written, at a tiny budget, in a temporary folder; the lines written as `COMMAND  ->  OUTPUT` print that
output. What the docs list (models with an encoder, the layer table) is checked against the code.

A command runs with its placeholders (`ckpt=...`, `<run>`, `DIR`, `~/pictures`) replaced by what the
commands before it made, and with small budgets put in place of or after its own (`trainer.max_steps=2`,
`n=8`, `inference.steps=2`, a temporary `hydra.run.dir` / `hydra.sweep.dir`). The few that cannot run here
are in SKIPPED, each with the reason and the test that runs it instead.
"""

from __future__ import annotations

import io
import re
import shlex
import shutil
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from PIL import Image

from conftest import fashion_mnist_available

ROOT = Path(__file__).resolve().parents[1]
# the site's generated pages (the config reference, RESULTS.md) are made at build time, not files under docs/
DOCS = ("README.md", "ARCHITECTURE.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")))

# command prefix -> why it does not run here (and where it does); a prefix no command has is an error
SKIPPED = {
    "latentcli train -m hydra/launcher=submitit_slurm": "needs a Slurm cluster (test_slurm.py: submitit's local "
                                                        "executor on the same code path)",
    "latentcli train -m hydra/launcher=submitit_local": "a process per job, tens of seconds: test_slurm.py runs it",
    "latentcli train -m experiment=paper/": "a preset's whole sweep, 15 to 50 jobs: test_paper.py trains one job of "
                                            "every preset and evaluates it with its protocol",
    "latentcli evaluate sweep=multirun/paper/": "the same (test_paper.py)",
    "latentcli evaluate -m sweep=DIR inference=encoder,optimize,hybrid": "test_evaluation.py::"
                                                                         "test_readme_method_comparison_runs_as_written",
    "latentcli invert model=external": "mypackage.nets:Generator and G.pt stand for your own generator: "
                                       "test_external.py runs these on tests/external_generator.py",
    "latentcli evaluate model=external": "the same (test_external.py)",
    "latentcli train -m hydra/sweeper=optuna": "a study of 20 trials: test_search.py runs studies of two",
    "latentcli train -m hparams_search=": "a search of 50 trials: test_search.py composes the preset",
    "latentcli evaluate sweep=multirun/search/": "test_search.py evaluates a study's folder",
    "latentcli train model=regressor model.external": "the same (test_external.py)",
}
NEEDS_FASHION_MNIST = "dataset=fashion_mnist"


def shell_blocks(text: str) -> list[str]:
    """The bodies of the ``` blocks with no language named (```python blocks are not shell)."""
    blocks, body, language = [], None, None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if body is None:
                body, language = [], line[3:].strip()
            else:
                if not language:
                    blocks.append("".join(body))
                body = None
        elif body is not None:
            body.append(line)
    return blocks


def doc_commands() -> list[tuple[str, str, str | None]]:
    """(file, command, expected output or None) for every line starting `latentcli ` in a shell block,
    continuation lines joined and comments dropped."""
    found = []
    for name in DOCS:
        for block in shell_blocks((ROOT / name).read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                if not line.startswith("latentcli "):
                    continue
                command, _, expected = line.partition("  ->  ")
                command = command.split("  #")[0].split(" # ")[0].strip()
                found.append((name, " ".join(command.split()), expected.strip() or None))
    return found


def skip_reason(command: str) -> str | None:
    return next((why for prefix, why in SKIPPED.items() if command.startswith(prefix)), None)


def test_every_skip_names_a_documented_command():
    commands = [command for _, command, _ in doc_commands()]
    assert len(commands) > 20
    stale = [prefix for prefix in SKIPPED if not any(c.startswith(prefix) for c in commands)]
    assert not stale, f"SKIPPED names commands the docs no longer have: {stale}"


def set_option(words: list[str], key: str, value) -> list[str]:
    """key=value in place of the command's own key=..., else added at the end."""
    mine = [w for w in words if w.split("=")[0].strip('"') == key]
    return [f"{key}={value}" if w in mine else w for w in words] + ([] if mine else [f"{key}={value}"])


class Runs:
    """What the commands made so far, for the later commands' placeholders."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.count = 0
        self.pictures = tmp / "pictures"  # ~/pictures, DIR of an image folder
        for label in ("cat", "dog"):  # two classes, enough items for a batch of 64 (the test split takes some)
            (self.pictures / label).mkdir(parents=True)
        for i in range(80):
            Image.new("RGB", (40, 30), (3 * i, 255 - 3 * i, 90)).save(self.pictures / ("cat", "dog")[i % 2] / f"{i}.png")
        self.run = self.folder_run = self.sweep = None

    def folder(self, kind: str) -> Path:
        self.count += 1
        return self.tmp / f"{kind}{self.count}"

    def adapt(self, command: str) -> list[str]:
        """The documented command with its placeholders filled in and tiny budgets."""
        moved = self.tmp / "moved_pictures"
        if "dataset.path=NEW" in command:  # the data moved: the image folder run's pictures, copied elsewhere
            shutil.copytree(self.pictures, moved, dirs_exist_ok=True)
            command = command.replace("ckpt=...", f"ckpt={self.folder_run}/checkpoints/last.ckpt")
        for placeholder, value in [
            ("outputs/train/<run>/checkpoints/last.ckpt", f"{self.run}/checkpoints/last.ckpt"),
            ("ckpt=...", f"ckpt={self.run}/checkpoints/last.ckpt"), ("multirun/train/<date>", self.sweep),
            ("outputs/train/<that run>", self.run), ("runs/a", self.tmp / "runs_a"), ("~/pictures", self.pictures),
            ("dataset.path=DIR", f"dataset.path={self.pictures}"), ("dataset.path=NEW", f"dataset.path={moved}"),
            ("train ... ", "train "),
        ]:
            command = command.replace(placeholder, str(value))
        assert not re.search(r"<|\.\.\.|\bDIR\b|\bNEW\b", command), f"a placeholder this test cannot fill: {command}"
        words = shlex.split(command)[1:]
        task = words[0]
        if any(w in ("--help", "--cfg", "-sc") for w in words) or task.startswith("-"):
            return words
        sweep = "-m" in words
        if not any(w.startswith("hydra.run.dir=") or w.startswith("hydra.sweep.dir=") for w in words):
            words.append(f"hydra.{'sweep' if sweep else 'run'}.dir={self.folder(task)}")
        if task == "train":
            resumes = any(w.startswith("resume=") for w in words)
            words = set_option(words, "trainer.max_steps", 4 if resumes else 2)
            words += ["trainer.progress=false", "trainer.device=cpu", "trainer.tensorboard=false"]
            return words
        words = set_option(words, "n", 8)
        if task == "evaluate":
            words += ["n_samples=32", "latent.n=8", "device=cpu", "quality.classifier_steps=2", "probe.n_train=32"]
        else:
            words.append("device=cpu")
        # the methods that optimise; a sweep's plain GANs get optimize from inference=auto
        if any(w in ("inference=optimize", "inference=hybrid") or w.startswith("sweep=") for w in words):
            words = set_option(words, "inference.steps", 2) + ["inference.progress=false"]
        return words

    def note(self, words: list[str]) -> None:
        """Remembers the runs later commands refer to."""
        out = next((w.split("=", 1)[1] for w in words if w.startswith(("hydra.run.dir=", "hydra.sweep.dir="))), None)
        if words[0] != "train" or out is None:
            return
        if "-m" in words and self.sweep is None:
            self.sweep = out
        elif "dataset=image_folder" in words:
            self.folder_run = out
        elif self.run is None and not any(w.startswith(("model=", "dataset=", "resume=", "trainer=")) for w in words):
            self.run = out  # `latentcli train`: the default model on the default data


def run(words: list[str]) -> tuple[int, str, str]:
    from latentcli.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(words))
        except SystemExit as exit_:
            code = exit_.code
    return code or 0, out.getvalue(), err.getvalue()


@pytest.mark.slow  # 28 commands in this process: about 190 s on the 2 shared, busy cores (the sweeps half of it)
def test_every_documented_command_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTCLI_CACHE", str(tmp_path / "cache"))  # the quality classifier, the anomaly baselines
    monkeypatch.chdir(tmp_path)  # anything a command writes by default stays here
    runs = Runs(tmp_path)
    commands = doc_commands()
    # train first (in the docs' order): the runs and sweeps the other commands invert, evaluate and resume
    ordered = sorted(commands, key=lambda c: (not c[1].startswith("latentcli train"),
                                              "resume=" in c[1] or c[2] is not None))
    ran, timings = [], []
    for name, command, expected in ordered:
        if command in ran:  # the README's quick start repeats lines of the guides: once is enough
            continue
        if skip_reason(command) or (NEEDS_FASHION_MNIST in command and not fashion_mnist_available()):
            continue
        # a quoted error is refused before anything runs: the command exactly as written
        words = shlex.split(command)[1:] if expected else runs.adapt(command)
        start = time.monotonic()
        code, out, err = run(words)
        timings.append((time.monotonic() - start, command))
        if expected is not None:  # an error the docs quote: one line, status 2
            assert (code, err.strip()) == (2, expected), f"{name}: {command}\n{out}\n{err}"
        else:
            assert code == 0, f"{name}: {command} (run as latentcli {' '.join(words)}) exited {code}:\n{out}\n{err}"
        runs.note(words)
        ran.append(command)
    print("\n".join(f"{seconds:6.1f} s  {command}" for seconds, command in sorted(timings, reverse=True)))
    assert runs.run and runs.folder_run and runs.sweep
    assert len(ran) >= 20


def test_the_encoder_list_is_every_model_with_an_encoder():
    from latentcli.models import MODELS
    from latentcli.models.base import LatentModel

    readme = (ROOT / "docs/reference/tasks.md").read_text()
    listed = re.search(r"`encoder`: one forward pass through the model's encoder \(([^)]*)\)", readme).group(1)
    with_encoder = [name for name in MODELS if MODELS.get(name).encode is not LatentModel.encode]
    assert sorted(re.split(r",\s+", listed)) == sorted(with_encoder)


def test_the_layer_table_names_every_layer():
    from test_layers import LAYERS

    table = re.search(r"## Layers\n.*?```\n(.*?)```", (ROOT / "ARCHITECTURE.md").read_text(), re.S).group(1)
    names = set(re.findall(r"\b([a-z_]+)(?:\.py|/)", table))
    assert names == set(LAYERS), f"in the table, not a layer: {names - set(LAYERS)}; missing: {set(LAYERS) - names}"


def is_module(dotted: str) -> bool:
    """A module or package (find_spec raises for a name under a plain module: latentcli.cli.main)."""
    import importlib.util

    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:
        return False


def test_the_python_names_the_docs_give_exist():
    """`latentcli.a.b` resolves to a module or attribute, and `model.NAME(` is a method of every model (the
    README once documented a `model.invert(x, ...)` that had moved to latentcli.invert(model, x, ...))."""
    import importlib

    from latentcli.models.base import LatentModel

    text = "".join((ROOT / name).read_text() for name in DOCS)
    missing = []
    for dotted in set(re.findall(r"(?<![\w./])latentcli(?:\.[A-Za-z_]\w*)+", text)):
        if dotted.rsplit(".", 1)[1] in ("yaml", "lock", "log"):  # file names: configs/hydra/latentcli.yaml
            continue
        parts = dotted.split(".")
        if "NAME" in parts:  # a placeholder: "latentcli.models.NAME:Class" (ARCHITECTURE.md, how to add a model)
            continue
        depth = max(i for i in range(1, len(parts) + 1) if is_module(".".join(parts[:i])))
        found = importlib.import_module(".".join(parts[:depth]))
        for part in parts[depth:]:
            found = getattr(found, part, None)
        if found is None:
            missing.append(dotted)
    missing += [f"model.{name}" for name in set(re.findall(r"`model\.(\w+)\(", text)) if not hasattr(LatentModel, name)]
    assert not missing, f"the docs name what the code does not have: {missing}"


def test_the_config_reference_has_every_key_with_its_help():
    """docs/hooks.py writes the site's configuration reference from the schemas at build time: every key of every
    option's schema has a row, with the type, default, range and the comment beside the field."""
    import dataclasses
    import importlib.util

    from latentcli.config import OPTIONS, TrainerConfig
    from latentcli.config.options import NAME_KEYS

    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.config_reference()
    rows = set(re.findall(r"^\| `([\w.]+)` \|", page, re.M))
    expected = {f"trainer.{f.name}" for f in dataclasses.fields(TrainerConfig)}
    for group, options in OPTIONS.items():
        for option in options.entries.values():
            expected |= {f"{group}.{f.name}" for f in dataclasses.fields(option.schema) if f.name != NAME_KEYS[group]
                         and not dataclasses.is_dataclass(f.default_factory if f.default_factory is not
                                                          dataclasses.MISSING else None)}
            expected |= {f"{group}.{name}" for name in option.schema.KEYWORD_FIELDS}
    assert expected - rows == set()
    # the comment beside the field is its help; a subclass's field keeps its base's comment; a keyword key's
    assert ("| `trainer.ema_decay` | `Optional[float]` | `null` | in [0, 1) | EMA of G and E (not D), used for "
            "sampling and inversion |") in page
    assert "| `model.lambda` | `float` | `1.0` | &gt;= 0 | weight of the cycle losses" in page
    assert "| `model.prior` | `str` | `normal` | one of normal, uniform | uniform: U(-1, 1) |" in page
    assert "| `vae` | [VaeConfig](#model-vaeconfig) |  | VAE (Kingma and Welling 2014)" in page


def test_the_docs_give_evaluates_own_default_of_n():
    """README called evaluate's n "the same key as invert's" (256 by default) while evaluate read 1,000 (issue 24):
    each default is stated where it is set."""
    import dataclasses

    from latentcli.config.tasks import EvaluateConfig, TestInputs

    defaults = {cls: {f.name: f.default for f in dataclasses.fields(cls)}["n"] for cls in (EvaluateConfig, TestInputs)}
    text = "".join((ROOT / doc).read_text() for doc in DOCS)
    stated = re.search(r"the first `n` items, ([\d,]+) by default where invert's `n` is ([\d,]+)", text)
    assert stated, "the docs no longer state evaluate's default n"
    assert [int(v.replace(",", "")) for v in stated.groups()] == [defaults[EvaluateConfig], defaults[TestInputs]]
