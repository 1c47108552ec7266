"""metrics=[quality]: sample quality and diversity against the test split, offline.

Inception weights would need a download, so the features come from a small classifier trained on the
dataset's train split by the shared Trainer and cached per dataset (in ~/.cache/latentcli/classifiers).
On its penultimate features: FID and KID (torchmetrics, with this classifier as the feature extractor),
improved precision and recall (Kynkaanniemi et al. 2019, k = 3), and the classifier's "inception score"
exp(E KL(p(y|x) || p(y))) as ALICE reports it. The classifier's own test accuracy comes with them.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
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


def feature_classifier(data, steps: int, seed: int = 0) -> tuple[FeatureClassifier, float]:
    """The dataset's classifier (eval mode, CPU) and its test accuracy: from the cache, else trained now."""
    info = data.info
    if info.kind != "image":
        raise UserError(f"metrics=[quality] needs images; {info.name} holds points")
    y_train = info.class_labels(data.train.y)
    if y_train.dim() != 1 or (y_train < 0).any():
        raise UserError(f"metrics=[quality] trains a feature classifier on labels; {info.name} has none per item")
    num_classes = int(y_train.max()) + 1
    path = cache_dir() / "classifiers" / f"{info.name}_{'x'.join(map(str, info.shape))}_{steps}.pt"
    classifier = FeatureClassifier(info.shape, num_classes)
    if path.is_file():
        saved = ckpt_io.load(path)
        classifier.load_state_dict(saved["model"])
        return classifier.eval(), saved["test_accuracy"]
    train = TensorPairs(data.train.stored, y_train)
    torch.manual_seed(seed)
    trainer = Trainer(TrainerConfig(max_steps=steps, device="cpu", tensorboard=False, log_every=100),
                      in_memory=True, desc=f"feature classifier for {info.name}")
    trainer.fit(classifier, lambda start: batch_stream(train, min(128, len(train)), seed, start))
    classifier.eval()
    test_accuracy = accuracy(classifier, data.test.x, info.class_labels(data.test.y))
    ckpt_io.save_atomic({"format_version": 1, "model": classifier.state_dict(), "test_accuracy": test_accuracy,
                         "steps": steps, "num_classes": num_classes}, path)
    return classifier, test_accuracy


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision (fakes inside the real manifold) and recall (reals inside the fake manifold):
    each set's manifold is the union of balls reaching every point's k-th nearest neighbour."""
    def radii(points):
        return torch.cdist(points, points).kthvalue(k + 1, dim=1).values  # +1: a point is its own nearest

    def inside(points, manifold, r):
        return (torch.cdist(points, manifold) <= r.unsqueeze(0)).any(dim=1).float().mean()

    return float(inside(fake, real, radii(real))), float(inside(real, fake, radii(fake)))


@torch.no_grad()
def quality_scores(classifier: FeatureClassifier, real: torch.Tensor, fake: torch.Tensor,
                   kid_subset: int = 1000) -> dict[str, float | None]:
    """kid_std: the spread of KID over 50 random subsets of kid_subset items; None with fewer than twice that
    many items, where the subsets would be (nearly) the whole set each time and their spread meaningless."""
    fid = FrechetInceptionDistance(feature=classifier, reset_real_features=True)
    n = min(len(real), len(fake))
    subset = min(kid_subset, n)
    several = n >= 2 * subset
    with warnings.catch_warnings():  # it warns that it keeps all features: a few thousand 128-d vectors here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=classifier, subset_size=subset, subsets=50 if several else 1)
    for part in real.split(1024):
        fid.update(part, real=True)
        kid.update(part, real=True)
    for part in fake.split(1024):
        fid.update(part, real=False)
        kid.update(part, real=False)
    with warnings.catch_warnings():  # the std of one subset is undefined and warned about; it is not reported
        warnings.simplefilter("ignore", UserWarning)
        kid_mean, kid_std = kid.compute()
    features = [torch.cat([classifier(part) for part in s.split(1024)]) for s in (real, fake)]
    precision, recall = precision_recall(*features)
    probs = torch.cat([classifier.logits(part).softmax(1) for part in fake.split(1024)])
    kl = (probs * (probs.clamp(min=1e-12).log() - probs.mean(0, keepdim=True).clamp(min=1e-12).log())).sum(1)
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std) if several else None,
            "precision": precision, "recall": recall, "inception_score": float(kl.mean().exp())}


def evaluate(ctx) -> dict:
    classifier, test_accuracy = feature_classifier(ctx.data, int(ctx.cfg.quality.classifier_steps), ctx.cfg.seed)
    real = ctx.test.x
    fake = ctx.samples[:len(real)]  # as many samples as real images, or all there are
    result = quality_scores(classifier, real, fake)
    return {**result, "n_real": len(real), "n_fake": len(fake), "classifier_test_accuracy": test_accuracy}
