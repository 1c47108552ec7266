"""Several runs of one model trained as one: the members of a fused group.

A small net is overhead-bound (one tiny operation after another on a CPU core, one kernel launch after another
on a GPU). M runs of the same net that differ only in values that leave every shape alone (the seed) can share
each operation: their weights are stacked on a leading member dimension and every layer runs once for all of
them (one batched matmul for M linear layers, one grouped convolution for M convolutions).

How a batch looks inside a fused step: the M members' batches concatenated along the batch dimension, member
after member ("member-major"), so that everything that works item by item (activations, reshapes, packing,
concatenation along features) needs no change. What mixes items has to be told apart by member:

- layers with weights and BatchNorm's batch statistics: the member layers below (`stack_models`);
- full reductions (`loss.mean()`, `F.mse_loss(a, b)`), random draws (`torch.randn(n, d)`, dropout) and
  batches joined or repeated (`torch.cat([a, b])`, `x.repeat(2, 1)`): the `MemberSplit` mode, active while a
  fused model computes its losses, turns each full reduction into one value per member (a loss becomes a
  vector of M losses), draws each member's share of a random tensor from that member's own generator, and
  joins batches member by member so that the layout stays member-major. So a model's code is the same fused or not, and each member's noise, like its data
  order, comes from its own seed alone.

A member is independent of the others: nothing mixes members, so changing one member's seed leaves every other
member's weights bitwise unchanged. It is not bitwise equal to its separate run: a batched matmul adds up in
another order than a plain one (docs/guides/sweeps.md says how close; tests/test_fused.py checks it).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.overrides import TorchFunctionMode

from latentcli.errors import UserError


def _member_major(x: torch.Tensor, members: int) -> torch.Tensor:
    """[M*N, C, ...] (member-major) -> [N, M*C, ...]: the layout of a grouped convolution or a BatchNorm over
    M*C channels, in which member m owns channels m*C .. (m+1)*C - 1."""
    n = x.shape[0] // members
    return x.reshape(members, n, *x.shape[1:]).transpose(0, 1).reshape(n, members * x.shape[1], *x.shape[2:])


def _items_major(x: torch.Tensor, members: int) -> torch.Tensor:
    """The inverse of `_member_major`."""
    n, channels = x.shape[0], x.shape[1] // members
    return x.reshape(n, members, channels, *x.shape[2:]).transpose(0, 1).reshape(members * n, channels, *x.shape[2:])


class MemberLinear(nn.Module):
    """M linear layers: weight [M, out, in], one batched matmul for all members."""

    def __init__(self, layers: list[nn.Linear]):
        super().__init__()
        self.members = len(layers)
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = None if layers[0].bias is None else nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.reshape(self.members, -1, x.shape[-1])
        if self.bias is None:
            out = torch.bmm(h, self.weight.transpose(1, 2))
        else:
            out = torch.baddbmm(self.bias.unsqueeze(1), h, self.weight.transpose(1, 2))
        return out.reshape(*x.shape[:-1], out.shape[-1])


class MemberConv2d(nn.Module):
    """M convolutions as one grouped convolution: weight [M, out, in/groups, kh, kw]."""

    def __init__(self, layers: list[nn.Conv2d]):
        super().__init__()
        first = layers[0]
        if first.padding_mode != "zeros":
            raise UserError(f"fused training supports zero-padded convolutions only, not padding_mode={first.padding_mode}")
        self.members = len(layers)
        self.stride, self.padding, self.dilation, self.groups = first.stride, first.padding, first.dilation, first.groups
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = None if first.bias is None else nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(_member_major(x, self.members), self.weight.flatten(0, 1),
                       None if self.bias is None else self.bias.flatten(), self.stride, self.padding, self.dilation,
                       self.groups * self.members)
        return _items_major(out, self.members)


class MemberConvTranspose2d(nn.Module):
    """M transposed convolutions as one grouped one: weight [M, in, out/groups, kh, kw]."""

    def __init__(self, layers: list[nn.ConvTranspose2d]):
        super().__init__()
        first = layers[0]
        self.members = len(layers)
        self.stride, self.padding, self.output_padding = first.stride, first.padding, first.output_padding
        self.dilation, self.groups = first.dilation, first.groups
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = None if first.bias is None else nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv_transpose2d(_member_major(x, self.members), self.weight.flatten(0, 1),
                                 None if self.bias is None else self.bias.flatten(), self.stride, self.padding,
                                 self.output_padding, self.groups * self.members, self.dilation)
        return _items_major(out, self.members)


class MemberBatchNorm(nn.Module):
    """M BatchNorms (1-D or 2-D) as one over M*C channels: each member's statistics from its own items."""

    def __init__(self, layers: list[nn.modules.batchnorm._BatchNorm]):
        super().__init__()
        first = layers[0]
        self.members, self.eps, self.momentum = len(layers), first.eps, first.momentum
        self.track_running_stats = first.track_running_stats
        stack = lambda name: torch.stack([getattr(layer, name).detach() for layer in layers])  # noqa: E731
        self.weight = nn.Parameter(stack("weight")) if first.affine else None
        self.bias = nn.Parameter(stack("bias")) if first.affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", stack("running_mean").clone())
            self.register_buffer("running_var", stack("running_var").clone())
            self.register_buffer("num_batches_tracked", first.num_batches_tracked.detach().clone())
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # a cumulative average, as nn.BatchNorm does
                momentum = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or not self.track_running_stats
        flat = lambda t: None if t is None else t.flatten()  # noqa: E731 - views: running stats update in place
        out = F.batch_norm(_member_major(x, self.members), flat(self.running_mean), flat(self.running_var),
                           flat(self.weight), flat(self.bias), use_batch_stats, momentum or 0.0, self.eps)
        return _items_major(out, self.members)


