"""metrics=[quality]: sample quality and diversity against the test split, offline.

Inception weights would need a download, so by default the features come from a small classifier trained
on the dataset's train split by the shared Trainer and cached per dataset (in ~/.cache/latentcli/classifiers,
keyed on the data's description and a fingerprint of its content: see classifier_key).
With quality.inception_weights=PATH (the pt_inception-2015-12-05 file of pytorch-fid and torch-fidelity)
they are InceptionV3's 2048 pool features instead, read from that file (nothing is downloaded), and FID and
KID are the papers' numbers. On those features: FID and KID (torchmetrics), and precision, recall, density
and coverage (Naeem et al. 2020, the prdc package, k = quality.nearest_k). The "inception score"
exp(E KL(p(y|x) || p(y))) is the classifier's, as ALICE reports it, whatever the features; the classifier's
own test accuracy comes with them. metrics.json's feature_space names each number's features and
feature_classifier the cached classifier's key.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from prdc import compute_prdc
from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
from torchmetrics.image.kid import KernelInceptionDistance

from latentcli.data import batch_stream
from latentcli.data.stream import TensorPairs
from latentcli.data.images import cache_dir
from latentcli.engine import checkpoint as ckpt_io
from latentcli.engine.trainer import Trainer, TrainerConfig
from latentcli.errors import UserError
from latentcli.models.nets import DCGANFeatures

FEATURES = 128


class FeatureClassifier(nn.Module):
    """A small conv net: image -> 128 features -> class logits. A trainable for the shared Trainer."""

    num_features = FEATURES  # torchmetrics reads this instead of probing with a 299 px dummy image

    def __init__(self, shape: list[int], num_classes: int, width: int = 32):
        super().__init__()
        body = DCGANFeatures(shape, width, batch_norm=True)
        self.features = nn.Sequential(body, nn.Linear(body.out_dim, FEATURES), nn.LeakyReLU(0.2))
        self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # what FID/KID see

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def optimizers(self):
        return {"classifier": torch.optim.Adam(self.parameters(), lr=1e-3)}

    def losses(self, batch):
        x, y = batch
        loss = F.cross_entropy(self.logits(x), y)
        yield "classifier", loss, {"loss": loss}


@torch.no_grad()
def accuracy(classifier: FeatureClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    predicted = torch.cat([classifier.logits(part).argmax(1) for part in x.split(1024)])
    return float((predicted == y).float().mean())


def classifier_key(data, steps: int) -> str:
    """The feature classifier's cache key: the dataset's name, item shape and steps, then a fingerprint of
    everything that defines what it learns: the data's description (image_folder's classes, dataset.classes'
    kept classes, ...) and the bytes of both splits' images and labels. Two folders, or a one-class run and
    the full dataset, never share a classifier, whatever their names; the same data always does."""
    info = data.info
    digest = hashlib.sha256(json.dumps(info.to_dict(), sort_keys=True).encode())
    for split in (data.train, data.test):
        for tensor in (split.stored, split.y):
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            digest.update(f"{flat.dtype} {tuple(tensor.shape)};".encode())
            digest.update(flat.view(torch.uint8).numpy())  # hashed in place: no copy of the images
    return f"{info.name}_{'x'.join(map(str, info.shape))}_{steps}_{digest.hexdigest()[:16]}"


CLASSIFIER_SEED = 0  # not the evaluation's seed: the key then names one classifier, and FIDs stay comparable


def feature_classifier(data, steps: int) -> tuple[FeatureClassifier, float, str]:
    """The dataset's classifier (eval mode, CPU), its test accuracy and its cache key (classifier_key):
    from the cache, else trained now, always from CLASSIFIER_SEED, so that the classifier is a function of
    its key alone whichever evaluation (and whichever `seed=`) trains it first."""
    info = data.info
    if info.kind != "image":
        raise UserError(f"metrics=[quality] needs images; {info.name} holds points")
    y_train = info.class_labels(data.train.y)
    if y_train.dim() != 1 or (y_train < 0).any():
        raise UserError(f"metrics=[quality] trains a feature classifier on labels; {info.name} has none per item")
    num_classes = int(y_train.max()) + 1
    key = classifier_key(data, steps)
    path = cache_dir() / "classifiers" / f"{key}.pt"
    if path.is_file():
        saved = ckpt_io.load(path)
        classifier = FeatureClassifier(info.shape, num_classes)
        classifier.load_state_dict(saved["model"])
        return classifier.eval(), saved["test_accuracy"], key
    with torch.random.fork_rng(devices=[]):  # the evaluation's own random stream goes on untouched
        torch.manual_seed(CLASSIFIER_SEED)  # before the layers are made: their initial weights too
        classifier = FeatureClassifier(info.shape, num_classes)
        train = TensorPairs(data.train.stored, y_train)
        trainer = Trainer(TrainerConfig(max_steps=steps, device="cpu", tensorboard=False, log_every=100),
                          in_memory=True, desc=f"feature classifier for {info.name}")
        trainer.fit(classifier, lambda start: batch_stream(train, min(128, len(train)), CLASSIFIER_SEED, start))
    classifier.eval()
    test_accuracy = accuracy(classifier, data.test.x, info.class_labels(data.test.y))
    ckpt_io.save_atomic({"format_version": 1, "model": classifier.state_dict(), "test_accuracy": test_accuracy,
                         "steps": steps, "num_classes": num_classes, "key": key}, path)
    return classifier, test_accuracy, key


class InceptionFeatures(nn.Module):
    """Images in [-1, 1] -> InceptionV3's 2048 pool features, the space of pytorch-fid's and the papers' FID:
    torchmetrics' extractor (torch-fidelity's network) read from a pt_inception-2015-12-05 weights file."""

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path).expanduser()
        if not path.is_file():
            raise UserError(f"quality.inception_weights={path}: no such file (the pt_inception-2015-12-05 "
                            f"weights that pytorch-fid and torch-fidelity use)")
        try:  # weights only, before torch-fidelity's own unrestricted torch.load of the same file
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise UserError(f"quality.inception_weights={path} is not a PyTorch weights file "
                            f"({type(err).__name__})") from None
        if not isinstance(state, dict):
            raise UserError(f"quality.inception_weights={path} holds a {type(state).__name__}, not a state dict")
        try:
            self.net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                          feature_extractor_weights_path=str(path),
                                          antialias=False)  # resized as the TensorFlow original: papers' numbers
        except RuntimeError as err:  # load_state_dict: missing, unexpected or misshapen weights
            first = str(err).strip().splitlines()[1:2] or [str(err)]
            raise UserError(f"quality.inception_weights={path} does not hold the pt_inception-2015-12-05 "
                            f"InceptionV3 weights: {first[0].strip()[:200]}") from None
        self.space = f"inception_v3 pool3, 2048-d ({path.name})"

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # the 0..255 RGB it was trained on
        return self.net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


@torch.no_grad()
def features(extractor: nn.Module, images: torch.Tensor, device: torch.device | str = "cpu",
             batch: int = 1024) -> torch.Tensor:
    extractor.to(device)
    return torch.cat([extractor(part.to(device)).float().cpu() for part in images.split(batch)])


class _Given(nn.Identity):
    """Hands FID and KID features computed once (by the classifier or Inception) instead of images."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020, the `prdc` package) of two feature sets:
    precision and density ask how far the fakes lie inside the real k-NN balls, recall how far the reals lie
    inside the fakes', coverage which real balls hold at least one fake. k shrinks to fit a set of k items or
    fewer (a smoke test's handful; at least 3 items)."""
    k = max(1, min(k, len(real) - 2, len(fake) - 2))  # prdc partitions at k + 1 within each set
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the two set sizes
        scores = compute_prdc(real.double().numpy(), fake.double().numpy(), nearest_k=k)
    return {name: float(scores[name]) for name in ("precision", "recall", "density", "coverage")}


@torch.no_grad()
def quality_scores(real: torch.Tensor, fake: torch.Tensor, kid_subset: int = 1000,
                   nearest_k: int = 5) -> dict[str, float | None]:
    """FID, KID (torchmetrics) and precision, recall, density, coverage (prdc) on real and fake features.

    kid_std: the spread of KID over 50 random subsets of kid_subset items; None with fewer than twice that
    many items, where the subsets would be (nearly) the whole set each time and their spread meaningless."""
    given = _Given(real.shape[1])
    fid = FrechetInceptionDistance(feature=given, reset_real_features=True)
    n = min(len(real), len(fake))
    subset = min(kid_subset, n)
    several = n >= 2 * subset
    with warnings.catch_warnings():  # it warns that it keeps all features: a few thousand vectors here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=given, subset_size=subset, subsets=50 if several else 1)
    for metric in (fid, kid):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    with warnings.catch_warnings():  # the std of one subset is undefined and warned about; it is not reported
        warnings.simplefilter("ignore", UserWarning)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std) if several else None,
            **prdc(real, fake, nearest_k)}


