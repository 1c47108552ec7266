"""The Trainer for a fused group: M runs of one model trained as one (engine/members.py says how).

It is the Trainer's own loop (`Trainer.fit`); what differs is bookkeeping per member:
- each member saves to its own run folder, in the format of a separate run (`MemberCheckpoints`), with its
  own random stream, so a member's checkpoint resumes, inverts and evaluates like any other;
- each member logs its own losses to its own metrics log (`MemberProgress`);
- a member whose loss goes non-finite stops alone: it keeps its last good checkpoint, is listed in
  `failed`, and its gradients are zeroed from then on; the group stops only when no member is left;
- gradient clipping is per member (each member's own gradient norm);
- fp16's loss scaling is per member (`MemberScaler`): one member's overflow skips that member's update alone;
- members may differ in their learning rates (model.lr_g, model.lr_d, model.lr): the optimiser steps at the
  first member's rates, then each other member's update is rescaled to its own rate (`MemberRates`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from latentcli.engine.checkpoint import CheckpointManager, training_state
from latentcli.engine.device import autocast
from latentcli.engine.guards import DivergedError
from latentcli.engine.progress import Progress
from latentcli.engine.members import MemberSplit, member_generators, member_state, stacked_state
from latentcli.engine.trainable import TrainState, needs_closure
from latentcli.engine.trainer import Trainer
from latentcli.errors import UserError


@dataclass
class Member:
    """One run of a fused group: its folder, what its checkpoints store besides the state, its own model
    (the layout its checkpoint is written in, and what its pictures are drawn with), its random stream at
    the start, its metrics logger and its picture callback `on_periodic(step)` (drawn with `model`)."""

    run_dir: Path
    checkpoint_meta: dict
    model: torch.nn.Module
    rng_state: torch.Tensor
    logger: object = None
    on_periodic: Callable[[int], None] | None = None
    failed: str | None = field(default=None, init=False)


class MemberRates:
    """Learning rates that differ between members. An Adam or SGD update is proportional to the learning rate
    (their moment estimates do not depend on it), so the fused optimiser steps at the first member's rates and
    each member's share of the update is then scaled by its rate over the first member's: `lerp` from the
    weights before the step, which leaves a member whose rate equals the first's bitwise as it stepped."""

    def __init__(self, base_lrs: dict[str, list[float]], own: list[dict]):
        """base_lrs: the fused optimisers' rates before any decay; own: each member's own optimisers."""
        self.scales: dict[tuple[str, int], torch.Tensor] = {}  # (optimizer, param group) -> [M] rate / first's
        for name, lrs in base_lrs.items():
            for index, lr in enumerate(lrs):
                rates = torch.tensor([float(o[name].param_groups[index]["lr"]) for o in own], dtype=torch.float64)
                if (rates != lr).any():
                    self.scales[(name, index)] = rates / lr

    def __bool__(self) -> bool:
        return bool(self.scales)

    def step(self, name: str, optimizer, do_step: Callable[[], None]) -> None:
        groups = [(group, self.scales.get((name, index))) for index, group in enumerate(optimizer.param_groups)]
        if all(scale is None for _, scale in groups):
            do_step()
            return
        before = {p: p.detach().clone() for group, scale in groups if scale is not None for p in group["params"]}
        do_step()
        with torch.no_grad():
            for group, scale in groups:
                if scale is None:
                    continue
                for p in group["params"]:
                    weight = scale.to(device=p.device, dtype=p.dtype).view(-1, *[1] * (p.dim() - 1))
                    p.copy_(before[p].lerp_(p, weight))

    def member_groups(self, optimizers: dict, m: int) -> dict:
        """Member m's optimiser state dicts with its own learning rates in their param_groups."""
        for (name, index), scale in self.scales.items():
            group = optimizers[name]["param_groups"][index]
            group["lr"] = group["lr"] * float(scale[m])
        return optimizers


