"""A model added by ARCHITECTURE.md's "How to add a model" alone trains, is listed by `latentcli train --help` and
is named by the message for an unknown model.

The model is defined here, not in latentcli/models/, so its registration is the step the document gives for code
outside latentcli: `add_option` with the same entry the built-in table holds, before `latentcli.cli.main` runs in
the same process (a CLI subprocess would not import this module; registering from the command line would need a
plugin mechanism that nothing else needs).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hydra.core.config_store import ConfigStore

from latentcli.cli import main
from latentcli.config import Option, add_option
from latentcli.config.checks import positive
from latentcli.config.model import ModelConfig
from latentcli.engine import checkpoint
from latentcli.models import MODELS, LatentModel, load_checkpoint

NAME = "autoencoder_test"


@dataclass
class AutoencoderConfig(ModelConfig):
    """Step 2: the schema, here one with a key of its own."""

    lr: float = positive(1e-3)


class Autoencoder(LatentModel):
    """Step 1: the model: G and E of the model's arch, trained to reconstruct x."""

    def __init__(self, cfg, info):
        super().__init__(cfg, info)
        self.generator = self.make_generator()
        self.encoder = torch.nn.Linear(info.shape[0], self.latent_dim)

    def encode(self, x):
        return self.to_support(self.encoder(x))

    def optimizers(self):
        return {"autoencoder": self.adam([self.generator, self.encoder], self.cfg.lr)}

    def losses(self, batch):
        x, _ = batch
        loss = (self.generate(self.encode(x)) - x).pow(2).mean()
        yield "autoencoder", loss, {"loss": loss}


@pytest.fixture
def added_model():
    """Step 3: the table's entry, with a setting of its own (the learning rate); removed again afterwards so that
    the other tests see only the shipped models."""
    add_option("model", NAME, Option(f"{__name__}:Autoencoder", AutoencoderConfig, {"lr": 0.01}))
    yield
    del MODELS.entries[NAME]
    del ConfigStore.instance().repo["model"][f"{NAME}.yaml"]


def test_a_model_added_by_the_documented_steps_trains_and_is_listed(added_model, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", f"model={NAME}", "dataset=ring8", "dataset.n_train=256", "dataset.n_test=64",
                 "batch_size=32", "model.width=16", "trainer=debug", "trainer.max_steps=3", "logger=[]",
                 f"hydra.run.dir={run}"])
    assert code == 0
    ckpt = checkpoint.load(run / "checkpoints" / "last.ckpt")
    assert ckpt["step"] == 3
    assert ckpt["config"]["model"]["name"] == NAME
    assert ckpt["config"]["model"]["lr"] == 0.01  # the entry's setting, over the schema's 1e-3
    model, _ = load_checkpoint(run / "checkpoints" / "last.ckpt", device="cpu")
    assert type(model) is Autoencoder and model.has_encoder

    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(["train", "--help"])
    assert done.value.code in (0, None)
    model_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("  model: "))
    assert f" {NAME}," in model_line

    with pytest.raises(SystemExit) as done:
        main(["train", "model=nonesuch", f"hydra.run.dir={tmp_path / 'refused'}"])
    assert done.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "Could not find 'model/nonesuch'" in error and f" {NAME} " in error and " bigan " in error
    assert not (tmp_path / "refused").exists()


def test_the_added_model_goes_with_the_fixture():
    assert NAME not in MODELS and f"{NAME}.yaml" not in ConfigStore.instance().repo["model"]
