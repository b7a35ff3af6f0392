r"""Schedule design: Lipschitz criteria, the Gaussian-optimal schedule, time-dilated high-dimensional schedules and
the optimal diffusion coefficient (Chen, Vanden-Eijnden & Xu 2025, arXiv:2509.01629; Aranguri, Biroli, Mézard &
Vanden-Eijnden 2025, arXiv:2501.00988; Albergo, Boffi & Vanden-Eijnden 2023, arXiv:2303.08797).

- Chen, Vanden-Eijnden & Xu, "Lipschitz-Guided Design of Interpolation Schedules in Generative Models" (2025,
  arXiv:2509.01629): the averaged squared Lipschitz constant :math:`A_2 = \int_0^1 E_{\rho_t}\|\nabla b\|^2\,dt`,
  its Gaussian optimum and the two-mode mixture geodesic.
- Aranguri, Biroli, Mézard & Vanden-Eijnden, "Optimizing Noise Schedules of Generative Models in High Dimensions"
  (2025, arXiv:2501.00988): time-dilated VP/VE schedules.
- Ma et al., "SiT: Exploring Flow and Diffusion-based Generative Models with Scalable Interpolant Transformers"
  (2024, arXiv:2401.08740): the diffusion coefficient :math:`\varepsilon^*(t)` that makes the path KL
  reparametrization-invariant.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import host_backend
from .._validation import as_choice, as_count, as_real
from .interpolant import Interpolant
from .lipschitz import LipschitzResult, lipschitz
from .schedules import Schedule

__all__ = [
    "LipschitzResult",
    "dilated_schedule",
    "geodesic_schedule",
    "lipschitz",
    "optimal_diffusion",
    "optimal_gaussian_schedule",
]


# ------------------------------------------------------------------------------------------ Gaussian optimum
def _safe_div(num: Any, den: Any, xp: Any, at_zero: float) -> Any:
    pos = den > 0
    return xp.where(pos, num / xp.where(pos, den, xp.ones_like(den)), at_zero)


def optimal_gaussian_schedule(r: float) -> Interpolant:
    r"""The variance-preserving schedule that minimizes :math:`\int_0^1 J_r(t)^2 dt` for the stiffest Gaussian mode
    of variance ratio ``r`` (target over base) (Chen, Vanden-Eijnden & Xu 2025, arXiv:2509.01629):

    .. math:: \beta(t)^2 = \frac{1 - r^t}{1 - r},\qquad \alpha(t)^2 = \frac{r^t - r}{1 - r},
              \qquad J_r(t) = \frac{\alpha\alpha' + \beta\beta' r}{\alpha^2 + \beta^2 r} \equiv \tfrac12\log r,

    so the Lipschitz constant of that mode is :math:`\tfrac12|\log r|` instead of :math:`\sim 1/(2\sqrt r)` (linear).
    ``r = 1`` gives the limit :math:`\beta^2 = t`. :math:`\beta'` is infinite at 0 and :math:`\alpha'` at 1; the
    products :math:`\alpha\alpha' = -\beta\beta' = \tfrac12\log r\; r^t/(1-r)` are finite."""
    r = as_real("r", r, low=0.0, low_open=True)
    if abs(r - 1.0) < 1e-12:
        def b2(t, xp):
            return t

        def bbd(t, xp):
            return 0.5 * xp.ones_like(t)

        def inv(th, xp):
            return xp.sin(th) ** 2
    else:
        lr, den = math.log(r), 1.0 - r

        def b2(t, xp):
            return (1.0 - xp.exp(lr * t)) / den

        def bbd(t, xp):
            return -0.5 * lr * xp.exp(lr * t) / den

        def inv(th, xp):
            return xp.log(1.0 - den * xp.sin(th) ** 2) / lr

    def beta(t, xp):
        return xp.sqrt(xp.clip(b2(t, xp), 0.0, 1.0))

    def alpha(t, xp):
        return xp.sqrt(xp.clip(1.0 - b2(t, xp), 0.0, 1.0))

    def beta_dot(t, xp):
        return _safe_div(bbd(t, xp), beta(t, xp), xp, math.inf)

    return _vp_schedule(f"optimal_gaussian(r={r:g})", beta, beta_dot, inv, bbd, alpha=alpha)


# ------------------------------------------------------------------------------------------ dilated schedules
def dilated_schedule(kind: str, d: int, k: float | None = 5.0) -> Interpolant:
    r"""The time-dilated VP or VE schedule of Aranguri, Biroli, Mézard & Vanden-Eijnden (2025, arXiv:2501.00988)
    for dimension ``d``: :math:`x_t = a(\tau) z + \tau x_1` with

    - ``"vp"``: :math:`a = \sqrt{1-\tau^2}`, :math:`\tau(t) = 2kt/\sqrt d` for :math:`t<\tfrac12`,
      :math:`k/\sqrt d + (1 - k/\sqrt d)(2t-1)` after: half the time in the window :math:`\tau \lesssim k/\sqrt d`
      where the mode weights are decided (needs :math:`k < \sqrt d`);
    - ``"ve"``: :math:`a = \sqrt{d(1-\tau^2)}` (base :math:`N(0, dI)`, approximate at t = 0),
      :math:`\tau(t) = 2t\sqrt{1-k^2/d}` for :math:`t<\tfrac12`, :math:`\sqrt{1-k^2(2-2t)^2/d}` after (half the time
      where the noise level :math:`a \le k` resolves each mode's shape).

    ``k=None`` gives the constant-speed :math:`\tau = t` of the same family (``"vp"`` is then
    ``Interpolant("vp")``). With these schedules the probability-flow ODE needs :math:`\Theta_d(1)` steps instead of
    :math:`\Theta_d(\sqrt d)`."""
    kind = as_choice("kind", kind, ("vp", "ve"))
    d = as_count("d", d, low=1)
    sd = math.sqrt(d)
    if k is None:
        def tau(t, xp):
            return t

        def tau_dot(t, xp):
            return xp.ones_like(t)

        label = f"{kind}(d={d})"
    else:
        k = as_real("k", k, low=0.0, low_open=True, high=sd, high_open=True)
        if kind == "vp":
            w = k / sd

            def tau(t, xp):
                return xp.where(t < 0.5, 2.0 * w * t, w + (1.0 - w) * (2.0 * t - 1.0))

            def tau_dot(t, xp):
                return xp.where(t < 0.5, 2.0 * w * xp.ones_like(t), 2.0 * (1.0 - w) * xp.ones_like(t))
        else:
            q = k * k / d
            top = math.sqrt(1.0 - q)

            def tau(t, xp):
                late = xp.sqrt(xp.clip(1.0 - q * (2.0 - 2.0 * t) ** 2, 0.0, 1.0))
                return xp.where(t < 0.5, 2.0 * top * t, late)

            def tau_dot(t, xp):
                late = 2.0 * q * (2.0 - 2.0 * t) / xp.where(t < 0.5, xp.ones_like(t), tau(t, xp))
                return xp.where(t < 0.5, 2.0 * top * xp.ones_like(t), late)

        label = f"dilated_{kind}(d={d}, k={k:g})"
    scale = 1.0 if kind == "vp" else float(d)

    def alpha(t, xp):
        tt = tau(t, xp)
        return xp.sqrt(scale * xp.clip(1.0 - tt * tt, 0.0, None))

    def aad(t, xp):
        return -scale * tau(t, xp) * tau_dot(t, xp)

    sched = Schedule(
        label,
        alpha=alpha,
        beta=tau,
        gamma=lambda t, xp: xp.zeros_like(t),
        alpha_dot=lambda t, xp: _safe_div(aad(t, xp), alpha(t, xp), xp, -math.inf),
        beta_dot=tau_dot,
        gamma_dot=lambda t, xp: xp.zeros_like(t),
        alpha_alpha_dot=aad,
        beta_beta_dot=lambda t, xp: tau(t, xp) * tau_dot(t, xp),
        gamma_gamma_dot=lambda t, xp: xp.zeros_like(t),
        gamma_is_zero=True,
        approximate=kind == "ve",
    )
    return Interpolant.from_schedule(sched)


# ------------------------------------------------------------------------------------------ mixture geodesic
class _Table:
    r"""Piecewise-linear :math:`\beta(t)` through host nodes, converted once per (namespace, dtype, device)."""

    def __init__(self, t: list[float], beta: list[float]):
        self.t, self.beta = t, beta
        self.slope = [(beta[i + 1] - beta[i]) / (t[i + 1] - t[i]) for i in range(len(t) - 1)]
        self._cache: dict[tuple, tuple[Any, Any, Any]] = {}

    def arrays(self, like: Any, xp: Any) -> tuple[Any, Any, Any]:
        from array_api_compat import device

        key = (id(xp), str(like.dtype), str(device(like)))
        out = self._cache.get(key)
        if out is None:
            mk = lambda v: xp.asarray(v, dtype=like.dtype, device=device(like))  # noqa: E731
            out = self._cache[key] = (mk(self.t), mk(self.beta), mk(self.slope))
        return out

    def _segment(self, t: Any, xp: Any, nodes: Any) -> tuple[Any, Any]:
        flat = xp.reshape(t, (-1,))
        i = xp.searchsorted(nodes, flat, side="right") - 1
        i = xp.clip(i, 0, len(self.t) - 2)
        return flat, i

    def beta_at(self, t: Any, xp: Any) -> Any:
        tn, bn, sl = self.arrays(t, xp)
        flat, i = self._segment(t, xp, tn)
        out = xp.take(bn, i) + xp.take(sl, i) * (flat - xp.take(tn, i))
        return xp.reshape(xp.clip(out, 0.0, 1.0), t.shape)

    def slope_at(self, t: Any, xp: Any) -> Any:
        tn, _, sl = self.arrays(t, xp)
        _, i = self._segment(t, xp, tn)
        return xp.reshape(xp.take(sl, i), t.shape)

    def t_of_beta(self, b: Any, xp: Any) -> Any:
        tn, bn, sl = self.arrays(b, xp)
        flat, i = self._segment(b, xp, bn)
        out = xp.take(tn, i) + (flat - xp.take(bn, i)) / xp.take(sl, i)
        return xp.reshape(xp.clip(out, 0.0, 1.0), b.shape)


def _vp_schedule(name: str, beta: Callable, beta_dot: Callable, inv: Callable | None,
                 bbd: Callable | None = None, *, alpha: Callable | None = None) -> Interpolant:
    """The variance-preserving interpolant of ``beta`` (``alpha`` = sqrt(1 - beta^2) unless given), with
    ``bbd`` = beta beta' and the products alpha alpha' = -beta beta' that stay finite where a derivative does not."""
    if alpha is None:
        def alpha(t, xp):
            b = beta(t, xp)
            return xp.sqrt(xp.clip(1.0 - b * b, 0.0, None))

    if bbd is None:
        def bbd(t, xp):
            return beta(t, xp) * beta_dot(t, xp)

    sched = Schedule(
        name,
        alpha=alpha,
        beta=beta,
        gamma=lambda t, xp: xp.zeros_like(t),
        alpha_dot=lambda t, xp: _safe_div(-bbd(t, xp), alpha(t, xp), xp, -math.inf),
        beta_dot=beta_dot,
        gamma_dot=lambda t, xp: xp.zeros_like(t),
        alpha_alpha_dot=lambda t, xp: -bbd(t, xp),
        beta_beta_dot=bbd,
        gamma_gamma_dot=lambda t, xp: xp.zeros_like(t),
        gamma_is_zero=True,
        theta_inverse=inv,
    )
    return Interpolant.from_schedule(sched)


def _linear_start(name: str, beta: Callable, bbd: Callable, inv: Callable, start: float) -> Interpolant:
    """The VP schedule ``beta`` with its start replaced by the straight line from (0, 0) to (start, beta(start))."""
    hx = host_backend().xp
    bs = float(beta(hx.asarray([start], dtype=hx.float64), hx)[0])
    slope = bs / start

    def b(t, xp):
        return xp.where(t < start, slope * t, beta(xp.where(t < start, start, t), xp))

    def bb(t, xp):
        return xp.where(t < start, slope * slope * t, bbd(xp.where(t < start, start, t), xp))

    def bd(t, xp):
        return xp.where(t < start, slope * xp.ones_like(t), _safe_div(bb(t, xp), b(t, xp), xp, math.inf))

    def th_inv(th, xp):
        s = xp.sin(th)
        return xp.where(s < bs, s / slope, inv(xp.where(s < bs, math.asin(bs), th), xp))

    return _vp_schedule(name, b, bd, th_inv, bb)


def geodesic_schedule(target: Any, *, surrogate: bool = False, start: float = 1e-3, nodes: int = 4001,
                      floor: float = 1e-3) -> Interpolant:
    r"""The variance-preserving schedule (:math:`\alpha = \sqrt{1-\beta^2}`) minimizing
    :math:`A_2 = \int_0^1 E\|\nabla b\|^2 dt` for a :class:`~transportkit.targets.SymmetricMixture` target (Chen,
    Vanden-Eijnden & Xu 2025, arXiv:2509.01629).

    Along the VP family :math:`\|\nabla b\|^2 = \beta'^2 G(\beta, x)`, so :math:`A_2 = \int\beta'^2 G(\beta)\,dt` with
    :math:`G(\beta) = E\|\nabla b\|^2|_{\beta'=1}` (for :math:`\sigma = 1`: :math:`\beta^2|\mu|^4
    E[\mathrm{sech}^4(h + \beta\mu\cdot x_t)]`); the Euler–Lagrange equation gives :math:`\beta'\sqrt{G} =` const,
    i.e. :math:`t = H(\beta)/H(1)`, :math:`H(\beta) = \int_0^\beta\sqrt{G}`. :math:`G` is computed exactly (a
    one-dimensional quadrature per node), :math:`H` by the trapezoid rule on ``nodes`` values of :math:`\beta`, and the
    schedule is the piecewise-linear interpolant of :math:`(t_i, \beta_i)` with its exact piecewise-constant
    derivative (a valid schedule; the exact geodesic has :math:`\beta \propto \sqrt t` and an infinite
    :math:`\beta'(0)`, so start sampling slightly after 0, from the exact law there).

    ``surrogate=True``: the authors' closed form :math:`\beta(t) = M^{-1}\sqrt{-\log(1 - (1 - e^{-M^2})t)}`,
    :math:`M = |\mu|`.

    ``start``: the geodesic's :math:`\beta \propto \sqrt t` makes :math:`\beta'(t_0) \propto t_0^{-1/2}` at the
    first Runge–Kutta stage, so few-step sampling from :math:`t_0 \to 0` collapses onto the majority mode. The
    authors start their uniform RK4 grid at :math:`t_0 = 10^{-3}`; here :math:`\beta` is the straight line from 0 to
    :math:`\beta(\text{start})` on :math:`[0, \text{start}]` and the geodesic after, a regular schedule that samplers
    can start at 0 (``start=0``: the bare geodesic)."""
    from ..highdim_targets import SymmetricMixture
    from .highdim import symmetric_jacobian_moments

    if not isinstance(target, SymmetricMixture):
        raise TypeError(f"geodesic_schedule needs a SymmetricMixture target, got {type(target).__name__}")
    nodes = as_count("nodes", nodes, low=3)
    floor = as_real("floor", floor, low=0.0, low_open=True)
    start = as_real("start", start, low=0.0, high=1.0, high_open=True)
    M2 = target.m**2 * target.dim
    if M2 == 0:
        raise ValueError("geodesic_schedule needs m != 0 (the two modes coincide)")
    if surrogate:
        kap = -math.expm1(-M2)

        def logq(t, xp):  # log(1 - kap t) = logaddexp(log(1 - t), log(t) - M^2), without log(0)
            u = 1.0 - t
            pos = u > 0
            a = xp.where(pos, xp.log(xp.where(pos, u, xp.ones_like(u))), -math.inf)
            tp = t > 0
            b = xp.where(tp, xp.log(xp.where(tp, t, xp.ones_like(t))), -math.inf) - M2
            mx = xp.maximum(a, b)
            return mx + xp.log(xp.exp(a - mx) + xp.exp(b - mx))

        def b(t, xp):
            return xp.sqrt(xp.clip(-logq(t, xp) / M2, 0.0, 1.0))

        def bbd(t, xp):  # beta beta' = kap / (2 M^2 (1 - kap t)), capped before overflow
            return kap * xp.exp(xp.clip(-logq(t, xp), None, 700.0)) / (2.0 * M2)

        def bd(t, xp):
            return _safe_div(bbd(t, xp), b(t, xp), xp, math.inf)

        def inv(th, xp):
            return -xp.expm1(-M2 * xp.sin(th) ** 2) / kap

        if start > 0:
            return _linear_start(f"geodesic_surrogate(M={math.sqrt(M2):.4g}, start={start:g})", b, bbd, inv, start)
        return _vp_schedule(f"geodesic_surrogate(M={math.sqrt(M2):.4g})", b, bd, inv, bbd)
    xp = host_backend().xp
    beta = xp.linspace(0.0, 1.0, nodes, dtype=xp.float64)
    a2 = 1.0 - beta * beta
    s2 = target.sigma**2
    D = a2 + beta * beta * s2
    A = beta * (s2 - 1.0) / D  # (alpha alpha' + beta beta' sigma^2) / D with beta' = 1, alpha alpha' = -beta
    K0 = (1.0 - beta * A) * beta * M2 / D
    G, _ = symmetric_jacobian_moments(A, K0, beta * beta * M2 / D, target.h, target.p)
    rg = xp.sqrt(xp.clip(G, 0.0, None))
    rg = rg + floor * float(xp.max(rg))
    H = xp.concat([xp.zeros(1, dtype=xp.float64), xp.cumulative_sum(0.5 * (rg[1:] + rg[:-1]) * (beta[1:] - beta[:-1]))])
    tn, bn = [float(v) for v in H / H[-1]], [float(v) for v in beta]
    if start > 0:  # the straight line from (0, 0) to (start, beta(start)), then the geodesic's nodes
        j = next(i for i, v in enumerate(tn) if v >= start)
        bs = bn[j - 1] + (bn[j] - bn[j - 1]) * (start - tn[j - 1]) / (tn[j] - tn[j - 1])
        keep = [i for i in range(j, len(tn)) if tn[i] > start]
        tn, bn = [0.0, start] + [tn[i] for i in keep], [0.0, bs] + [bn[i] for i in keep]
    tab = _Table(tn, bn)
    return _vp_schedule(
        f"geodesic({target!r}, start={start:g})",
        tab.beta_at,
        tab.slope_at,
        lambda th, xp: tab.t_of_beta(xp.sin(th), xp),
    )


# ------------------------------------------------------------------------------------------ optimal diffusion
class _OptimalDiffusion:
    """eps*(t) of a one-sided schedule as a callable of t (hashable: compiled runs are reused)."""

    def __init__(self, interpolant: Interpolant, cap: float):
        self.interpolant, self.cap = interpolant, cap

    def __call__(self, t: Any) -> Any:
        if isinstance(t, (int, float)):
            xp = host_backend().xp
            t = xp.asarray(float(t), dtype=xp.float64)
        else:
            from array_api_compat import array_namespace

            xp = array_namespace(t)
        s = self.interpolant.schedule
        a, b = s.alpha(t, xp), s.beta(t, xp)
        num = a * (a * s.beta_dot(t, xp)) - s.alpha_alpha_dot(t, xp) * b
        eps = _safe_div(num, b, xp, math.inf)
        return xp.minimum(eps, self.cap) if self.cap is not None else eps

    def __repr__(self) -> str:
        return f"optimal_diffusion({self.interpolant!r})"


def optimal_diffusion(interpolant: Interpolant | str, cap: float | None = 10.0) -> Callable[[Any], Any]:
    r"""The diffusion coefficient :math:`\varepsilon^*(t) = \alpha(\alpha\beta' - \alpha'\beta)/\beta` of a one-sided
    schedule, for ``tk.sample(..., method="sde", diffusion=optimal_diffusion(I))`` (Ma et al. 2024,
    arXiv:2401.08740): with the error carried by the denoiser it makes the path KL
    :math:`\tfrac12\int\lambda'(t)\,E|\hat\eta_1-\eta_1|^2 dt` (:math:`\lambda = \beta^2/\alpha^2`), the same for every
    scalar schedule. :math:`\varepsilon^*` behaves like :math:`1/t` at t = 0 and like :math:`\alpha` at t = 1; it is
    capped at ``cap`` (``None``: uncapped) so that explicit SDE steps stay stable near t = 0."""
    if isinstance(interpolant, str):
        interpolant = Interpolant(interpolant)
    if not isinstance(interpolant, Interpolant) or not interpolant.one_sided:
        raise ValueError(f"optimal_diffusion needs a one-sided Interpolant, got {interpolant!r}")
    if cap is not None:
        cap = as_real("cap", cap, low=0.0, low_open=True)
    return _OptimalDiffusion(interpolant, cap)
