r"""Sampling measures :math:`\nu_t` for the Galerkin residual: fixed, resampled and adaptive particles.

A sampler supplies the points :math:`x_1..x_n` at which the residual
:math:`\nabla_\theta u(x_j;\theta)\cdot\dot\theta - f(x_j)` is minimized. Interface (all vectorized):

- ``initial(param, theta, gen, xp) -> X (n, d)``: the points at :math:`t = 0`;
- ``refresh(X, param, theta, gen) -> X``: called at the start of each time step (fixed samplers return ``X``,
  resampling samplers draw anew; the points stay fixed within a step, including its Runge–Kutta stages);
- ``coupled``: if true, ``velocity(X, param, theta, theta_dot) -> dX/dt`` and the particles are integrated
  together with :math:`\theta` by the same time stepper (coupled parameter/particle dynamics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from array_api_compat import array_namespace

__all__ = [
    "AdaptiveParticles",
    "GaussianSampler",
    "GridSampler",
    "Sampler",
    "UniformSampler",
    "UnitSampler",
]


class Sampler:
    """Base class of sampling measures (see the module docstring)."""

    coupled: bool = False
    n: int

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    def refresh(self, X: Any, param: Any, theta: Any, gen: Any) -> Any:
        return X

    def velocity(self, X: Any, param: Any, theta: Any, theta_dot: Any) -> Any:  # pragma: no cover
        raise NotImplementedError


def _box(low: Any, high: Any) -> tuple[list[float], list[float]]:
    lo = [float(v) for v in (low if isinstance(low, Sequence) else [low])]
    hi = [float(v) for v in (high if isinstance(high, Sequence) else [high])]
    if len(lo) != len(hi) or any(not (h > v) for v, h in zip(lo, hi, strict=False)):
        raise ValueError(f"need low < high componentwise, got low={low}, high={high}")
    return lo, hi


class UniformSampler(Sampler):
    """``n`` i.i.d. uniform points on the box ``[low, high]`` (redrawn every step when ``resample``)."""

    def __init__(self, low: Any, high: Any, n: int, *, resample: bool = True) -> None:
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.low, self.high = _box(low, high)
        self.n, self.resample, self.d = int(n), bool(resample), len(self.low)

    def _draw(self, gen: Any, xp: Any) -> Any:
        if len(self.low) == 1 and self.d > 1:
            self.low, self.high = self.low * self.d, self.high * self.d
        lo = xp.asarray(self.low, dtype=gen.backend.dtype, device=gen.backend.device)
        hi = xp.asarray(self.high, dtype=gen.backend.dtype, device=gen.backend.device)
        return lo + (hi - lo) * gen.uniform((self.n, len(self.low)))

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:
        self.d = param.d
        if len(self.low) not in (1, param.d):
            raise ValueError(f"box has dimension {len(self.low)}, the parametrization {param.d}")
        return self._draw(gen, xp)

    def refresh(self, X: Any, param: Any, theta: Any, gen: Any) -> Any:
        return self._draw(gen, gen.backend.xp) if self.resample else X


class GridSampler(Sampler):
    """Tensor grid with ``n_per_dim`` points per dimension on ``[low, high]`` (endpoint excluded when
    ``periodic``, i.e. the trapezoidal rule of a periodic function). Fixed in time."""

    def __init__(self, low: Any, high: Any, n_per_dim: int, *, periodic: bool = True) -> None:
        if int(n_per_dim) < 2:
            raise ValueError(f"n_per_dim must be >= 2, got {n_per_dim}")
        self.low, self.high = _box(low, high)
        self.k, self.periodic = int(n_per_dim), bool(periodic)
        self.n = self.k ** len(self.low)

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:
        d = len(self.low)
        if d != param.d:
            raise ValueError(f"grid has dimension {d}, the parametrization {param.d}")
        be = gen.backend
        axes = [
            xp.linspace(lo, hi, self.k, endpoint=not self.periodic, dtype=be.dtype, device=be.device)
            for lo, hi in zip(self.low, self.high, strict=False)
        ]
        mesh = xp.meshgrid(*axes, indexing="ij")
        return xp.stack([xp.reshape(g, (-1,)) for g in mesh], axis=1)


class GaussianSampler(Sampler):
    """``n`` i.i.d. points from :math:`\\mathcal N(\\text{mean}, \\mathrm{diag}(\\text{std}^2))`."""

    def __init__(self, mean: Any, std: Any, n: int, *, resample: bool = True) -> None:
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.mean = [float(v) for v in (mean if isinstance(mean, Sequence) else [mean])]
        self.std = [float(v) for v in (std if isinstance(std, Sequence) else [std] * len(self.mean))]
        if len(self.std) != len(self.mean) or any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive with the length of mean, got {std}")
        self.n, self.resample = int(n), bool(resample)

    def _draw(self, gen: Any, xp: Any) -> Any:
        be = gen.backend
        m = xp.asarray(self.mean, dtype=be.dtype, device=be.device)
        s = xp.asarray(self.std, dtype=be.dtype, device=be.device)
        return m + s * gen.normal((self.n, len(self.mean)))

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:
        if len(self.mean) != param.d:
            raise ValueError(f"mean has dimension {len(self.mean)}, the parametrization {param.d}")
        return self._draw(gen, xp)

    def refresh(self, X: Any, param: Any, theta: Any, gen: Any) -> Any:
        return self._draw(gen, gen.backend.xp) if self.resample else X


def _around_units(param: Any, theta: Any, n_per_unit: int, kappa: float, gen: Any, xp: Any) -> Any:
    """:math:`x = b_i + \\kappa\\,\\xi/|w_i|`, ``n_per_unit`` points per unit, ξ standard normal."""
    if not hasattr(param, "centers_and_scales"):
        raise ValueError(f"{param!r} has no unit centers: unit-based sampling needs Gaussian units")
    b, scale = param.centers_and_scales(theta)  # (m, d)
    m, d = b.shape
    xi = gen.normal((m, n_per_unit, d))
    X = b[:, None, :] + kappa * scale[:, None, :] * xi
    return xp.reshape(X, (m * n_per_unit, d))


class UnitSampler(Sampler):
    """Unit-based Gaussian sampling (Bruna–Peherstorfer–Vanden-Eijnden active learning): every step,
    ``n_per_unit`` fresh points around each Gaussian unit, :math:`x = b_i + \\kappa\\,\\xi/|w_i|`."""

    def __init__(self, n_per_unit: int, *, kappa: float = 2.0) -> None:
        if int(n_per_unit) < 1:
            raise ValueError(f"n_per_unit must be >= 1, got {n_per_unit}")
        if not kappa > 0:
            raise ValueError(f"kappa must be positive, got {kappa}")
        self.n_per_unit, self.kappa = int(n_per_unit), float(kappa)
        self.n = -1  # set on first draw (depends on the number of units)

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:
        self.n = param.m * self.n_per_unit
        return _around_units(param, theta, self.n_per_unit, self.kappa, gen, xp)

    def refresh(self, X: Any, param: Any, theta: Any, gen: Any) -> Any:
        return _around_units(param, theta, self.n_per_unit, self.kappa, gen, gen.backend.xp)


class AdaptiveParticles(Sampler):
    r"""Particles evolved with dynamics coupled to the parameters (no resampling).

    Each particle :math:`j` is attached to a Gaussian unit :math:`a(j)` (drawn around it at :math:`t=0`,
    :math:`x_j = b_a + \kappa\xi_j/|w_a|`) and follows the unit's affine motion

    .. math:: \dot x_{jk} = \dot b_{a k} - \frac{\dot w_{a k}}{w_{a k}}\,(x_{jk} - b_{a k}),

    so that :math:`w_{ak}(x_{jk} - b_{ak})` is conserved: the particles keep their position relative to the
    feature they resolve while it moves, widens or narrows. :math:`\dot\theta` is the Galerkin velocity at the
    same stage, so :math:`(\theta, X)` is one ODE integrated by the same Runge–Kutta scheme. ``anchors``
    (an ``(n_a, d)`` array-like) adds fixed points, e.g. a coarse grid that watches the whole domain.
    """

    coupled = True

    def __init__(self, n_per_unit: int, *, kappa: float = 2.0, anchors: Any = None) -> None:
        if int(n_per_unit) < 1:
            raise ValueError(f"n_per_unit must be >= 1, got {n_per_unit}")
        if not kappa > 0:
            raise ValueError(f"kappa must be positive, got {kappa}")
        self.n_per_unit, self.kappa, self.anchors = int(n_per_unit), float(kappa), anchors
        self.n = -1

    def initial(self, param: Any, theta: Any, gen: Any, xp: Any) -> Any:
        X = _around_units(param, theta, self.n_per_unit, self.kappa, gen, xp)
        if self.anchors is not None:
            A = gen.backend.asarray(self.anchors)
            if A.ndim != 2 or A.shape[1] != param.d:
                raise ValueError(f"anchors must have shape (n_a, {param.d}), got {tuple(A.shape)}")
            X = xp.concat([X, A], axis=0)
        self.n = X.shape[0]
        return X

    def velocity(self, X: Any, param: Any, theta: Any, theta_dot: Any) -> Any:
        xp = array_namespace(X, theta)
        m, d, k = param.m, param.d, self.n_per_unit
        n_moving = m * k
        _, w, b = param.unpack(theta)
        _, wd, bd = param.unpack(theta_dot)
        if w.ndim == 1:
            w = w[:, None] * xp.ones_like(b)
            wd = wd[:, None] * xp.ones_like(b)
        safe = xp.where(w == 0, xp.ones_like(w), w)
        rate = xp.where(w == 0, xp.zeros_like(w), wd / safe)  # (m, d)
        Xm = xp.reshape(X[:n_moving, :], (m, k, d))
        V = bd[:, None, :] - rate[:, None, :] * (Xm - b[:, None, :])
        V = xp.reshape(V, (n_moving, d))
        if X.shape[0] > n_moving:
            V = xp.concat([V, xp.zeros_like(X[n_moving:, :])], axis=0)
        return V
