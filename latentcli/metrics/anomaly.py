"""metrics=[anomaly]: the one-class protocol. A model trained on one class only (train with
`dataset.classes=[c]`) scores every test image; the anomalies are the images of other classes.

Scores: the reconstruction error ||x - G(z_hat)||_1 and, where the model has an image discriminator,
its feature error ||f(x) - f(G(z_hat))||_1, combined as in EGBAD (Zenati et al. 2018):
(1 - w) * reconstruction + w * feature, w = anomaly.weight. AUROC and AUPRC (scikit-learn) for each.
"""

from __future__ import annotations

import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from latentcli.errors import UserError


def detection_scores(is_anomaly, score) -> dict[str, float]:
    return {"auroc": float(roc_auc_score(is_anomaly, score)),
            "auprc": float(average_precision_score(is_anomaly, score))}


def evaluate(ctx) -> dict:
    normal = ctx.data.info.normal_classes
    if not normal:
        raise UserError("metrics=[anomaly] needs a model trained on some classes only: train it with "
                        "dataset.classes=[c] (the other classes are the anomalies)")
    labels = ctx.data.info.class_labels(ctx.test.y)
    is_anomaly = (~torch.isin(labels, torch.tensor(normal))).numpy()
    x, x_hat = ctx.test.x.to(ctx.device), ctx.test_inversion.x_hat
    scores = {"reconstruction": (x - x_hat).abs().flatten(1).mean(1)}
    features = ctx.model.image_features
    if features is not None:
        with torch.no_grad():
            feature_error = torch.cat([(features(a) - features(b)).abs().mean(1)
                                       for a, b in zip(x.split(1024), x_hat.split(1024))])
        weight = float(ctx.cfg.anomaly.weight)
        scores["feature"] = feature_error
        scores["combined"] = (1 - weight) * scores["reconstruction"] + weight * feature_error
    result = {"normal_classes": list(normal), "anomaly_fraction": float(is_anomaly.mean())}
    curves = {}
    for name, score in scores.items():
        score = score.detach().cpu().numpy()
        result[name] = detection_scores(is_anomaly, score)
        fpr, tpr, _ = roc_curve(is_anomaly, score)
        curves[f"{name} (AUROC {result[name]['auroc']:.3f})"] = (fpr, tpr)
    from latentcli import viz

    viz.save_line_plot(ctx.figure("ROC curves of the anomaly scores", "roc.png"), curves,
                       xlabel="false positive rate", ylabel="true positive rate",
                       title=f"normal: class {normal}, anomalies: the other classes")
    return result
