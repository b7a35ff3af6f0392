r"""Learning a field without autodiff: linear-in-parameters models fitted by ridge least squares (§1.3).

The model is :math:`\hat b(t, x) = \sum_{a, j} \Theta_{aj}\, P_a(t)\, \psi_j(x)` with time polynomials
:math:`P_a` (Legendre or Chebyshev on :math:`[0, 1]`) times space features :math:`\psi = (1, x, \sqrt{2/M}
\cos(\omega_j\cdot x + \phi_j))` (random Fourier features, :math:`\omega_j \sim N(0, \sigma^{-2} I)`). The quadratic
velocity loss :math:`E\,\tfrac12|\hat b(t, x_t)|^2 - \dot R\cdot\hat b(t, x_t)` is minimized exactly by the normal
equations

.. math:: (E[\phi\phi^T] + \lambda I)\,\Theta = E[\phi\, \dot R^T],
          \qquad \dot R = \alpha' x_0 + \beta' x_1 + \gamma' z,

whose Gram matrix and right-hand side are accumulated over chunks of samples (memory :math:`O(k^2 + c\,k)` for
``k`` features and chunk size ``c``), then solved with ``xp.linalg`` on any backend. The fitted field's divergence is
analytic: :math:`\nabla\cdot\hat b = \sum_a P_a(t)[\sum_i \Theta_{a,x_i,i} - \sqrt{2/M}\sum_j \sin(\omega_j\cdot x +
\phi_j)\,\omega_j\cdot\Theta_{a,j,:}]`.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._capabilities import declare
from .._validation import as_count, as_points, as_real
from ..errors import CapabilityError
from ..random import SEED_DEPRECATED, resolve_rng
from .field import BoundField, Field, as_base
from .interpolant import Interpolant

__all__ = ["FeatureModel", "TensorFeatures", "fit_score", "fit_velocity", "sliced_w2"]


def _time_basis(t: Any, degree: int, kind: str, xp: Any) -> Any:
    """P_0..P_degree at t (shape () -> (T,), (n,) -> (n, T)), orthogonal polynomials in u = 2t - 1."""
    u = 2.0 * t - 1.0
    ps = [xp.ones_like(u), u]
    for k in range(1, degree):
        if kind == "legendre":
            ps.append(((2 * k + 1) * u * ps[k] - k * ps[k - 1]) / (k + 1))
        else:
            ps.append(2.0 * u * ps[k] - ps[k - 1])
    return xp.stack(ps[: degree + 1], axis=-1)


class TensorFeatures:
    r"""Time-by-space tensor features :math:`P_a(t)\,\psi_j(x)`.

    ``time_degree``: polynomial degree in t; ``time_basis``: ``"legendre"`` or ``"chebyshev"``; ``n_fourier``:
    number M of random Fourier features; ``bandwidth``: :math:`\sigma` (a number, or a tuple of numbers over which
    the M frequencies are split: multi-scale); ``linear``: include the affine features :math:`(1, x)`; ``rng``: the
    random frequencies and phases (SPEC 7: an int, a ``numpy.random.Generator``, a transportkit Generator or None;
    ``seed=`` is its deprecated alias).
    """

    def __init__(
        self,
        dim: int,
        *,
        time_degree: int = 6,
        time_basis: str = "legendre",
        n_fourier: int = 128,
        bandwidth: float | tuple[float, ...] = (1.0, 0.3),
        linear: bool = True,
        rng: Any = None,
        seed: Any = SEED_DEPRECATED,
    ):
        if time_basis not in ("legendre", "chebyshev"):
            raise ValueError(f"time_basis must be 'legendre' or 'chebyshev', got {time_basis!r}")
        if not isinstance(time_degree, int) or time_degree < 0:
            raise ValueError(f"time_degree must be a non-negative integer, got {time_degree!r}")
        if not isinstance(n_fourier, int) or n_fourier < 0:
            raise ValueError(f"n_fourier must be a non-negative integer, got {n_fourier!r}")
        bws = (bandwidth,) if isinstance(bandwidth, (int, float)) else tuple(bandwidth)
        if not bws or any(not (b > 0 and math.isfinite(b)) for b in bws):
            raise ValueError(f"bandwidths must be positive numbers, got {bandwidth!r}")
        self.dim, self.time_degree, self.time_basis = int(dim), time_degree, time_basis
        self.n_fourier, self.bandwidth, self.linear = n_fourier, bws, bool(linear)
        host = host_backend()
        gen = resolve_rng(rng, host, seed=seed)
        xp = host.xp
        omega = gen.normal((n_fourier, self.dim))
        scale = xp.asarray([1.0 / bws[j * len(bws) // max(n_fourier, 1)] for j in range(n_fourier)], dtype=xp.float64)
        self._host = {"omega": omega * scale[:, None], "phase": gen.uniform((n_fourier,), high=2.0 * math.pi)}
        self.n_space = 1 + (self.dim if self.linear else 0) + n_fourier
        self.n_time = time_degree + 1
        self.size = self.n_space * self.n_time

    def params(self, be: Backend) -> dict[str, Any]:
        return {k: be.asarray(v) for k, v in self._host.items()}

    def time(self, t: Any, xp: Any) -> Any:
        return _time_basis(t, self.time_degree, self.time_basis, xp)

    def space(self, x: Any, p: dict[str, Any], xp: Any) -> tuple[Any, Any]:
        """``psi(x)`` (n, S) and the Fourier arguments :math:`\\omega\\cdot x + \\phi` (n, M)."""
        arg = x @ xp.linalg.matrix_transpose(p["omega"]) + p["phase"]
        parts = [xp.ones((x.shape[0], 1), dtype=x.dtype, device=getattr(x, "device", None))]
        if self.linear:
            parts.append(x)
        parts.append(math.sqrt(2.0 / max(self.n_fourier, 1)) * xp.cos(arg))
        return xp.concat(parts, axis=1), arg

    def __call__(self, t: Any, x: Any, p: dict[str, Any], xp: Any) -> Any:
        """All features, shape (n, T*S) (time-major)."""
        psi, _ = self.space(x, p, xp)
        pt = self.time(t, xp)
        if pt.ndim == 1:
            pt = xp.broadcast_to(pt[None, :], (x.shape[0], pt.shape[0]))
        return xp.reshape(pt[:, :, None] * psi[:, None, :], (x.shape[0], self.size))


class FeatureModel(Field):
    """A fitted linear-in-parameters field (``kind`` = ``"velocity"`` or ``"score"``). ``velocity`` and
    ``divergence`` are analytic; a velocity model's ``score`` uses the one-sided conversion (see
    :class:`~transportkit.interpolants.field.BoundField`), a score model's ``score`` is itself."""

    def __init__(
        self, interpolant: Interpolant, features: TensorFeatures, theta: Any, kind: str, backend: Backend, info: dict,
        *, cond_dim: int = 0,
    ):
        self.interpolant = interpolant
        self.features = features
        self.cond_dim = int(cond_dim)
        self.dim = features.dim - self.cond_dim
        self.kind = kind
        self.backend = backend
        self.theta = theta  # (T, S, d) on ``backend``
        self.info = info
        self._theta_host = host_backend().asarray(backend.to_numpy(theta))

    def _make_bound(self, be: Backend) -> _BoundFeature:
        return _BoundFeature(be, self)

    def __repr__(self) -> str:
        return f"FeatureModel({self.kind}, {self.interpolant!r}, features={self.features.size})"


