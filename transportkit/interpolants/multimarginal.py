r"""Multimarginal stochastic interpolants: K + 1 marginals joined on the simplex.

Albergo, Boffi, Lindsey & Vanden-Eijnden, "Multimarginal Generative Modeling with Stochastic Interpolants",
ICLR 2024, arXiv:2310.03695.

With marginals :math:`\rho_0, \dots, \rho_K` (independent draws :math:`x_k \sim \rho_k`) and "time"
:math:`\alpha` on the simplex :math:`\Delta^K = \{\alpha_k \ge 0, \sum_k \alpha_k = 1\}`,

.. math:: x(\alpha) = \sum_k \alpha_k x_k,\qquad g_k(\alpha, x) = E[x_k \mid x(\alpha) = x],

and :math:`g_k` minimizes :math:`\sum_k E[|\hat g_k(\alpha, x(\alpha))|^2 - 2 x_k\cdot\hat g_k]` over random
:math:`\alpha`. The identity :math:`\sum_k \alpha_k g_k(\alpha, x) = x` holds exactly. Any path :math:`\alpha(t)` from
the vertex :math:`e_i` to :math:`e_j` gives a transport :math:`\dot x = \sum_k \dot\alpha_k(t)\,g_k(\alpha(t), x)`
from :math:`\rho_i` to :math:`\rho_j` (the law of :math:`x(\alpha(t))` at every t); paths through the interior
pass "through" the other marginals. For Gaussian marginals :math:`N(m_k, C_k)`,

.. math:: g_k(\alpha, x) = m_k + \alpha_k C_k \Sigma(\alpha)^{-1}(x - \mu(\alpha)),\qquad
          \mu = \sum_k \alpha_k m_k,\quad \Sigma = \sum_k \alpha_k^2 C_k.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._capabilities import declare
from .._typing import Array
from .._validation import as_count, as_points, as_real
from ..integrate import odeint
from ..random import resolve_rng
from ._conditional import lstsq_fit
from .fit import TensorFeatures
from .mlp import adam, init_net, net_apply

__all__ = [
    "MLPG",
    "ExactG",
    "FeatureG",
    "MultimarginalField",
    "MultimarginalInterpolant",
    "SimplexPath",
    "exact_g",
    "fit_g",
    "simplex_path",
    "train_g",
    "transport",
]


class SimplexPath:
    r"""A path on the simplex from :math:`e_i` to :math:`e_j`:
    :math:`\alpha(t) = (1-t)e_i + t e_j + c\,t(1-t)(e_k - (e_i + e_j)/2)` (``via`` = k, ``bend`` = c in [0, 2];
    c = 0 or no ``via`` is the straight edge). ``path(t, xp)`` returns :math:`(\alpha(t), \dot\alpha(t))`, each of
    shape (K + 1,), for a 0-d array ``t``."""

    def __init__(self, n_marginals: int, i: int, j: int, via: int | None = None, bend: float = 1.0):
        self.n_marginals = as_count("n_marginals", n_marginals, low=2)
        k1 = self.n_marginals - 1
        self.i, self.j = as_count("i", i, low=0, high=k1), as_count("j", j, low=0, high=k1)
        if self.i == self.j:
            raise ValueError(f"a path needs two different vertices, got i = j = {self.i}")
        self.via = None if via is None else as_count("via", via, low=0, high=k1)
        if self.via is not None and self.via in (self.i, self.j):
            raise ValueError(f"via must differ from i and j, got via = {self.via}")
        self.bend = 0.0 if self.via is None else as_real("bend", bend, low=0.0, high=2.0)

    def _vec(self, entries: dict[int, float], like: Any, xp: Any) -> Any:
        vals = [entries.get(k, 0.0) for k in range(self.n_marginals)]
        return xp.asarray(vals, dtype=like.dtype, device=getattr(like, "device", None))

    def __call__(self, t: Any, xp: Any) -> tuple[Any, Any]:
        ei, ej = self._vec({self.i: 1.0}, t, xp), self._vec({self.j: 1.0}, t, xp)
        alpha, dalpha = (1.0 - t) * ei + t * ej, ej - ei
        if self.bend:
            v = self._vec({self.via: 1.0, self.i: -0.5, self.j: -0.5}, t, xp)
            alpha = alpha + (self.bend * t * (1.0 - t)) * v
            dalpha = dalpha + (self.bend * (1.0 - 2.0 * t)) * v
        return alpha, dalpha

    def _key(self) -> tuple:
        return (self.n_marginals, self.i, self.j, self.via, self.bend)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SimplexPath) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(("SimplexPath", *self._key()))

    def __repr__(self) -> str:
        via = "" if self.via is None else f", via={self.via}, bend={self.bend}"
        return f"SimplexPath({self.i} -> {self.j}{via})"


def simplex_path(n_marginals: int, i: int, j: int, *, via: int | None = None, bend: float = 1.0) -> SimplexPath:
    """The path from vertex ``i`` to vertex ``j`` of the simplex of ``n_marginals`` marginals (see
    :class:`SimplexPath`)."""
    return SimplexPath(n_marginals, i, j, via, bend)


class MultimarginalInterpolant:
    r""":math:`x(\alpha) = \sum_k \alpha_k x_k` over ``n_marginals`` = K + 1 marginals, :math:`\alpha \in \Delta^K`
    (Albergo, Boffi, Lindsey & Vanden-Eijnden 2024, arXiv:2310.03695). ``edge_fraction``: the share of training
    :math:`\alpha` drawn uniformly on a random edge (the rest uniformly on the simplex, Dirichlet(1, ..., 1)), so
    that fits are accurate on the edges that straight transports follow."""

    def __init__(self, n_marginals: int, *, edge_fraction: float = 0.5):
        self.n_marginals = as_count("n_marginals", n_marginals, low=2)
        self.edge_fraction = as_real("edge_fraction", edge_fraction, low=0.0, high=1.0)

    def path(self, i: int, j: int, *, via: int | None = None, bend: float = 1.0) -> SimplexPath:
        """:func:`simplex_path` on this interpolant's simplex."""
        return SimplexPath(self.n_marginals, i, j, via, bend)

    def interpolate(self, alpha: Any, xs: Any) -> Any:
        r""":math:`x(\alpha)` for ``alpha`` (n, K + 1) and ``xs`` (K + 1, n, d)."""
        xp = _ns(xs)
        return xp.sum(xp.linalg.matrix_transpose(alpha)[:, :, None] * xs, axis=0)

    def sample_alpha(self, n: int, gen: Any) -> Any:
        """``n`` draws of α, shape (n, K + 1): a share ``edge_fraction`` uniform on random edges, the rest uniform
        on the simplex."""
        xp, K1 = gen.backend.xp, self.n_marginals
        e = -xp.log(gen.uniform((n, K1), low=1e-30))
        interior = e / xp.sum(e, axis=1, keepdims=True)
        if self.edge_fraction == 0.0:
            return interior
        ks = xp.arange(K1, device=gen.backend.device)[None, :]
        i = gen.integers(0, K1, (n,))
        j = (i + gen.integers(1, K1, (n,))) % K1  # a different vertex, uniformly
        t = gen.uniform((n, 1))
        ei, ej = xp.astype(ks == i[:, None], interior.dtype), xp.astype(ks == j[:, None], interior.dtype)
        edge = (1.0 - t) * ei + t * ej
        on_edge = gen.uniform((n, 1)) < self.edge_fraction
        return xp.where(on_edge, edge, interior)

    def __repr__(self) -> str:
        return f"MultimarginalInterpolant(n_marginals={self.n_marginals})"


