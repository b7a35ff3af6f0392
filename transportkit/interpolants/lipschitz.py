r"""The Lipschitz criterion of schedule design (Chen, Vanden-Eijnden & Xu, "Lipschitz-Guided Design of
Interpolation Schedules in Generative Models", 2025, arXiv:2509.01629): the averaged squared Lipschitz constant of
the velocity field, :math:`A_2 = \int_0^1 E_{\rho_t}\|\nabla b\|^2\,dt`, and the worst time, exactly for Gaussian
fields and by Monte Carlo otherwise. The schedules it is used to design are in
:mod:`transportkit.interpolants.design`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._backend import Backend, get_backend, host_backend
from .._capabilities import declare
from .._validation import as_count
from ..random import SEED_DEPRECATED, resolve_rng
from .interpolant import Interpolant
from .transfer import theta_inverse

__all__ = ["LipschitzResult", "lipschitz"]



# ------------------------------------------------------------------------------------------ Lipschitz criteria
@dataclass(frozen=True)
class LipschitzResult:
    r"""``A2`` :math:`= \int_0^1 E_{\rho_t}\|\nabla_x b(t, x)\|_2^2\,dt` (operator norm; trapezoid rule on ``t``),
    ``max`` :math:`= \max_t \sup_x \|\nabla_x b\|_2` (exact for Gaussian ends, over the samples otherwise) at
    ``argmax``; per time: ``mean_sq`` (:math:`E\|\nabla b\|^2`) and ``sup``; ``method`` ``"exact"`` or
    ``"monte carlo"`` (then ``n`` samples per time)."""

    A2: float
    max: float
    argmax: float
    t: Any
    mean_sq: Any
    sup: Any
    method: str
    n: int | None = None


def _time_grid(interpolant: Interpolant, steps: int) -> Any:
    """Uniform times merged with times uniform in the schedule's angle atan2(beta, alpha) and in its log
    signal-to-noise ratio log(beta/alpha) over [-18, 18] (which resolves the narrow stiff window of a mode with a
    small variance), host float64, sorted, points closer than 1e-9 merged."""
    xp = host_backend().xp
    u = xp.linspace(0.0, 1.0, steps + 1, dtype=xp.float64)
    s = interpolant.schedule
    th0, th1 = (float(xp.atan2(s.beta(xp.asarray(v), xp), s.alpha(xp.asarray(v), xp))) for v in (0.0, 1.0))
    parts = [u]
    if th1 > th0:
        th = xp.linspace(th0, th1, steps + 1, dtype=xp.float64)
        lsnr = xp.linspace(-18.0, 18.0, steps + 1, dtype=xp.float64)
        th2 = xp.clip(xp.atan(xp.exp(lsnr)), th0, th1)
        parts += [xp.clip(theta_inverse(s, v, xp), 0.0, 1.0) for v in (th, th2)]
    grid = xp.sort(xp.concat(parts))
    keep = xp.concat([xp.asarray([True]), (grid[1:] - grid[:-1]) > 1e-9])
    return grid[keep]


def _gaussian_jacobian_norms(field: Any, t: Any) -> Any:
    r""":math:`\|N\Sigma^{-1}\|_2` at host times ``t`` for an exact field with one (base, target) Gaussian pair."""
    xp = host_backend().xp
    h = field._host
    c = field.interpolant.coefficients(t[:, None, None], xp)
    eye = xp.eye(field.dim, dtype=xp.float64)
    A, C = h["A"][0][None, ...], h["C"][0][None, ...]
    N = c.aad * A + c.bbd * C + c.ggd * eye
    S = c.a**2 * A + c.b**2 * C + c.g**2 * eye
    J = xp.linalg.solve(S, xp.linalg.matrix_transpose(N))  # (N S^-1)^T = S^-1 N^T (S symmetric)
    return xp.linalg.svdvals(J)[..., 0]


def _golden_max(f: Callable[[float], float], lo: float, hi: float, iters: int = 80) -> tuple[float, float]:
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(iters):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (c, fc) if fc >= fd else (d, fd)


@declare()
def lipschitz(
    field: Any,
    *,
    steps: int | None = None,
    n: int = 256,
    x1: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> LipschitzResult:
    r"""Averaged squared Lipschitz constant :math:`A_2 = \int_0^1 E_{x\sim\rho_t}\|\nabla_x b(t,x)\|_2^2\,dt` and the
    maximal Lipschitz constant of a field along its schedule (Chen, Vanden-Eijnden & Xu 2025, arXiv:2509.01629).

    - Exact fields with Gaussian ends: exact, :math:`\nabla b = N_t\Sigma_t^{-1}` (no x dependence); ``max`` refined
      by a golden-section search around the grid's maximum.
    - Fields with their own exact rule (the symmetric mixture: a one-dimensional quadrature): exact.
    - Other exact fields (mixtures): Monte Carlo over ``n`` samples of :math:`\rho_t` per time, Jacobians by ``d``
      Jacobian-vector products.
    - Any other field: Monte Carlo over :math:`x_t = \alpha x_0 + \beta x_1 + \gamma z` with target samples ``x1``
      (required).

    ``steps``: the grid (uniform times merged with times uniform in the schedule's angle; default 1000 exact,
    100 Monte Carlo). ``rng``: SPEC 7 randomness for the Monte Carlo estimates (``seed=`` deprecated alias)."""
    if not (hasattr(field, "bind") and hasattr(field, "interpolant") and hasattr(field, "dim")):
        raise TypeError(f"field must be a transportkit Field, got {type(field).__name__}")
    n = as_count("n", n, low=2)
    from .exact import ExactField

    exact_rule = getattr(field, "_lipschitz_exact", None)
    gaussian = isinstance(field, ExactField) and field._host["log_pi"].shape[0] == 1
    mc = exact_rule is None and not gaussian
    steps = as_count("steps", steps if steps is not None else (100 if mc else 1000), low=2)
    xp = host_backend().xp
    ts = _time_grid(field.interpolant, steps)
    if not mc:
        if gaussian:
            def sup_at(tt):
                return _gaussian_jacobian_norms(field, tt)

            sup = sup_at(ts)
            mean_sq = sup**2
        else:
            mean_sq, sup = exact_rule(ts)

            def sup_at(tt):
                return exact_rule(tt)[1]

        i = int(xp.argmax(sup))
        lo, hi = float(ts[max(i - 1, 0)]), float(ts[min(i + 1, ts.shape[0] - 1)])
        targ, best = _golden_max(lambda s: float(sup_at(xp.asarray([s], dtype=xp.float64))[0]), lo, hi)
        if best < float(sup[i]):
            targ, best = float(ts[i]), float(sup[i])
        A2 = float(xp.sum(0.5 * (mean_sq[1:] + mean_sq[:-1]) * (ts[1:] - ts[:-1])))
        return LipschitzResult(A2, best, targ, ts, mean_sq, sup, "exact")
    be = get_backend(backend if backend is not None else (field.backend or "numpy"))
    gen = resolve_rng(rng, be, seed=seed)
    mean_sq, sup = _monte_carlo(field, ts, n, x1, gen, be)
    i = int(xp.argmax(sup))
    A2 = float(xp.sum(0.5 * (mean_sq[1:] + mean_sq[:-1]) * (ts[1:] - ts[:-1])))
    return LipschitzResult(A2, float(sup[i]), float(ts[i]), ts, mean_sq, sup, "monte carlo", n)


def _monte_carlo(field: Any, ts: Any, n: int, x1: Any, gen: Any, be: Backend) -> tuple[Any, Any]:
    from .._validation import as_points
    from .exact import ExactField

    xp, hx = be.xp, host_backend().xp
    bf = field.bind(be)
    d = field.dim
    if not isinstance(field, ExactField):
        if x1 is None:
            raise ValueError("lipschitz of a field without closed form needs target samples x1=(m, d)")
        x1 = as_points("x1", x1, be, dim=d)
    eye = xp.eye(d, dtype=be.dtype, device=be.device)
    ms, sp = [], []
    for tv in (float(v) for v in ts):
        t = be.asarray(tv)
        if isinstance(field, ExactField):
            x = field.marginal(tv)._sample(n, gen, be)
        else:
            idx = gen.integers(0, x1.shape[0], (n,))
            c = field.interpolant.coefficients(t, xp)
            x = c.a * bf.base_samples(n, gen) + c.b * xp.take(x1, idx, axis=0)
            if not field.interpolant.one_sided:
                x = x + c.g * gen.normal((n, d))
        cols = [bf.jvp(t, x, xp.broadcast_to(eye[i, :][None, :], x.shape)) for i in range(d)]
        J = xp.stack(cols, axis=-1)  # (n, d, d): column i = J e_i
        s = xp.linalg.svdvals(J)[..., 0]
        ms.append(float(xp.mean(s * s)))
        sp.append(float(xp.max(s)))
    return hx.asarray(ms, dtype=hx.float64), hx.asarray(sp, dtype=hx.float64)
