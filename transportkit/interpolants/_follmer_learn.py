r"""Learned forecasting drifts: ridge least squares on tensor features (any backend) and an MLP (torch, jax).

Both minimize :math:`E|\hat b(s, I_s; x_0) - (\dot\alpha x_0 + \dot\beta x_1 + \dot\sigma W_s)|^2` over
pairs (current state, future state) (Chen, Goldstein, Hua, Albergo, Boffi & Vanden-Eijnden 2024, arXiv:2403.13724).
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._capabilities import declare
from .._validation import as_count, as_points, as_real
from ..random import resolve_rng
from ._conditional import lstsq_fit, time_features
from ._follmer import ConditionalDrift, FollmerInterpolant, _BoundDrift, _check_interpolant
from .fit import TensorFeatures
from .mlp import adam, init_net, net_apply

__all__ = ["FeatureDrift", "MLPDrift", "fit_drift", "train_drift"]


def _paired(interpolant: Any, x0: Any, x1: Any, backend: Any) -> tuple[Backend, Any, Any]:
    """The checked entry of a forecasting fit: the interpolant, the backend, and ``x0``, ``x1`` as paired (n, d) points
    (rows are pairs)."""
    _check_interpolant(interpolant)
    be = resolve_backend(x0, x1, backend=backend)
    x1 = as_points("x1", x1, be)
    x0 = as_points("x0", x0, be, dim=x1.shape[1])
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must be paired (n, d) arrays, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    return be, x0, x1


class FeatureDrift(ConditionalDrift):
    r"""A fitted drift :math:`\hat b(s, x; x_0) = \sum_{a,j}\Theta_{aj} P_a(s)\psi_j([x, x_0])` (tensor features of
    :class:`~transportkit.interpolants.TensorFeatures` on the 2d-dimensional input)."""

    def __init__(self, interpolant: FollmerInterpolant, features: TensorFeatures, theta: Any, backend: Backend,
                 info: dict):
        self.interpolant, self.features, self.dim, self.info = interpolant, features, features.dim // 2, info
        self.theta = theta
        self._theta_host = host_backend().asarray(backend.to_numpy(theta))

    def _make_bound(self, be: Backend) -> _BoundDrift:
        return _BoundFeatureDrift(be, self)


class _BoundFeatureDrift(_BoundDrift):
    def __init__(self, be: Backend, model: FeatureDrift):
        super().__init__(be, model.interpolant, model.dim)
        self.F, self.p, self.theta = model.features, model.features.params(be), be.asarray(model._theta_host)
        F = self.F
        self.theta3 = be.xp.reshape(self.theta, (F.n_time, F.n_space, self.dim))  # time-major, as the features

    def drift(self, s: Any, x: Any, x0: Any) -> Any:
        xp = self.xp
        u = xp.concat([x, x0], axis=1)
        if s.ndim == 0:  # one s for all points: Theta(s) = sum_a P_a(s) Theta_a, then psi @ Theta(s)
            psi, _ = self.F.space(u, self.p, xp)
            return psi @ xp.sum(self.F.time(s, xp)[:, None, None] * self.theta3, axis=0)
        return self.F(s, u, self.p, xp) @ self.theta


@declare(name="tk.interpolants.forecasting.fit_drift")
def fit_drift(
    interpolant: FollmerInterpolant,
    x0: Any,
    x1: Any,
    *,
    features: TensorFeatures | None = None,
    ridge: float = 1e-8,
    repeats: int = 1,
    chunk_size: int = 4096,
    rng: Any = None,
    backend: Any = None,
) -> FeatureDrift:
    r"""Fit the forecasting drift by ridge least squares on pairs ``(x0[i], x1[i])`` (current, future state):
    the regression of :math:`\dot\alpha x_0 + \dot\beta x_1 + \dot\sigma W_s` on features of
    :math:`(s, I_s, x_0)`, s uniform on [0, 1], :math:`W_s = \sqrt s\,\zeta` (Chen et al. 2024, arXiv:2403.13724).

    ``features``: a :class:`~transportkit.interpolants.TensorFeatures` of dimension 2d (default: degree-6 Legendre
    in s times 128 two-scale Fourier features of :math:`[x, x_0]`); ``repeats``: passes over the pairs with fresh
    (s, ζ); ``rng``: SPEC 7 randomness."""
    be, x0, x1 = _paired(interpolant, x0, x1, backend)
    xp = be.xp
    n, d = x1.shape
    if n < 2:
        raise ValueError(f"need at least 2 pairs, got {n}")
    ridge = as_real("ridge", ridge, low=0.0)
    repeats, chunk_size = as_count("repeats", repeats), as_count("chunk_size", chunk_size)
    gen = resolve_rng(rng, be)
    if features is None:
        sd = max(float(xp.mean(xp.std(x1, axis=0))), 1e-12)
        fseed = int(be.to_numpy(gen.integers(0, 2**31, (1,)))[0])
        features = TensorFeatures(2 * d, bandwidth=(sd, 0.25 * sd), rng=fseed)
    if not isinstance(features, TensorFeatures) or features.dim != 2 * d:
        raise ValueError(f"features must be TensorFeatures of dimension 2d = {2 * d} (inputs [x, x0])")
    p = features.params(be)

    def chunk(start: int, stop: int) -> tuple[Any, Any]:
        m = stop - start
        s = gen.uniform((m,))
        xa, xb = x0[start:stop, ...], x1[start:stop, ...]
        it, y = interpolant.interpolate(s, xa, xb, gen.normal((m, d)))
        return features(s, xp.concat([it, xa], axis=1), p, xp), y

    theta, info = lstsq_fit(be, n, chunk_size, repeats, chunk, ridge)
    info["loss_minus_const"] *= 0.5
    return FeatureDrift(interpolant, features, theta, be, info)


class MLPDrift(ConditionalDrift):
    """A trained MLP drift on inputs :math:`[x, x_0, \\cos 2\\pi k s, \\sin 2\\pi k s]`."""

    def __init__(self, interpolant: FollmerInterpolant, params: dict, n_time: int, dim: int, backend: Backend,
                 info: dict):
        self.interpolant, self.params, self.n_time, self.dim, self.info = interpolant, params, n_time, dim, info
        self.backend = backend
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def _make_bound(self, be: Backend) -> _BoundDrift:
        return _BoundMLPDrift(be, self)


def _mlp_drift(p: dict, n_time: int, s: Any, x: Any, x0: Any, xp: Any) -> Any:
    tf = time_features(s, n_time, x.shape[0], xp, x.dtype, getattr(x, "device", None))
    return net_apply(p, xp.concat([x, x0, tf], axis=1), xp)


class _BoundMLPDrift(_BoundDrift):
    def __init__(self, be: Backend, model: MLPDrift):
        super().__init__(be, model.interpolant, model.dim)
        self.n_time = model.n_time
        self.p = model.params if be is model.backend else {k: be.asarray(v) for k, v in model._host.items()}

    def drift(self, s: Any, x: Any, x0: Any) -> Any:
        return _mlp_drift(self.p, self.n_time, s, x, x0, self.xp)


@declare(needs=("value_and_grad",), name="tk.interpolants.forecasting.train_drift")
def train_drift(
    interpolant: FollmerInterpolant,
    x0: Any,
    x1: Any,
    *,
    hidden: tuple[int, ...] = (64, 64),
    n_time: int = 4,
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 2e-3,
    rng: Any = None,
    backend: Any = None,
) -> MLPDrift:
    r"""Train an MLP forecasting drift with Adam on the quadratic loss
    :math:`E[\tfrac12|\hat b|^2 - (\dot\alpha x_0 + \dot\beta x_1 + \dot\sigma W_s)\cdot\hat b]` (its minimizer is
    the drift; Chen et al. 2024, arXiv:2403.13724). Needs ``value_and_grad`` (torch, jax); ``rng``: SPEC 7."""
    be, x0, x1 = _paired(interpolant, x0, x1, backend)
    be.require("value_and_grad")
    xp = be.xp
    n, d = x1.shape
    steps, batch_size = as_count("steps", steps), as_count("batch_size", batch_size)
    n_time = as_count("n_time", n_time, low=0)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    hidden = tuple(as_count("hidden", h) for h in hidden)
    gen = resolve_rng(rng, be)
    params = init_net(2 * d + 2 * n_time, hidden, d, gen, be)

    def batches(i: int) -> tuple:
        idx = gen.integers(0, n, (batch_size,))
        return gen.uniform((batch_size,)), xp.take(x0, idx, axis=0), xp.take(x1, idx, axis=0), \
            gen.normal((batch_size, d))

    def loss(p: dict, batch: tuple) -> Any:
        s, xa, xb, z = batch
        it, y = interpolant.interpolate(s, xa, xb, z)
        out = _mlp_drift(p, n_time, s, it, xa, xp)
        return xp.mean(xp.sum(0.5 * out * out - y * out, axis=1))

    params, hist = adam(be, loss, params, batches, steps=steps, lr=lr)
    return MLPDrift(interpolant, params, n_time, d, be, {"loss_history": hist, "steps": steps})
