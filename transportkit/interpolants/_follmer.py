r"""The Föllmer interpolant, its exact drift for Gaussian conditionals, the score-from-drift formula and the optimal
diffusion (the math and the papers: :mod:`transportkit.interpolants.forecasting`, the public face)."""

from __future__ import annotations

from typing import Any, NamedTuple

from .._backend import Backend, host_backend, resolve_backend
from .._capabilities import declare
from .._typing import Array
from .._validation import as_choice, as_points, as_real

__all__ = ["ConditionalDrift", "ExactDrift", "FollmerCoefficients", "FollmerInterpolant", "exact_drift",
           "optimal_diffusion"]

BETAS = ("linear", "quadratic")
#: where the score factor A_s is evaluated near the ends (the bracket it multiplies vanishes at s = 0, X = x0)
_S_CLIP = 1e-12


class FollmerCoefficients(NamedTuple):
    """Schedule values at ``s``: α, α̇, β, β̇, σ, σ̇, r = β/s and q = β̇/r (finite at s = 0)."""

    a: Any
    ad: Any
    b: Any
    bd: Any
    sg: Any
    sgd: Any
    r: Any
    q: Any


class FollmerInterpolant:
    r"""The Wiener interpolant :math:`I_s = (1 - s)x_0 + \beta_s x_1 + \sigma_s W_s` with :math:`\beta_s = s`
    (``beta="linear"``) or :math:`s^2` (``"quadratic"``, the reference code's choice) and
    :math:`\sigma_s = c(1 - s)` (``sigma`` = c > 0) (Chen et al. 2024, arXiv:2403.13724)."""

    def __init__(self, beta: str = "quadratic", sigma: float = 1.0):
        self.beta = as_choice("beta", beta, BETAS)
        self.sigma = as_real("sigma", sigma, low=0.0, low_open=True)

    def coefficients(self, s: Any, xp: Any) -> FollmerCoefficients:
        one = xp.ones_like(s)
        c = self.sigma
        if self.beta == "linear":
            b, bd, r, q = s, one, one, one
        else:
            b, bd, r, q = s * s, 2.0 * s, s, 2.0 * one
        return FollmerCoefficients(1.0 - s, -one, b, bd, c * (1.0 - s), -c * one, r, q)

    def interpolate(self, s: Any, x0: Any, x1: Any, zeta: Any) -> tuple[Any, Any]:
        r""":math:`(I_s, \dot\alpha x_0 + \dot\beta x_1 + \dot\sigma W_s)` with :math:`W_s = \sqrt s\,\zeta`;
        ``s`` of shape (n,), the others (n, d)."""
        from array_api_compat import array_namespace

        xp = array_namespace(x0, s)
        sc = s[:, None]
        c = self.coefficients(sc, xp)
        w = xp.sqrt(sc) * zeta
        return c.a * x0 + c.b * x1 + c.sg * w, c.ad * x0 + c.bd * x1 + c.sgd * w

    def __repr__(self) -> str:
        return f"FollmerInterpolant(beta={self.beta!r}, sigma={self.sigma})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FollmerInterpolant) and (self.beta, self.sigma) == (other.beta, other.sigma)

    def __hash__(self) -> int:
        return hash(("FollmerInterpolant", self.beta, self.sigma))


def _g2_optimal(c: FollmerCoefficients, s: Any) -> Any:
    r""":math:`g^2 = 2\sigma(\dot\beta\sigma - \beta\dot\sigma)/r - \sigma^2 = \sigma((2q - 1)\sigma - 2s\dot\sigma)`
    (with :math:`\beta = s r`, :math:`\dot\beta = q r`): no 0/0 at s = 0."""
    return c.sg * ((2.0 * c.q - 1.0) * c.sg - 2.0 * s * c.sgd)


def optimal_diffusion(interpolant: FollmerInterpolant, s: Any, *, backend: Any = None) -> Array:
    r"""The diffusion :math:`g_s` that minimizes the path-KL weight of a drift error (a Föllmer process):
    :math:`g_s^2 = 2s\sigma_s(\dot\beta_s\sigma_s - \beta_s\dot\sigma_s)/\beta_s - \sigma_s^2`, i.e.
    :math:`c^2(1 - s^2)` for :math:`\beta = s` and :math:`c^2(1-s)(3-s)` for :math:`\beta = s^2`
    (Chen et al. 2024, arXiv:2403.13724). ``s`` in [0, 1], a number or an array; returns :math:`g_s \ge 0`."""
    _check_interpolant(interpolant)
    be = resolve_backend(s, backend=backend)
    xp = be.xp
    sa = as_points("s", s, be, ndim=(0, 1))
    if bool(xp.any(sa < 0.0)) or bool(xp.any(sa > 1.0)):
        raise ValueError("s must lie in [0, 1]")
    g2 = _g2_optimal(interpolant.coefficients(sa, xp), sa)
    return xp.sqrt(xp.clip(g2, 0.0, None))


