r"""Learning a field with autodiff: a small MLP in the Array API and an Adam loop written once.

Parameters are a dict of arrays; gradients come from the backend's ``value_and_grad`` (torch, jax). On backends
without it (numpy, cupy, array_api_strict) training raises :class:`transportkit.CapabilityError`. The network is
:math:`\hat b(t, x) = W_L \tanh(\cdots\tanh(W_1 [x, \phi(t)] + c_1)\cdots) + c_L` with time features
:math:`\phi(t) = (\cos 2\pi k t, \sin 2\pi k t)_{k=0..K-1}`, trained on the velocity loss of §1.3 (:mod:`.losses`).
Adam: :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
:math:`\theta \leftarrow \theta - \eta\,\hat m/(\sqrt{\hat v} + \epsilon)` with bias corrections.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, get_backend, requires, resolve_backend
from .._typing import Array
from .._validation import as_count, as_points
from ..errors import CapabilityError
from ..random import SEED_DEPRECATED, resolve_rng
from ._conditional import time_features
from .field import BoundField, Field, as_base
from .interpolant import Interpolant
from .losses import velocity_loss

__all__ = ["MLPModel", "adam", "init_mlp", "init_net", "mlp_apply", "net_apply", "train_velocity"]


def init_mlp(dim: int, hidden: tuple[int, ...] = (64, 64), n_time: int = 4, *, rng: Any = None, backend: Any = None,
             cond_dim: int = 0, seed: Any = SEED_DEPRECATED) -> dict[str, Array]:
    r"""Glorot-normal weights, zero biases: ``{"W0", "c0", ..., "WL", "cL"}`` on the backend (inputs
    :math:`[x, \xi, \phi(t)]` with ``cond_dim`` conditioning coordinates); ``rng``: SPEC 7 randomness of the
    weights (``seed=`` deprecated alias)."""
    be = get_backend(backend)
    return init_net(dim + cond_dim + 2 * n_time, hidden, dim, resolve_rng(rng, be, seed=seed), be)


def mlp_apply(params: dict[str, Any], t: Any, x: Any, xp: Any) -> Array:
    r"""The network at (t, x): :func:`net_apply` on :math:`[x, (\cos 2\pi k t, \sin 2\pi k t)_{k<K}]`; ``t`` a 0-d
    array or shape (n,)."""
    n_time = (params["W0"].shape[0] - x.shape[1]) // 2
    tf = time_features(t, n_time, x.shape[0], xp, x.dtype, getattr(x, "device", None))
    return net_apply(params, xp.concat([x, tf], axis=1), xp)


def init_net(n_in: int, hidden: tuple[int, ...], n_out: int, gen: Any, be: Backend) -> dict[str, Array]:
    """Glorot-normal weights and zero biases ``{"W0", "c0", ..., "WL", "cL"}`` of an MLP ``n_in -> hidden -> n_out``
    (Glorot & Bengio 2010), drawn from ``gen`` on ``be``: the one initializer of the package's MLPs."""
    sizes = [n_in, *hidden, n_out]
    p = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        p[f"W{i}"] = gen.normal((a, b)) * math.sqrt(2.0 / (a + b))
        p[f"c{i}"] = be.xp.zeros((b,), dtype=be.dtype, device=be.device)
    return p


def net_apply(params: dict[str, Any], h: Any, xp: Any) -> Array:
    """The tanh MLP of :func:`init_net` at inputs ``h`` (n, n_in): tanh hidden layers, a linear last layer."""
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[f"W{i}"] + params[f"c{i}"]
        if i < n_layers - 1:
            h = xp.tanh(h)
    return h


def adam(
    be: Backend,
    loss: Callable[[dict[str, Any], Any], Any],
    params: dict[str, Any],
    batches: Callable[[int], Any],
    *,
    steps: int,
    lr: float = 2e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> tuple[dict[str, Any], list[float]]:
    """Minimize ``loss(params, batch)`` with Adam for ``steps`` steps; ``batches(i)`` gives the i-th batch.
    One loop for every backend with ``value_and_grad``; on JAX each update is ``jit``-compiled once."""
    vg = be.require("value_and_grad")
    xp = be.xp
    m = {k: xp.zeros_like(v) for k, v in params.items()}
    v2 = {k: xp.zeros_like(v) for k, v in params.items()}

    def update(params, m, v2, batch, c1, c2):
        val, g = vg(loss)(params, batch)
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in params}
        v2 = {k: b2 * v2[k] + (1 - b2) * g[k] * g[k] for k in params}
        params = {k: params[k] - lr * (m[k] / c1) / (xp.sqrt(v2[k] / c2) + eps) for k in params}
        return params, m, v2, val

    step = be.maybe_jit(update)
    history = []
    for i in range(steps):
        c1, c2 = 1 - b1 ** (i + 1), 1 - b2 ** (i + 1)
        params, m, v2, val = step(params, m, v2, batches(i), c1, c2)
        if i % 50 == 0 or i == steps - 1:
            history.append(float(val))
    return params, history