def _ns(x: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(x)


# ------------------------------------------------------------------------------------------------ fields g_k
class _BoundG:
    """g on one backend: ``g(alpha, x)`` with alpha (K+1,) or (n, K+1), x (n, d) -> (K+1, n, d)."""

    def __init__(self, be: Backend, n_marginals: int, dim: int):
        self.be, self.xp, self.n_marginals, self.dim = be, be.xp, n_marginals, dim

    def g(self, alpha: Any, x: Any) -> Any:
        raise NotImplementedError


class MultimarginalField:
    """Base class of the :math:`g_k` fields (exact, feature-fitted, MLP); :meth:`bind` gives the backend-bound
    object that :func:`transport` calls in its loop."""

    n_marginals: int
    dim: int

    def bind(self, be: Backend) -> _BoundG:
        cache = self.__dict__.setdefault("_bound", {})
        key = (be.name, str(be.device), str(be.dtype))
        if key not in cache:
            cache[key] = self._make_bound(be)
        return cache[key]

    def _make_bound(self, be: Backend) -> _BoundG:
        raise NotImplementedError

    def g(self, alpha: Any, x: Any, *, backend: Any = None) -> Any:
        r""":math:`(g_0, \dots, g_K)(\alpha, x)`, shape (K + 1, n, d); ``alpha`` on the simplex, shape (K + 1,) or
        (n, K + 1)."""
        be = resolve_backend(x, alpha, backend=backend)
        xp = be.xp
        x = as_points("x", x, be, dim=self.dim)
        a = as_points("alpha", alpha, be, ndim=(1, 2), dim=self.n_marginals)
        if a.ndim == 2 and a.shape[0] != x.shape[0]:
            raise ValueError(f"alpha must have shape ({self.n_marginals},) or ({x.shape[0]}, {self.n_marginals})")
        if bool(xp.any(a < -1e-12)) or bool(xp.any(xp.abs(xp.sum(a, axis=-1) - 1.0) > 1e-9)):
            raise ValueError("alpha must lie on the simplex (non-negative entries summing to 1)")
        return self.bind(be).g(a, x)


def _gaussian_params(m: Any) -> tuple[Any, Any]:
    host = host_backend()
    if hasattr(m, "params") and hasattr(m, "dim"):
        p = m.params(host)
        if p["means"].shape[0] != 1:
            raise ValueError("exact_g needs Gaussian marginals (one-component targets)")
        return p["means"][0, ...], p["covs"][0, ...]
    try:
        mean, cov = m
    except (TypeError, ValueError):
        raise TypeError("each marginal must be a Gaussian target or a pair (mean, cov)") from None
    src = resolve_backend(mean, cov)
    mean = as_points("mean", src.to_numpy(src.asarray(mean)), host, ndim=1)
    cov = as_points("cov", src.to_numpy(src.asarray(cov)), host, dim=mean.shape[0])
    if cov.shape != (mean.shape[0],) * 2:
        raise ValueError(f"cov must have shape {(mean.shape[0],) * 2}, got {tuple(cov.shape)}")
    return mean, cov


class ExactG(MultimarginalField):
    r"""The exact :math:`g_k` of independent Gaussian marginals :math:`N(m_k, C_k)` (see the module docstring)."""

    def __init__(self, marginals: Sequence[Any]):
        if isinstance(marginals, (str, bytes)) or not isinstance(marginals, Sequence) or len(marginals) < 2:
            raise TypeError("marginals must be a sequence of at least two Gaussians (targets or (mean, cov) pairs)")
        pairs = [_gaussian_params(m) for m in marginals]
        d = pairs[0][0].shape[0]
        if any(m.shape != (d,) for m, _ in pairs):
            raise ValueError("all marginals must have the same dimension")
        xp = host_backend().xp
        self.n_marginals, self.dim = len(pairs), d
        self._host = {"means": xp.stack([m for m, _ in pairs]), "covs": xp.stack([c for _, c in pairs])}

    def _make_bound(self, be: Backend) -> _BoundG:
        return _BoundExactG(be, self)


class _BoundExactG(_BoundG):
    def __init__(self, be: Backend, model: ExactG):
        super().__init__(be, model.n_marginals, model.dim)
        self.M, self.C = be.asarray(model._host["means"]), be.asarray(model._host["covs"])

    def g(self, alpha: Any, x: Any) -> Any:
        xp, M, C = self.xp, self.M, self.C
        if alpha.ndim == 1:
            S = xp.sum((alpha * alpha)[:, None, None] * C, axis=0)
            y = xp.linalg.matrix_transpose(xp.linalg.solve(S, xp.linalg.matrix_transpose(x - alpha @ M)))
            return M[:, None, :] + alpha[:, None, None] * (y[None, :, :] @ C)
        S = xp.sum((alpha * alpha)[:, :, None, None] * C[None, ...], axis=1)  # (n, d, d)
        y = xp.linalg.solve(S, (x - alpha @ M)[:, :, None])[:, :, 0]
        return M[:, None, :] + xp.linalg.matrix_transpose(alpha)[:, :, None] * (y[None, :, :] @ C)


@declare(name="tk.interpolants.multimarginal.exact_g")
def exact_g(marginals: Sequence[Any]) -> ExactG:
    r"""The exact :math:`g_k(\alpha, x) = m_k + \alpha_k C_k\Sigma(\alpha)^{-1}(x - \mu(\alpha))` for independent
    Gaussian marginals (``tk.targets.Gaussian`` objects or ``(mean, cov)`` pairs) (Albergo, Boffi, Lindsey &
    Vanden-Eijnden 2024, arXiv:2310.03695)."""
    return ExactG(marginals)


def _simplex_basis(alpha: Any, degree: int, xp: Any) -> Any:
    r"""Monomials :math:`\alpha_1^{a_1}\cdots\alpha_K^{a_K}` of total degree :math:`\le` ``degree`` (α_0 is
    determined by the others), shape (n, P)."""
    K = alpha.shape[1] - 1
    cols = [xp.ones_like(alpha[:, 0])]
    prev = [(cols[0], 1)]  # (monomial, index of the smallest variable it may still multiply)
    for _ in range(degree):
        nxt = []
        for mono, lo in prev:
            for k in range(lo, K + 1):
                nxt.append((mono * alpha[:, k], k))
        cols.extend(m for m, _ in nxt)
        prev = nxt
    return xp.stack(cols, axis=1)


def _n_monomials(K: int, degree: int) -> int:
    return math.comb(K + degree, degree)


class FeatureG(MultimarginalField):
    r"""Fitted :math:`\hat g_k(\alpha, x) = \sum_{a,j}\Theta_{aj,k} P_a(\alpha)\psi_j(x)`: monomials of the simplex
    coordinates times the space features of a :class:`~transportkit.interpolants.TensorFeatures`."""

    def __init__(self, n_marginals: int, degree: int, features: TensorFeatures, theta: Any, backend: Backend,
                 info: dict):
        self.n_marginals, self.degree, self.features, self.dim = n_marginals, degree, features, features.dim
        self.theta, self.info = theta, info
        self._theta_host = host_backend().asarray(backend.to_numpy(theta))

    def _make_bound(self, be: Backend) -> _BoundG:
        return _BoundFeatureG(be, self)


def _features(alpha: Any, x: Any, degree: int, F: TensorFeatures, p: dict, xp: Any) -> Any:
    psi, _ = F.space(x, p, xp)
    pa = _simplex_basis(alpha, degree, xp)
    return xp.reshape(pa[:, :, None] * psi[:, None, :], (x.shape[0], pa.shape[1] * psi.shape[1]))


class _BoundFeatureG(_BoundG):
    def __init__(self, be: Backend, model: FeatureG):
        super().__init__(be, model.n_marginals, model.dim)
        self.m, self.p, self.theta = model, model.features.params(be), be.asarray(model._theta_host)

    def g(self, alpha: Any, x: Any) -> Any:
        xp, n = self.xp, x.shape[0]
        a = alpha if alpha.ndim == 2 else xp.broadcast_to(alpha[None, :], (n, alpha.shape[0]))
        out = _features(a, x, self.m.degree, self.m.features, self.p, xp) @ self.theta  # (n, (K+1) d)
        return xp.permute_dims(xp.reshape(out, (n, self.n_marginals, self.dim)), (1, 0, 2))


def _check_marginal_samples(xs: Any, be: Backend) -> list[Any]:
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence) or len(xs) < 2:
        raise TypeError("xs must be a sequence of at least two (n_k, d) sample arrays, one per marginal")
    out = [as_points(f"xs[{k}]", x, be) for k, x in enumerate(xs)]
    d = out[0].shape[1]
    if any(x.shape[1] != d for x in out):
        raise ValueError("all marginal samples must have the same dimension d")
    return out