class MemberSpectralNorm(nn.Module):
    """torch's spectral_norm parametrisation (one power iteration per training forward) for stacked weights:
    _u [M, out] and _v [M, in], one per member, the same names as torch's so member state dicts match."""

    def __init__(self, norms: list[nn.Module]):
        super().__init__()
        first = norms[0]
        if first.dim != 0:
            raise UserError("fused training supports spectral norm over a weight's first dimension only")
        self.n_power_iterations, self.eps = first.n_power_iterations, first.eps
        self.register_buffer("_u", torch.stack([n._u.detach() for n in norms]).clone())
        self.register_buffer("_v", torch.stack([n._v.detach() for n in norms]).clone())

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = weight.flatten(2)  # [M, out, in * kh * kw]
        if self.training:
            with torch.no_grad():
                for _ in range(self.n_power_iterations):  # u from v, then v from u: torch's order
                    self._u.copy_(F.normalize(torch.bmm(matrix, self._v.unsqueeze(2)).squeeze(2), dim=1, eps=self.eps))
                    self._v.copy_(F.normalize(torch.bmm(matrix.transpose(1, 2), self._u.unsqueeze(2)).squeeze(2),
                                              dim=1, eps=self.eps))
        u, v = self._u.clone(), self._v.clone()  # the in-place updates above must not reach autograd's saved copies
        sigma = (u * torch.bmm(matrix, v.unsqueeze(2)).squeeze(2)).sum(1)
        return weight / sigma.view(-1, *[1] * (weight.dim() - 1))


_MEMBER_LAYERS = {nn.Linear: MemberLinear, nn.Conv2d: MemberConv2d, nn.ConvTranspose2d: MemberConvTranspose2d,
                  nn.BatchNorm1d: MemberBatchNorm, nn.BatchNorm2d: MemberBatchNorm}


def _keep_frozen(fused: nn.Module, layers: list[nn.Module]) -> nn.Module:
    """A frozen layer (a regressor's generator) stays frozen when stacked."""
    for name, param in fused.named_parameters(recurse=False):
        param.requires_grad_(getattr(layers[0], name.split(".")[-1]).requires_grad)
    return fused


