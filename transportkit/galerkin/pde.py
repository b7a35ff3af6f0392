r"""Evolution equations :math:`\partial_t u = f(t, x, u, \nabla u, \Delta u, \partial_x^3 u)` and built-ins.

A :class:`PDE` holds the right-hand side ``rhs(t, x, fields, xp) -> (n,)`` (``fields`` is the dict returned by
:meth:`Parametrization.evaluate` with the entries listed in ``needs``), the domain box, whether it is periodic,
the initial condition ``u0(x, xp)`` and, where known, the exact solution ``exact(t, x, xp)``.

Built-ins (references in brackets): :func:`advection` (exact moving Gaussian packets), :func:`kdv` (exact
two-soliton), :func:`allen_cahn` (pseudo-spectral reference in the tests), :func:`ou_fokker_planck` (exact
Gaussian).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

from .._validation import as_choice

__all__ = ["PDE", "advection", "allen_cahn", "kdv", "ou_fokker_planck"]


@dataclasses.dataclass
class PDE:
    """Description of :math:`\\partial_t u = f`. ``low``/``high``: the domain box (periodic: one period).

    ``rhs(t, x, fields, xp)`` must be pointwise (entry :math:`j` depends on :math:`x_j` and the fields at
    :math:`x_j` only, as for any differential operator) and written with ``xp`` functions: where the backend
    compiles the time step (``solve(jit=True)``), ``t`` arrives as a traced 0-d array, so use
    ``xp.sin(xp.asarray(t, dtype=x.dtype))`` rather than ``math.sin(t)``.

    ``linear_symbol(t, k, xp)`` (optional, periodic problems) declares that ``rhs`` may be evaluated on fields
    computed spectrally from values on a periodic grid, and gives the Fourier symbol :math:`\\hat L(t, k)` of the
    stiff linear constant-coefficient part of :math:`f` (``k`` a tuple of ``d`` broadcastable real arrays of
    angular wavenumbers; e.g. ``1j * k[0]**3`` for :math:`-\\partial_x^3`, ``-nu * k[0]**2`` for
    :math:`\\nu\\partial_x^2`; zeros for a problem without one). With it, :func:`solve` on the PDE's full periodic
    grid propagates the a-posteriori error by the error equation (:mod:`transportkit.galerkin.grid_error`).
    """

    rhs: Callable[[float, Any, dict[str, Any], Any], Any]
    d: int
    low: tuple[float, ...]
    high: tuple[float, ...]
    needs: tuple[str, ...] = ("u",)
    periodic: bool = False
    u0: Callable[[Any, Any], Any] | None = None
    exact: Callable[[float, Any, Any], Any] | None = None
    name: str = "pde"
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    linear_symbol: Callable[[Any, tuple[Any, ...], Any], Any] | None = None

    def __post_init__(self) -> None:
        self.low = tuple(float(v) for v in self.low)
        self.high = tuple(float(v) for v in self.high)
        if len(self.low) != self.d or len(self.high) != self.d:
            raise ValueError(f"low/high need {self.d} entries, got {self.low}, {self.high}")
        if any(not (h > lo) for lo, h in zip(self.low, self.high, strict=False)):
            raise ValueError(f"empty domain: low={self.low}, high={self.high}")
        if "u" not in self.needs:
            self.needs = ("u", *self.needs)


def _vec(v: Any, d: int, name: str) -> list[float]:
    if isinstance(v, (int, float)):
        return [float(v)] * d
    out = [float(a) for a in v]
    if len(out) != d:
        raise ValueError(f"{name} needs {d} entries, got {len(out)}")
    return out


def _packets(x: Any, xp: Any, centers: list[list[float]], stds: list[list[float]], weights: list[float]) -> Any:
    """:math:`\\sum_j a_j \\exp(-\\tfrac12\\sum_k (x_k - m_{jk})^2/s_{jk}^2)`."""
    out = xp.zeros(x.shape[0], dtype=x.dtype)
    for m, s, a in zip(centers, stds, weights, strict=False):
        mm = xp.asarray(m, dtype=x.dtype)
        ss = xp.asarray(s, dtype=x.dtype)
        out = out + a * xp.exp(-0.5 * xp.sum(((x - mm) / ss) ** 2, axis=1))
    return out


def advection(
    d: int = 1,
    *,
    velocity: float | Sequence[float] | None = None,
    centers: Sequence[Sequence[float]] | None = None,
    stds: Sequence[Sequence[float]] | float | None = None,
    weights: Sequence[float] | None = None,
    low: float | None = None,
    high: float | None = None,
    coefficients: str = "sine",
) -> PDE:
    r"""Linear advection :math:`\partial_t u = -a(t)\cdot\nabla u` with Gaussian packets; exact
    :math:`u(t,x) = u_0(x - A(t))`, :math:`A(t) = \int_0^ta`.

    ``coefficients="sine"`` (default): :math:`a(t) = a_0(1 + \tfrac12\sin 2\pi t)` (``velocity`` = :math:`a_0`,
    default :math:`a_{0,k} = 1 - \tfrac12 (k-1)/\max(d-1,1)`), :math:`A(t) = a_0(t + (1-\cos 2\pi t)/(4\pi))`;
    initial condition :math:`u_0 = \sum_j a_j\exp(-\tfrac12\sum_k (x_k-m_{jk})^2/s_{jk}^2)` (default: one packet
    at :math:`0.5\cdot\mathbb 1`, :math:`s = 0.25`); box :math:`[-1, 3]^d` (the packets stay inside up to
    :math:`t = 1`).

    ``coefficients="paper"``: the benchmark of Bruna, Peherstorfer & Vanden-Eijnden (J. Comput. Phys. 2024,
    arXiv:2203.01360), :math:`a_i(t) = i\sin(s_i\pi t) + \tfrac54 i`, :math:`s_i = 2(1 + (i-1)/(d-1))`
    (:math:`s_1 = 2` when :math:`d = 1`), so :math:`A_i(t) = i(1 - \cos s_i\pi t)/(\pi s_i) + \tfrac54 it`; by
    default the paper's initial condition, the sum of the normal densities :math:`N(m^1, \mathrm{diag}\,v^1)` and
    :math:`N(m^2, \mathrm{diag}\,v^2)` with :math:`m^1 = 1.1\cdot\mathbb 1`,
    :math:`m^2_i = 0.75(1.5 - (-1)^i i/(d+1))`, :math:`v^1_i = 0.01i`, :math:`v^2_i = 0.005(d + 2 - i)`, on
    :math:`[0, 15]^d` (final time 1.8 in the paper). ``velocity`` is refused with it (the coefficients are fixed).
    """
    d = int(d)
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    coefficients = as_choice("coefficients", coefficients, ("sine", "paper"))
    if coefficients == "paper":
        if velocity is not None:
            raise ValueError("coefficients='paper' fixes a(t); velocity= applies to coefficients='sine' only")
        idx = range(1, d + 1)
        sfreq = [2.0 * (1.0 + (i - 1) / (d - 1)) if d > 1 else 2.0 for i in idx]
        a0 = [float(i) for i in idx]
        if centers is None:
            centers = [[1.1] * d, [0.75 * (1.5 - (-1) ** i * i / (d + 1)) for i in idx]]
            v1, v2 = [0.01 * i for i in idx], [0.005 * (d + 2 - i) for i in idx]
            stds = [[math.sqrt(v) for v in v1], [math.sqrt(v) for v in v2]] if stds is None else stds
            if weights is None:
                weights = [math.prod((2.0 * math.pi * v) ** -0.5 for v in vv) for vv in (v1, v2)]
        low = 0.0 if low is None else low
        high = 15.0 if high is None else high
    else:
        a0 = _vec(velocity, d, "velocity") if velocity is not None else [
            1.0 - 0.5 * k / max(d - 1, 1) for k in range(d)
        ]
        low = -1.0 if low is None else low
        high = 3.0 if high is None else high
    stds = 0.25 if stds is None else stds
    cs = [[0.5] * d] if centers is None else [_vec(c, d, "centers") for c in centers]
    if isinstance(stds, (int, float)):
        ss = [[float(stds)] * d for _ in cs]
    else:
        ss = [_vec(s, d, "stds") for s in stds]
    ws = [1.0] * len(cs) if weights is None else [float(w) for w in weights]
    if len(ss) != len(cs) or len(ws) != len(cs):
        raise ValueError(f"centers, stds, weights must have the same length: {len(cs)}, {len(ss)}, {len(ws)}")
    if any(v <= 0 for s in ss for v in s):
        raise ValueError(f"stds must be positive, got {ss}")

    if coefficients == "paper":

        def shift_vec(t: float) -> list[float]:
            return [i * (1.0 - math.cos(s * math.pi * t)) / (math.pi * s) + 1.25 * i * t
                    for i, s in zip(a0, sfreq, strict=True)]

        def rhs(t: Any, x: Any, fields: dict[str, Any], xp: Any) -> Any:
            tt = xp.asarray(t, dtype=x.dtype)  # t may be a traced 0-d array (compiled steps): xp, not math
            i = xp.asarray(a0, dtype=x.dtype)
            a = i * xp.sin((math.pi * tt) * xp.asarray(sfreq, dtype=x.dtype)) + 1.25 * i
            return -(fields["grad"] @ a)

        def shift(t: float) -> list[float]:
            return shift_vec(t)

    else:

        def shift(t: float) -> float:  # type: ignore[misc]
            return t + (1.0 - math.cos(2.0 * math.pi * t)) / (4.0 * math.pi)

        def shift_vec(t: float) -> list[float]:
            return [a * shift(t) for a in a0]

        def rhs(t: Any, x: Any, fields: dict[str, Any], xp: Any) -> Any:
            # t may be a traced 0-d array (compiled steps): use xp, not math, on it
            s = 1.0 + 0.5 * xp.sin((2.0 * math.pi) * xp.asarray(t, dtype=x.dtype))
            a = xp.asarray(a0, dtype=x.dtype) * s
            return -(fields["grad"] @ a)

    def u0(x: Any, xp: Any) -> Any:
        return _packets(x, xp, cs, ss, ws)

    def exact(t: float, x: Any, xp: Any) -> Any:
        A = xp.asarray(shift_vec(float(t)), dtype=x.dtype)
        return _packets(x - A, xp, cs, ss, ws)

    info = {"velocity": a0, "centers": cs, "stds": ss, "weights": ws, "shift": shift, "shift_vec": shift_vec,
            "coefficients": coefficients}
    if coefficients == "paper":
        info["frequencies"] = sfreq
    return PDE(
        rhs=rhs, d=d, low=(float(low),) * d, high=(float(high),) * d, needs=("grad",), u0=u0, exact=exact,
        name=f"advection-{d}d" if coefficients == "sine" else f"advection-paper-{d}d", info=info,
    )


def kdv(*, k: tuple[float, float] = (1.0, math.sqrt(5.0)), eta0: tuple[float, float] = (0.0, 10.73),
        low: float = -20.0, high: float = 40.0) -> PDE:
    r"""Korteweg–de Vries :math:`\partial_t u = -6u\,\partial_x u - \partial_x^3 u`, periodic on ``[low, high)``.

    Exact two-soliton :math:`u = 2\partial_x^2\log f`, :math:`f = 1 + e^{\eta_1} + e^{\eta_2} +
    c\,e^{\eta_1+\eta_2}`, :math:`\eta_j = k_jx - k_j^3t + \eta_j^0`, :math:`c = ((k_1-k_2)/(k_1+k_2))^2`
    (it is not periodic, but both solitons stay far from the ends up to :math:`t = 4`).
    """
    k1, k2 = float(k[0]), float(k[1])
    e1, e2 = float(eta0[0]), float(eta0[1])
    cc = ((k1 - k2) / (k1 + k2)) ** 2

    def exact(t: float, x: Any, xp: Any) -> Any:
        xx = x[:, 0]
        n1 = k1 * xx - k1**3 * t + e1
        n2 = k2 * xx - k2**3 * t + e2
        # scale by the largest exponent to avoid overflow: f = e^s * (e^-s + e^(n1-s) + ...)
        s = xp.maximum(xp.maximum(n1, n2), xp.maximum(n1 + n2, xp.zeros_like(n1)))
        a0, a1, a2, a12 = xp.exp(-s), xp.exp(n1 - s), xp.exp(n2 - s), cc * xp.exp(n1 + n2 - s)
        f = a0 + a1 + a2 + a12
        f1 = k1 * a1 + k2 * a2 + (k1 + k2) * a12
        f2 = k1**2 * a1 + k2**2 * a2 + (k1 + k2) ** 2 * a12
        return 2.0 * (f2 * f - f1**2) / f**2

    def rhs(t: float, x: Any, fields: dict[str, Any], xp: Any) -> Any:
        return -6.0 * fields["u"] * fields["grad"][:, 0] - fields["dxxx"]

    return PDE(
        rhs=rhs, d=1, low=(low,), high=(high,), needs=("grad", "dxxx"), periodic=True,
        u0=lambda x, xp: exact(0.0, x, xp), exact=exact, name="kdv-two-soliton",
        info={"k": (k1, k2), "eta0": (e1, e2)}, linear_symbol=_kdv_symbol,
    )


def _kdv_symbol(t: Any, k: tuple[Any, ...], xp: Any) -> Any:
    r"""The Fourier symbol of :math:`-\partial_x^3`: :math:`-(ik)^3 = ik^3`."""
    return 1j * k[0] ** 3


def allen_cahn(*, eps: float = 0.05, width: float = math.sqrt(10.0), bumps: tuple[float, float] = (0.5, 4.4)) -> PDE:
    r"""Allen–Cahn :math:`\partial_t u = \varepsilon\,\partial_x^2 u + a(x,t)(u - u^3)`, periodic on
    :math:`[0, 2\pi)`, :math:`a = 1.05 + t\sin x`.

    Sign convention: the reaction :math:`+a(u - u^3)` drives :math:`u` toward the stable states
    :math:`\pm 1` (the standard Allen–Cahn sign; one published reproduction uses the opposite sign).
    Initial condition :math:`u_0 = \varphi(x; w, 0.5) - \varphi(x; w, 4.4)` with periodic bumps
    :math:`\varphi(x; w, b) = \exp(-\tfrac12 w^2\sin^2((x-b)/2))`, :math:`w = \sqrt{10}`. No exact solution:
    the tests use a pseudo-spectral ETDRK4 reference.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    b1, b2 = float(bumps[0]), float(bumps[1])

    def u0(x: Any, xp: Any) -> Any:
        xx = x[:, 0]
        bump1 = xp.exp(-0.5 * width**2 * xp.sin((xx - b1) / 2) ** 2)
        return bump1 - xp.exp(-0.5 * width**2 * xp.sin((xx - b2) / 2) ** 2)

    def rhs(t: float, x: Any, fields: dict[str, Any], xp: Any) -> Any:
        u = fields["u"]
        a = 1.05 + t * xp.sin(x[:, 0])
        return eps * fields["lap"] + a * (u - u**3)

    def symbol(t: Any, k: tuple[Any, ...], xp: Any) -> Any:  # eps * d_xx
        return -eps * k[0] ** 2

    return PDE(
        rhs=rhs, d=1, low=(0.0,), high=(2.0 * math.pi,), needs=("lap",), periodic=True, u0=u0,
        name="allen-cahn", info={"eps": eps, "width": width, "bumps": (b1, b2)}, linear_symbol=symbol,
    )