def _draw(interp: MultimarginalInterpolant, xs: list[Any], m: int, gen: Any, xp: Any) -> tuple[Any, Any, Any]:
    """m independent draws: α (m, K+1), x(α) (m, d) and the stacked marginal draws (K+1, m, d)."""
    alpha = interp.sample_alpha(m, gen)
    stack = xp.stack([xp.take(x, gen.integers(0, x.shape[0], (m,)), axis=0) for x in xs])
    return alpha, interp.interpolate(alpha, stack), stack


def _prepare_fit(interpolant: Any, xs: Any, backend: Any) -> tuple[Backend, list[Any], int]:
    if not isinstance(interpolant, MultimarginalInterpolant):
        raise TypeError(f"interpolant must be a MultimarginalInterpolant, got {type(interpolant).__name__}")
    be = resolve_backend(*xs, backend=backend) if isinstance(xs, Sequence) else resolve_backend(backend=backend)
    xs = _check_marginal_samples(xs, be)
    if len(xs) != interpolant.n_marginals:
        raise ValueError(f"the interpolant has {interpolant.n_marginals} marginals, xs holds {len(xs)}")
    return be, xs, xs[0].shape[1]


@declare(name="tk.interpolants.multimarginal.fit_g")
def fit_g(
    interpolant: MultimarginalInterpolant,
    xs: Sequence[Any],
    *,
    degree: int = 4,
    features: TensorFeatures | None = None,
    n_draws: int | None = None,
    ridge: float = 1e-8,
    chunk_size: int = 4096,
    rng: Any = None,
    backend: Any = None,
) -> FeatureG:
    r"""Fit all :math:`g_k` at once by ridge least squares on :math:`\sum_k E|\hat g_k - x_k|^2` (same minimizer as
    :math:`\sum_k E[|\hat g_k|^2 - 2x_k\cdot\hat g_k]`), with α from
    :meth:`MultimarginalInterpolant.sample_alpha` and independent draws from the samples ``xs`` (one (n_k, d)
    array per marginal). Features: monomials of α of total degree ≤ ``degree`` times the space features of
    ``features`` (default: (1, x) and 64 two-scale Fourier features); ``n_draws``: training draws (default
    4 max n_k); ``rng``: SPEC 7 (Albergo, Boffi, Lindsey & Vanden-Eijnden 2024, arXiv:2310.03695)."""
    be, xs, d = _prepare_fit(interpolant, xs, backend)
    xp = be.xp
    degree = as_count("degree", degree, low=0)
    n_draws = 4 * max(x.shape[0] for x in xs) if n_draws is None else as_count("n_draws", n_draws, low=2)
    ridge, chunk_size = as_real("ridge", ridge, low=0.0), as_count("chunk_size", chunk_size)
    gen = resolve_rng(rng, be)
    if features is None:
        sd = max(sum(float(xp.mean(xp.std(x, axis=0))) for x in xs) / len(xs), 1e-12)
        fseed = int(be.to_numpy(gen.integers(0, 2**31, (1,)))[0])
        features = TensorFeatures(d, time_degree=0, n_fourier=64, bandwidth=(sd, 0.25 * sd), rng=fseed)
    if not isinstance(features, TensorFeatures) or features.dim != d:
        raise ValueError(f"features must be TensorFeatures of dimension d = {d}")
    p = features.params(be)

    def chunk(start: int, stop: int) -> tuple[Any, Any]:
        alpha, xa, stack = _draw(interpolant, xs, stop - start, gen, xp)
        y = xp.reshape(xp.permute_dims(stack, (1, 0, 2)), (stop - start, interpolant.n_marginals * d))
        return _features(alpha, xa, degree, features, p, xp), y

    theta, info = lstsq_fit(be, n_draws, chunk_size, 1, chunk, ridge)
    return FeatureG(interpolant.n_marginals, degree, features, theta, be, info)


