"""The three tasks' own keys (configs/train.yaml, invert.yaml, evaluate.yaml), and the groups only invert and
evaluate use: inputs=, edit= and evaluate's metric settings. The groups a task composes (model, dataset, trainer,
inference, inputs, edit) are Any here: their own schemas (latentcli.config.model, ...) type them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import II, MISSING, OmegaConf

from latentcli.config.checks import Check, Checked, is_number, typed, at_least, between, checked, each, existing, fraction, one_of, positive
from latentcli.config.options import Option, add_options, option_name

DEVICE = "auto"  # auto: cuda, then mps, then cpu


@dataclass
class ObjectiveConfig(Checked):
    """The number a run hands back to a search (hydra/sweeper=optuna): a metric of `latentcli evaluate` on the
    final checkpoint, recorded in the run's objective.json. Unset (metric null, combine empty): no objective."""

    PREFIX = "objective."
    # a metrics.json key, metric.name (pacgan.modes, recon.psnr, quality.fid)
    metric: Optional[str] = None
    # instead of metric, a weighted sum of several, each term [WEIGHT*]METRIC: [pacgan.modes,20*pacgan.high_quality]
    combine: List[str] = field(default_factory=list)
    # what the search wants of it; a sweeper that says otherwise (hydra.sweeper.direction) is refused
    direction: str = one_of("maximize", "minimize")
    # latentcli evaluate's settings for the measurement, as its overrides: [n_samples=2500, inference=encoder]
    evaluate: List[str] = field(default_factory=list)

    def together(self) -> str | None:
        if self.metric is not None and self.combine:
            return (f"objective.metric={self.metric} and objective.combine={list(self.combine)} both name the "
                    "objective: set one (combine for a weighted sum)")
        return None


@dataclass
class TrainConfig(Checked):
    model: Any = MISSING
    dataset: Any = MISSING
    trainer: Any = MISSING
    seed: int = 0
    batch_size: int = positive(II("dataset.batch_size"))
    logger: Any = field(default_factory=dict)  # filled by the logger group; {} when logger=[] chose none
    # true: continue the run in hydra.run.dir from its checkpoints/last.ckpt; auto: that if it has one, else start it
    resume: Any = one_of(False, True, "auto")
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)  # what a search optimises (README: Search)

    def together(self) -> str | None:
        if self.trainer.compile and getattr(self.model, "loss", None) == "wgan_gp":
            # its gradient penalty differentiates D's gradients (autograd.grad with create_graph), and
            # torch.compile's aot_autograd has no double backward: it would fail at the first step
            return ("trainer.compile=true cannot train model.loss=wgan_gp: its gradient penalty needs a double "
                    "backward, which torch.compile lacks; set trainer.compile=false or model.loss=ns|hinge")
        return None


@dataclass
class Relocation(Checked):
    """Where the checkpoint's data is now, if it moved (null: where it was trained)."""

    PREFIX = "dataset."
    path: Optional[str] = existing("folder")  # dataset=image_folder's folder
    data_dir: Optional[str] = existing("folder")  # torchvision datasets' and Fashion-MNIST's folder


def relocation() -> dict:
    """invert's and evaluate's dataset node, an untyped dict that `together` checks as a Relocation: typed, Hydra
    would refuse `+dataset=NAME` while composing, before latentcli.overrides can say that the task has no such group."""
    return {"path": None, "data_dir": None}


def check_relocation(dataset) -> None:
    if OmegaConf.is_config(dataset) or isinstance(dataset, dict):
        if set(dataset) <= {"path", "data_dir"}:
            typed(Relocation, OmegaConf.create(dict(dataset)))


@dataclass
class TestInputs(Checked):
    """inputs=test: the checkpoint's own dataset, test split: the first n items (null: all)."""

    PREFIX = "inputs."
    source: str = option_name("inputs")  # an entry of INPUTS below
    n: Optional[int] = positive(256)  # the default of invert's n


@dataclass
class FolderInputs(TestInputs):
    """inputs=folder: every PNG/JPEG/WebP under path (recursively), converted to the model's channels and size."""

    path: Optional[str] = existing("folder")  # required: inputs.path=DIR
    n: Optional[int] = positive(None)  # at most this many files (null: all)


@dataclass
class SamplesInputs(TestInputs):
    """inputs=samples: images generated from n seeded prior draws, so latent recovery is measured."""

    seed: int = 0


@dataclass
class EditConfig(Checked):
    """edit=none: no latent-space edit."""

    PREFIX = "edit."
    kind: str = option_name("edit")  # an entry of EDITS below


@dataclass
class InterpolateEdit(EditConfig):
    """edit=interpolate: walks between pairs of inverted inputs (items 0-1, 2-3, ...)."""

    pairs: int = positive(8)
    steps: int = at_least(2, 9)  # pictures per walk, both ends included


@dataclass
class ArithmeticEdit(EditConfig):
    """edit=arithmetic (labelled inputs): z + mean z of class a - mean z of class b, for inputs of class b."""

    a: Optional[int] = None  # required: the class to move towards (a label value)
    b: Optional[int] = None  # required: the class whose items are edited
    n: int = positive(8)  # items of class b shown