class _BoundFeature(BoundField):
    def __init__(self, be: Backend, model: FeatureModel):
        super().__init__(be, model.interpolant, model.dim)
        self.m = model
        self.p = model.features.params(be)
        self.theta = be.asarray(model._theta_host)

    def _apply(self, t: Any, x: Any) -> Any:
        xp, F = self.xp, self.m.features
        psi, _ = F.space(x, self.p, xp)
        pt = F.time(t, xp)
        if pt.ndim == 1:  # one time for all points: Theta(t) = sum_a P_a(t) Theta_a
            th = xp.sum(pt[:, None, None] * self.theta, axis=0)
            return psi @ th
        out = 0.0
        for a in range(F.n_time):  # loop over the few time polynomials, never over points
            out = out + pt[:, a : a + 1] * (psi @ self.theta[a, ...])
        return out

    def velocity(self, t: Any, x: Any) -> Any:
        if self.m.kind != "velocity":
            raise NotImplementedError("a score model has no velocity; fit one with fit_velocity")
        if self.m.cond_dim:
            raise CapabilityError("this model is conditioned on xi: sample it with tk.sample(model.given(x0, xi), n)")
        return self._apply(t, x)

    def velocity_xi(self, t: Any, x: Any, xi: Any) -> Any:
        r"""The conditioned model at :math:`(t, x, \xi)`."""
        return self._apply(t, self.xp.concat([x, xi], axis=1))

    def score(self, t: Any, x: Any) -> Any:
        return self._apply(t, x) if self.m.kind == "score" else super().score(t, x)

    def divergence(self, t: Any, x: Any) -> Any:
        xp, F = self.xp, self.m.features
        d = self.dim
        _, arg = F.space(x, self.p, xp)
        off = 1 + (d if F.linear else 0)
        th = self.theta
        lin = (
            xp.sum(xp.linalg.diagonal(th[:, 1 : 1 + d, :]), axis=-1)
            if F.linear
            else xp.zeros((F.n_time,), dtype=th.dtype, device=self.be.device)
        )  # (T,)
        c = xp.sum(th[:, off:, :] * self.p["omega"][None, :, :], axis=-1)  # (T, M)
        s = -math.sqrt(2.0 / max(F.n_fourier, 1)) * xp.sin(arg)  # (n, M)
        pt = F.time(t, xp)
        if pt.ndim == 1:
            return xp.sum(pt * lin) + s @ (pt @ c)
        return pt @ lin + xp.sum(s * (pt @ c), axis=-1)