class MLPModel(Field):
    """A trained MLP velocity field; ``divergence`` by an autodiff Jacobian trace (small d), ``score`` by the
    one-sided conversion."""

    def __init__(self, interpolant: Interpolant, params: dict[str, Any], backend: Backend, info: dict, *,
                 base: Any = None, cond_dim: int = 0):
        self.interpolant = interpolant
        self.params = params
        self.backend = backend
        self.dim = int(params[f"c{len(params) // 2 - 1}"].shape[0])
        self.info = info
        self.base = base
        self.cond_dim = int(cond_dim)
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def _make_bound(self, be: Backend) -> BoundField:
        return _BoundMLP(be, self)


class _BoundMLP(BoundField):
    def __init__(self, be: Backend, model: MLPModel):
        super().__init__(be, model.interpolant, model.dim)
        self.p = model.params if be is model.backend else {k: be.asarray(v) for k, v in model._host.items()}

        self.cond_dim = model.cond_dim

    def velocity(self, t: Any, x: Any) -> Any:
        if self.cond_dim:
            raise CapabilityError("this model is conditioned on xi: sample it with tk.sample(model.given(x0, xi), n)")
        return mlp_apply(self.p, t, x, self.xp)

    def velocity_xi(self, t: Any, x: Any, xi: Any) -> Any:
        return mlp_apply(self.p, t, self.xp.concat([x, xi], axis=1), self.xp)


@requires("value_and_grad")
def train_velocity(
    interpolant: Interpolant | str,
    x1: Any = None,
    *,
    x0: Any = None,
    base: Any = None,
    coupling: Any = None,
    hidden: tuple[int, ...] = (64, 64),
    n_time: int = 4,
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 2e-3,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> MLPModel:
    r"""Train an MLP velocity on the velocity loss of §1.3 with Adam (torch, jax; else ``CapabilityError``);
    ``rng``: initialization and batches (SPEC 7; ``seed=`` deprecated alias). The pairs come from ``x1`` with
    fresh :math:`N(0, I)` base draws, or paired rows ``x0`` (then the model's base is their empirical law), or
    draws of ``base`` (a Target), or a ``coupling`` (:mod:`~transportkit.interpolants.couplings`; its conditioning
    :math:`\xi` is an extra network input). The model samples from its own base with ``tk.sample``."""
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    be = resolve_backend(x1, x0, backend=backend if backend is not None or x1 is not None
                         else getattr(coupling, "backend", None))
    be.require("value_and_grad")
    xp = be.xp
    steps = as_count("steps", steps)
    batch_size = as_count("batch_size", batch_size)
    gen = resolve_rng(rng, be, seed=seed)
    if coupling is not None:
        if x1 is not None or x0 is not None or base is not None:
            raise ValueError("give either coupling= or x1 (with x0= or base=), not both")
        d, k, base_spec = coupling.dim, coupling.cond_dim, coupling

        def pairs(i):
            return coupling._draw(batch_size, None, gen, be)
    else:
        if x1 is None:
            raise TypeError("x1 (target samples) is required unless coupling= is given")
        x1 = as_points("x1", x1, be)
        n, d = x1.shape
        k = 0
        if x0 is not None and base is not None:
            raise ValueError("give x0= (paired base samples) or base= (a law), not both")
        if x0 is not None:
            x0 = as_points("x0", x0, be, dim=d)
            if x0.shape[0] != n:
                raise ValueError(f"x0 must have the shape of x1 {(n, d)}, got {tuple(x0.shape)}")
        base_spec = as_base(x0 if x0 is not None else base, d)
        law = base_spec

        def pairs(i):
            idx = gen.integers(0, n, (batch_size,))
            xb = xp.take(x1, idx, axis=0)
            return (law.sample(batch_size, gen, be) if x0 is None else xp.take(x0, idx, axis=0)), xb, None

    params = init_mlp(d, hidden, n_time, rng=int(be.to_numpy(gen.integers(0, 2**31))), backend=be, cond_dim=k)

    def batches(i):
        x0b, xb, xib = pairs(i)
        return gen.uniform((batch_size,)), x0b, xb, gen.normal((batch_size, d)), xib

    def loss(p, batch):
        t, x0b, xb, z, xib = batch
        if xib is None:
            return velocity_loss(lambda tt, x: mlp_apply(p, tt, x, xp), I, t, x0b, xb, z)
        return velocity_loss(lambda tt, x: mlp_apply(p, tt, xp.concat([x, xib], axis=1), xp), I, t, x0b, xb, z)

    params, hist = adam(be, loss, params, batches, steps=steps, lr=lr)
    return MLPModel(I, params, be, {"loss_history": hist, "steps": steps}, base=base_spec, cond_dim=k)
