"""The one entry point: `latentcli TASK [hydra overrides]`; pops TASK and hands the rest to Hydra."""

from __future__ import annotations

import contextlib
import difflib
import errno
import importlib
import os
import sys
from pathlib import Path

from latentcli.paths import config_dir

TASKS = {
    "train": "fit a model (`model=` below): checkpoints, samples, curves",
    "invert": "recover latents z of test images, a folder or samples: latents.pt, reconstructions, edits",
    "evaluate": "measure a checkpoint or a sweep (reconstruction, latents, quality, probes, ...): report.md",
}

USAGE = """usage: latentcli TASK [OVERRIDES...] [-m] [--cfg job] [--info] [--help]

Latent inference in GANs: train models with a way back from x to z, invert images, measure.

tasks:
{tasks}

examples:
  latentcli train                                  # bigan on the bundled digits, a few CPU minutes
  latentcli train model=gan dataset=grid25
  latentcli invert ckpt=outputs/train/.../checkpoints/last.ckpt inference=optimize
  latentcli evaluate ckpt=outputs/train/.../checkpoints/last.ckpt "metrics=[recon,latent,quality]"
  latentcli evaluate sweep=multirun/train/<date>   # every run of a sweep, one summary table
  latentcli train -m model=gan,bigan seed=0,1,2    # a sweep

`latentcli TASK --help` lists the task's config groups and options.
"""


def _usage() -> str:
    width = max(map(len, TASKS))
    return USAGE.format(tasks="\n".join(f"  {name:<{width}}  {line}" for name, line in TASKS.items()))


def _expand_home(arg: str) -> str:
    """key=~/dir -> key=/home/me/dir. Hydra's override grammar rejects a bare ~ in a value, and no shell
    expands it after `key=`; a quoted '~/dir' reaches the task, whose path options expand it."""
    key, sep, value = arg.partition("=")
    if not sep or not value.startswith("~") or key.startswith("-"):
        return arg
    path = os.path.expanduser(value)
    if all(c.isalnum() or c in "/._-+" for c in path):
        return f"{key}={path}"
    return f"{key}='" + path.replace("\\", "\\\\").replace("'", "\\'") + "'"


# groups a task takes that its defaults list does not choose: added with +GROUP=OPTION
ADDED_GROUPS = {"train": {"variant": "a paper preset's arm, with experiment=paper/NAME"}}