class MemberScaler:
    """fp16's loss scaling for a fused group, one scale per member. torch's GradScaler keeps one scale for all
    parameters, so one member's overflow would skip every member's step and shrink every member's scale. Here
    each member's loss is multiplied by its own scale and its gradients divided by it; a member whose gradients
    overflowed keeps its weights and optimiser moments as they were (the optimiser's step count, shared by the
    members, still counts the step), and its scale backs off while the others' grow, as GradScaler's rules say.
    Disabled (not fp16), it scales nothing and steps the optimiser as it is."""

    def __init__(self, members: int, device: torch.device, enabled: bool, init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5, growth_interval: int = 2000):
        self.enabled = enabled
        self.growth_factor, self.backoff_factor, self.growth_interval = growth_factor, backoff_factor, growth_interval
        self.scales = torch.full((members,), float(init_scale), device=device)
        self.growth_tracker = torch.zeros(members, dtype=torch.int32, device=device)
        self.found_inf: torch.Tensor | None = None  # per member, for the optimiser now stepping

    def is_enabled(self) -> bool:
        return self.enabled

    def scale(self, losses: torch.Tensor) -> torch.Tensor:
        """The members' losses [M], each times its member's scale (in fp32)."""
        return losses.float() * self.scales if self.enabled else losses

    def unscale_(self, optimizer) -> None:
        if not self.enabled or self.found_inf is not None:
            return
        inverse = self.scales.double().reciprocal().float()
        found = torch.zeros_like(self.scales, dtype=torch.bool)
        for p in _params_with_grad(optimizer):
            found |= ~torch.isfinite(p.grad.flatten(1)).all(1)
            p.grad.mul_(inverse.view(-1, *[1] * (p.grad.dim() - 1)).to(p.grad.dtype))
        self.found_inf = found

    def step(self, optimizer) -> None:
        if not self.enabled:
            optimizer.step()
            return
        self.unscale_(optimizer)
        skipped = self.found_inf.nonzero().flatten().tolist()  # one host sync per step, as GradScaler's
        if not skipped:
            optimizer.step()
            return
        params = _params_with_grad(optimizer)
        kept = {p: (p.detach()[skipped].clone(), {k: v[skipped].clone() for k, v in optimizer.state[p].items()
                                                   if isinstance(v, torch.Tensor) and v.dim() > 0})
                for p in params}
        for p in params:
            p.grad[skipped] = 0  # inf or NaN in a skipped member's slice would spread through the optimiser's maths
        optimizer.step()
        with torch.no_grad():
            for p, (weights, moments) in kept.items():
                p[skipped] = weights
                for k, v in moments.items():
                    optimizer.state[p][k][skipped] = v

    def update(self) -> None:
        if not self.enabled or self.found_inf is None:
            return
        found, self.found_inf = self.found_inf, None
        tracker = torch.where(found, torch.zeros_like(self.growth_tracker), self.growth_tracker + 1)
        grow = tracker >= self.growth_interval
        self.scales = torch.where(found, self.scales * self.backoff_factor,
                                  torch.where(grow, self.scales * self.growth_factor, self.scales))
        self.growth_tracker = torch.where(grow, torch.zeros_like(tracker), tracker)

    def state_dict(self) -> dict:
        return {"scale": self.scales.clone(), "growth_factor": self.growth_factor,
                "backoff_factor": self.backoff_factor, "growth_interval": self.growth_interval,
                "_growth_tracker": self.growth_tracker.clone()}

    def member_state_dict(self, m: int) -> dict:
        """Member m's share, in the form of a separate run's GradScaler.state_dict()."""
        return {**self.state_dict(), "scale": float(self.scales[m]), "_growth_tracker": int(self.growth_tracker[m])}

    def load_member_state_dicts(self, states: list[dict]) -> None:
        """The members' GradScaler state dicts (their checkpoints'), one scale and growth count each."""
        self.scales = torch.tensor([float(s["scale"]) for s in states], device=self.scales.device)
        self.growth_tracker = torch.tensor([int(s["_growth_tracker"]) for s in states], dtype=torch.int32,
                                           device=self.growth_tracker.device)


def _params_with_grad(optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]