class MLPG(MultimarginalField):
    r"""A trained MLP :math:`[x, \alpha] \mapsto (\hat g_0, \dots, \hat g_K)`."""

    def __init__(self, n_marginals: int, dim: int, params: dict, backend: Backend, info: dict):
        self.n_marginals, self.dim, self.params, self.backend, self.info = n_marginals, dim, params, backend, info
        self._host = {k: backend.to_numpy(v) for k, v in params.items()}

    def _make_bound(self, be: Backend) -> _BoundG:
        return _BoundMLPG(be, self)


def _mlp_g(p: dict, alpha: Any, x: Any, K1: int, xp: Any) -> Any:
    n = x.shape[0]
    a = alpha if alpha.ndim == 2 else xp.broadcast_to(alpha[None, :], (n, K1))
    out = net_apply(p, xp.concat([x, a], axis=1), xp)
    return xp.permute_dims(xp.reshape(out, (n, K1, x.shape[1])), (1, 0, 2))


class _BoundMLPG(_BoundG):
    def __init__(self, be: Backend, model: MLPG):
        super().__init__(be, model.n_marginals, model.dim)
        self.p = model.params if be is model.backend else {k: be.asarray(v) for k, v in model._host.items()}

    def g(self, alpha: Any, x: Any) -> Any:
        return _mlp_g(self.p, alpha, x, self.n_marginals, self.xp)