# inputs=NAME and edit=NAME: the schema of each (the task reads inputs.source and edit.kind; no code is named)
INPUTS = add_options("inputs", {"test": Option(None, TestInputs), "folder": Option(None, FolderInputs),
                                "samples": Option(None, SamplesInputs)})
EDITS = add_options("edit", {"none": Option(None, EditConfig), "interpolate": Option(None, InterpolateEdit),
                             "arithmetic": Option(None, ArithmeticEdit)})


@dataclass
class CheckpointTask(Checked):
    """What invert and evaluate share: the model they read, where its data is now, the device and seed."""

    # written by `latentcli train` (required unless model=external, or evaluate's sweep=); a missing one is named
    # by the checkpoint reader itself
    ckpt: Optional[str] = None
    model: Any = None  # model=external: a generator trained elsewhere, instead of ckpt (ExternalConfig)
    device: str = DEVICE
    dataset: Any = field(default_factory=relocation)  # where the checkpoint's data is now: Relocation
    seed: int = 0

    def together(self) -> str | None:
        check_relocation(self.dataset)
        return None


@dataclass
class InvertConfig(CheckpointTask):
    inference: Any = MISSING
    inputs: Any = MISSING
    edit: Any = MISSING
    # items inverted: the first n test items, n samples, or at most n files of a folder (null: all);
    # each source's default is its inputs.n (evaluate's n, the same key, has its own default: EvaluateConfig).
    n: Optional[int] = positive(II("inputs.n"))


@dataclass
class LatentMetric(Checked):
    PREFIX = "latent."
    n: int = positive(500)  # generated images whose known z is recovered


@dataclass
class ProbeMetric(Checked):
    PREFIX = "probe."
    n_train: int = positive(2000)  # train items inverted to fit the probes


@dataclass
class QualityMetric(Checked):
    PREFIX = "quality."
    classifier_steps: int = positive(2000)  # training of the cached feature classifier (per dataset and shape)
    nearest_k: int = positive(5)  # k of precision, recall, density, coverage (prdc; Naeem et al. 2020 use 5)
    # PATH to pt_inception-2015-12-05-6726825d.pth (pytorch-fid / torch-fidelity): FID, KID, precision... on
    # InceptionV3 features, comparable with papers; null: the classifier's (a missing file is named by quality.py)
    inception_weights: Optional[str] = None


@dataclass
class BiganMetric(Checked):
    PREFIX = "bigan."
    n_train: Optional[int] = positive(None)  # training items whose codes the 1-NN classifier searches (null: all)


@dataclass
class AnomalyMetric(Checked):
    PREFIX = "anomaly."
    weight: float = fraction(0.1)  # EGBAD's lambda: (1 - w) * pixel L1 + w * discriminator feature-matching L1
    k: int = positive(5)  # neighbours of the kNN scores (latent and pixel baseline): mean distance to them
    n_train: Optional[int] = positive(None)  # normal training items inverted for the latent kNN (null: all of them)
    baselines: bool = True  # also score the raw pixels by kNN, PCA and a one-class SVM fitted on the normal train split
    pca_components: int = positive(32)
    ocsvm_nu: float = checked(0.1, Check(lambda v: is_number(v) and 0 < v <= 1, " must be in (0, 1]"))  # fixed, not tuned
    # RBF width: scale (scikit-learn's rule 1 / (n_features * Var(train))), auto, or a number > 0
    ocsvm_gamma: Any = checked("scale", Check(lambda v: v in ("scale", "auto") if isinstance(v, str) else is_number(v) and v > 0,
                                              " must be scale, auto or a number > 0"))


@dataclass
class CompressionMetric(Checked):
    PREFIX = "compression."
    bits: List[int] = each(between(1, 16), lambda: [2, 3, 4, 6, 8])  # quantisation of z, bits per value
    jpeg_qualities: List[int] = each(between(1, 100), lambda: [5, 10, 25, 50, 75, 95])


@dataclass
class EvaluateConfig(CheckpointTask):
    inference: Any = MISSING
    sweep: Optional[str] = existing("folder")  # a multirun folder: every run in it, then summary.csv / .md / .png
    # null: the run's dataset.metrics if set, else [recon, latent] (+ modes on 2-D mixtures); a name or a list of
    # recon, latent, quality, probe, anomaly, modes, compression, pacgan, veegan, alice, bigan
    metrics: Any = None
    n: Optional[int] = positive(1000)  # test items inverted and scored (null: the whole test split)
    n_samples: int = positive(2500)  # generated samples for modes and quality (the PacGAN protocol uses 2,500)
    latent: LatentMetric = field(default_factory=LatentMetric)
    probe: ProbeMetric = field(default_factory=ProbeMetric)
    quality: QualityMetric = field(default_factory=QualityMetric)
    bigan: BiganMetric = field(default_factory=BiganMetric)
    anomaly: AnomalyMetric = field(default_factory=AnomalyMetric)
    compression: CompressionMetric = field(default_factory=CompressionMetric)
    # the sweep summary's bar plot; null: the paper protocol's modes (or alice.mse), else modes.modes_covered, recon.psnr
    summary_metric: Optional[str] = None
    # metrics drawn against each swept setting, a line per model (e.g. [recon.psnr,quality.fid]); null: summary_metric
    summary_plots: Any = None