class MemberCheckpoints:
    """Every live member's CheckpointManager, behind the one interface the loop uses."""

    def __init__(self, members: list[Member], keep: int, group, generators: Callable[[], list],
                 rates: Callable[[], MemberRates | None]):
        self.members, self.generators, self.rates = members, generators, rates
        self.managers = [CheckpointManager(m.run_dir / "checkpoints", m.checkpoint_meta, keep, group) for m in members]

    @property
    def last(self) -> Path:
        return self.managers[0].last

    def save(self, state: TrainState, periodic: bool) -> None:
        fused = training_state(state)
        for m, (member, manager) in enumerate(zip(self.members, self.managers)):
            if member.failed:
                continue  # its last good checkpoint stays
            own = {key: member_state(fused[key], m) if fused[key] is not None else None
                   for key in ("model", "optimizers", "ema")}
            if self.rates():
                own["optimizers"] = self.rates().member_groups(own["optimizers"], m)
            if state.scaler.is_enabled():
                own["scaler"] = state.scaler.member_state_dict(m)
            manager.write({**fused, **own, "rng": member_rng(fused["rng"], self.generators()[m])}, periodic)

    def restore(self, ckpts: list[dict], state: TrainState) -> None:
        state.model.load_state_dict(stacked_state([c["model"] for c in ckpts]))
        for name, opt in state.optimizers.items():
            opt.load_state_dict(stacked_state([c["optimizers"][name] for c in ckpts]))
        if state.ema is not None:
            if any(c.get("ema") is None for c in ckpts):
                raise UserError("trainer.ema_decay is set but a member's checkpoint has no EMA weights to resume")
            state.ema.load_state_dict(stacked_state([c["ema"] for c in ckpts]))
        if state.scaler.is_enabled() and all(c.get("scaler") is not None for c in ckpts):
            state.scaler.load_member_state_dicts([c["scaler"] for c in ckpts])
        state.step = int(ckpts[0]["step"])


def member_rng(shared: dict, generator: torch.Generator) -> dict:
    """A member's random streams as a separate run's checkpoint holds them: the shared Python and NumPy ones,
    and the member's own generator in the torch slot (the CUDA slot for a CUDA member)."""
    state = generator.get_state()
    if generator.device.type == "cpu":
        return {**shared, "torch": state}
    cuda = list(shared["cuda"])
    cuda[generator.device.index or 0] = state
    return {**shared, "cuda": cuda}


def member_rng_states(ckpt: dict, device: torch.device) -> torch.Tensor:
    """A member's random stream as its checkpoint saved it (see member_rng)."""
    return ckpt["rng"]["torch"] if device.type == "cpu" else ckpt["rng"]["cuda"][device.index or 0]


class MemberProgress:
    """Running means of every member's logged values (vectors of M), written to each member's logger."""

    def __init__(self, members: list[Member], inner):
        self.members, self.inner = members, inner  # inner: the group's progress bar (no logger of its own)
        self.running: dict[str, torch.Tensor] = {}
        self.count = 0
        self.last_logs: list[dict[str, float]] = [{} for _ in members]

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        size = len(self.members)
        for name, value in logs.items():
            self.running[name] = self.running.get(name, 0.0) + value.expand(size)
        self.count += 1
        self.inner.bar.update(1)

    def write(self, step: int) -> None:
        names = list(self.running)
        means = (torch.stack([self.running[k] for k in names]) / self.count).tolist() if names else []
        self.running, self.count = {}, 0
        for m, member in enumerate(self.members):
            if member.failed:
                continue
            self.last_logs[m] = {k: means[i][m] for i, k in enumerate(names)}
            if member.logger is not None:
                member.logger.log(step, self.last_logs[m])
        live = [logs for member, logs in zip(self.members, self.last_logs) if not member.failed and logs]
        if live:
            shown = {k: sum(logs[k] for logs in live) / len(live) for k in list(live[0])[:4]}
            self.inner.bar.set_postfix({f"{k} (mean)": f"{v:.3g}" for k, v in shown.items()}, refresh=False)

    def close(self, step: int, converged: bool) -> None:
        self.inner.close(step, converged)