@declare(needs=("value_and_grad",), name="tk.interpolants.multimarginal.train_g")
def train_g(
    interpolant: MultimarginalInterpolant,
    xs: Sequence[Any],
    *,
    hidden: tuple[int, ...] = (64, 64),
    steps: int = 2000,
    batch_size: int = 512,
    lr: float = 2e-3,
    rng: Any = None,
    backend: Any = None,
) -> MLPG:
    r"""Train an MLP for all :math:`g_k` with Adam on :math:`\sum_k E[\tfrac12|\hat g_k|^2 - x_k\cdot\hat g_k]`
    (torch, jax: needs ``value_and_grad``); ``rng``: SPEC 7 (Albergo et al. 2024, arXiv:2310.03695)."""
    be, xs, d = _prepare_fit(interpolant, xs, backend)
    be.require("value_and_grad")
    xp, K1 = be.xp, interpolant.n_marginals
    steps, batch_size = as_count("steps", steps), as_count("batch_size", batch_size)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    hidden = tuple(as_count("hidden", h) for h in hidden)
    gen = resolve_rng(rng, be)
    params = init_net(d + K1, hidden, K1 * d, gen, be)

    def loss(p: dict, batch: tuple) -> Any:
        alpha, xa, stack = batch
        out = _mlp_g(p, alpha, xa, K1, xp)
        return xp.mean(xp.sum(0.5 * out * out - stack * out, axis=(0, 2)))

    params, hist = adam(be, loss, params, lambda i: _draw(interpolant, xs, batch_size, gen, xp), steps=steps, lr=lr)
    return MLPG(K1, d, params, be, {"loss_history": hist, "steps": steps})


