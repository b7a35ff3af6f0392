r"""One annealing step of AIS/SMC as a pure function of the carry, and the loops that run it (a fixed grid as one
``scan``, adaptive tempering as one ``while_loop``): reweight (Neal 2001, arXiv:physics/9803008), resample where
the ESS is low (Del Moral, Doucet & Jasra 2006, arXiv:cond-mat/0512119), precondition by the particle cloud and move
while the moves still decorrelate the walkers (the stopping rule of pymc's SMC kernels; Buchholz, Chopin & Jacob
2021, arXiv:1808.07730), adapt the step size. Adaptive tempering by the conditional ESS (Zhou, Johansen & Aston
2016, arXiv:1303.3123). The math is in :mod:`transportkit.sampling.ais`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import array_api_extra as xpx

from .._loops import Loops, run_while, scan_steps
from ..numerics import ess as _ess
from ..numerics import logsumexp
from .kernels import KERNEL_STEPS, MCMCParams, MCMCState, adapt_step_size, particle_scale
from .options import SamplerOptions
from .resampling import ResampleConfig, ResampleState, resample_step

__all__ = ["N_OUTPUTS", "AISCarry", "make_step", "run_adaptive", "run_fixed", "run_whole"]

#: bisection steps of adaptive tempering: the temperature to (1 - t) 2^-20
BISECT_STEPS = 20
#: adaptive moves: continue while the mean correlation with the positions before the moves is above this ...
DECORRELATION_FLOOR = 0.05
#: ... and the last move lowered it by more than this (pymc's ``correlation_threshold``)
DECORRELATION_TOL = 0.005


class AISCarry(NamedTuple):
    """The state of a run between annealing steps: the walkers as an MCMC state (``extra`` holds the path's parts),
    their log-weights ``A``, the resampling bookkeeping (None for AIS) and the current temperature ``t``."""

    mc: MCMCState
    A: Any
    rs: ResampleState | None
    t: Any


#: per-step outputs: t, ESS/n, resampling event, logmeanexp before resampling, mean acceptance of the moves, step size
#: before the moves, number of moves, non-finite target values met
N_OUTPUTS = 8


def _next_t(path: Any, t: Any, parts: tuple, A: Any, goal: float, be: Any) -> Any:
    """The next temperature of adaptive tempering: 1 if the conditional ESS at 1 is above ``exp(goal)``, else
    :data:`BISECT_STEPS` bisection steps on [t, 1] (array operations, no host sync)."""
    xp = be.xp
    lw = A - logsumexp(A, xp=xp)
    lp_t = path.log_prob(t, parts)

    def log_cess(s: Any) -> Any:
        d = path.log_prob(s, parts) - lp_t
        d = xp.where(xp.isnan(d), -math.inf, d)
        return 2 * logsumexp(lw + d, xp=xp) - logsumexp(lw + 2 * d, xp=xp)

    one = xp.ones_like(t)

    def bisect(_: Any, lohi: tuple[Any, Any]) -> tuple[Any, Any]:
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        ok = log_cess(mid) >= goal
        return xp.where(ok, mid, lo), xp.where(ok, hi, mid)

    lo, _ = be.fori_loop(0, BISECT_STEPS, bisect, (t, one))
    return xp.where(log_cess(one) >= goal, one, xp.maximum(lo, t + 1e-10))


def _correlation(xp: Any, w: Any, x0c: Any, v0: Any, x: Any) -> Any:
    """Mean over coordinates of the weighted |Pearson correlation| between the centred start ``x0c`` (variances
    ``v0``) and ``x``; coordinates without spread count as decorrelated."""
    xc = x - xp.sum(w[:, None] * x, axis=0)
    cov = xp.sum(w[:, None] * x0c * xc, axis=0)
    v = v0 * xp.sum(w[:, None] * xc * xc, axis=0)
    ok = v > 0
    r = xp.where(ok, xp.abs(cov) / xp.sqrt(xp.where(ok, v, xp.ones_like(v))), xp.zeros_like(v))
    return xp.mean(r)


def make_step(
    pth: Any, opts: SamplerOptions, cfg: ResampleConfig | None, gen: Any, be: Any, compiled: bool
) -> Callable:
    """``step(carry, t_new, key, index) -> (carry, outputs)``: one annealing step (reweight, resample, move, adapt).
    ``index`` numbers the step's draws (``gen.at(key, index * (max_moves + 1) + j)``)."""
    xp = be.xp
    max_moves, adaptive, pre = opts.max_moves, opts.adaptive_moves, opts.precondition
    step_fn, a_star, stride = KERNEL_STEPS[opts.kernel], opts.a_star, max_moves + 1
    loops = Loops(be, compiled)
    dev = be.device

    def step(c: AISCarry, t: Any, key: Any, index: Any) -> tuple[AISCarry, tuple]:
        mc, A, rs = c.mc, c.A, c.rs
        t_out = xp.asarray(t, dtype=A.dtype, device=dev)
        parts = mc.extra
        lp_old = pth.log_prob(c.t, parts)
        inc = pth.log_prob(t, parts) - lp_old
        bad_inc = xp.isnan(inc) | (inc == math.inf)
        A = A + xp.where(bad_inc, -math.inf, inc)
        # a walker already at zero density (-inf - -inf = NaN) is not a non-finite value of the target
        nf0 = xp.sum(xp.astype(bad_inc & (lp_old > -math.inf), A.dtype))
        x = mc.x
        event = lme = xp.zeros((), dtype=A.dtype, device=dev)
        if cfg is None:
            ess_rel = _ess(A, xp=xp) / A.shape[0]
        else:
            ess_rel = _ess(_island_log_weights(cfg, rs, A, xp), xp=xp) / cfg.n
            g = gen.at(key, index * stride)
            rs, A, x, parts, ev, lme = resample_step(cfg, rs, A, x, parts, g, xp, allow=t_out < 1.0, loops=loops)
            event = xp.astype(ev, A.dtype)
        zero = xp.zeros((), dtype=A.dtype, device=dev)
        if not max_moves:
            outs = (t_out, ess_rel, event, lme, zero, mc.step_size, zero, nf0)
            return AISCarry(mc._replace(x=x, extra=parts), A, rs, t), outs

        def fn(y: Any) -> tuple[Any, Any, tuple]:
            p = pth.evaluate(y)
            return pth.log_prob(t, p), pth.grad(t, p), p

        params = MCMCParams(fn, opts.n_leapfrog)
        lw = A if cfg is None else _island_log_weights(cfg, rs, A, xp)
        scale = None if pre == "none" else particle_scale(x, lw, pre)
        s = MCMCState(x, pth.log_prob(t, parts), pth.grad(t, parts), parts, mc.step_size, scale)
        w = xp.exp(lw - logsumexp(lw, xp=xp))
        w = xp.where(xp.isfinite(w), w, xp.zeros_like(w))
        x0c = x - xp.sum(w[:, None] * x, axis=0)
        v0 = xp.sum(w[:, None] * x0c * x0c, axis=0)
        j0 = xp.asarray(0, dtype=xp.int32, device=dev)
        one = xp.ones((), dtype=A.dtype, device=dev)

        def cond(st: tuple) -> Any:
            _, j, c_prev, c_now, _, _ = st
            more = j < max_moves
            if adaptive:
                more = more & ((j < 1) | ((c_prev - c_now > DECORRELATION_TOL) & (c_now > DECORRELATION_FLOOR)))
            return more

        def body(st: tuple) -> tuple:
            s, j, _, c_now, acc, nf = st
            s, info = step_fn(s, gen.at(key, index * stride + 1 + j), params)
            s = adapt_step_size(s, info.mean_acceptance, a_star)
            c_new = _correlation(xp, w, x0c, v0, s.x) if adaptive else c_now
            acc = acc + xp.astype(info.mean_acceptance, A.dtype)
            return s, j + 1, c_now, c_new, acc, nf + xp.astype(info.n_nonfinite, A.dtype)

        h0 = mc.step_size
        st = (s, j0, one, one, zero, nf0)
        # one fixed move: no loop (a loop of one trip keeps XLA from fusing the move with the rest of the step)
        s, j, _, _, acc, nf = body(st) if max_moves == 1 and not adaptive else loops.while_loop(cond, body, st)
        jf = xp.astype(j, A.dtype)
        acc_mean = acc / xp.maximum(jf, one)
        s = s._replace(scale=None)
        return AISCarry(s, A, rs, t), (t_out, ess_rel, event, lme, acc_mean, h0, jf, nf)

    return step


def _island_log_weights(cfg: ResampleConfig, rs: ResampleState, A: Any, xp: Any) -> Any:
    return xp.reshape(rs.log_z[:, None] + xp.reshape(A, (cfg.K, cfg.m)), (cfg.n,))


def _grid(steps: int) -> list[float]:
    """The uniform grid of a fixed run, exactly 1 at the end."""
    return [1.0 if k == steps else k / steps for k in range(steps + 1)]


def run_fixed(
    step: Callable, carry: AISCarry, steps: int, be: Any, compiled: bool, key: Any, opts: Any, gen: Any
) -> tuple[AISCarry, Any, int]:
    grid = _grid(steps)
    if compiled:
        grid = be.xp.asarray(grid, dtype=carry.A.dtype, device=be.device)
    loop_key = gen.loop_key() if compiled else None

    def body(i: Any, c: AISCarry, consts: tuple) -> tuple[AISCarry, tuple]:
        return step(c, consts[1][i + 1], consts[0], i)

    desc = "ais" if carry.rs is None else "smc"
    carry, ys = scan_steps(be, body, carry, steps, consts=(loop_key, grid), key=key, progress=opts.progress,
                         desc=desc, compile=compiled)  # fmt: skip
    return carry, ys, steps


def run_whole(
    step: Callable, start: Callable, summarize: Callable, n: int, steps: int, be: Any, gen: Any, key: Any,
    dtype: Any, args: Any = (), states: list | None = None,
) -> tuple[AISCarry, Any, Any, tuple]:  # fmt: skip
    """A whole fixed-grid run as one compiled program (JAX): the base draws ``start`` makes from ``gen``, the first
    evaluation, ``steps`` annealing steps (as :func:`run_fixed`) and ``summarize(carry)``; the per-step outputs come
    back stacked in one ``(N_OUTPUTS, steps)`` array. Draws as the step-by-step run: ``gen`` is continued from its
    :meth:`~transportkit.random.Generator.state` inside the program and advanced after it. ``start(gen, args)``
    returns ``(carry, aux)``; ``aux`` comes back as is (the initial walkers and their check). ``key`` must identify
    what ``step``, ``start`` and ``summarize`` close over; what changes between calls goes in ``args``.

    ``states`` (a list of K generator states): K independent runs as one program mapped (``vmap``) over the
    streams; every output gets a leading axis of length K (``gen`` is then only the stream family, not advanced)."""
    xp = be.xp

    def make() -> Callable:
        def whole(state: Any, args: Any) -> tuple:
            grid = xp.asarray(_grid(steps), dtype=dtype, device=be.device)  # a constant of the program
            g = gen.from_state(state)
            carry, aux = start(g, args)
            loop_key = g.loop_key()
            carry, ys = be.scan(lambda i, c: step(c, grid[i + 1], loop_key, i), carry, xp.asarray(0), steps)
            return carry, xp.stack([xp.astype(y, dtype) for y in ys], axis=0), summarize(carry), aux, g.state()

        return whole if states is None else be.adapter.vmap()(whole, in_axes=(0, None))

    batch = None if states is None else len(states)
    program = be.compiled(("ais-whole", key, n, steps, batch), make)
    if states is not None:
        carry, ys, summary, aux, _ = program(xp.stack(states), args)
        return carry, ys, summary, aux
    carry, ys, summary, aux, state = program(gen.state(), args)
    gen.set_state(state)
    return carry, ys, summary, aux


def run_adaptive(
    step: Callable, carry: AISCarry, pth: Any, target_cess: float, max_steps: int, be: Any,
    compiled: bool, key: Any, gen: Any,
) -> tuple[AISCarry, tuple, int]:  # fmt: skip
    """Adaptive tempering as one while loop; per-step traces in buffers of length ``max_steps``, trimmed after."""
    xp, dt, dev = be.xp, carry.A.dtype, be.device
    goal = math.log(target_cess)
    bufs = tuple(xp.zeros((max_steps,), dtype=dt, device=dev) for _ in range(N_OUTPUTS))
    k0 = xp.asarray(0, dtype=xp.int32, device=dev) if compiled else 0
    carry = carry._replace(t=xp.asarray(carry.t, dtype=dt, device=dev))

    def cond(state: tuple, consts: tuple) -> Any:
        c, k, _ = state
        return (c.t < 1.0) & (k < max_steps)

    def body(state: tuple, consts: tuple) -> tuple:
        c, k, b = state
        t = _next_t(pth, c.t, c.mc.extra, c.A, goal, be)
        c, ys = step(c, t, consts[0], k)
        b = tuple(xpx.at(buf, k).set(xp.astype(y, dt)) for buf, y in zip(b, ys, strict=True))
        return c, k + 1, b

    loop_key = gen.loop_key() if compiled else None
    carry, k, bufs = run_while(be, compiled, cond, body, (carry, k0, bufs), key=key, consts=(loop_key,))
    k = int(k)
    if float(carry.t) < 1.0:
        raise RuntimeError(f"adaptive tempering did not reach t = 1 in {max_steps} steps (t = {float(carry.t)})")
    return carry, tuple(b[:k] for b in bufs), k

