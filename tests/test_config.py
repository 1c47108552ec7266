"""Every config group option composes and resolves through Hydra's compose API."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from latentcli.paths import config_dir
from latentcli.data import DATASETS
from latentcli.config import OPTIONS, TrainerConfig, typed, validate
from latentcli.inference import METHODS
from latentcli.models import MODELS

GROUPS = Path(config_dir())


def options(group: str) -> list[str]:
    """A group's options: its table's entries (model, dataset, inference, inputs, edit) or its YAML files."""
    return sorted(OPTIONS[group]) if group in OPTIONS else sorted(p.stem for p in (GROUPS / group).glob("*.yaml"))


def test_every_option_names_code_that_exists():
    for registry in (MODELS, DATASETS, METHODS):
        for name in registry:
            assert callable(registry[name]), f"{registry.kind} {name}"


def test_no_yaml_shadows_an_option_of_a_table():
    """An option is its table's entry alone: a configs/GROUP/NAME.yaml beside it would be a second place (and
    Hydra would read the file, not the entry)."""
    for group in OPTIONS:
        assert not list((GROUPS / group).glob("*.yaml")), group


def combinations() -> list[tuple[str, str, str]]:
    """Every model once (on digits), every dataset once (with bigan and trainer=default, whose max_steps is the
    dataset's ${dataset.steps}), every trainer once. Nothing in a model's config reads the dataset but
    ${dataset.latent_dim}, and regressor and external, which take theirs elsewhere, are among the models,
    so the full cross product (242 cases) protected nothing more."""
    cases = [(model, "digits", "default") for model in options("model")]
    cases += [("bigan", dataset, "default") for dataset in options("dataset")]
    cases += [("gan", "grid25", trainer) for trainer in options("trainer")]
    return sorted(set(cases))


@pytest.mark.parametrize("model, dataset, trainer", combinations())
def test_train_config_composes_and_resolves(model, dataset, trainer):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}", f"dataset={dataset}", f"trainer={trainer}"])
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["model"]["name"] == model
    assert resolved["dataset"]["name"] == dataset
    if model not in ("regressor", "external"):  # their latent size comes from the generator they invert
        assert resolved["model"]["latent_dim"] == resolved["dataset"]["latent_dim"]
    validate(cfg)  # every value in its range
    assert isinstance(OmegaConf.to_object(cfg.trainer), TrainerConfig)  # every key is one the Trainer knows


@pytest.mark.parametrize("task", ["invert", "evaluate"])
@pytest.mark.parametrize("inference", options("inference"))
def test_inversion_configs_compose(task, inference):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(task, overrides=[f"inference={inference}", "ckpt=x.ckpt"], return_hydra_config=True)
    assert cfg.inference.method == inference
    assert cfg.inference.batch_size > 0
    assert cfg.hydra.job.name == task


def test_unknown_trainer_key_is_a_clear_error():
    from latentcli.errors import UserError

    with pytest.raises(UserError, match="trainer.max_step: Key 'max_step' not in 'TrainerConfig'"):
        typed(TrainerConfig, {"max_step": 3})


def test_train_help_lists_the_paper_presets_and_the_variant_group():
    from latentcli.cli import task_help

    lines = task_help("train").splitlines()
    experiment = next(line for line in lines if line.startswith("  experiment: "))
    assert experiment == ("  experiment: fmnist_anomaly, fmnist_inference, paper/alice_toy, paper/bigan_mnist, "
                          "paper/pacgan_grid25, paper/pacgan_ring8, paper/veegan_grid25, paper/veegan_ring8, speed, study_fmnist, study_toy, "
                          "toy_modes  (default: none)")
    assert ("  +variant: ali, gan, pacgan2, pacgan3, pacgan4  (a paper preset's arm, with experiment=paper/NAME)"
            in lines)
    assert not any("variant" in line for line in task_help("evaluate").splitlines())


def test_python_callers_get_an_options_settings_as_the_command_line_does():
    from latentcli.config import typed_option

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        composed = compose("train", overrides=["model=veegan", "dataset=alice5"])
    model = typed_option("model", OmegaConf.create({"name": "veegan"}))
    assert (model.lr_g, model.lr_d) == (composed.model.lr_g, composed.model.lr_d) == (1e-3, 1e-3)  # not the schema's 2e-4
    dataset = typed_option("dataset", {"name": "alice5"})
    assert OmegaConf.to_container(dataset) == OmegaConf.to_container(composed.dataset) and dataset.n_train == 2048