def ou_fokker_planck(
    d: int = 4,
    *,
    rates: float | Sequence[float] | None = None,
    target: float | Sequence[float] = 0.0,
    diffusion: float = 0.5,
    mean0: float | Sequence[float] | None = None,
    std0: float | Sequence[float] = 0.3,
) -> PDE:
    r"""Fokker–Planck equation of :math:`dX = -B(X - \mu)\,dt + \sqrt{2D}\,dW`, :math:`B = \mathrm{diag}(\beta)`:

    .. math::
        \partial_t u = \nabla\cdot(B(x-\mu)u) + D\Delta u
                     = \mathrm{tr}(B)\,u + (B(x-\mu))\cdot\nabla u + D\Delta u.

    From :math:`u_0 = \mathcal N(m_0, \mathrm{diag}(s_0^2))` the exact solution is Gaussian with
    :math:`m_k(t) = \mu_k + e^{-\beta_kt}(m_{0,k}-\mu_k)` and diagonal covariance
    :math:`C_{kk}(t) = s_{0,k}^2e^{-2\beta_kt} + (D/\beta_k)(1 - e^{-2\beta_kt})`
    (``info["mean"](t)``, ``info["cov"](t)``). Defaults: :math:`\beta_k = 0.5 + k/d`,
    :math:`m_{0,k} = 1 - 0.25k`.
    """
    d = int(d)
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    beta = _vec(rates, d, "rates") if rates is not None else [0.5 + k / d for k in range(d)]
    if any(v <= 0 for v in beta):
        raise ValueError(f"rates must be positive, got {beta}")
    if not diffusion > 0:
        raise ValueError(f"diffusion must be positive, got {diffusion}")
    mu = _vec(target, d, "target")
    m0 = _vec(mean0, d, "mean0") if mean0 is not None else [1.0 - 0.25 * k for k in range(d)]
    s0 = _vec(std0, d, "std0")
    D = float(diffusion)

    def mean(t: float) -> list[float]:
        return [mu[k] + math.exp(-beta[k] * t) * (m0[k] - mu[k]) for k in range(d)]

    def var(t: float) -> list[float]:
        return [s0[k] ** 2 * math.exp(-2 * beta[k] * t) + D / beta[k] * (1 - math.exp(-2 * beta[k] * t))
                for k in range(d)]

    def density(t: float, x: Any, xp: Any) -> Any:
        m = xp.asarray(mean(t), dtype=x.dtype)
        v = xp.asarray(var(t), dtype=x.dtype)
        logn = -0.5 * xp.sum((x - m) ** 2 / v, axis=1) - 0.5 * xp.sum(xp.log(2 * math.pi * v))
        return xp.exp(logn)

    def rhs(t: float, x: Any, fields: dict[str, Any], xp: Any) -> Any:
        B = xp.asarray(beta, dtype=x.dtype)
        drift = B * (x - xp.asarray(mu, dtype=x.dtype))
        return sum(beta) * fields["u"] + xp.sum(drift * fields["grad"], axis=1) + D * fields["lap"]

    lo = [min(m0[k], mu[k]) - 4 * max(s0[k], math.sqrt(D / beta[k])) for k in range(d)]
    hi = [max(m0[k], mu[k]) + 4 * max(s0[k], math.sqrt(D / beta[k])) for k in range(d)]
    return PDE(
        rhs=rhs, d=d, low=tuple(lo), high=tuple(hi), needs=("grad", "lap"), u0=lambda x, xp: density(0.0, x, xp),
        exact=density, name=f"ou-fokker-planck-{d}d",
        info={"rates": beta, "target": mu, "diffusion": D, "mean0": m0, "std0": s0,
              "mean": mean, "cov": lambda t: [[var(t)[i] if i == j else 0.0 for j in range(d)] for i in range(d)]},
    )