def _member_layer(layers: list[nn.Module]) -> nn.Module:
    """The fused layer for the same layer of every member (its spectral norm, if any, carried over)."""
    first = layers[0]
    kind = type(first)
    norms = None
    if parametrize.is_parametrized(first, "weight"):
        norms = [layer.parametrizations.weight[0] for layer in layers]
        if type(norms[0]).__name__ != "_SpectralNorm" or len(first.parametrizations.weight) != 1:
            raise UserError(f"fused training cannot stack the parametrisation {type(norms[0]).__name__}")
        kind = type(first).__mro__[1]  # torch subclasses a parametrised module: the layer's own class is its parent
        layers = [_with_plain_weight(layer) for layer in layers]
    fused = _keep_frozen(_MEMBER_LAYERS[kind](layers), layers)
    if norms is not None:
        parametrize.register_parametrization(fused, "weight", MemberSpectralNorm(norms), unsafe=True)
    return fused


def _with_plain_weight(layer: nn.Module) -> nn.Module:
    """A copy of a spectrally normalised layer whose `weight` is the stored (unnormalised) original."""
    plain = copy.deepcopy(layer)
    parametrize.remove_parametrizations(plain, "weight", leave_parametrized=False)
    return plain


def stack_models(models: list[nn.Module]) -> nn.Module:
    """One model whose layers hold every member's weights on a leading dimension. Its state_dict has the
    members' keys; `member_state(fused.state_dict(), m)` is member m's state dict, loadable into a separate model."""
    fused = copy.deepcopy(models[0])
    _stack_children(fused, models)
    return fused


def _stack_children(fused: nn.Module, models: list[nn.Module]) -> None:
    for name, child in list(fused.named_children()):
        same = [model.get_submodule(name) for model in models]
        if type(child) in _MEMBER_LAYERS or (parametrize.is_parametrized(child) and type(child).__mro__[1] in _MEMBER_LAYERS):
            setattr(fused, name, _member_layer(same))
            continue
        own = list(child.named_parameters(recurse=False)) + list(child.named_buffers(recurse=False))
        if own and not isinstance(child, parametrize.ParametrizationList):
            raise UserError(f"fused training cannot stack the layer {type(child).__name__} ({name}): "
                            "run this model without hydra/launcher=fused")
        _stack_children(child, same)


def member_state(state: dict, member: int) -> dict:
    """Member `member`'s share of a fused state dict (a model's, an optimiser's, an EMA's): in a fused model
    every tensor of one or more dimensions has the member dimension first and is sliced; scalars (a step
    count, num_batches_tracked) are shared."""
    def pick(value):
        if isinstance(value, torch.Tensor):
            return value[member].clone() if value.dim() > 0 else value.clone()
        if isinstance(value, dict):
            return {k: pick(v) for k, v in value.items()}
        if isinstance(value, list):
            return [pick(v) for v in value]
        return copy.deepcopy(value)

    return pick(state)


def stacked_state(states: list[dict]) -> dict:
    """The inverse of `member_state`: the members' state dicts with every tensor of one or more dimensions
    stacked on a new first dimension (scalars and plain values are the first member's)."""
    def stack(values):
        first = values[0]
        if isinstance(first, torch.Tensor):
            return torch.stack(values) if first.dim() > 0 else first
        if isinstance(first, dict):
            return {k: stack([v[k] for v in values]) for k in first}
        if isinstance(first, list):
            return [stack([v[i] for v in values]) for i in range(len(first))]
        return first

    return stack(states)


_REDUCTIONS = {torch.mean, torch.Tensor.mean, torch.sum, torch.Tensor.sum}
_LOSSES = {F.mse_loss, F.l1_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.cross_entropy,
           F.nll_loss, F.smooth_l1_loss}
_DRAWS = {torch.randn, torch.rand}
_DRAWS_LIKE = {torch.randn_like, torch.rand_like}
_UNSPLIT_DRAWS = {torch.normal, torch.randint, torch.randperm, torch.multinomial, torch.bernoulli,
                  torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.bernoulli_, torch.Tensor.random_,
                  torch.Tensor.exponential_, F.dropout2d, F.alpha_dropout}