def _options(group: str) -> str:
    """A group's options: the entries of its table (model=, dataset=, ...: latentcli.config.options) and its YAML
    files, those in sub-folders as their path (experiment=paper/pacgan_grid25)."""
    from latentcli.config import OPTIONS

    folder = Path(config_dir()) / group
    files = [p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml")]
    return ", ".join(sorted({*files, *OPTIONS.get(group, {})}))


def task_help(task: str) -> str:
    """The head of `latentcli TASK --help` (Hydra adds the composed config): the task's own config groups
    with their options and defaults, and for evaluate the metrics, one line each."""
    from omegaconf import OmegaConf

    root = Path(config_dir())
    raw = OmegaConf.to_container(OmegaConf.load(root / f"{task}.yaml"), resolve=False)["defaults"]
    defaults = [entry for entry in raw if not isinstance(entry, str)]
    groups = [(group, choice) for entry in defaults for group, choice in entry.items()  # a str: a schema, _self_
              if not group.startswith("override ")  # Hydra's own groups (hydra/job_logging) are not the task's
              and "${" not in str(choice)]  # experiment_model: chosen by experiment= and model=
    lines = [f"latentcli {task}: {TASKS[task]}", "",
             f"usage: latentcli {task} [GROUP=OPTION ...] [KEY=VALUE ...] [-m] [--cfg job] [--help]", "",
             "config groups (GROUP=OPTION):"]
    for group, choice in groups:
        options = _options(group)
        if group == "model" and task != "train":
            options = "external"  # a latentcli model comes from ckpt=; model= brings a generator trained elsewhere
        lines.append(f"  {group}: {options}  (default: {choice or 'none'})")
    for group, what in ADDED_GROUPS.get(task, {}).items():
        lines.append(f"  +{group}: {_options(group)}  ({what})")
    if task == "evaluate":
        from latentcli.metrics import METRICS

        width = max(map(len, METRICS))
        lines += ["", "metrics (metrics=NAME or metrics=[NAME,...]; default: recon, latent, and modes on 2-D data):"]
        lines += [f"  {name:<{width}}  {line}" for name, line in METRICS.help.items()]
    lines += ["", "keys and their defaults (KEY=VALUE; `latentcli --help`: the tasks; --hydra-help: Hydra's flags):"]
    return "\n".join(lines)


def composition_error(err: Exception, task: str = "the task") -> str:
    """Hydra's report of a config that does not compose (a wrong type, an unknown key or option) as one line:
    the key and what was wrong with it."""
    from omegaconf.errors import OmegaConfBaseException

    from latentcli.errors import UserError
    if isinstance(err.__cause__, UserError):  # a plugin's own check (hydra.launcher.*): its line, not Hydra's wrapping
        return str(err.__cause__)
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__
    if _is_unknown_key(cause):
        return _unknown_key(cause, task)
    text = str(err).split("Config search path")[0]  # Hydra's list of where it looked: not the user's concern
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().endswith("_schema")]
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        said = f"{cause.full_key}: {str(cause.msg).splitlines()[0]}"
        return said if not lines or lines[0].startswith("Error merging override") else f"{said} ({' '.join(lines)})"
    said = " ".join(lines)
    if "Could not find 'hydra/sweeper/optuna'" in said:  # a search (hparams_search=, hydra/sweeper=optuna)
        said += "; the Optuna sweeper is the search extra: pip install 'latentcli[search]'"
    return said


def _is_unknown_key(cause) -> bool:
    """OmegaConf's "Key 'lamda' not in 'AliceConfig'" (a KeyError or an AttributeError, by where it arose)."""
    msg = str(getattr(cause, "msg", "") or "")
    return getattr(cause, "parent_node", None) is not None and msg.startswith("Key '") and " not in '" in msg


def _unknown_key(cause, task: str) -> str:
    """A misspelt key, with the nearest key of the same config node. Hydra's advice (`+model.lamda=1` appends
    it) is left out: latentcli refuses a key its task would ignore, so following it leads to a second error."""
    node = cause.parent_node
    group = cause.full_key.rpartition(".")[0]  # "" at the top: the task's own keys
    keys = [str(k) for k in node.keys() if k != "hydra"]  # Hydra's block is not the task's to set this way
    owner = f"{group}={node['name']}" if group and "name" in node else (group or task)
    close = difflib.get_close_matches(str(cause.key), keys, n=1)
    hint = (f"did you mean {group + '.' if group else ''}{close[0]}?" if close
            else f"`latentcli {task} --help` lists the keys")
    return f"{cause.full_key}: {owner} has no key {cause.key}; {hint}"


