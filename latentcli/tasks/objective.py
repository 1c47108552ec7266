"""The objective of a search (objective.*, README: Search): `latentcli evaluate`'s metrics of a run's final
checkpoint made one number, which the train task returns to Hydra's sweeper (hydra/sweeper=optuna) and records
in the run's objective.json."""

from __future__ import annotations

import math
from pathlib import Path

from latentcli.config import validate
from latentcli.config.checks import is_number
from latentcli.errors import UserError
from latentcli.files import write_json
from latentcli.metrics import METRICS
from latentcli.report import flatten
from latentcli.tasks.evaluate import evaluate_checkpoint

RECORD = "objective.json"  # in the run folder: the value, its terms, and where the evaluation is (objective/)


def wanted(objective) -> bool:
    return objective is not None and (objective.metric is not None or bool(objective.combine))


def terms(objective) -> list[tuple[float, str]]:
    """[(weight, metric key)]: objective.metric is one term of weight 1; objective.combine's WEIGHT*METRIC terms."""
    if objective.metric is not None:
        return [(1.0, objective.metric)]
    out = []
    for term in objective.combine:
        weight, star, name = str(term).rpartition("*")
        try:
            out.append((float(weight) if star else 1.0, name.strip()))
        except ValueError:
            raise UserError(f"objective.combine: {term!r} is not [WEIGHT*]METRIC (e.g. 20*pacgan.high_quality)") from None
    return out


def describe(objective) -> str:
    return " + ".join(name if weight == 1 else f"{weight:g}*{name}" for weight, name in terms(objective))


def problem(objective, sweeper) -> str | None:
    """Before training: why this objective cannot serve this sweeper (hydra.sweeper), or None. Its metrics must be
    latentcli evaluate's, and a sweeper that states a direction (Optuna's hydra.sweeper.direction) must seek the
    objective's: otherwise the search would hunt for the worst settings."""
    direction = sweeper.get("direction") if sweeper is not None else None
    if not wanted(objective):
        if direction is None:  # the basic sweeper: no objective wanted
            return None
        return ("this sweeper searches for the best run and needs a number from each: set objective.metric=METRIC.KEY "
                "(e.g. pacgan.modes, recon.psnr) or objective.combine (README: Search)")
    for _, name in terms(objective):
        if name.partition(".")[0] not in METRICS or "." not in name:
            return (f"objective: {name} is not METRIC.KEY of a metric of latentcli evaluate (e.g. pacgan.modes, "
                    f"recon.psnr); the metrics: {', '.join(METRICS)}")
    if direction is None:  # the basic sweeper: nothing to match
        return None
    direction = getattr(direction, "name", direction)  # Optuna's default is its Direction enum
    if not isinstance(direction, str):  # a list: a multi-objective study, which wants a list of numbers back
        return (f"hydra.sweeper.direction={list(direction)} is a multi-objective study; latentcli's objective is one "
                "number: give one direction")
    if direction != objective.direction:
        return (f"objective.direction={objective.direction} but hydra.sweeper.direction={direction}: the search "
                f"would look for the worst runs; set both to the same")
    return None


def measure(objective, ckpt: Path, out: Path) -> float:
    """Evaluates ckpt as `latentcli evaluate ckpt=CKPT <objective.evaluate>` would (its files in out/objective/),
    records the objective in out/objective.json and returns it. A metric that gave no number (PacGAN's reverse KL
    where no sample is of high quality) or a non-finite value is a UserError: the search's failed trial."""
    from hydra import compose  # inside the job: Hydra composes evaluate.yaml from the same config folder

    named = terms(objective)
    overrides = list(objective.evaluate)
    if not any(o.startswith("metrics=") for o in overrides):  # only the metrics the objective reads
        overrides.append("metrics=[" + ",".join(dict.fromkeys(name.partition(".")[0] for _, name in named)) + "]")
    cfg = compose(config_name="evaluate", overrides=overrides)
    validate(cfg)
    metrics = flatten(evaluate_checkpoint(cfg, ckpt, out / "objective"))
    missing = [name for _, name in named if not is_number(metrics.get(name))]
    if missing:
        given = ", ".join(k for k, v in metrics.items() if is_number(v) and k not in ("step", "n_test"))
        raise UserError(f"objective: latentcli evaluate gave no number for {', '.join(missing)} "
                        f"(it gave: {given})")
    value = float(sum(weight * metrics[name] for weight, name in named))
    write_json(out / RECORD, {"objective": describe(objective), "value": value if math.isfinite(value) else str(value),
                              "direction": objective.direction, "terms": {name: metrics[name] for _, name in named},
                              "evaluation": str(Path("objective") / "metrics.json")})
    if not math.isfinite(value):
        raise UserError(f"objective {describe(objective)} is {value}: a failed trial")
    print(f"objective {describe(objective)} = {value:.6g} ({objective.direction}); wrote {out / RECORD}")
    return value


def failed(reason: str) -> str:
    """What a failed run hands the sweeper. Not a number, so Optuna marks the trial FAIL and the study goes on
    (hydra-optuna-sweeper 1.3: a job that raised ends the study unless hydra.sweeper.max_failure_rate allows it,
    and NaN is told as a value, which Optuna refuses with an error that ends the study too)."""
    return f"no objective: the run failed ({reason})"