def _host_points(name: str, v: Any, dim: int | None = None, ndim: int = 2) -> Any:
    """A parameter array of any backend as a float64 host array (checked by ``as_points``)."""
    src = resolve_backend(v)
    return as_points(name, src.to_numpy(src.asarray(v)), host_backend(), dim=dim, ndim=ndim)


def _check_interpolant(interpolant: Any) -> None:
    if not isinstance(interpolant, FollmerInterpolant):
        raise TypeError(f"interpolant must be a FollmerInterpolant, got {type(interpolant).__name__}")


# ------------------------------------------------------------------------------------------------ drift models
class _BoundDrift:
    """A drift on one backend: ``drift(s, x, x0)`` with ``s`` a 0-d array or shape (n,), ``x``, ``x0`` (n, d)."""

    def __init__(self, be: Backend, interpolant: FollmerInterpolant, dim: int):
        self.be, self.xp, self.interpolant, self.dim = be, be.xp, interpolant, dim

    def drift(self, s: Any, x: Any, x0: Any) -> Any:
        raise NotImplementedError

    def _col(self, s: Any) -> Any:
        return s[:, None] if s.ndim == 1 else s

    def bracket(self, s: Any, x: Any, x0: Any, b: Any) -> Any:
        r""":math:`\beta b - \dot\beta x + (\alpha\dot\beta - \dot\alpha\beta)x_0`, written
        :math:`\beta b - \dot\beta(x - x_0) + (\beta - s\dot\beta)x_0` for :math:`\alpha = 1 - s` (exactly 0 at
        s = 0, x = x0)."""
        sc = self._col(s)
        c = self.interpolant.coefficients(sc, self.xp)
        return c.b * b - c.bd * (x - x0) + (c.b - sc * c.bd) * x0

    def score_factor(self, s: Any) -> Any:
        r""":math:`A_s = 1/(s\sigma_s(\dot\beta\sigma - \beta\dot\sigma))` at s clipped into
        :math:`[10^{-12}, 1 - 10^{-12}]`."""
        sc = self.xp.clip(self._col(s), _S_CLIP, 1.0 - _S_CLIP)
        c = self.interpolant.coefficients(sc, self.xp)
        return 1.0 / (sc * c.sg * (c.bd * c.sg - c.b * c.sgd))

    def score(self, s: Any, x: Any, x0: Any) -> Any:
        """The conditional score from the drift (formula of the module docstring)."""
        return self.score_factor(s) * self.bracket(s, x, x0, self.drift(s, x, x0))


class ConditionalDrift:
    """Base class of the forecasting drifts :math:`b(s, x; x_0)` (exact, feature-fitted, MLP). Public methods take
    arrays of any backend; :meth:`bind` gives the backend-bound object that samplers call in their loops."""

    interpolant: FollmerInterpolant
    dim: int

    def bind(self, be: Backend) -> _BoundDrift:
        cache = self.__dict__.setdefault("_bound", {})
        key = (be.name, str(be.device), str(be.dtype))
        if key not in cache:
            cache[key] = self._make_bound(be)
        return cache[key]

    def _make_bound(self, be: Backend) -> _BoundDrift:
        raise NotImplementedError

    def _prep(self, s: Any, x: Any, x0: Any, backend: Any) -> tuple[_BoundDrift, Any, Any, Any]:
        be = resolve_backend(x, x0, s, backend=backend)
        xp = be.xp
        x = as_points("x", x, be, dim=self.dim)
        x0 = as_points("x0", x0, be, dim=self.dim, ndim=(1, 2))
        if x0.ndim == 1:
            x0 = xp.broadcast_to(x0[None, :], x.shape)
        if x0.shape != x.shape:
            raise ValueError(f"x0 must have shape (d,) or x's shape {tuple(x.shape)}, got {tuple(x0.shape)}")
        s = as_points("s", s, be, ndim=(0, 1))
        if s.ndim == 1 and s.shape[0] != x.shape[0]:
            raise ValueError(f"s must be a scalar or have shape ({x.shape[0]},), got {tuple(s.shape)}")
        if bool(xp.any(s < 0.0)) or bool(xp.any(s > 1.0)):
            raise ValueError("s must lie in [0, 1]")
        return self.bind(be), s, x, x0

    def drift(self, s: Any, x: Any, x0: Any, *, backend: Any = None) -> Any:
        """:math:`b(s, x; x_0)`, shape (n, d); ``x0`` of shape (d,) or (n, d)."""
        bd, s, x, x0 = self._prep(s, x, x0, backend)
        return bd.drift(s, x, x0)

    def score(self, s: Any, x: Any, x0: Any, *, backend: Any = None) -> Any:
        r""":math:`\nabla_x\log\rho_s(x\mid x_0)`, shape (n, d) (singular as s → 0, X away from x0)."""
        bd, s, x, x0 = self._prep(s, x, x0, backend)
        return bd.score(s, x, x0)


