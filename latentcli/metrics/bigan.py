"""metrics=[bigan]: the feature and reconstruction protocol of BiGAN (Donahue et al. 2017), as its code's
evaluation computes it (jeffdonahue/bigan, train_gan.py; the repository's MNIST log reports these four):

- nnc_e: 1-nearest-neighbour (Euclidean) accuracy of the test items by their codes E(x), against the codes
  of the training items (bigan.n_train of them; null: all);
- nnc_e_penultimate: the same on E's penultimate layer (the input of its last linear layer);
- egr: the mean ||x - G(E(x))||_2 over the test items, pixels in [0, 1];
- egr_b: the same distance to the next test item instead (an unrelated image: the code's baseline);
- ratio: egr / egr_b (the BiGAN paper's reconstruction ratio).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from latentcli.errors import UserError


def nearest_neighbour_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                               test_y: np.ndarray) -> float:
    return float(KNeighborsClassifier(n_neighbors=1).fit(train_x, train_y).score(test_x, test_y))


def reconstruction_distances(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, float]:
    """egr, egr_b and their ratio for images in [-1, 1], measured in [0, 1] pixels as the code does."""
    x, x_hat = (x.flatten(1) + 1) / 2, (x_hat.flatten(1) + 1) / 2
    egr = float((x - x_hat).norm(dim=1).mean())
    egr_b = float((x.roll(-1, dims=0) - x_hat).norm(dim=1).mean())
    return {"egr": egr, "egr_b": egr_b, "ratio": egr / max(egr_b, 1e-12)}


@torch.no_grad()
def codes(model, x: torch.Tensor, device) -> tuple[np.ndarray, np.ndarray]:
    """E(x) and E's penultimate features (what its last linear layer reads), in batches."""
    last = [m for m in model.encoder.modules() if isinstance(m, nn.Linear)][-1]
    seen = []
    hook = last.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].flatten(1).cpu()))
    try:
        z = torch.cat([model.encode(part.to(device)).cpu() for part in x.split(500)])
    finally:
        hook.remove()
    return z.numpy(), torch.cat(seen).numpy()


def evaluate(ctx) -> dict:
    model, info = ctx.model, ctx.model.info
    if not model.has_encoder:
        raise UserError(f"metrics=[bigan] needs a model with an encoder; {model.cfg.name!r} has none")
    n_train = ctx.cfg.bigan.n_train
    train = ctx.data.train.subset(None if n_train is None else min(int(n_train), len(ctx.data.train)))
    test = ctx.test
    train_z, train_h = codes(model, train.x, ctx.device)
    test_z, test_h = codes(model, test.x, ctx.device)
    train_y, test_y = info.class_labels(train.y).numpy(), info.class_labels(test.y).numpy()
    if (train_y < 0).all():
        raise UserError(f"metrics=[bigan] needs labelled data; {info.name} has no labels")
    with torch.no_grad():
        x_hat = ctx.generate(torch.from_numpy(test_z))
    return {"nnc_e": nearest_neighbour_accuracy(train_z, train_y, test_z, test_y),
            "nnc_e_penultimate": nearest_neighbour_accuracy(train_h, train_y, test_h, test_y),
            **reconstruction_distances(test.x, x_hat), "n_train": len(train), "n_test": len(test)}
