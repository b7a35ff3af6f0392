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
from ..random import SEED_DEPRECATED, default_rng, resolve_rng
from .field import BoundField, Field
from .interpolant import Interpolant
from .losses import velocity_loss

__all__ = ["MLPModel", "adam", "init_mlp", "mlp_apply", "train_velocity"]


def init_mlp(dim: int, hidden: tuple[int, ...] = (64, 64), n_time: int = 4, *, seed: Any = 0, backend: Any = None):
    """Glorot-normal weights, zero biases: ``{"W0", "c0", ..., "WL", "cL"}`` on the backend."""
    be = get_backend(backend)
    gen = default_rng(seed, be)
    sizes = [dim + 2 * n_time, *hidden, dim]
    p = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        p[f"W{i}"] = gen.normal((a, b)) * math.sqrt(2.0 / (a + b))
        p[f"c{i}"] = be.xp.zeros((b,), dtype=be.dtype, device=be.device)
    return p


def mlp_apply(params: dict[str, Any], t: Any, x: Any, xp: Any) -> Any:
    """The network at (t, x); ``t`` a 0-d array or shape (n,)."""
    n_layers = len(params) // 2
    n_time = (params["W0"].shape[0] - x.shape[1]) // 2
    tt = t[:, None] if t.ndim == 1 else t * xp.ones((x.shape[0], 1), dtype=x.dtype)
    k = xp.arange(n_time, dtype=x.dtype)
    if hasattr(x, "device"):
        k = xp.asarray(k, device=x.device)
    ang = 2.0 * math.pi * tt * k
    h = xp.concat([x, xp.cos(ang), xp.sin(ang)], axis=1)
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

    def __init__(self, interpolant: Interpolant, params: dict[str, Any], backend: Backend, info: dict):
        self.interpolant = interpolant
        self.params = params
        self.backend = backend
        self.dim = int(params[f"c{len(params) // 2 - 1}"].shape[0])
        self.info = info
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def _make_bound(self, be: Backend) -> BoundField:
        return _BoundMLP(be, self)


class _BoundMLP(BoundField):
    def __init__(self, be: Backend, model: MLPModel):
        super().__init__(be, model.interpolant, model.dim)
        self.p = model.params if be is model.backend else {k: be.asarray(v) for k, v in model._host.items()}

    def velocity(self, t: Any, x: Any) -> Any:
        return mlp_apply(self.p, t, x, self.xp)


@requires("value_and_grad")
def train_velocity(
    interpolant: Interpolant | str,
    x1: Any,
    *,
    hidden: tuple[int, ...] = (64, 64),
    n_time: int = 4,
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 2e-3,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> MLPModel:
    """Train an MLP velocity on the velocity loss of §1.3 with Adam (torch, jax; else ``CapabilityError``);
    ``rng``: initialization and batches (SPEC 7; ``seed=`` deprecated alias)."""
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    be = resolve_backend(x1, backend=backend)
    be.require("value_and_grad")
    xp = be.xp
    x1 = be.asarray(x1)
    if x1.ndim != 2:
        raise ValueError(f"x1 must have shape (n, d), got {tuple(x1.shape)}")
    n, d = x1.shape
    gen = resolve_rng(rng, be, seed=seed)
    params = init_mlp(d, hidden, n_time, seed=int(be.to_numpy(gen.integers(0, 2**31))), backend=be)

    def batches(i):
        idx = gen.integers(0, n, (batch_size,))
        return (
            gen.uniform((batch_size,)),
            gen.normal((batch_size, d)),
            xp.take(x1, idx, axis=0),
            gen.normal((batch_size, d)),
        )

    def loss(p, batch):
        t, x0, xb, z = batch
        return velocity_loss(lambda tt, x: mlp_apply(p, tt, x, xp), I, t, x0, xb, z)

    params, hist = adam(be, loss, params, batches, steps=steps, lr=lr)
    return MLPModel(I, params, be, {"loss_history": hist, "steps": steps})