def _sources(interp: Interpolant, x1: Any, x0: Any, base: Any, coupling: Any, n_pairs: Any, be: Backend):
    """``(n, d, batch, base_spec, cond_dim)`` with ``batch(start, stop, gen) -> (x0, x1, xi)``."""
    if coupling is not None:
        if x1 is not None or x0 is not None or base is not None:
            raise ValueError("give either coupling= or x1 (with x0= or base=), not both")
        if not hasattr(coupling, "_batch"):
            raise TypeError(f"coupling must come from transportkit.interpolants.couplings, got "
                            f"{type(coupling).__name__}")
        n = coupling.size if coupling.size is not None else as_count("n_pairs", 20_000 if n_pairs is None else n_pairs)
        return n, coupling.dim, (lambda a, b, gen: coupling._batch(a, b, gen, be)), coupling, coupling.cond_dim
    if x1 is None:
        raise TypeError("x1 (target samples) is required unless coupling= is given")
    x1 = as_points("x1", x1, be)
    if x1.shape[0] < 2:
        raise ValueError(f"x1 must have shape (n, d) with n >= 2, got {tuple(x1.shape)}")
    n, d = x1.shape
    if x0 is not None and base is not None:
        raise ValueError("give x0= (paired base samples) or base= (a law), not both")
    if x0 is not None:
        x0 = as_points("x0", x0, be)
        if tuple(x0.shape) != (n, d):
            raise ValueError(f"x0 must have the shape of x1 {(n, d)}, got {tuple(x0.shape)}")
        return n, d, (lambda a, b, gen: (x0[a:b, ...], x1[a:b, ...], None)), x0, 0
    law = as_base(base, d)
    return n, d, (lambda a, b, gen: (law.sample(b - a, gen, be), x1[a:b, ...], None)), base, 0


