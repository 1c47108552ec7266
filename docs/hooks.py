"""mkdocs hooks (mkdocs.yml `hooks:`): the pages made at build time, so that they cannot drift from their sources.

- reference/config.md: every task, config group, option and key with its type, default, range and help, walked from
  the schemas of latentcli/config/ and the YAML groups of configs/. The help of a key is the comment beside or
  above its field in the schema (the same text a developer reads there); an option's help is the comment above
  its entry in the group's table; a YAML option's is the comment at the head of its file. Tasks and metrics
  take the one-line help that `latentcli --help` and `latentcli evaluate --help` print.
- results.md: benchmarks/RESULTS.md (which stays where it is), with any picture it links.
- architecture.md: ARCHITECTURE.md (which stays at the root).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import json
import re
import textwrap
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the root files a generated page copies: their links to each other become links between pages
INCLUDED = {"benchmarks/RESULTS.md": "results.md", "ARCHITECTURE.md": "architecture.md"}


def on_files(files, config):
    from mkdocs.structure.files import File  # here: tests import this file without the docs extra installed

    for source, page in INCLUDED.items():
        text = (ROOT / source).read_text()
        for picture in re.findall(r"!\[[^\]]*\]\(([^)\s]+\.(?:png|svg|jpg|gif))\)", text):
            # a picture beside the file: copied beside the page, at the same relative path
            origin = (ROOT / source).parent / picture
            files.append(File.generated(config, str(Path(page).parent / picture), abs_src_path=str(origin)))
        files.append(File.generated(config, page, content=text))
    files.append(File.generated(config, "reference/config.md", content=config_reference()))
    return files


# ---- comments as help -------------------------------------------------------------------------------------------


def comments_by_line(source: str) -> dict[int, str]:
    """line number -> the text of the comment on that line (without '#')."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string.lstrip("#").strip()
    return found


def help_of(lines: list[str], comments: dict[int, str], first: int, last: int) -> str:
    """The comment block right above line `first` (comment-only lines) and any comment on lines first..last."""
    above, line = [], first - 1
    while line >= 1 and lines[line - 1].strip().startswith("#"):
        above.insert(0, comments[line])
        line -= 1
    beside = [comments[n] for n in range(first, last + 1) if n in comments]
    text = " ".join(above + beside)
    return re.sub(r"\s*noqa\b.*$", "", text).strip()


def field_help(schema: type) -> dict[str, str]:
    """{field name: its comment} over the schema and its bases (a subclass's own comment wins)."""
    found: dict[str, str] = {}
    for cls in reversed([c for c in schema.__mro__ if dataclasses.is_dataclass(c)]):
        source = textwrap.dedent(inspect.getsource(cls))
        lines, comments = source.splitlines(), comments_by_line(source)
        for statement in ast.parse(source).body[0].body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                text = help_of(lines, comments, statement.lineno, statement.end_lineno)
                found[statement.target.id] = text or found.get(statement.target.id, "")
            elif isinstance(statement, ast.Assign) and any(getattr(t, "id", "") == "KEYWORD_FIELDS"
                                                           for t in statement.targets):
                text = help_of(lines, comments, statement.lineno, statement.end_lineno)
                for key in cls.KEYWORD_FIELDS:  # model.lambda: the comment says "model.lambda: what it is"
                    found[key] = re.sub(rf"^\w+\.{key}:\s*", "", text)
    return found


def table_help(module) -> dict[str, str]:
    """{option name: the comment above its entry} in the module's `add_options(GROUP, {...})` table."""
    source = inspect.getsource(module)
    lines, comments = source.splitlines(), comments_by_line(source)
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "add_options":
            for key in node.args[1].keys:
                found[key.value] = help_of(lines, comments, key.lineno, key.lineno)
    return found


def yaml_help(path: Path) -> str:
    """The first paragraph of the comment block at the head of a YAML option (its `# @package` line left out),
    up to a blank comment line; an indented line is an example command, shown as code."""
    text = []
    for line in path.read_text().splitlines():
        if line.startswith("# @package"):
            continue
        if not line.startswith("#") or not line.strip("# "):
            break
        words = line.lstrip("#").strip()
        text.append(f"`{words.split('  #')[0].strip()}`" if line.startswith("#  ") and "`" not in words else words)
    return " ".join(text)


