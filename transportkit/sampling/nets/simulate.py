r"""The NETS stochastic dynamics and its path weights (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium
Transport Sampler", 2024, arXiv:2410.02711).

On the grid :math:`t_k = k/K`, h = 1/K, Euler–Maruyama moves
:math:`x_{k+1} = x_k + h(b_k + \varepsilon s_k)(x_k) + \sqrt{2h\varepsilon}\,\xi_k` and the log-weights A follow

- ``"fb"``: :math:`A \mathrel{+}= \log\rho_{t_{k+1}}(x_{k+1}) - \log\rho_{t_k}(x_k) + \log q_B(x_k|x_{k+1})
  - \log q_F(x_{k+1}|x_k)` (forward/backward Gaussian kernels; exact for any h);
- ``"riemann"``: :math:`A \mathrel{+}= h(\nabla\cdot b + s\cdot b + \partial_t\log\rho)(t_k, x_k)` (O(h) bias).

:func:`simulate` runs it as a Python loop (training rounds keep every step's walkers; resampling is host-side),
or, on a backend that compiles loops (JAX) with a geometric path and no resampling, as one compiled program
(:func:`transportkit._loops.run_steps`) with per-step keys from :meth:`transportkit.random.Generator.at`; the drift
then receives t as a 0-d array (b = 0, the learned drifts and any traceable user drift; a user drift that JAX
cannot trace runs in the Python loop instead).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..._loops import progress_range, run_steps, scan_steps
from .._common import GeometricPath
from ..resampling import Resampler
from .drift import Field

__all__ = ["Grid", "Trajectory", "simulate"]


@dataclasses.dataclass(frozen=True)
class Grid:
    """The time grid and dynamics of one run: ``steps`` K, diffusion ``eps``, weight rule ``"fb"``/``"riemann"``."""

    steps: int
    eps: float
    weights: str


@dataclasses.dataclass
class Trajectory:
    """The final walkers ``x`` (n, d), their log-weights ``A`` (n,) and, when kept, ``[(x_k, parts_k)]``."""

    x: Any
    A: Any
    kept: list[tuple[Any, Any]]


def simulate(
    be: Any,
    path: Any,
    n: int,
    grid: Grid,
    drift: Field | None,
    gen: Any,
    *,
    check: bool = True,
    keep: bool = False,
    resampler: Resampler | None = None,
    progress: bool = False,
    desc: str = "nets",
) -> Trajectory:
    """Simulate n walkers over the grid; with ``check`` the first batch of target values is validated (NaN/+inf
    log-density, bad gradient); with a ``resampler``, SMC-style resampling after every step but the last."""
    x = path.sample0(n, gen)
    parts = path.evaluate(x)
    if check:
        path.check(x, parts)
    if resampler is None and _compilable(be, path, gen, drift, grid.weights == "fb"):
        try:
            return _compiled(be, path, x, parts, grid, drift, gen, progress, desc, keep=keep)
        except TypeError:  # a drift or target that JAX cannot trace: run the same dynamics in Python
            pass
    return _python(be.xp, path, x, parts, grid, drift, gen, keep, resampler, progress, desc)


def _python(
    xp: Any,
    path: Any,
    x: Any,
    parts: Any,
    grid: Grid,
    drift: Field | None,
    gen: Any,
    keep: bool,
    rs: Resampler | None,
    progress: bool,
    desc: str,
) -> Trajectory:
    K, eps, fb = grid.steps, grid.eps, grid.weights == "fb"
    h = 1.0 / K
    A = xp.zeros((x.shape[0],), dtype=x.dtype, device=getattr(x, "device", None))
    kept = [(x, parts)] if keep else []
    zero = xp.zeros_like(x)
    for k in progress_range(K, progress, desc):
        t, t1 = k * h, (k + 1) * h if k < K - 1 else 1.0
        s = path.grad(t, parts)
        b, div = (zero, 0.0) if drift is None else drift(t, x, s, not fb)
        if not fb:
            A = A + h * (div + xp.sum(s * b, axis=1) + path.dt_log_prob(t, parts))
        mean_f = x + h * (b + eps * s)
        y = mean_f + math.sqrt(2 * h * eps) * gen.normal(x.shape, dtype=x.dtype) if eps > 0 else mean_f
        parts_y = path.evaluate(y)
        if fb:
            s1 = path.grad(t1, parts_y)
            b1 = zero if drift is None else drift(t1, y, s1, False)[0]
            A = (
                A
                + (path.log_prob(t1, parts_y) - path.log_prob(t, parts))
                + _kernel_ratio(xp, x, y, mean_f, b1, s1, h, eps)
            )
        A = xp.where(xp.isnan(A), -math.inf, A)
        x, parts = y, parts_y
        if rs is not None and k < K - 1:
            A, x, parts = rs.step(A, x, parts)
        if keep:
            kept.append((x, parts))
    return Trajectory(x, A, kept)


def _kernel_ratio(xp: Any, x: Any, y: Any, mean_f: Any, b1: Any, s1: Any, h: Any, eps: Any) -> Any:
    r""":math:`\log q_B(x|y) - \log q_F(y|x)` for the Gaussian kernels of variance :math:`2h\varepsilon`."""
    back = x - y + h * (b1 - eps * s1)
    fwd = y - mean_f
    return (xp.sum(fwd * fwd, axis=1) - xp.sum(back * back, axis=1)) / (4 * h * eps)


def _compilable(be: Any, path: Any, gen: Any, drift: Field | None, fb: bool) -> bool:
    """One compiled program needs: a compiling backend, a functional stream, the geometric path (whose time
    dependence is the interpolation weight, precomputed on the grid), and a drift that takes t as an array and
    needs no Laplacian (the divergence of a score feature, asked for by the Riemann weights)."""
    if not (be.compiles_loops and gen.functional and isinstance(path, GeometricPath)):
        return False
    return fb or not getattr(drift, "needs_laplacian", False)


def _compiled(
    be: Any,
    path: Any,
    x: Any,
    parts: Any,
    grid: Grid,
    drift: Field | None,
    gen: Any,
    progress: bool,
    desc: str,
    *,
    keep: bool = False,
) -> Trajectory:
    """The run as one compiled loop: the carry is (x, parts, A); the grid times, path weights lam(t), lam'(t), the
    diffusion and the loop key are arguments of the program, so one compilation serves every call with the same
    target, base, drift, step count and weight rule. With ``keep`` (training rounds) the walkers of every step
    come back stacked (:func:`transportkit._loops.scan_steps`)."""
    xp, K = be.xp, grid.steps
    ts = [k / K for k in range(K)] + [1.0]
    consts = (
        be.asarray(ts),
        be.asarray([float(path.lam(t)) for t in ts]),
        be.asarray([float(path.dlam(t)) for t in ts]),
        be.asarray(float(grid.eps)),
        gen.loop_key(),
    )
    fb, noisy = grid.weights == "fb", grid.eps > 0
    spec = getattr(drift, "compile_spec", None)  # a drift whose arrays are arguments: keyed by its structure
    if spec is not None:
        consts = (*consts, drift.compile_params(xp))
    base = path.base
    key = (
        "nets.simulate",
        path.density.log_prob,
        path.density.grad,
        (base.dim, repr(base.mean), base.scale),
        drift if spec is None else spec,
        K,
        fb,
        noisy,
        str(x.dtype),
    )
    body = _make_body(path, drift, gen, K, fb, noisy, spec is not None)
    A = xp.zeros((x.shape[0],), dtype=x.dtype, device=getattr(x, "device", None))
    carry = (x, tuple(parts), A)
    if not keep:
        x, _, A = run_steps(be, body, carry, K, consts=consts, key=key, progress=progress, desc=desc)
        return Trajectory(x, A, [])

    def scan_body(k: Any, c: Any, cs: Any) -> tuple[Any, Any]:
        new = body(k, c, cs)
        return new, (new[0], *new[1])

    kept = [(x, tuple(parts))]
    (x, _, A), ys = scan_steps(be, scan_body, carry, K, consts=consts, key=key, progress=progress, desc=desc)
    kept.extend((ys[0][k, ...], tuple(p[k, ...] for p in ys[1:])) for k in range(K))
    return Trajectory(x, A, kept)


def _make_body(path: Any, field: Field | None, gen: Any, K: int, fb: bool, noisy: bool, with_params: bool) -> Any:
    """The pure step ``(k, (x, parts, A), consts) -> (x, parts, A)`` of the geometric path
    :math:`\\log\\rho_t = (1-\\lambda_t)\\log\\rho_0 + \\lambda_t\\log\\tilde\\rho_1` (parts ``(lp0, lp1, g0, g1)``)."""
    xp = path.xp
    h = 1.0 / K

    def mix(a: Any, p: tuple[Any, ...]) -> tuple[Any, Any]:  # (log rho_t, grad log rho_t)
        return (1 - a) * p[0] + a * p[1], (1 - a) * p[2] + a * p[3]

    def body(k: Any, carry: Any, c: Any) -> Any:
        x, parts, A = carry
        ts, lam, dlam, eps, key = c[:5]
        drift = field.with_params(c[5]) if with_params else field  # type: ignore[union-attr]
        t, t1, a, a1 = ts[k], ts[k + 1], lam[k], lam[k + 1]
        lp, s = mix(a, parts)
        b, div = (xp.zeros_like(x), 0.0) if drift is None else drift(t, x, s, not fb)
        if not fb:
            A = A + h * (div + xp.sum(s * b, axis=1) + dlam[k] * (parts[1] - parts[0]))
        mean_f = x + h * (b + eps * s)
        y = mean_f
        if noisy:
            y = mean_f + xp.sqrt(2 * h * eps) * gen.at(key, k).normal(x.shape, dtype=x.dtype)
        parts_y = tuple(path.evaluate(y))
        if fb:
            lp1, s1 = mix(a1, parts_y)
            b1 = xp.zeros_like(x) if drift is None else drift(t1, y, s1, False)[0]
            A = A + (lp1 - lp) + _kernel_ratio(xp, x, y, mean_f, b1, s1, h, eps)
        return y, parts_y, xp.where(xp.isnan(A), -math.inf, A)

    return body