def _fit(
    interpolant: Interpolant | str,
    x1: Any,
    kind: str,
    *,
    x0: Any,
    base: Any = None,
    coupling: Any = None,
    n_pairs: Any = None,
    features: TensorFeatures | None,
    ridge: float,
    repeats: int,
    t_range: tuple[float, float],
    chunk_size: int,
    rng: Any,
    seed: Any,
    backend: Any,
) -> FeatureModel:
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    if not isinstance(I, Interpolant):
        raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(I).__name__}")
    be = resolve_backend(x1, x0, backend=backend if backend is not None or x1 is not None or x0 is not None
                         else getattr(coupling, "backend", None))
    xp = be.xp
    ridge = as_real("ridge", ridge, low=0.0)
    if not (isinstance(t_range, (tuple, list)) and len(t_range) == 2):
        raise TypeError(f"t_range must be a pair (t_min, t_max), got {t_range!r}")
    t_min, t_max = as_real("t_range[0]", t_range[0]), as_real("t_range[1]", t_range[1])
    if not 0.0 <= t_min < t_max <= 1.0:
        raise ValueError(f"t_range must satisfy 0 <= t_min < t_max <= 1, got {t_range!r}")
    repeats = as_count("repeats", repeats)
    chunk_size = as_count("chunk_size", chunk_size)
    n, d, batch, base_spec, k_cond = _sources(I, x1, x0, base, coupling, n_pairs, be)
    gen = resolve_rng(rng, be, seed=seed)
    if kind == "score" and I.one_sided and not as_base(base_spec, d).standard_normal:
        raise ValueError("a one-sided score model needs the Gaussian base N(0, I) (x0=None, base=None)")
    if features is None:
        probe = as_points("x1", x1, be) if coupling is None else batch(0, min(n, 2048), gen)[1]
        sd = float(xp.mean(xp.std(probe, axis=0)))
        feature_seed = int(be.to_numpy(gen.integers(0, 2**31, (1,)))[0])
        features = TensorFeatures(d + k_cond, bandwidth=(max(sd, 1.0), 0.25 * max(sd, 1.0)), rng=feature_seed)
    if features.dim != d + k_cond:
        raise ValueError(f"features are for dimension {features.dim}, data (with conditioning) has {d + k_cond}")
    p = features.params(be)
    k = features.size
    G = xp.zeros((k, k), dtype=be.dtype, device=be.device)
    H = xp.zeros((k, d), dtype=be.dtype, device=be.device)
    total = 0
    for _ in range(repeats):
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            m = stop - start
            tb = t_min + (t_max - t_min) * gen.uniform((m,))
            zb = gen.normal((m, d))
            x0b, xb, xib = batch(start, stop, gen)
            c = I.coefficients(tb[:, None], xp)
            if I.one_sided:
                xt = c.a * x0b + c.b * xb
                if kind == "velocity":
                    y = c.ad * x0b + c.bd * xb
                else:  # s = -E[x0 | x_t] / alpha for a Gaussian base
                    y = -x0b / c.a
            else:
                xt = c.a * x0b + c.b * xb + c.g * zb
                if kind == "velocity":
                    y = c.ad * x0b + c.bd * xb + I.schedule.gamma_dot(tb[:, None], xp) * zb
                else:
                    y = -zb / c.g
            phi = features(tb, xt if xib is None else xp.concat([xt, xib], axis=1), p, xp)
            G = G + xp.linalg.matrix_transpose(phi) @ phi
            H = H + xp.linalg.matrix_transpose(phi) @ y
            total += m
    A = G / total + ridge * xp.eye(k, dtype=be.dtype, device=be.device)
    theta = xp.linalg.solve(A, H / total)
    resid = float(xp.sum(theta * (A @ theta)) - 2.0 * xp.sum(theta * (H / total)))
    theta = xp.reshape(theta, (features.n_time, features.n_space, d))
    info = {
        "n_samples": total,
        "n_features": k,
        "ridge": ridge,
        "t_range": (t_min, t_max),
        "loss_minus_const": 0.5 * resid,
    }
    model = FeatureModel(I, features, theta, kind, be, info, cond_dim=k_cond)
    model.base = base_spec if not hasattr(base_spec, "shape") else as_base(base_spec, d)
    return model


