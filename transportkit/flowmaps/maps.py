r"""Two-time flow maps :math:`X_{s,t}` of the probability-flow ODE :math:`\dot x = b_t(x)` of an interpolant.

:math:`X_{s,t}` sends :math:`x_s` to :math:`x_t` along the ODE: :math:`X_{s,s} = \mathrm{id}`, the semigroup
:math:`X_{u,t}\circ X_{s,u} = X_{s,t}` (so :math:`X_{t,s} = X_{s,t}^{-1}`), the Lagrangian equation
:math:`\partial_t X_{s,t}(x) = b_t(X_{s,t}(x))`, the Eulerian equation
:math:`\partial_s X_{s,t}(x) + \nabla X_{s,t}(x)\, b_s(x) = 0`. Every map here is parametrized as

.. math:: X_{s,t}(x) = x + (t - s)\,\varphi_{s,t}(x),

so that :math:`X_{s,s} = \mathrm{id}` holds by construction and the tangent condition gives the velocity on the
diagonal, :math:`b_t(x) = \varphi_{t,t}(x)` (:math:`\varphi_{s,t}` is the average velocity over :math:`[s, t]`).
Sources: Boffi, Albergo & Vanden-Eijnden, "Flow Map Matching" (2024, arXiv:2406.07507) and "How to build a
consistency model: Learning flow maps via self-distillation" (2025, arXiv:2505.18825).

- :class:`GaussianFlowMap`: the closed form for a one-sided interpolant :math:`x_t = \alpha_t z + \beta_t x_1`
  between :math:`N(0, I)` and :math:`N(m, C)`: with :math:`\mu_t = \beta_t m` and
  :math:`\Sigma_t = \alpha_t^2 I + \beta_t^2 C` (which commute with :math:`C`),
  :math:`X_{s,t}(x) = \mu_t + \Sigma_t^{1/2}\Sigma_s^{-1/2}(x - \mu_s)`, per eigenmode :math:`\lambda` of
  :math:`C` the factor :math:`\sqrt{(\alpha_t^2 + \beta_t^2\lambda)/(\alpha_s^2 + \beta_s^2\lambda)}`.
- :class:`ODEFlowMap`: any field (e.g. the exact field of a Gaussian mixture) integrated from ``s`` to ``t`` per
  sample, :math:`\frac{d}{d\tau}y = (t - s)\, b(s + \tau(t-s), y)` on :math:`\tau\in[0,1]` with many RK4 steps: the
  tight reference where no closed form exists.
- :class:`MLPFlowMap`: a learned two-time network :math:`\varphi_{s,t}(x)` (see :mod:`.train`).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._capabilities import declare
from .._typing import Array
from .._validation import as_count, as_points
from ..integrate import grid_times, odeint
from ..interpolants.exact import exact_field
from ..interpolants.field import BoundField, Field
from ..interpolants.interpolant import Interpolant
from ..interpolants.mlp import init_net
from ..targets import Gaussian, GaussianMixture

__all__ = [
    "BoundFlowMap",
    "FlowMap",
    "GaussianFlowMap",
    "MLPFlowMap",
    "ODEFlowMap",
    "exact_flow_map",
    "init_phi_mlp",
    "phi_mlp_apply",
]


def _col(t: Any) -> Any:
    return t[:, None] if t.ndim == 1 else t


class BoundFlowMap(BoundField):
    """A flow map on one backend: ``map(s, t, x)``, ``phi(s, t, x)`` and ``velocity(t, x)`` take arrays of that
    backend (``s``, ``t`` 0-d or shape (n,), ``x`` of shape (n, d)) and resolve nothing. Subclasses implement
    ``phi`` (and may override ``map`` with a closed form)."""

    def phi(self, s: Any, t: Any, x: Any) -> Any:
        raise NotImplementedError

    def map(self, s: Any, t: Any, x: Any) -> Any:
        return x + _col(t - s) * self.phi(s, t, x)

    def velocity(self, t: Any, x: Any) -> Any:
        return self.phi(t, t, x)

    def transport(self, x: Any, ts: list[float]) -> Any:
        """Compose the maps along the grid ``ts`` (any direction): :math:`X_{t_{K-1},t_K}\\circ\\cdots\\circ
        X_{t_0,t_1}(x)`."""
        xp, be = self.xp, self.be
        for a, b in itertools.pairwise(ts):
            x = self.map(xp.asarray(a, dtype=x.dtype, device=be.device), xp.asarray(b, dtype=x.dtype, device=be.device),
                         x)
        return x


class FlowMap(Field):
    r"""A two-time flow map :math:`X_{s,t}(x) = x + (t - s)\varphi_{s,t}(x)` of an interpolant's probability flow.

    It is a :class:`~transportkit.interpolants.Field` whose velocity is the diagonal
    :math:`b_t(x) = \varphi_{t,t}(x)`, so the ODE samplers accept it too. Call it as ``X(s, t, x)``;
    ``X.phi(s, t, x)`` is the average velocity. Sample with
    ``tk.sample(X, n, method="flow_map", steps=K, rng=...)``; :meth:`transport` composes maps on any grid (a
    decreasing grid from 1 to 0 is the encoder :math:`X_{1,0}`).
    """

    def _times(self, s: Any, t: Any, x: Any, backend: Any) -> tuple[BoundFlowMap, Any, Any, Any]:
        be = resolve_backend(x, s, t, backend=backend)
        x = as_points("x", x, be, dim=self.dim)
        xp = be.xp
        out = []
        for name, v in (("s", s), ("t", t)):
            a = be.asarray(v)
            if a.ndim not in (0, 1) or (a.ndim == 1 and a.shape[0] != x.shape[0]):
                raise ValueError(f"{name} must be a scalar or have shape ({x.shape[0]},), got {tuple(a.shape)}")
            if bool(xp.any(xp.isnan(a))) or bool(xp.any(a < 0.0)) or bool(xp.any(a > 1.0)):
                raise ValueError(f"{name} must lie in [0, 1], got values in [{float(xp.min(a))}, {float(xp.max(a))}]")
            out.append(a)
        return self.bind(be), out[0], out[1], x

    def __call__(self, s: Any, t: Any, x: Any, *, backend: Any = None) -> Any:
        """:math:`X_{s,t}(x)`, shape (n, d); ``s``, ``t`` scalars or shape (n,) in [0, 1]."""
        bf, s, t, x = self._times(s, t, x, backend)
        return bf.map(s, t, x)

    def phi(self, s: Any, t: Any, x: Any, *, backend: Any = None) -> Any:
        r""":math:`\varphi_{s,t}(x)` (the average velocity over :math:`[s, t]`; the velocity on the diagonal)."""
        bf, s, t, x = self._times(s, t, x, backend)
        return bf.phi(s, t, x)

    def transport(self, x: Any, s: float = 0.0, t: float = 1.0, *, steps: int = 1, grid: Any = None,
                  backend: Any = None) -> Any:
        """``x`` carried from time ``s`` to ``t`` by ``steps`` uniform jumps (or along an explicit ``grid``)."""
        be = resolve_backend(x, backend=backend)
        x = as_points("x", x, be, dim=self.dim)
        steps = as_count("steps", steps)
        ts = grid_times(grid, steps, (float(s), float(t)), be)
        if not (0.0 <= min(ts) and max(ts) <= 1.0):
            raise ValueError(f"the time grid must lie in [0, 1], got [{min(ts)}, {max(ts)}]")
        return self.bind(be).transport(x, ts)


# ---------------------------------------------------------------------------------------------- exact maps
@declare()
def exact_flow_map(interpolant: Interpolant | str, target: GaussianMixture, *, steps: int = 400) -> FlowMap:
    r"""The flow map of ``interpolant``'s probability flow from :math:`N(0, I)` to ``target``.

    A :class:`~transportkit.targets.Gaussian` target with a one-sided interpolant (:math:`\gamma = 0`) gets the
    closed form :class:`GaussianFlowMap` (differentiable in ``s``, ``t``, ``x`` on autodiff backends); any other
    Gaussian-mixture target (or a two-sided interpolant) gets :class:`ODEFlowMap` of the exact field, integrated
    per call with ``steps`` RK4 steps (error :math:`O(\text{steps}^{-4})`)."""
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    if not isinstance(I, Interpolant):
        raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(I).__name__}")
    if not isinstance(target, GaussianMixture):
        raise TypeError(f"target must be a Gaussian or GaussianMixture, got {type(target).__name__}")
    steps = as_count("steps", steps)
    if isinstance(target, Gaussian) or target.n_components == 1:
        if I.one_sided:
            return GaussianFlowMap(I, target)
    return ODEFlowMap(exact_field(I, target), steps=steps)


class GaussianFlowMap(FlowMap):
    """Closed-form flow map between :math:`N(0, I)` and :math:`N(m, C)` (one-sided interpolant); see the module."""

    def __init__(self, interpolant: Interpolant, target: GaussianMixture):
        xp = host_backend().xp
        h = target._host
        self.interpolant = interpolant
        self.target = target
        self.dim = target.dim
        self.backend = target.backend
        C = h["covs"][0, ...]
        lam, V = xp.linalg.eigh((C + xp.linalg.matrix_transpose(C)) / 2)
        if not bool(xp.all(lam > 0)):
            raise ValueError("the target covariance must be positive definite")
        self._host = {"m": xp.asarray(h["means"][0, ...], copy=True), "lam": lam, "V": V}

    def __repr__(self) -> str:
        return f"GaussianFlowMap({self.interpolant!r}, {self.target!r})"

    def _make_bound(self, be: Backend) -> BoundFlowMap:
        return _BoundGaussian(be, self)


class _BoundGaussian(BoundFlowMap):
    def __init__(self, be: Backend, fm: GaussianFlowMap):
        super().__init__(be, fm.interpolant, fm.dim)
        self.m, self.lam, self.V = (be.asarray(fm._host[k]) for k in ("m", "lam", "V"))

    def _var(self, t: Any) -> tuple[Any, Any]:
        c = self.interpolant.coefficients(_col(t), self.xp)
        return c, c.a * c.a + c.b * c.b * self.lam

    def map(self, s: Any, t: Any, x: Any) -> Any:
        xp = self.xp
        cs, vs = self._var(s)
        ct, vt = self._var(t)
        y = (x - cs.b * self.m) @ self.V
        return ct.b * self.m + (y * xp.sqrt(vt / vs)) @ xp.linalg.matrix_transpose(self.V)

    def velocity(self, t: Any, x: Any) -> Any:
        c, v = self._var(t)
        y = (x - c.b * self.m) @ self.V
        return c.bd * self.m + (y * ((c.aad + c.bbd * self.lam) / v)) @ self.xp.linalg.matrix_transpose(self.V)

    def phi(self, s: Any, t: Any, x: Any) -> Any:
        return _phi_from_map(self, s, t, x)


def _phi_from_map(bf: BoundFlowMap, s: Any, t: Any, x: Any) -> Any:
    """:math:`(X_{s,t}(x) - x)/(t - s)`, the velocity where ``t == s`` (no division by zero in either branch)."""
    xp = bf.xp
    dt = _col(t - s)
    zero = dt == 0
    if dt.ndim == 0 and bool(zero):
        return bf.velocity(t, x)
    safe = xp.where(zero, xp.ones_like(dt), dt)
    avg = (bf.map(s, t, x) - x) / safe
    if dt.ndim == 0 or not bool(xp.any(zero)):
        return avg
    return xp.where(zero, bf.velocity(t, x), avg)


class ODEFlowMap(FlowMap):
    r"""The flow map of a field by numerical integration: per sample
    :math:`\frac{d}{d\tau} y = (t - s)\,b(s + \tau(t - s), y)`, :math:`\tau \in [0, 1]`, ``steps`` RK4 steps."""

    def __init__(self, field: Field, *, steps: int = 400):
        self.field = field
        self.interpolant = field.interpolant
        self.dim = field.dim
        self.backend = field.backend
        self.steps = as_count("steps", steps)

    def __repr__(self) -> str:
        return f"ODEFlowMap({self.field!r}, steps={self.steps})"

    def _make_bound(self, be: Backend) -> BoundFlowMap:
        return _BoundODE(be, self)


class _BoundODE(BoundFlowMap):
    def __init__(self, be: Backend, fm: ODEFlowMap):
        super().__init__(be, fm.interpolant, fm.dim)
        self.fm = fm
        self.bf = fm.field.bind(be)

    def velocity(self, t: Any, x: Any) -> Any:
        return self.bf.velocity(t, x)

    def map(self, s: Any, t: Any, x: Any) -> Any:
        xp = self.xp
        n = x.shape[0]
        ones = xp.ones((n,), dtype=x.dtype, device=self.be.device)
        s1, dt = s * ones, (t - s) * ones
        bf = self.bf

        def f(tau: Any, y: Any) -> Any:
            return dt[:, None] * bf.velocity(s1 + tau * dt, y)

        return odeint(f, x, steps=self.fm.steps, t_span=(0.0, 1.0), solver="rk4", backend=self.be)

    def phi(self, s: Any, t: Any, x: Any) -> Any:
        return _phi_from_map(self, s, t, x)


# ---------------------------------------------------------------------------------------------- learned maps
def init_phi_mlp(dim: int, hidden: tuple[int, ...], n_time: int, gen: Any, be: Backend) -> dict[str, Any]:
    """Glorot-normal weights, zero biases of the two-time network (inputs: ``x`` and the time features)."""
    return init_net(dim + 3 + 4 * n_time, hidden, dim, gen, be)


def time_features(s: Any, t: Any, n: int, n_time: int, xp: Any, like: Any) -> Any:
    r"""(n, 3 + 4K) features :math:`(s, t, t - s, \cos\pi k s, \sin\pi k s, \cos\pi k t, \sin\pi k t)_{k=1..K}`
    (period 2 in time, so that :math:`(s, t) = (0, 1)` and :math:`(0, 0)` are told apart)."""
    ones = xp.ones((n, 1), dtype=like.dtype, device=getattr(like, "device", None))
    sc, tc = _col(s) * ones, _col(t) * ones
    k = xp.asarray([float(j) for j in range(1, n_time + 1)], dtype=like.dtype, device=getattr(like, "device", None))
    parts = [sc, tc, tc - sc]
    if n_time:
        ps, pt = math.pi * sc * k, math.pi * tc * k
        parts += [xp.cos(ps), xp.sin(ps), xp.cos(pt), xp.sin(pt)]
    return xp.concat(parts, axis=1)


def phi_mlp_apply(params: dict[str, Any], s: Any, t: Any, x: Any, xp: Any) -> Array:
    r""":math:`\varphi_{s,t}(x) = W_L\,\sigma(\cdots\sigma(W_1[x, \tau(s,t)] + c_1)\cdots) + c_L` with the SiLU
    :math:`\sigma(h) = h/(1 + e^{-h}) = h(1 + \tanh(h/2))/2` and the time features :func:`time_features`."""
    n_layers = len(params) // 2
    n_time = (params["W0"].shape[0] - x.shape[1] - 3) // 4
    h = xp.concat([x, time_features(s, t, x.shape[0], n_time, xp, x)], axis=1)
    for i in range(n_layers):
        h = h @ params[f"W{i}"] + params[f"c{i}"]
        if i < n_layers - 1:
            h = h * (0.5 + 0.5 * xp.tanh(0.5 * h))  # SiLU; the sigmoid as tanh: no exp overflow, no NaN gradient
    return h


class MLPFlowMap(FlowMap):
    r"""A learned flow map :math:`X_{s,t}(x) = x + (t-s)\varphi_{s,t}(x)` with :math:`\varphi` a two-time MLP
    (:func:`phi_mlp_apply`); ``params`` live on ``backend``, other backends get a copy through the host."""

    def __init__(self, interpolant: Interpolant, params: dict[str, Any], backend: Backend, info: dict | None = None):
        self.interpolant = interpolant
        self.params = params
        self.backend = backend
        self.dim = int(params[f"c{len(params) // 2 - 1}"].shape[0])
        self.info = dict(info or {})
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def __repr__(self) -> str:
        widths = [int(self.params[f"c{i}"].shape[0]) for i in range(len(self.params) // 2 - 1)]
        return f"MLPFlowMap({self.interpolant!r}, dim={self.dim}, hidden={tuple(widths)})"

    def _make_bound(self, be: Backend) -> BoundFlowMap:
        mine = self.backend
        same = be.name == mine.name and str(be.device) == str(mine.device) and be.dtype == mine.dtype
        params = self.params if same else {k: be.asarray(v) for k, v in self._host.items()}
        return ParamFlowMap(be, self.interpolant, self.dim, params)


class ParamFlowMap(BoundFlowMap):
    """The MLP flow map with explicit parameters (what the losses differentiate; the teacher is the same class
    holding the same parameters as constants: the stop-gradient of the self-distillation losses)."""

    def __init__(self, be: Backend, interpolant: Interpolant, dim: int, params: dict[str, Any]):
        super().__init__(be, interpolant, dim)
        self.params = params

    def phi(self, s: Any, t: Any, x: Any) -> Any:
        return phi_mlp_apply(self.params, s, t, x, self.xp)