class MemberSplit(TorchFunctionMode):
    """While active: full reductions give one value per member, and random draws come from each member's own
    generator (see the module's docstring). Draws given an explicit generator are the caller's own stream and
    pass untouched; reductions over a dimension are left alone (they stay inside each item)."""

    def __init__(self, generators: list[torch.Generator]):
        super().__init__()
        self.generators = generators
        self.members = len(generators)

    def _split(self, n: int, what: str) -> int:
        if n % self.members:
            raise UserError(f"fused training: {what} over {n} items cannot be split among {self.members} members")
        return n // self.members

    def _per_member(self, t: torch.Tensor, reduce) -> torch.Tensor:
        if t.dim() == 0:
            return reduce(t.reshape(1, 1)).squeeze(0)
        self._split(t.shape[0], "a reduction")
        return reduce(t.reshape(self.members, -1))

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _REDUCTIONS and len(args) == 1 and kwargs.get("dim") is None and "dtype" not in kwargs:
            mean = func in (torch.mean, torch.Tensor.mean)
            return self._per_member(args[0], lambda t: t.mean(1) if mean else t.sum(1))
        if func in _LOSSES and kwargs.get("reduction", "mean") != "none":
            reduction = kwargs.pop("reduction", "mean")
            per_item = func(*args, reduction="none", **kwargs)
            return self._per_member(per_item, lambda t: t.mean(1) if reduction == "mean" else t.sum(1))
        if func in _DRAWS and kwargs.get("generator") is None:
            size = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args
            return self._draw(func, tuple(size), kwargs)
        if func in _DRAWS_LIKE:
            like = args[0]
            draw = torch.randn if func is torch.randn_like else torch.rand
            return self._draw(draw, tuple(like.shape), {"dtype": kwargs.get("dtype") or like.dtype,
                                                         "device": kwargs.get("device") or like.device})
        if func is torch.cat and _dim(args, kwargs, 1) == 0 and len(args[0]) > 1:
            return self._cat(list(args[0]))
        if func is torch.Tensor.repeat and len(args) > 1:
            sizes = tuple(args[1]) if len(args) == 2 and not isinstance(args[1], int) else tuple(args[1:])
            if sizes[0] > 1 and len(sizes) == args[0].dim():
                return self._repeat(args[0], sizes)
        if func is F.dropout:
            return self._dropout(*args, **kwargs)
        if func in _UNSPLIT_DRAWS:
            raise UserError(f"fused training cannot yet give each member its own draws of {func.__name__}: "
                            "run this model without hydra/launcher=fused")
        return func(*args, **kwargs)

    def _cat(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        """Items joined along the batch: each member's items together, its own in the order given."""
        shares = [t.reshape(self.members, self._split(len(t), "joining batches"), *t.shape[1:]) for t in tensors]
        joined = torch.cat(shares, dim=1)
        return joined.reshape(-1, *joined.shape[2:])

    def _repeat(self, t: torch.Tensor, sizes: tuple) -> torch.Tensor:
        """A batch repeated: each member's items repeated within its own share."""
        share = t.reshape(self.members, self._split(len(t), "repeating a batch"), *t.shape[1:])
        repeated = share.repeat(1, *sizes)
        return repeated.reshape(-1, *repeated.shape[2:])

    def _draw(self, draw, size: tuple, kwargs: dict) -> torch.Tensor:
        if not size:
            raise UserError("fused training: a single random number cannot be split among members")
        share = self._split(size[0], f"a random draw of shape {list(size)}")
        kwargs = {k: v for k, v in kwargs.items() if k != "generator"}
        return torch.cat([draw(share, *size[1:], generator=g, **kwargs) for g in self.generators])

    def _dropout(self, x: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> torch.Tensor:
        if not training or p == 0:
            return x
        keep = self._draw(torch.rand, tuple(x.shape), {"device": x.device}) >= p
        return x * keep / (1 - p)


def _dim(args: tuple, kwargs: dict, position: int) -> int:
    return kwargs.get("dim", args[position] if len(args) > position else 0)


def member_generators(states: list[torch.Tensor], device: torch.device) -> list[torch.Generator]:
    """One generator per member on `device`, each set to that member's saved state."""
    generators = []
    for state in states:
        generator = torch.Generator(device=device)
        generator.set_state(state)
        generators.append(generator)
    return generators