class FusedTrainer(Trainer):
    """The Trainer over a fused model (engine/members.stack_models) whose members are `members`."""

    def __init__(self, cfg, members: list[Member], desc: str = "train"):
        super().__init__(cfg, in_memory=True, desc=desc)
        if self.group.size > 1:
            raise UserError("hydra/launcher=fused runs in one process: start it without torchrun")
        self.members = members
        self.generators: list[torch.Generator] = []
        self.rates: MemberRates | None = None
        self.checkpoints = MemberCheckpoints(members, cfg.keep_checkpoints, self.group, lambda: self.generators,
                                             lambda: self.rates)

    @property
    def failed(self) -> dict[int, str]:
        return {m: member.failed for m, member in enumerate(self.members) if member.failed}

    def _start(self, model, resume: list[dict] | None) -> TrainState:
        state = super()._start(model, resume)
        states = ([member_rng_states(c, self.device) for c in resume] if resume is not None
                  else [m.rng_state for m in self.members])
        self.generators = member_generators(states, self.device)
        for member in self.members:
            member.model.to(self.device)
        self.rates = MemberRates(self._base_lrs, [member.model.optimizers() for member in self.members])
        if self.rates and any(needs_closure(opt) for opt in state.optimizers.values()):
            raise UserError("members with different learning rates need an optimiser without a closure (Adam, "
                            "SGD): run them without hydra/launcher=fused")
        return state

    def _grad_scaler(self) -> MemberScaler:
        return MemberScaler(len(self.members), self.device, enabled=self.amp_dtype == torch.float16)

    def _optimizer_step(self, name: str, optimizer, scaler) -> None:
        self.rates.step(name, optimizer, lambda: super(FusedTrainer, self)._optimizer_step(name, optimizer, scaler))

    def _progress(self, step: int, logger) -> MemberProgress:
        bar = Progress(self.cfg.max_steps, step, self.desc, self.cfg.progress, logger=None)
        return MemberProgress(self.members, bar)

    def _forward_context(self):
        stack = contextlib.ExitStack()
        stack.enter_context(autocast(self.device, self.amp_dtype))
        stack.enter_context(MemberSplit(self.generators))
        return stack

    def _backward(self, loss: torch.Tensor, optimizer, scaler) -> None:
        # each member's loss reaches only its own slice of every weight: one backward for all of them
        scaler.scale(loss).sum().backward()
        params = _params_with_grad(optimizer)
        failed = list(self.failed)
        if failed:  # a failed member's NaNs stay in its own slice; zeroed, they cannot stop a scaled step
            for p in params:
                p.grad[failed] = 0
        if self.cfg.grad_clip:
            scaler.unscale_(optimizer)
            norms = torch.stack([p.grad.flatten(1).pow(2).sum(1) for p in params]).sum(0).sqrt()  # one per member
            scale = (self.cfg.grad_clip / (norms + 1e-6)).clamp(max=1.0)
            for p in params:
                p.grad.mul_(scale.view(-1, *[1] * (p.grad.dim() - 1)))

    def _check_finite(self) -> None:
        """Marks every member whose loss became non-finite as failed; raises once none is left."""
        pending, self._watch.pending = self._watch.pending, []
        if pending:
            size = len(self.members)
            losses = torch.stack([loss.float().expand(size) for _, _, loss in pending])
            bad = (~torch.isfinite(losses)).tolist()
            for m, member in enumerate(self.members):
                first = next((k for k, row in enumerate(bad) if row[m]), None)
                if member.failed or first is None:
                    continue
                step, name, _ = pending[first]
                last = self.checkpoints.managers[m].last
                kept = f"last good checkpoint: {last}" if last.exists() else "no checkpoint was saved before it"
                member.failed = (f"loss for optimizer '{name}' became {losses[first, m].item()} at step {step}: "
                                 f"stopped; {kept}")
        if all(member.failed for member in self.members):
            raise DivergedError(f"every member of the fused group failed; the first: {self.members[0].failed}")

    def _periodic(self, state: TrainState) -> None:
        """Each live member's pictures, drawn with its own model holding its (EMA) weights."""
        weights = state.model.state_dict()
        if state.ema is not None:  # the averaged modules (generator, encoder) over the live ones
            weights.update(state.ema.module.state_dict())
        for m, member in enumerate(self.members):
            if member.failed or member.on_periodic is None:
                continue
            member.model.load_state_dict(member_state(weights, m))
            member.on_periodic(state.step)

    def member_models(self, state_model: torch.nn.Module) -> list[torch.nn.Module]:
        """Each member's own model with its final weights (the EMA ones where the run kept them)."""
        weights = state_model.state_dict()
        for m, member in enumerate(self.members):
            member.model.load_state_dict(member_state(weights, m))
        return [member.model for member in self.members]
