"""Every value in range (issue 11): one row per key with a bad value and the message it must get.

The rows compose the task's config in-process with Hydra's compose API and run the check that the CLI runs right
after composition (latentcli.config.validate); wrong types are Hydra's own errors at composition, shown as the CLI
shows them. A few rows run the real command to prove the exit status, the one line and that nothing is written.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from latentcli.cli import composition_error
from latentcli.config import validate
from latentcli.errors import UserError
from latentcli.paths import config_dir

MISSING_PATH = "/nonexistent/latentcli"

# (task, overrides, the message fragment)
OUT_OF_RANGE = [
    ("train", "trainer.max_steps=0", "trainer.max_steps=0 must be > 0"),
    ("train", "trainer.max_seconds=-1", "trainer.max_seconds=-1.0 must be > 0"),
    ("train", "trainer.precision=16", "trainer.precision='16' is not one of auto, 32, fp32, bf16, fp16"),
    ("train", "trainer.compile_mode=fast", "trainer.compile_mode='fast' is not one of default, reduce-overhead"),
    ("train", "trainer.grad_clip=0", "trainer.grad_clip=0.0 must be > 0"),
    ("train", "trainer.ema_decay=1.5", "trainer.ema_decay=1.5 must be in [0, 1)"),
    ("train", "trainer.log_every=0", "trainer.log_every=0 must be > 0"),
    ("train", "trainer.sample_every=-5", "trainer.sample_every=-5 must be > 0"),
    ("train", "trainer.checkpoint_every=0", "trainer.checkpoint_every=0 must be > 0"),
    ("train", "trainer.checkpoint_every_seconds=0", "trainer.checkpoint_every_seconds=0.0 must be > 0"),
    ("train", "trainer.keep_checkpoints=-1", "trainer.keep_checkpoints=-1 must be >= 0"),
    ("train", "trainer.num_workers=-2", "trainer.num_workers=-2 must be >= 0"),
    ("train", "trainer.threads=0", "trainer.threads=0 must be auto or a number of threads > 0"),
    ("train", "trainer.threads=many", "trainer.threads='many' must be auto or a number of threads > 0"),
    ("train", "trainer.weight_decay=-0.1", "trainer.weight_decay=-0.1 must be >= 0"),
    ("train", "trainer.lr_decay=cosine", "trainer.lr_decay='cosine' is not one of none, linear, exponential"),
    ("train", "trainer.lr_decay_start=1.5", "trainer.lr_decay_start=1.5 must be in [0, 1]"),
    ("train", "trainer.lr_decay_to=2", "trainer.lr_decay_to=2.0 must be in [0, 1]"),
    ("train", "trainer.lr_decay=exponential", "trainer.lr_decay=exponential needs trainer.lr_decay_to > 0"),
    ("train", "model.width=-5", "model.width=-5 must be > 0"),
    ("train", "model.depth=0", "model.depth=0 must be > 0"),
    ("train", "model.latent_dim=0", "model.latent_dim=0 must be > 0"),
    ("train", "model.lr_g=0", "model.lr_g=0.0 must be > 0"),
    ("train", "model.lr_d=-1e-4", "model.lr_d=-0.0001 must be > 0"),
    ("train", "model.betas=[0.5,1.0]", "model.betas=[0.5, 1.0] must be two numbers in [0, 1)"),
    ("train", "model=vae model.betas=[0.9]", "model.betas=[0.9] must be two numbers in [0, 1)"),
    ("train", "model=alice model.lambda=-1", "model.lambda=-1.0 must be >= 0"),
    ("train", "model.d_dropout=1.0", "model.d_dropout=1.0 must be in [0, 1)"),
    ("train", "model.prior=gaussian", "model.prior='gaussian' is not one of normal, uniform"),
    ("train", "model.arch=resnet", "model.arch='resnet' is not one of auto, mlp, dcgan, pacgan"),
    ("train", "model.loss=lsgan", "model.loss='lsgan' is not one of ns, hinge, wgan_gp"),
    ("train", "model.gp_weight=-1", "model.gp_weight=-1.0 must be >= 0"),
    ("train", "model.pack=0", "model.pack=0 must be > 0"),
    ("train", "model.g_noise=-1", "model.g_noise=-1 must be >= 0"),
    ("train", "model.init=kaiming", "model.init='kaiming' is not one of default, normal, xavier"),
    ("train", "model.init_std=0", "model.init_std=0.0 must be > 0"),
    ("train", "model.updates=random", "model.updates='random' is not one of alternating, simultaneous"),
    ("train", "model.d_steps=0", "model.d_steps=0 must be > 0"),
    ("train", "trainer.compile=true model.loss=wgan_gp",
     "trainer.compile=true cannot train model.loss=wgan_gp: its gradient penalty needs a double backward"),
    ("train", "model=vaegan trainer.compile=true model.loss=wgan_gp", "trainer.compile=true cannot train model.loss"),
    ("train", "model.maxout_pieces=0", "model.maxout_pieces=0 must be > 0"),
    ("train", "model=vae model.likelihood=poisson", "model.likelihood='poisson' is not one of gaussian, bernoulli"),
    ("train", "model=vae model.sigma=0", "model.sigma=0.0 must be > 0"),
    ("train", "model=vae model.beta=-1", "model.beta=-1.0 must be >= 0"),
    ("train", "model=vaegan model.gamma=-1", "model.gamma=-1.0 must be >= 0"),
    ("train", "model=aae model.z_width=0", "model.z_width=0 must be > 0"),
    ("train", f"model=regressor model.generator_ckpt={MISSING_PATH}.ckpt",
     f"model.generator_ckpt={MISSING_PATH}.ckpt: checkpoint not found"),
    ("train", "model=regressor model.distance=cosine", "model.distance='cosine' is not one of l2, l1"),
    ("train", "batch_size=-1", "batch_size=-1 must be > 0"),
    ("train", "resume=maybe", "resume='maybe' is not one of false, true, auto"),
    ("train", "dataset.batch_size=0", "batch_size=0 must be > 0"),
    ("train", "dataset.steps=0", "dataset.steps=0 must be > 0"),
    ("train", "dataset=fashion_mnist dataset.resolution=30", "dataset.resolution=30 is not one of 16, 28, 32, 64"),
    ("train", "dataset=cifar10 dataset.channels=2", "dataset.channels=2 is not one of 1, 3"),
    ("train", f"dataset=image_folder dataset.path={MISSING_PATH}", f"dataset.path={MISSING_PATH} is not a folder"),
    ("train", "dataset=image_folder dataset.test_fraction=1.0", "dataset.test_fraction=1.0 must be in [0, 1)"),
    ("train", "dataset=grid25 dataset.n_train=0", "dataset.n_train=0 must be > 0"),
    ("train", "dataset=shapes dataset.n_test=-3", "dataset.n_test=-3 must be > 0"),
    ("train", "dataset=digits dataset.resolution=8", "dataset.resolution=8 is not one of 16, 28, 32, 64"),
    ("invert", "inference=optimize inference.steps=0", "inference.steps=0 must be > 0"),
    ("invert", "inference=optimize inference.lr=0", "inference.lr=0.0 must be > 0"),
    ("invert", "inference=optimize inference.optimizer=sgd", "inference.optimizer='sgd' is not one of adam, lbfgs"),
    ("invert", "inference=hybrid inference.restarts=0", "inference.restarts=0 must be > 0"),
    ("invert", "inference=optimize inference.loss=l3", "inference.loss='l3' is not one of mse, l1"),
    ("invert", "inference=optimize inference.init=zeros", "inference.init='zeros' is not one of prior_mean, random"),
    ("invert", "inference=encoder inference.batch_size=0", "inference.batch_size=0 must be > 0"),
    ("invert", "inference=optimize inference.patience=0", "inference.patience=0 must be > 0"),
    ("invert", "inference=optimize inference.tol=-1", "inference.tol=-1.0 must be >= 0"),
    ("invert", "inference=optimize inference.prior_weight=-1", "inference.prior_weight=-1.0 must be >= 0"),
    ("invert", f"inference=regressor inference.regressor_ckpt={MISSING_PATH}.ckpt",
     f"inference.regressor_ckpt={MISSING_PATH}.ckpt: checkpoint not found"),
    ("invert", f"inputs=folder inputs.path={MISSING_PATH}", f"inputs.path={MISSING_PATH} is not a folder"),
    ("invert", "inputs=samples inputs.n=0", "n=0 must be > 0"),
    ("invert", "n=-3", "n=-3 must be > 0"),
    ("invert", "edit=interpolate edit.steps=1", "edit.steps=1 must be >= 2"),
    ("invert", "edit=interpolate edit.pairs=0", "edit.pairs=0 must be > 0"),
    ("invert", "edit=arithmetic edit.n=0", "edit.n=0 must be > 0"),
    ("invert", "inputs=test inputs.n=-1", "n=-1 must be > 0"),
    ("invert", f"dataset.path={MISSING_PATH}", f"dataset.path={MISSING_PATH} is not a folder"),
    ("evaluate", "n_samples=0", "n_samples=0 must be > 0"),
    ("evaluate", "n=0", "n=0 must be > 0"),
    ("evaluate", "latent.n=0", "latent.n=0 must be > 0"),
    ("evaluate", "probe.n_train=-1", "probe.n_train=-1 must be > 0"),
    ("evaluate", "quality.classifier_steps=0", "quality.classifier_steps=0 must be > 0"),
    ("evaluate", "bigan.n_train=0", "bigan.n_train=0 must be > 0"),
    ("evaluate", "anomaly.weight=2", "anomaly.weight=2.0 must be in [0, 1]"),
    ("evaluate", "anomaly.k=0", "anomaly.k=0 must be > 0"),
    ("evaluate", "anomaly.ocsvm_nu=0", "anomaly.ocsvm_nu=0.0 must be in (0, 1]"),
    ("evaluate", "anomaly.ocsvm_gamma=wide", "anomaly.ocsvm_gamma='wide' must be scale, auto or a number > 0"),
    ("evaluate", "anomaly.pca_components=0", "anomaly.pca_components=0 must be > 0"),
    ("evaluate", "compression.bits=[0,8]", "compression.bits=[0, 8] must be a list whose every item is in [1, 16]"),
    ("evaluate", "compression.jpeg_qualities=[5,101]", "compression.jpeg_qualities=[5, 101] must be a list"),
    ("evaluate", f"sweep={MISSING_PATH}", f"sweep={MISSING_PATH} is not a folder"),
    ("evaluate", "inference=hybrid inference.encoder_weight=-1", "inference.encoder_weight=-1.0 must be >= 0"),
]

# wrong types: Hydra's own error while it composes, shown as one line naming the key and the type expected
WRONG_TYPE = [
    ("train", "trainer.max_steps=many", "trainer.max_steps: Value 'many' of type 'str' could not be converted to Integer"),
    ("train", "model.lr_g=fast", "model.lr_g: Value 'fast' of type 'str' could not be converted to Float"),
    ("train", "seed=abc", "seed: Value 'abc' of type 'str' could not be converted to Integer"),
    ("train", "trainer.progress=maybe", "trainer.progress: Value 'maybe' is not a valid bool"),
    ("train", "model=alice model.lambda=big", "model.lambda: Value 'big' of type 'str' could not be converted to Float"),
    ("train", "dataset.latent_dim=1.5", "dataset.latent_dim: Value '1.5' of type 'float' could not be converted to Integer"),
    ("invert", "inference.steps=ten", "inference.steps: Value 'ten' of type 'str' could not be converted to Integer"),
    ("evaluate", "anomaly.k=[1,2]", "anomaly.k: Value '[1, 2]' of type 'list'"),
    # a misspelt key: the nearest key of its node, never Hydra's `+key=` advice (which latentcli refuses)
    ("train", "trainer.max_step=3", "trainer.max_step: trainer has no key max_step; did you mean trainer.max_steps?"),
    ("train", "model=alice model.lamda=1", "model.lamda: model=alice has no key lamda; did you mean model.lambda?"),
    ("train", "batchsize=8", "batchsize: train has no key batchsize; did you mean batch_size?"),
    ("train", "trainer.zzz=1", "trainer.zzz: trainer has no key zzz; `latentcli train --help` lists the keys"),
]


@pytest.fixture(scope="module")
def hydra_configs():
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        yield


def refusal(task: str, overrides: str) -> str:
    """The one line the CLI prints for this command line's config, as it would print it."""
    try:
        cfg = compose(task, overrides=overrides.split())
    except (HydraException, OmegaConfBaseException) as err:
        return composition_error(err, task)
    with pytest.raises(UserError) as err:
        validate(cfg)
    return str(err.value)