@torch.no_grad()
def inception_score(classifier: FeatureClassifier, fake: torch.Tensor) -> float:
    """exp(E KL(p(y|x) || p(y))) with the dataset's classifier as p(y|x), as ALICE reports it."""
    probs = torch.cat([classifier.logits(part).softmax(1) for part in fake.split(1024)])
    kl = (probs * (probs.clamp(min=1e-12).log() - probs.mean(0, keepdim=True).clamp(min=1e-12).log())).sum(1)
    return float(kl.mean().exp())


def evaluate(ctx) -> dict:
    options = ctx.cfg.quality
    weights = options.get("inception_weights")
    inception = InceptionFeatures(weights) if weights else None  # a wrong file is refused before any work
    classifier, test_accuracy, key = feature_classifier(ctx.data, int(options.classifier_steps))
    real = ctx.test.x
    fake = ctx.samples[:len(real)]  # as many samples as real images, or all there are
    if inception is not None:
        space = inception.space
        real_features, fake_features = (features(inception, x, ctx.device, batch=64) for x in (real, fake))
    else:
        space = f"classifier ({ctx.data.info.name}), {FEATURES}-d"
        real_features, fake_features = (features(classifier, x) for x in (real, fake))
    result = quality_scores(real_features, fake_features, nearest_k=int(options.nearest_k))
    result["inception_score"] = inception_score(classifier, fake)
    feature_space = {name: space for name in result if name != "inception_score"}
    feature_space["inception_score"] = f"classifier ({ctx.data.info.name}) class probabilities"
    return {**result, "n_real": len(real), "n_fake": len(fake), "nearest_k": int(options.nearest_k),
            "classifier_test_accuracy": test_accuracy, "feature_space": feature_space,
            "feature_classifier": key}