# ---- the page ---------------------------------------------------------------------------------------------------


def cell(text) -> str:
    """Text for a table cell: its `|` escaped, and `<run>` shown rather than read as an HTML tag."""
    parts = str(text).replace("|", "\\|").replace("\n", " ").split("`")
    # outside code spans (the even parts) `<` would start an HTML tag; inside them it is shown as it is
    return "`".join(p.replace("<", "&lt;").replace(">", "&gt;") if i % 2 == 0 else p for i, p in enumerate(parts))


def shown_default(f: dataclasses.Field) -> str:
    from omegaconf import MISSING

    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
        if dataclasses.is_dataclass(value):
            return "(a group of keys, below)"
    else:
        value = f.default
    if value is MISSING:
        return "required"
    if isinstance(value, str) and value.startswith("${"):
        return f"`{value}`"  # an interpolation: the value comes from another key
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"  # YAML's way of writing them: null, not None
    return f"`{value}`"


def shown_range(check) -> str:
    if check is None:
        return ""
    allowed = (check.allowed() if callable(check.allowed) else check.allowed).strip()
    # the error message's words ("must be > 0", "is not one of a, b") as a range ("> 0", "one of a, b")
    for said, meant in (("must be ", ""), ("is not one of ", "one of "), ("is not a ", "an existing "),
                        (": checkpoint not found", "an existing checkpoint")):
        if allowed.startswith(said):
            return meant + allowed[len(said):]
    return allowed


GROUPS = ("model", "dataset", "trainer", "inference", "inputs", "edit")


def key_table(schema: type, prefix: str, settings: dict | None = None) -> list[str]:
    """A row per key: type, default, range, help; nested schemas (evaluate's quality.*) get rows of their own."""
    from omegaconf import MISSING

    helps = field_help(schema)
    rows = ["| key | type | default | range | help |", "| --- | --- | --- | --- | --- |"]
    nested = []
    for f in dataclasses.fields(schema):
        if f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory()):
            nested.append(f)
            continue
        if f.name in GROUPS and f.default is MISSING:
            default = f"chosen by `{f.name}=`"  # a task's group: its keys have a table of their own
        else:
            default = f"`{settings[f.name]}`" if settings and f.name in settings else shown_default(f)
        rows.append(f"| `{prefix}{f.name}` | `{cell(f.type)}` | {cell(default)} | {cell(shown_range(f.metadata.get('check')))} "
                    f"| {cell(helps.get(f.name, ''))} |")
    for name, f in schema.KEYWORD_FIELDS.items():
        rows.append(f"| `{prefix}{name}` | `float` | `{f.default}` | {cell(shown_range(f.metadata.get('check')))} "
                    f"| {cell(helps.get(name, ''))} |")
    for f in nested:
        inner = f.default_factory().__class__
        rows += key_table(inner, f"{prefix}{f.name}.")[2:]
    return rows


def option_group(group: str, module, title: str) -> list[str]:
    """A group whose options are a table (model=, dataset=, ...): each option, then each schema's keys."""
    from latentcli.config import OPTIONS
    from latentcli.config.options import NAME_KEYS

    options = OPTIONS[group].entries
    helps = table_help(module)
    lines = [f"## `{group}=`: {title}", "", "| option | schema | sets | help |", "| --- | --- | --- | --- |"]
    for name, option in options.items():
        sets = ", ".join(f"`{k}={v}`" for k, v in option.settings.items())
        lines.append(f"| `{name}` | [{option.schema.__name__}](#{group}-{option.schema.__name__.lower()}) | {cell(sets)} "
                     f"| {cell(helps.get(name, ''))} |")
    lines.append("")
    schemas = list(dict.fromkeys(option.schema for option in options.values()))
    for schema in schemas:
        users = ", ".join(f"`{n}`" for n, o in options.items() if o.schema is schema)
        doc = (inspect.getdoc(schema) or "").replace("\n", " ")
        if doc.startswith(schema.__name__ + "("):  # dataclass's made-up docstring: no help
            doc = ""
        lines += [f"### {group}: {schema.__name__}", "", f"Options: {users}. {doc}".strip(), ""]
        lines += [row for row in key_table(schema, f"{group}.") if f"`{group}.{NAME_KEYS[group]}`" not in row]
        lines.append("")
    return lines


