"""The typed schema of every config node the code reads, each type, default and allowed range defined once.

Hydra composes them: the options of model=, dataset=, inference=, inputs= and edit= are each one entry of their
group's table (latentcli.config.options: the code, the schema, what the option sets differently), stored in
Hydra's ConfigStore as the group's option; the tasks' own schemas and the trainer's are stored here, and
configs/TASK.yaml and configs/trainer/*.yaml name them in their defaults lists. A wrong type is then Hydra's error at composition (`trainer.max_steps=many`); a value out of
range is refused by `validate` right after composition. Python callers get the same defaults and checks through
`typed` (build_model, build_dataset and the inversion API use it). Only latentcli.errors is imported: models,
engine and data may use these schemas without importing the tasks or the CLI.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from latentcli.config import dataset, inference, model, tasks, trainer  # noqa: F401 - importing them fills the option tables
from latentcli.config.checks import Checked, check_values, schema_node, typed
from latentcli.config.options import OPTIONS, Option, add_option, typed_option
from latentcli.config.trainer import TrainerConfig

__all__ = ["Checked", "TrainerConfig", "typed", "validate", "schema_node", "SCHEMAS", "OPTIONS", "Option", "add_option",
           "typed_option"]

# group -> {schema name in ConfigStore: dataclass}; configs/trainer/default.yaml and configs/TASK.yaml name them
SCHEMAS = {
    "trainer": {"trainer_schema": trainer.TrainerConfig},
    "": {"train_schema": tasks.TrainConfig, "invert_schema": tasks.InvertConfig,
         "evaluate_schema": tasks.EvaluateConfig},
}


def register() -> None:
    """Stores the tasks' and the trainer's schemas in Hydra's ConfigStore (idempotent; done on import; the groups'
    options are stored by their tables, latentcli.config.options)."""
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
