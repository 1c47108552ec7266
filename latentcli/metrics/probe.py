"""metrics=[probe]: how much of the labels the inferred latents carry (the BiGAN paper's feature-learning
question). 1-nearest-neighbour and logistic-regression accuracy on latents of N train items, scored on
the test items, beside the same probes on raw pixels; for `shapes`, R^2 of each true factor from the
latents by linear regression. Also a 2-D PCA picture of the test latents coloured by label."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from latentcli.errors import UserError


def classification_probes(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                          test_y: np.ndarray) -> dict[str, float]:
    knn = KNeighborsClassifier(n_neighbors=1).fit(train_x, train_y)
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train_x, train_y)
    return {"1nn": float(knn.score(test_x, test_y)), "logistic": float(logistic.score(test_x, test_y))}


def factor_r2(train_z: np.ndarray, train_factors: np.ndarray, test_z: np.ndarray, test_factors: np.ndarray,
              names: list[str]) -> dict[str, float]:
    """R^2 on the test items of a linear regression from z to each factor (1: fully linearly decodable)."""
    regression = LinearRegression().fit(train_z, train_factors)
    predicted = regression.predict(test_z)
    return {name: float(r2_score(test_factors[:, i], predicted[:, i])) for i, name in enumerate(names)}


def evaluate(ctx) -> dict:
    train = ctx.data.train.subset(min(int(ctx.cfg.probe.n_train), len(ctx.data.train)))
    test = ctx.test
    factors = ctx.model.info.factors
    class_of = ctx.model.info.class_labels
    if (class_of(train.y) < 0).all():
        raise UserError(f"metrics=[probe] needs labelled data; {ctx.model.info.name} has no labels")
    if len(class_of(train.y).unique()) < 2:
        raise UserError(f"metrics=[probe] fits classifiers on the training split, which holds one class only "
                        f"(dataset.classes={ctx.data.info.normal_classes}); train on 2 or more")
    z_train = ctx.inverter.invert(ctx.model, train.x).z.cpu().numpy()
    z_test = ctx.test_inversion.z.cpu().numpy()
    y_train, y_test = class_of(train.y).numpy(), class_of(test.y).numpy()
    result = {"n_train": len(train), "n_test": len(test),
              # the class with fewest test items (its accuracy, and the probe's, is only as sure as that count)
              "n_test_smallest_class": _smallest_class(y_test),
              "latent": classification_probes(z_train, y_train, z_test, y_test),
              "pixels": classification_probes(train.x.flatten(1).numpy(), y_train, test.x.flatten(1).numpy(), y_test)}
    if factors:
        result["factor_r2"] = factor_r2(z_train, train.y.numpy(), z_test, test.y.numpy(), factors)
    _pca_picture(ctx, z_test, y_test)
    return result


def _smallest_class(labels: np.ndarray) -> int:
    """How many items the rarest class among `labels` has (unlabelled items, -1, aside)."""
    counts = np.unique(labels[labels >= 0], return_counts=True)[1]
    return int(counts.min()) if len(counts) else 0


def _pca_picture(ctx, z: np.ndarray, labels: np.ndarray) -> None:
    from latentcli import viz

    if len(z) < 2:  # a one-item test split (a tiny image folder) has no principal components
        return
    xy = PCA(n_components=2).fit_transform(z) if z.shape[1] > 2 else z
    viz.save_labelled_scatter(ctx.figure("Inferred latents (PCA) coloured by label", "latents_pca.png"), xy, labels,
                              title=f"{ctx.model.cfg.name}: test latents, first two principal components",
                              names=ctx.model.info.classes)
