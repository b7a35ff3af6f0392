r"""The NETS stochastic dynamics and its path weights (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium
Transport Sampler", 2024, arXiv:2410.02711).

On the grid :math:`t_k = k/K`, h = 1/K, Euler–Maruyama moves
:math:`x_{k+1} = x_k + h(b_k + \varepsilon s_k)(x_k) + \sqrt{2h\varepsilon}\,\xi_k` and the log-weights A follow

- ``"fb"``: :math:`A \mathrel{+}= \log\rho_{t_{k+1}}(x_{k+1}) - \log\rho_{t_k}(x_k) + \log q_B(x_k|x_{k+1})
  - \log q_F(x_{k+1}|x_k)` (forward/backward Gaussian kernels; exact for any h);
- ``"riemann"``: :math:`A \mathrel{+}= h(\nabla\cdot b + s\cdot b + \partial_t\log\rho)(t_k, x_k)` (O(h) bias).

:func:`simulate` runs it as a Python loop (training rounds keep every step's walkers), or, on a backend that
compiles loops (JAX) with a geometric path, as one compiled program (:func:`transportkit._loops.run_steps`) with
per-step keys from :meth:`transportkit.random.Generator.at`; the drift then receives t as a 0-d array (b = 0, the
learned drifts and any traceable user drift; a user drift that JAX cannot trace runs in the Python loop instead).
Resampling runs inside the compiled program too (:func:`transportkit.sampling.resampling.resample_step`: the
decision per island as array operations; the ancestor indices, drawn from the resampling stream at step k's own key,
are drawn and applied only at steps where some island's ESS fell below the threshold); in the Python loop the
:class:`~transportkit.sampling.resampling.Resampler` draws only when some island resamples, so NumPy results are
unchanged by the compiled path.

With ``check`` the first batch of target values is validated (NaN/+inf log-density, bad gradient) and a target whose
log-density is constant with zero gradient on every initial walker (an improper target such as ``log_prob ≡ 0``)
warns.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from ..._backend import scalar_device
from ..._loops import Loops, progress_range, run_steps, scan_steps
from ...errors import TransportkitWarning
from .._common import GeometricPath
from ..resampling import Resampler, resample_step
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
    """The final walkers ``x`` (n, d), their log-weights ``A`` (n,), when kept ``[(x_k, parts_k)]``, and ``lost``
    (0-d integer array): how many times a live walker's log-weight became NaN or +inf (a non-finite position or
    target value met mid-run); such a walker gets weight 0 (A = -inf)."""

    x: Any
    A: Any
    kept: list[tuple[Any, Any]]
    lost: Any = 0


def _drop_nonfinite(xp: Any, A: Any, A_start: Any, lost: Any) -> tuple[Any, Any]:
    """Set NaN/+inf log-weights to -inf and count those of walkers alive at the start of the step."""
    bad = xp.isnan(A) | (A == math.inf)
    new = xp.sum(xp.astype(bad & (A_start > -math.inf), lost.dtype))
    return xp.where(bad, -math.inf, A), lost + xp.astype(new, lost.dtype)


def _zero_count(xp: Any, A: Any) -> Any:
    return xp.zeros((), dtype=xp.int32, device=scalar_device(A))


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
    flat: bool | None = None,
) -> Trajectory:
    """Simulate n walkers over the grid; with ``check`` the first batch of target values is validated (NaN/+inf
    log-density, bad gradient) and, with ``flat`` (default: ``check``), a constant target warns
    (:func:`warn_if_flat`); with a ``resampler``, SMC-style resampling after every step but the last."""
    x = path.sample0(n, gen)
    parts = _first_parts(be, path, x, check, check if flat is None else flat)
    rs_ok = resampler is None or (not keep and resampler.gen.functional)
    if rs_ok and compilable(be, path, gen, drift, grid.weights == "fb"):
        try:
            return _compiled(be, path, x, parts, grid, drift, gen, progress, desc, keep=keep, resampler=resampler)
        except TypeError:  # a drift or target that JAX cannot trace: run the same dynamics in Python
            pass
    return _python(be.xp, path, x, parts, grid, drift, gen, keep, resampler, progress, desc)


def _flat(xp: Any, parts: tuple[Any, ...]) -> Any:
    """0-d bool: the log-density is finite and constant with zero gradient on every walker (see
    :func:`warn_if_flat`)."""
    lp, g = parts[1], parts[3]
    return xp.all(lp == lp[0]) & xp.all(g == 0) & xp.isfinite(lp[0])


def first_flags(xp: Any, path: GeometricPath, parts: tuple[Any, ...]) -> Any:
    """``[any bad value (NaN/+inf log-density, bad gradient), flat target]`` of a first batch, as a bool array."""
    return xp.stack([path.any_bad(parts), _flat(xp, parts)])


def _first_parts(be: Any, path: Any, x: Any, check: bool, flat: bool) -> tuple[Any, ...]:
    """The path's parts at the initial walkers, with the checks of :func:`simulate`. A bound target on a compiling
    backend is evaluated and checked as one program (one host sync); only a failing check runs eagerly, to name
    the walker."""
    if not (be.compiles_loops and isinstance(path, GeometricPath) and path.density.bound and x.shape[0] >= 2):
        parts = path.evaluate(x)
        if check:
            path.check(x, parts)
        if flat:
            warn_if_flat(path, parts)
        return parts
    xp = be.xp

    def first(y: Any) -> tuple:
        p = path.evaluate(y)
        return p, first_flags(xp, path, p)

    base = path.base
    key = ("nets.first", path.density.key, (base.dim, repr(base.mean), base.scale))
    parts, flags = be.compiled(key, lambda: first)(x)
    bad, is_flat = (bool(f) for f in be.to_numpy(flags))
    if check and (bad or not path.shapes_ok(parts, x.shape[0])):
        path.check(x, parts)
    if flat and is_flat:
        warn_if_flat(path, parts)
    return tuple(parts)


def warn_if_flat(path: Any, parts: tuple[Any, ...]) -> None:
    """Warn when the target's log-density is finite and constant, with zero gradient, on every walker of the first
    batch (geometric path): a proper density can be so only on a region holding all of them (a uniform density on a
    box); ``log_prob ≡ 0`` and other improper targets have an infinite normalizer, and no finite log Z is right."""
    if not isinstance(path, GeometricPath) or parts[1].shape[0] < 2:
        return
    lp = parts[1]
    if bool(_flat(path.xp, parts)):
        warnings.warn(
            f"the target's log_prob is constant ({float(lp[0]):.6g}) with zero gradient on all {lp.shape[0]} initial "
            "walkers: if the target is improper (not integrable, e.g. log_prob = 0 everywhere) its log Z is infinite "
            "and the estimate is meaningless; a uniform density must be -inf outside a bounded region",
            TransportkitWarning,
            stacklevel=6,
        )


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
    lost = _zero_count(xp, A)
    for k in progress_range(K, progress, desc):
        A_start = A
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
        A, lost = _drop_nonfinite(xp, A, A_start, lost)
        x, parts = y, parts_y
        if rs is not None and k < K - 1:
            A, x, parts = rs.step(A, x, parts)
        if keep:
            kept.append((x, parts))
    return Trajectory(x, A, kept, lost)


def _kernel_ratio(xp: Any, x: Any, y: Any, mean_f: Any, b1: Any, s1: Any, h: Any, eps: Any) -> Any:
    r""":math:`\log q_B(x|y) - \log q_F(y|x)` for the Gaussian kernels of variance :math:`2h\varepsilon`."""
    back = x - y + h * (b1 - eps * s1)
    fwd = y - mean_f
    return (xp.sum(fwd * fwd, axis=1) - xp.sum(back * back, axis=1)) / (4 * h * eps)


def compilable(be: Any, path: Any, gen: Any, drift: Field | None, fb: bool) -> bool:
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
    resampler: Resampler | None = None,
) -> Trajectory:
    """The run as one compiled loop: the carry is (x, parts, A, lost) and, with a ``resampler``, its
    :class:`~transportkit.sampling.resampling.ResampleState`; the grid times, path weights lam(t), lam'(t), the
    diffusion and the loop keys are arguments of the program, so one compilation serves every call with the same
    target, base, drift, step count, weight rule and resampling configuration. With ``keep`` (training rounds) the
    walkers of every step come back stacked (:func:`transportkit._loops.scan_steps`). The resampler's state is
    updated in place at the end (its ``finish`` gives the estimate as for the Python loop)."""
    xp, K = be.xp, grid.steps
    cfg = None if resampler is None else resampler.cfg
    rgen = None if resampler is None else resampler.gen
    body, consts, key = program(be, path, grid, drift, gen, cfg, rgen, str(x.dtype))
    consts = (*consts[:4], gen.loop_key(), consts[5], None if rgen is None else rgen.loop_key())
    A = xp.zeros((x.shape[0],), dtype=x.dtype, device=getattr(x, "device", None))
    carry = (x, tuple(parts), A, _zero_count(xp, A))
    if resampler is not None:
        carry = (*carry, resampler.state)
    if not keep:
        out = run_steps(be, body, carry, K, consts=consts, key=key, progress=progress, desc=desc)
        if resampler is not None:
            resampler.state = out[4]
        return Trajectory(out[0], out[2], [], out[3])

    def scan_body(k: Any, c: Any, cs: Any) -> tuple[Any, Any]:
        new = body(k, c, cs)
        return new, (new[0], *new[1])

    kept = [(x, tuple(parts))]
    (x, _, A, lost), ys = scan_steps(be, scan_body, carry, K, consts=consts, key=key, progress=progress, desc=desc)
    kept.extend((ys[0][k, ...], tuple(p[k, ...] for p in ys[1:])) for k in range(K))
    return Trajectory(x, A, kept, lost)


def program(
    be: Any, path: Any, grid: Grid, drift: Field | None, gen: Any, cfg: Any, rgen: Any, dtype: str
) -> tuple[Any, tuple, tuple]:
    """``(body, consts, key)`` of a compiled run: the step of :func:`_make_body`, its arguments ``(ts, lam, dlam,
    eps, None, drift parameters, None)`` (the two ``None`` are the loop keys of ``gen`` and ``rgen``, the caller's
    to draw) and the compile-cache key of what the body closes over."""
    xp, K = be.xp, grid.steps
    ts = [k / K for k in range(K)] + [1.0]
    spec = getattr(drift, "compile_spec", None)  # a drift whose arrays are arguments: keyed by its structure
    consts = (
        be.asarray(ts),
        be.asarray([float(path.lam(t)) for t in ts]),
        be.asarray([float(path.dlam(t)) for t in ts]),
        be.asarray(float(grid.eps)),
        None,
        None if spec is None else drift.compile_params(xp),
        None,
    )
    fb, noisy = grid.weights == "fb", grid.eps > 0
    base = path.base
    key = (
        "nets.simulate",
        getattr(path.density, "key", (path.density.log_prob, path.density.grad)),
        (base.dim, repr(base.mean), base.scale),
        drift if spec is None else spec,
        K,
        fb,
        noisy,
        dtype,
        cfg,
    )
    return _make_body(path, drift, gen, K, fb, noisy, spec is not None, cfg, rgen), consts, key


def _make_body(
    path: Any,
    field: Field | None,
    gen: Any,
    K: int,
    fb: bool,
    noisy: bool,
    with_params: bool,
    cfg: Any = None,
    rgen: Any = None,
) -> Any:
    """The pure step ``(k, (x, parts, A, lost[, rs]), consts) -> (x, parts, A, lost[, rs])`` of the geometric path
    :math:`\\log\\rho_t = (1-\\lambda_t)\\log\\rho_0 + \\lambda_t\\log\\tilde\\rho_1` (parts ``(lp0, lp1, g0, g1)``);
    with a resampling configuration ``cfg``, the islands below the ESS threshold are resampled after every step but
    the last, with draws from ``rgen.at(key, k)``."""
    xp = path.xp
    h = 1.0 / K
    loops = None if cfg is None else Loops(rgen.backend, True)

    def mix(a: Any, p: tuple[Any, ...]) -> tuple[Any, Any]:  # (log rho_t, grad log rho_t)
        return (1 - a) * p[0] + a * p[1], (1 - a) * p[2] + a * p[3]

    def body(k: Any, carry: Any, c: Any) -> Any:
        x, parts, A, lost = carry[:4]
        A_start = A
        ts, lam, dlam, eps, key, params, rkey = c
        drift = field.with_params(params) if with_params else field  # type: ignore[union-attr]
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
        A, lost = _drop_nonfinite(xp, A, A_start, lost)
        if cfg is None:
            return y, parts_y, A, lost
        rs, A, y, parts_y, _, _ = resample_step(cfg, carry[4], A, y, parts_y, rgen.at(rkey, k), xp, allow=k < K - 1,
                                               loops=loops)
        return y, parts_y, A, lost, rs

    return body