@contextlib.contextmanager
def _one_line_composition_errors(task: str):
    """Hydra prints an error in composing the config in several lines and exits 1; the user gets it as one line
    `latentcli TASK: error: ...` and status 2 instead, before anything is written. HYDRA_FULL_ERROR=1 set by the
    user keeps Hydra's own report."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        yield
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises the exception instead of printing it
    try:
        yield
    except (HydraException, OmegaConfBaseException) as err:
        if getattr(err, "raised_by_task", False):  # not composition: a task's own failure keeps its traceback
            raise
        print(f"latentcli {task}: error: {composition_error(err, task)}", file=sys.stderr)
        sys.exit(2)
    finally:
        del os.environ["HYDRA_FULL_ERROR"]


def _run_hydra(task: str, hydra_args: list[str]) -> None:
    import logging

    import hydra
    from omegaconf import OmegaConf

    from latentcli.config import validate  # importing it registers the schemas in Hydra's ConfigStore
    from latentcli.overrides import check_overrides
    from latentcli.tasks.common import run_dir
    from latentcli.tasks.run_folder import RunFolder

    module = importlib.import_module(f"latentcli.tasks.{task}")
    if not OmegaConf.has_resolver("latentcli_help"):  # each task's hydra.help.template calls it
        OmegaConf.register_new_resolver("latentcli_help", task_help)

    @hydra.main(config_path=config_dir(), config_name=task, version_base="1.3")
    def entry(cfg):
        try:
            with RunFolder(run_dir(), task):  # prints a UserError as one line; undoes a refused command
                check_overrides(task, cfg)
                validate(cfg)  # every value in its range, before any work
                return module.run(cfg)
        except Exception as err:
            err.raised_by_task = True
            raise

    # Optuna's storage imports alembic, which logs a line per plugin at INFO; Hydra's logging shows INFO
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sys.argv = ["latentcli", *hydra_args]  # the name shell completion registers
    try:
        with _one_line_composition_errors(task):
            entry()
    except ValueError as err:  # Hydra's own argument checks, e.g. `-m` together with `--cfg`
        print(f"latentcli {task}: error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:
        if err.errno != errno.ENAMETOOLONG:
            raise
        # a sweep job's folder is named after its overrides (hydra.sweep.subdir), which many settings make too long
        print(f"latentcli {task}: error: a job's folder name, made of its overrides, is longer than the file system "
              f"allows ({Path(err.filename or '').name[:60]}...): add hydra.sweep.subdir='${{hydra.job.num}}' (each "
              "job's settings stay in its .hydra/overrides.yaml)", file=sys.stderr)
        sys.exit(2)


def _complete(args: list[str]) -> int:
    """Hydra's shell completion calls `latentcli -sc query=SHELL` with COMP_LINE set: route it to the task."""
    words = os.environ.get("COMP_LINE", "").split()
    line_ends_in_space = os.environ.get("COMP_LINE", "").endswith(" ")
    if len(words) < 2 or (len(words) == 2 and not line_ends_in_space):
        prefix = words[1] if len(words) == 2 else ""
        print("\n".join(t for t in TASKS if t.startswith(prefix)))
        return 0
    task = words[1]
    if task not in TASKS:
        return 0
    line = os.environ["COMP_LINE"]
    cut = line.index(task) + len(task)
    os.environ["COMP_LINE"] = line[: line.index(task)] + line[cut:].lstrip()
    removed = len(line) - len(os.environ["COMP_LINE"])
    if "COMP_POINT" in os.environ:
        os.environ["COMP_POINT"] = str(max(int(os.environ["COMP_POINT"]) - removed, 0))
    _run_hydra(task, args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    if args[0] == "--version":
        from latentcli import __version__

        print(f"latentcli {__version__}")
        return 0
    if args[0] in ("-sc", "--shell-completion") and any(a.startswith("query=") for a in args):
        return _complete(args)
    task, rest = args[0], args[1:]
    if task not in TASKS:
        print(f"latentcli: unknown task {task!r}; valid tasks: {', '.join(TASKS)} (see latentcli --help)",
              file=sys.stderr)
        return 2
    models = [arg.split("=", 1)[1] for arg in rest if arg.startswith("model=")]
    if task != "train" and any(m != "external" for m in models):
        print(f"latentcli {task}: error: {task} reads a latentcli model from its checkpoint (ckpt=PATH); model= only "
              f"takes model=external, a generator trained outside latentcli (got model={models[0]})", file=sys.stderr)
        return 2
    if task != "train" and any(arg.startswith("dataset=") for arg in rest):  # Hydra's advice, +dataset=, is refused too
        other = "; inputs=folder inputs.path=DIR inverts other pictures" if task == "invert" else ""
        print(f"latentcli {task}: error: {task} reads the data the model was trained on from its checkpoint; dataset= "
              "cannot choose another. If that data moved, dataset.path=DIR (image_folder) or dataset.data_dir=DIR "
              f"relocates it{other}", file=sys.stderr)
        return 2
    try:
        _run_hydra(task, [_expand_home(arg) for arg in rest])
    except KeyboardInterrupt:  # outside a task (which says what it saved): starting up, or between sweep jobs
        print(f"latentcli {task}: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
