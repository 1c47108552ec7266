"""The typed schema of every config node the code reads, each type, default and allowed range defined once.

Hydra composes them: each configs/GROUP/OPTION.yaml starts with `defaults: [SCHEMA, _self_]`, naming one of the
schemas registered here in Hydra's ConfigStore (in its own group, e.g. model/adversarial_schema), and sets only
what differs from it. A wrong type is then Hydra's error at composition (`trainer.max_steps=many`); a value out of
range is refused by `validate` right after composition. Python callers get the same defaults and checks through
`typed` (build_model, build_dataset and the inversion API use it). Only latentcli.errors is imported: models,
engine and data may use these schemas without importing the tasks or the CLI.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from latentcli.config import dataset, inference, model, tasks, trainer
from latentcli.config.checks import Checked, check_values, schema_node, typed
from latentcli.config.trainer import TrainerConfig

__all__ = ["Checked", "TrainerConfig", "typed", "validate", "schema_node", "SCHEMAS"]

# group -> {schema name in ConfigStore: dataclass}; configs/GROUP/*.yaml name them in their defaults lists
SCHEMAS = {
    "model": {"adversarial_schema": model.AdversarialConfig, "alice_schema": model.AliceConfig,
              "vae_schema": model.VaeConfig, "vaegan_schema": model.VaeGanConfig, "aae_schema": model.AaeConfig,
              "regressor_schema": model.RegressorConfig, "external_schema": model.ExternalConfig},
    "dataset": {"toy_schema": dataset.ToyConfig, "digits_schema": dataset.DigitsConfig,
                "shapes_schema": dataset.ShapesConfig, "images_schema": dataset.ImagesConfig,
                "image_folder_schema": dataset.ImageFolderConfig},
    "trainer": {"trainer_schema": trainer.TrainerConfig},
    "inference": {f"{method}_schema": schema for method, schema in inference.SCHEMAS.items()},
    "inputs": {"test_schema": tasks.TestInputs, "folder_schema": tasks.FolderInputs,
               "samples_schema": tasks.SamplesInputs},
    "edit": {"none_schema": tasks.EditConfig, "interpolate_schema": tasks.InterpolateEdit,
             "arithmetic_schema": tasks.ArithmeticEdit},
    "": {"train_schema": tasks.TrainConfig, "invert_schema": tasks.InvertConfig,
         "evaluate_schema": tasks.EvaluateConfig},
}


def register() -> None:
    """Stores every schema in Hydra's ConfigStore (idempotent; done on import)."""
    store = ConfigStore.instance()
    for group, schemas in SCHEMAS.items():
        for name, schema in schemas.items():
            store.store(group=group or None, name=name, node=schema_node(schema))


def validate(cfg) -> None:
    """Every range of the composed task config (a UserError naming the key, the value and what is allowed)."""
    OmegaConf.to_object(cfg)  # builds every schema's dataclass: their __post_init__ check the ranges
    for key in cfg:  # keys Python cannot name in a dataclass (model.lambda) are checked on the node
        node = cfg._get_node(key)
        if isinstance(node, DictConfig) and getattr(OmegaConf.get_type(node), "KEYWORD_FIELDS", None):
            check_values(OmegaConf.get_type(node), node)


register()