class ExactDrift(ConditionalDrift):
    r"""The drift for a Gaussian conditional :math:`x_1 \mid x_0 \sim N(m, C)`, :math:`m = A x_0 + b`:

    .. math:: b(s, x; x_0) = \dot\alpha x_0 + \dot\beta m + (\beta\dot\beta C + \sigma\dot\sigma s I)
              (\beta^2 C + \sigma^2 s I)^{-1}(x - \alpha x_0 - \beta m),

    computed in the eigenbasis of C with both matrices divided by s, so it is finite at s = 0 (Chen et al. 2024,
    arXiv:2403.13724). ``score`` is the closed form :math:`-(\beta^2C + \sigma^2 sI)^{-1}(x - \alpha x_0 - \beta m)`.
    """

    def __init__(self, interpolant: FollmerInterpolant, A: Any, C: Any, b: Any = None):
        host = host_backend()
        xp = host.xp
        A = _host_points("A", A)
        d = A.shape[0]
        if A.shape != (d, d):
            raise ValueError(f"A must be a square (d, d) matrix, got shape {tuple(A.shape)}")
        C = _host_points("C", C, dim=d)
        if C.shape != (d, d) or not bool(xp.all(xp.abs(C - C.mT) <= 1e-12 * (1.0 + xp.abs(C)))):
            raise ValueError(f"C must be a symmetric ({d}, {d}) matrix")
        lam, U = xp.linalg.eigh(C)
        if not bool(xp.all(lam > 0.0)):
            raise ValueError(f"C must be positive definite; its smallest eigenvalue is {float(xp.min(lam))}")
        b = xp.zeros((d,), dtype=xp.float64) if b is None else _host_points("b", b, dim=d, ndim=1)
        self.interpolant, self.dim = interpolant, d
        self._host = {"A": A, "b": b, "U": U, "lam": lam, "C": C}

    def _make_bound(self, be: Backend) -> _BoundDrift:
        return _BoundExact(be, self)


class _BoundExact(_BoundDrift):
    def __init__(self, be: Backend, model: ExactDrift):
        super().__init__(be, model.interpolant, model.dim)
        self.p = {k: be.asarray(v) for k, v in model._host.items()}

    def _parts(self, s: Any, x: Any, x0: Any) -> tuple[Any, Any, Any]:
        sc = self._col(s)
        c = self.interpolant.coefficients(sc, self.xp)
        m = x0 @ self.xp.linalg.matrix_transpose(self.p["A"]) + self.p["b"]
        return c, m, (x - c.a * x0 - c.b * m) @ self.p["U"]

    def drift(self, s: Any, x: Any, x0: Any) -> Any:
        c, m, y = self._parts(s, x, x0)
        lam = self.p["lam"]
        ratio = (c.r * c.bd * lam + c.sg * c.sgd) / (c.r * c.b * lam + c.sg * c.sg)
        return c.ad * x0 + c.bd * m + (ratio * y) @ self.xp.linalg.matrix_transpose(self.p["U"])

    def score(self, s: Any, x: Any, x0: Any) -> Any:
        c, _, y = self._parts(s, x, x0)
        sc = self._col(s)
        var = c.b * c.b * self.p["lam"] + c.sg * c.sg * sc
        return -(y / var) @ self.xp.linalg.matrix_transpose(self.p["U"])


@declare(name="tk.interpolants.forecasting.exact_drift")
def exact_drift(interpolant: FollmerInterpolant, A: Any, C: Any, *, b: Any = None) -> ExactDrift:
    r"""The exact forecasting drift for :math:`x_1 \mid x_0 \sim N(A x_0 + b, C)` (C positive definite); see
    :class:`ExactDrift` (Chen et al. 2024, arXiv:2403.13724)."""
    _check_interpolant(interpolant)
    return ExactDrift(interpolant, A, C, b)