@declare()
def fit_velocity(
    interpolant: Interpolant | str,
    x1: Any = None,
    *,
    x0: Any = None,
    base: Any = None,
    coupling: Any = None,
    n_pairs: int | None = None,
    features: TensorFeatures | None = None,
    ridge: float = 1e-6,
    repeats: int = 1,
    t_range: tuple[float, float] = (0.0, 1.0),
    chunk_size: int = 4096,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> FeatureModel:
    r"""Fit :math:`\hat b` to :math:`\dot R` by ridge least squares on interpolant samples.

    ``x1``: target samples (n, d); ``x0``: paired base samples (default: fresh :math:`N(0, I)` draws), which
    become the model's (empirical) base; ``base``: a base law to draw from instead (a Target with an exact
    sampler); ``coupling``: a :mod:`~transportkit.interpolants.couplings` object giving the pairs (and the
    conditioning :math:`\xi` fed to the features), instead of ``x1``/``x0``/``base``, with ``n_pairs`` draws per
    pass for a coupling that is a law (default 20000). The model samples from its base with ``tk.sample``;
    ``features``: a :class:`TensorFeatures` (default: degree-6 Legendre in t times 128 two-scale Fourier
    features with bandwidths (s, s/4), s the data's mean coordinate std, at least 1); ``repeats``: passes over
    the data with fresh (t, x0, z); ``t_range``: where t is drawn (stay inside (0, 1) when :math:`\gamma'`
    is singular at the ends); ``rng``: SPEC 7 randomness for t, x0, z and the default features (``seed=``
    deprecated alias). Returns a :class:`FeatureModel` with analytic ``velocity`` and ``divergence``.
    """
    options = dict(ridge=ridge, repeats=repeats, t_range=t_range, chunk_size=chunk_size, rng=rng, seed=seed,
                   backend=backend, base=base, coupling=coupling, n_pairs=n_pairs)
    return _fit(interpolant, x1, "velocity", x0=x0, features=features, **options)


@declare()
def fit_score(
    interpolant: Interpolant | str,
    x1: Any = None,
    *,
    x0: Any = None,
    base: Any = None,
    coupling: Any = None,
    n_pairs: int | None = None,
    features: TensorFeatures | None = None,
    ridge: float = 1e-6,
    repeats: int = 1,
    t_range: tuple[float, float] = (0.02, 0.98),
    chunk_size: int = 4096,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> FeatureModel:
    r"""Fit the score :math:`\hat s` by ridge least squares on the target :math:`-z/\gamma` (two-sided) or
    :math:`-x_0/\alpha` (one-sided, Gaussian base only); ``t_range`` keeps away from where these blow up.
    ``x0``, ``base``, ``coupling``, ``n_pairs`` as in :func:`fit_velocity` (two-sided interpolants for other bases)."""
    options = dict(ridge=ridge, repeats=repeats, t_range=t_range, chunk_size=chunk_size, rng=rng, seed=seed,
                   backend=backend, base=base, coupling=coupling, n_pairs=n_pairs)
    return _fit(interpolant, x1, "score", x0=x0, features=features, **options)


def sliced_w2(x: Any, y: Any, *, n_projections: int = 256, rng: Any = None, seed: Any = SEED_DEPRECATED,
              backend: Any = None) -> float:
    r"""Sliced Wasserstein-2 distance :math:`(E_\theta W_2^2(\theta\cdot x, \theta\cdot y))^{1/2}` between two
    equal-size samples, over ``n_projections`` random unit directions (sorted projections); ``rng`` draws the
    directions (SPEC 7; ``seed=`` deprecated alias)."""
    be = resolve_backend(x, y, backend=backend)
    xp = be.xp
    x, y = as_points("x", x, be), as_points("y", y, be)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be (n, d) arrays of the same shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    n_projections = as_count("n_projections", n_projections)
    th = resolve_rng(rng, host_backend(), seed=seed).normal((n_projections, x.shape[1]))
    th = be.asarray(th)
    th = th / xp.sqrt(xp.sum(th * th, axis=1, keepdims=True))
    px = xp.sort(x @ xp.linalg.matrix_transpose(th), axis=0)
    py = xp.sort(y @ xp.linalg.matrix_transpose(th), axis=0)
    return float(xp.sqrt(xp.mean((px - py) ** 2)))
