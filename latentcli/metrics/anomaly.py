"""metrics=[anomaly]: the one-class protocol. A model trained on one class only (train with
`dataset.classes=[c]`) scores every test image; the anomalies are the images of other classes.

Scores from the inferred latent z_hat (by the evaluation's inference method) and x_hat = G(z_hat):
- reconstruction: ||x - x_hat||_1 (mean over pixels);
- feature: ||f(x) - f(x_hat)||_1 in the image discriminator's feature space f, where there is one;
- prior_nll: the prior's negative log-density of z_hat (a normal prior; a uniform one is flat);
- latent_knn: mean distance from z_hat to its anomaly.k nearest latents of the normal training items,
  inverted the same way (the first anomaly.n_train of them);
- egbad: EGBAD's score (Zenati et al. 2018, *Efficient GAN-based anomaly detection*):
  (1 - w) ||x - x_hat||_1 + w ||h(x, z_hat) - h(x_hat, z_hat)||_1, w = anomaly.weight, h the joint
  discriminator's layer before its score (feature matching; D's image features for a D(x));
- alad: a model's own score (ALAD: D_xx's feature distance between (x, x) and (x, x_hat)).
Beside them, under `baselines`, the raw-pixel kNN, PCA and one-class SVM scores fitted on the same
normal training items (metrics/anomaly_baselines.py). AUROC and AUPRC (scikit-learn) for each.
"""

from __future__ import annotations

import math

import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from latentcli.errors import UserError
from latentcli.metrics.anomaly_baselines import knn_distance, pixel_baselines

BATCH = 1024


def detection_scores(is_anomaly, score) -> dict[str, float]:
    return {"auroc": float(roc_auc_score(is_anomaly, score)),
            "auprc": float(average_precision_score(is_anomaly, score))}


def prior_nll(z: torch.Tensor) -> torch.Tensor:
    """-log N(z; 0, I) per row."""
    return 0.5 * z.pow(2).sum(1) + 0.5 * z.shape[1] * math.log(2 * math.pi)


def joint_features(d, x_features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The layer before D's score on (x, z), from D's features of x, for a joint D (EGBAD's feature
    matching); the image features themselves when D looks at x alone or its head is not a layer stack."""
    head, z_features = getattr(d, "head", None), getattr(d, "z_features", None)
    if z_features is None or not isinstance(head, torch.nn.Sequential):
        return x_features
    return head[:-1](torch.cat([x_features, z_features(z)], dim=1))


def discriminator_scores(d, x: torch.Tensor, x_hat: torch.Tensor, z: torch.Tensor,
                         weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item: the mean |f(x) - f(x_hat)| of D's image features, and EGBAD's
    (1 - weight) ||x - x_hat||_1 + weight ||h(x, z) - h(x_hat, z)||_1 as its code computes it (L1 norms,
    summed, the same inferred z on both sides)."""
    f, f_hat = d.features(x).flatten(1), d.features(x_hat).flatten(1)
    feature_match = (joint_features(d, f, z) - joint_features(d, f_hat, z)).abs().sum(1)
    egbad = (1 - weight) * (x - x_hat).abs().flatten(1).sum(1) + weight * feature_match
    return torch.stack([(f - f_hat).abs().mean(1), egbad], dim=1)


@torch.no_grad()
def batched(fn, *tensors) -> torch.Tensor:
    return torch.cat([fn(*parts) for parts in zip(*(t.split(BATCH) for t in tensors))])


def model_scores(ctx, x: torch.Tensor, z: torch.Tensor, x_hat: torch.Tensor) -> dict[str, torch.Tensor]:
    cfg, model = ctx.cfg.anomaly, ctx.model
    scores = {"reconstruction": (x - x_hat).abs().flatten(1).mean(1)}
    d = model.x_discriminator
    if d is not None and model.pack == 1:
        both = batched(lambda a, b, c: discriminator_scores(d, a, b, c, float(cfg.weight)), x, x_hat, z)
        scores["feature"], scores["egbad"] = both[:, 0], both[:, 1]
    if model.prior == "normal":
        scores["prior_nll"] = prior_nll(z.flatten(1))
    n_train = cfg.n_train
    train_x = ctx.data.train.subset(None if n_train is None else int(n_train)).x
    train_z = ctx.inverter.invert(model, train_x).z
    scores["latent_knn"] = torch.from_numpy(knn_distance(train_z.flatten(1).double().cpu().numpy(),
                                                         z.flatten(1).double().cpu().numpy(), int(cfg.k)))
    if hasattr(model, "anomaly_score"):
        scores[model.cfg.name] = batched(model.anomaly_score, x, x_hat)
    return scores


def evaluate(ctx) -> dict:
    normal = ctx.data.info.normal_classes
    if not normal:
        raise UserError("metrics=[anomaly] needs a model trained on some classes only: train it with "
                        "dataset.classes=[c] (the other classes are the anomalies)")
    labels = ctx.data.info.class_labels(ctx.test.y)
    is_anomaly = (~torch.isin(labels, torch.tensor(normal))).numpy()
    x, inversion = ctx.test.x.to(ctx.device), ctx.test_inversion
    was_training = ctx.model.training
    ctx.model.eval()  # dropout and batch statistics off while scoring
    try:
        scores = model_scores(ctx, x, inversion.z, inversion.x_hat)
    finally:
        ctx.model.train(was_training)
    result = {"normal_classes": list(normal), "anomaly_fraction": float(is_anomaly.mean())}
    curves = {}
    for name, score in scores.items():
        score = score.detach().cpu().numpy()
        result[name] = detection_scores(is_anomaly, score)
        fpr, tpr, _ = roc_curve(is_anomaly, score)
        curves[f"{name} (AUROC {result[name]['auroc']:.3f})"] = (fpr, tpr)
    if ctx.cfg.anomaly.baselines:
        baselines = pixel_baselines(ctx.data.train.x, ctx.test.x, ctx.cfg.anomaly)
        result["baselines"] = {name: detection_scores(is_anomaly, score) for name, score in baselines.items()}
        for name, score in baselines.items():
            fpr, tpr, _ = roc_curve(is_anomaly, score)
            curves[f"pixel {name} (AUROC {result['baselines'][name]['auroc']:.3f})"] = (fpr, tpr)
    from latentcli import viz

    viz.save_line_plot(ctx.figure("ROC curves of the anomaly scores", "roc.png"), curves,
                       xlabel="false positive rate", ylabel="true positive rate",
                       title=f"normal: class {normal}, anomalies: the other classes")
    return result