def yaml_group(group: str, title: str) -> list[str]:
    folder = ROOT / "configs" / group
    lines = [f"## `{group}=`: {title}", ""]
    for path in sorted(folder.rglob("*.yaml")):  # a list, not a table: a preset's header is a paragraph
        name = path.relative_to(folder).with_suffix("").as_posix()
        lines.append(f"- `{name}` (`configs/{group}/{name}.yaml`): {cell(yaml_help(path)).replace(chr(92) + '|', '|')}")
    return lines + [""]


def config_reference() -> str:
    from latentcli.cli import TASKS
    from latentcli.config import dataset, inference, model, tasks, trainer
    from latentcli.metrics import METRICS

    lines = [
        "# Configuration reference", "",
        "Made from the code when this site is built (`docs/hooks.py`): every key's type, default and range are "
        "those of its schema in `latentcli/config/`, and its help is the comment beside it there. "
        "`latentcli TASK --help` lists a task's groups and keys; `latentcli TASK ... --cfg job` prints the "
        "composed config with every value.", "",
        "A range is checked right after Hydra composes the config: a value outside it is one line, status 2. "
        "A default written `${dataset.x}` comes from the chosen dataset's key; one in `sets` is the option's own.",
        "", "## Tasks", "", "| task | what it does |", "| --- | --- |",
        *[f"| `latentcli {task}` | {cell(text)} |" for task, text in TASKS.items()], "",
        "### The tasks' own keys", "",
    ]
    for task, schema in (("train", tasks.TrainConfig), ("invert", tasks.InvertConfig),
                         ("evaluate", tasks.EvaluateConfig)):
        lines += [f"#### `latentcli {task}`", "", *key_table(schema, ""), ""]
    lines += option_group("model", model, "the model to train (or, for invert and evaluate, `external`)")
    lines += option_group("dataset", dataset, "the data")
    lines += ["## `trainer=`: the training loop", "", "Options (`configs/trainer/`): "
              + ", ".join(f"`{p.stem}` ({yaml_help(p)})" for p in sorted((ROOT / "configs/trainer").glob("*.yaml"))),
              "", "### TrainerConfig", "", *key_table(trainer.TrainerConfig, "trainer."), ""]
    lines += option_group("inference", inference, "how latents are found (invert, evaluate)")
    lines += option_group("inputs", tasks, "what `invert` inverts")
    lines += option_group("edit", tasks, "latent edits after `invert`")
    lines += yaml_group("logger", "where a training run's numbers go (several: `logger=[tensorboard,csv]`)")
    lines += yaml_group("experiment", "recorded sweeps and the paper presets")
    lines += yaml_group("variant", "a paper preset's arms (`+variant=`)")
    launcher = ROOT / "configs/hydra/launcher/fused.yaml"
    keys = [(m.group(1), m.group(2), m.group(3)) for m in
            re.finditer(r"^(\w+): (\S+)\s*#\s*(.*)$", launcher.read_text(), re.M)]
    lines += ["## `hydra/launcher=fused`", "", yaml_help(launcher), "", "| key | default | help |", "| --- | --- | --- |",
              *[f"| `hydra.launcher.{k}` | `{v}` | {cell(h)} |" for k, v, h in keys], ""]
    lines += ["## Metrics", "", "`latentcli evaluate metrics=NAME` or `metrics=[NAME,...]`; how each is measured: "
              "[Metrics](metrics.md).", "", "| metric | what it measures |", "| --- | --- |",
              *[f"| `{name}` | {cell(text)} |" for name, text in METRICS.help.items()], ""]
    return "\n".join(lines)