# ------------------------------------------------------------------------------------------------ transport
class _PathVelocity:
    r""":math:`f(t, x) = \sum_k \dot\alpha_k(t)\,g_k(\alpha(t), x)`; hashable by (bound g, path) so that
    :func:`~transportkit.integrate.odeint` compiles it once per pair on JAX."""

    def __init__(self, bg: _BoundG, path: SimplexPath):
        self.bg, self.path = bg, path

    def __call__(self, t: Any, x: Any) -> Any:
        xp = self.bg.xp
        alpha, dalpha = self.path(t, xp)
        return xp.sum(dalpha[:, None, None] * self.bg.g(alpha, x), axis=0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PathVelocity) and self.bg is other.bg and self.path == other.path

    def __hash__(self) -> int:
        return hash((id(self.bg), self.path))


@declare(uses=("jit",), name="tk.interpolants.multimarginal.transport")
def transport(
    g: MultimarginalField,
    x: Any,
    path: SimplexPath | tuple[int, int],
    *,
    steps: int = 50,
    solver: str = "rk4",
    return_path: bool = False,
    backend: Any = None,
) -> Array:
    r"""Carry samples ``x`` (n, d) of :math:`\rho_i` to :math:`\rho_j` along ``path`` (a :class:`SimplexPath`, or a
    pair (i, j) for the straight edge) by :math:`\dot x = \sum_k \dot\alpha_k(t) g_k(\alpha(t), x)`,
    :math:`t \in [0, 1]`, with :func:`transportkit.integrate.odeint` (compiled on JAX) (Albergo, Boffi, Lindsey &
    Vanden-Eijnden 2024, arXiv:2310.03695)."""
    if not isinstance(g, MultimarginalField):
        raise TypeError(f"g must be a MultimarginalField (exact_g, fit_g, train_g), got {type(g).__name__}")
    if not isinstance(path, SimplexPath):
        try:
            i, j = path
        except (TypeError, ValueError):
            raise TypeError(f"path must be a SimplexPath or a pair (i, j), got {path!r}") from None
        path = SimplexPath(g.n_marginals, i, j)
    if path.n_marginals != g.n_marginals:
        raise ValueError(f"path is on a simplex of {path.n_marginals} vertices, g has {g.n_marginals} marginals")
    be = resolve_backend(x, backend=backend)
    x = as_points("x", x, be, dim=g.dim)
    steps = as_count("steps", steps)
    return odeint(_PathVelocity(g.bind(be), path), x, steps=steps, solver=solver, return_path=return_path,
                  backend=be)

