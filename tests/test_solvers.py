"""The per-item solvers in z (BFGS, Levenberg-Marquardt), best-of-K starts and the latent constraints, on a
small generator whose answers are known: its own outputs, which some z reproduces exactly."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from latentcli.config.inference import FastConfig
from latentcli.errors import UserError
from latentcli.inference.gauss_newton import LevenbergMarquardt
from latentcli.inference.optimize import OptimizeInverter, OptimizeOptions, project_latents
from latentcli.inference.quasi_newton import BatchedBFGS, RestartingLBFGS


class Tiny(nn.Module):
    """What inversion needs of a model: latent_dim, prior, sample_latent, generate; rows counts G's work."""

    def __init__(self, latent_dim=5, out=30, prior="normal"):
        super().__init__()
        torch.manual_seed(0)
        self.generator = nn.Sequential(nn.Linear(latent_dim, out), nn.Tanh())
        self.latent_dim, self.prior, self.rows = latent_dim, prior, 0
        self.cfg = OmegaConf.create({"name": "tiny"})

    def sample_latent(self, n, generator=None):
        return torch.randn(n, self.latent_dim, generator=generator)

    def generate(self, z):
        self.rows += len(z)
        return self.generator(z)


def problem(n=8):
    model = Tiny()
    z_true = 0.7 * torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model, z_true, model.generate(z_true)


def invert(model, x, **options):
    options = {"progress": False, "init": "prior_mean", **options}
    return OptimizeInverter(OptimizeOptions(**options)).invert(model, x)


@pytest.mark.parametrize("optimizer, steps", [("bfgs", 60), ("lm", 15)])
def test_solvers_recover_the_exact_latents(optimizer, steps):
    model, z_true, x = problem()
    # atol: an exact fit's loss ends in rounding noise (1e-16), where a relative tolerance alone may never be met
    result = invert(model, x, optimizer=optimizer, steps=steps, tol=1e-9, atol=1e-12)
    assert torch.allclose(result.z, z_true, atol=1e-3)
    assert result.loss.max() < 1e-8
    assert result.steps < steps  # every item converged, so the run stopped early


def test_lm_converges_quadratically_where_adam_crawls():
    model, z_true, x = problem()
    lm = invert(model, x, optimizer="lm", steps=8, patience=None)
    adam = invert(model, x, optimizer="adam", lr=0.05, steps=8, patience=None)
    assert lm.loss.mean() < 1e-6 < adam.loss.mean()


def test_lm_steps_within_a_trust_region_that_grows_as_its_steps_succeed():
    """Marquardt's scaling leaves a direction in which G hardly moves almost undamped: the unbounded first step
    from z = 0 of a Fashion-MNIST GAN went to |z| = 271 and never came back (RESULTS.md). The first step is now
    at most sqrt(d) long; the region doubles with each accepted step, so a far answer is still reached."""
    model, _, _ = problem()
    with torch.no_grad():
        model.generator[0].weight[:, -1] *= 1e-3  # a direction G hardly moves along
        model.generator[0].bias.fill_(1.5)
        x = model.generate(0.7 * torch.randn(8, 5, generator=torch.Generator().manual_seed(1)))
    x = x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))  # out of G's reach: far z fit best
    first = invert(model, x, optimizer="lm", steps=1, patience=None)
    assert first.z.norm(dim=1).max() <= 5 ** 0.5 + 1e-5
    far = invert(model, x, optimizer="lm", steps=15, patience=None)
    assert far.z.norm(dim=1).max() > 100  # where the best fits lie (the unbounded solver's answer: 0.00182)
    assert far.loss.mean() < 0.0019


def test_lbfgs_forgets_its_curvature_after_a_failed_line_search_instead_of_stalling():
    """On a piecewise-linear objective (a ReLU generator's is one) torch's strong-Wolfe search can end at t = 0;
    torch's L-BFGS then retries the same direction for ever (hybrid inversion of a VEEGAN stayed at its start)."""
    torch.manual_seed(0)
    a, b = torch.randn(20, 5), torch.randn(20)

    def minimise(optimizer_class) -> float:
        z = torch.zeros(5, requires_grad=True)
        optimizer = optimizer_class([z], lr=0.5, max_iter=1, history_size=20, line_search_fn="strong_wolfe")

        def hinge():
            optimizer.zero_grad()
            loss = torch.relu(1 - b * (a @ z)).sum()
            loss.backward()
            return loss

        for _ in range(30):
            optimizer.step(hinge)
        return float(hinge())

    stalled, restarted = minimise(torch.optim.LBFGS), minimise(RestartingLBFGS)
    assert restarted < stalled - 2  # 15.3 against 18.3


def test_finished_items_stop_costing_compute():
    model, _, x = problem(16)
    x = x.clone()
    x[8:] = x[:8]  # items 8.. are the same as 0..7 but start at their answer: they finish first
    options = OptimizeOptions(**{"optimizer": "bfgs", "steps": 40, "progress": False})
    inverter = OptimizeInverter(options)
    model.rows = 0
    result = inverter.invert(model, x)
    assert result.loss.max() < 1e-6
    # with every item active for every step, G would have seen 16 rows per step (plus a final pass)
    assert model.rows < 16 * (result.steps + 1)