@pytest.mark.parametrize("task, overrides, message", OUT_OF_RANGE + WRONG_TYPE, ids=lambda v: v if " " not in v else None)
def test_a_bad_value_is_refused_naming_the_key_the_value_and_what_is_allowed(hydra_configs, task, overrides, message):
    said = refusal(task, overrides)
    assert message in said and "\n" not in said


def test_the_table_covers_every_group():
    assert len(OUT_OF_RANGE) >= 40
    keys = {o.split("=")[0] for _, overrides, _ in OUT_OF_RANGE for o in overrides.split()[-1:]}
    for group in ("model", "dataset", "trainer", "inference", "inputs", "edit", "latent", "probe", "quality",
                  "bigan", "anomaly", "compression"):
        assert any(key.startswith(group + ".") for key in keys), group


@pytest.mark.parametrize("task", ["train", "invert", "evaluate"])
def test_the_shipped_defaults_are_in_range(hydra_configs, task):
    validate(compose(task))


def test_the_command_refuses_in_one_line_with_status_2_and_writes_nothing(tmp_path):
    commands = [["train", "trainer.max_steps=many"], ["train", "model.width=-5"],
                ["invert", "inputs=folder", f"inputs.path={MISSING_PATH}"],
                ["train", "trainer.compile=true", "model.loss=wgan_gp"]]  # a check across groups, at the start too
    procs = [subprocess.Popen([sys.executable, "-m", "latentcli", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for args in commands]  # side by side: start-up time
    for args, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (args, err)
        assert err.count("\n") == 1 and err.startswith(f"latentcli {args[0]}: error: ") and out == "", (args, err)
    assert list(tmp_path.iterdir()) == []  # no run folder, no log