def test_bfgs_solver_alone_on_independent_items():
    """Items of very different scales each get their own step: one badly scaled item does not slow the rest."""
    scales = torch.tensor([1.0, 100.0, 0.01])
    target = torch.tensor([[1.0, -2.0], [0.5, 0.5], [3.0, 1.0]])
    z = nn.Parameter(torch.zeros(3, 2))
    state = {}
    solver = BatchedBFGS([z], values=lambda: state["f"], lr=0.5, tol=1e-12)
    for _ in range(30):
        z.grad = None
        f = scales * (z - target).pow(2).sum(1)
        f.sum().backward()
        state["f"] = f.detach()
        solver.step()
    assert torch.allclose(z.detach(), target, atol=1e-4)


def test_lm_solver_alone_solves_a_linear_least_squares_in_one_step():
    A = torch.randn(3, 10, 4, generator=torch.Generator().manual_seed(0))
    z_true = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
    b = (A @ z_true.unsqueeze(2)).squeeze(2)
    z = nn.Parameter(torch.zeros(3, 4))
    solver = LevenbergMarquardt([z], residuals=lambda v, rows: (A[rows] @ v.unsqueeze(2)).squeeze(2) - b[rows],
                                damping=1e-9)
    solver.step()
    assert torch.allclose(z.detach(), z_true, atol=1e-4)


def test_projections_have_known_answers():
    z = torch.tensor([[3.0, -4.0], [0.3, 0.4], [0.0, 2.0]])
    truncated = z.clone()
    project_latents(truncated, "normal", "truncate", 1.0)
    assert torch.equal(truncated, torch.tensor([[1.0, -1.0], [0.3, 0.4], [0.0, 1.0]]))
    ball = z.clone()
    project_latents(ball, "normal", "ball", 1.0)
    assert torch.allclose(ball, torch.tensor([[0.6, -0.8], [0.3, 0.4], [0.0, 1.0]]))
    sphere = z.clone()
    project_latents(sphere, "normal", "sphere", None)  # radius sqrt(d) = sqrt(2)
    assert torch.allclose(sphere.norm(dim=1), torch.full((3,), 2 ** 0.5))


@pytest.mark.parametrize("optimizer", ["adam", "bfgs", "lm"])
@pytest.mark.parametrize("constraint, radius", [("truncate", 0.3), ("ball", 0.5), ("sphere", 1.5)])
def test_constraints_hold_for_every_optimizer(optimizer, constraint, radius):
    model, _, x = problem()
    result = invert(model, x, optimizer=optimizer, steps=15, constraint=constraint, radius=radius,
                    init="random", candidates=4)
    if constraint == "truncate":
        assert result.z.abs().max() <= radius + 1e-6
    elif constraint == "ball":
        assert result.z.norm(dim=1).max() <= radius + 1e-5
    else:
        assert torch.allclose(result.z.norm(dim=1), torch.full((len(x),), radius), atol=1e-5)


def test_best_of_k_starts_picks_the_best_candidate():
    model, _, x = problem(32)
    one = invert(model, x, init="random", steps=1, candidates=1, optimizer="adam", lr=1e-9)
    many = invert(model, x, init="random", steps=1, candidates=16, optimizer="adam", lr=1e-9)
    assert (many.loss <= one.loss + 1e-7).all() and many.loss.mean() < one.loss.mean()


def test_option_mistakes():
    with pytest.raises(UserError, match="needs inference.radius"):
        OptimizeOptions(**{"constraint": "ball"})
    with pytest.raises(UserError, match="optimizer=lm minimises squared pixel error"):
        OptimizeOptions(**{"optimizer": "lm", "loss": "l1"})


class Stretched(Tiny):
    """tanh(W (s * z)) with latent directions whose weights s span 30x, as a trained generator's do, and a poor
    (random linear) encoder: a start far from the answer, and a problem a quasi-Newton method needs many steps
    to learn the curvature of."""

    def __init__(self, latent_dim=16, out=64):
        super().__init__(latent_dim, out)
        self.scale = torch.logspace(0, -1.5, latent_dim)
        self.encoder = nn.Linear(out, latent_dim)

    def generate(self, z):
        return super().generate(z * self.scale)

    def encode(self, x):
        return self.encoder(x)


def seed_loop(model, x, steps=1000, lr=0.01):
    """The seed's loop (benchmarks/invert_speed.py): Adam on ||G(z) - x||^2 from a prior draw, mean MSE."""
    z = model.sample_latent(len(x), generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        (model.generate(z) - x).pow(2).mean(1).sum().backward()
        optimizer.step()
    with torch.no_grad():
        return (model.generate(z) - x).pow(2).mean()


def test_fast_at_its_defaults_reaches_the_per_image_adam_loops_error_from_any_start():
    """Issue 22: inference=fast's defaults (FastConfig) reach what the seed loop reaches (Adam, 1,000 steps, each
    image on its own: Adam is per coordinate, so batched it is the same loop) from z = 0 and from a poor encoder,
    on images G can make (an exact answer exists) and on images it cannot (G(z) + noise, like real images).
    20 BFGS steps, the old default, ended 80x worse on the first and 8% worse on the second."""
    model = Stretched()
    for p in model.parameters():
        p.requires_grad_(False)
    z_true = model.sample_latent(8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = model.generate(z_true)
    noisy = exact + 0.1 * torch.randn(exact.shape, generator=torch.Generator().manual_seed(2))
    for x in (exact, noisy):
        adam = seed_loop(model, x)
        for init in ("prior_mean", "encoder"):
            fast = OptimizeInverter(FastConfig(init=init, progress=False)).invert(model, x)
            assert fast.loss.mean() <= 1.02 * adam, (init, float(fast.loss.mean()), float(adam))
