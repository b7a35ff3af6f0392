r"""MCMC chains vectorized over walkers: random-walk Metropolis, ULA, MALA and HMC (the pure kernels are in
:mod:`transportkit.sampling.kernels`; :class:`MCMCState` and :class:`MCMCInfo` are re-exported here).

:func:`mcmc` runs n independent chains; the first ``warmup`` steps adapt the step size (so that the retained chain is
a homogeneous Markov chain), with :math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)` and the optimal-scaling
targets :math:`a^\star` = 0.234 (RWM; Roberts, Gelman & Gilks 1997), 0.574 (MALA; Roberts & Rosenthal 1998), 0.65
(HMC; Beskos et al. 2013, arXiv:1001.4460). On JAX the whole run (warm-up, sampling, thinning) is compiled: each
phase is one ``lax.scan`` whose per-step outputs are the acceptance trace and the thinned states.

Proposals where the target returns NaN/+inf (or a non-finite gradient) are rejected and counted
(``info.n_nonfinite``), with a :class:`~transportkit.errors.NonFiniteWarning` at the end of the run.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from .._capabilities import declare
from .._loops import Loops, scan_steps
from .._validation import as_count, as_points, check_options
from ..errors import NonFiniteWarning
from ..random import SEED_DEPRECATED
from ._common import as_density, infer_dim
from .kernels import (
    KERNEL_STEPS,
    KERNELS,
    TARGET_ACCEPT,
    MCMCInfo,
    MCMCParams,
    MCMCState,
    adapt_step_size,
    default_step_size,
    init_state,
)
from .options import SamplerOptions, check_target_dim
from .results import MCMCRunInfo, Samples

__all__ = [
    "KERNELS",
    "TARGET_ACCEPT",
    "MCMCInfo",
    "MCMCState",
    "adapt",
    "default_step_size",
    "hmc",
    "kernel_step",
    "mala",
    "mcmc",
    "rwm",
    "ula",
]


def kernel_step(
    kind: str,
    x: Any,
    lp: Any,
    g: Any,
    extra: tuple,
    fn: Callable[[Any], tuple[Any, Any, tuple]],
    h: Any,
    gen: Any,
    xp: Any,
    n_leapfrog: int = 5,
) -> tuple[Any, Any, Any, tuple, Any]:
    """One step of ``kind`` for all chains (compatibility form of the pure kernels): ``fn(y) -> (log_prob, grad,
    extra)``; returns ``(x, lp, g, extra, accept_prob)``."""
    if kind not in KERNEL_STEPS:
        raise ValueError(f"unknown kernel {kind!r}; choose one of {KERNELS}")
    state = init_state(x, lp, g, extra, h) if isinstance(h, (int, float)) else MCMCState(x, lp, g, tuple(extra), h)
    state, info = KERNEL_STEPS[kind](state, gen, MCMCParams(fn, n_leapfrog))
    return state.x, state.log_prob, state.grad, state.extra, info.acceptance_rate


def adapt(h: float, mean_accept: float, target: float | None, rate: float = 0.5) -> float:
    r""":math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)` on host floats (clipped to a factor 2 per step);
    inside runs the array form :func:`~transportkit.sampling.kernels.adapt_step_size` is used."""
    if target is None or not math.isfinite(mean_accept):
        return h
    return h * math.exp(max(-math.log(2), min(math.log(2), rate * (mean_accept - target))))


def _initial_states(
    target: Any, n: int, x0: Any, density: Any, be: Any, gen: Any, compiled: bool
) -> tuple[Any, Any, Any, int]:
    """The initial states with their log-density and gradient, checked (``ValueError`` naming the walker). On JAX
    the evaluation and the checks' reductions are one compiled program; only a failing check runs eagerly."""
    xp = be.xp
    dim = infer_dim(density, target, x0)
    if x0 is None:
        x = getattr(target, "base_scale", 1.0) * gen.normal((n, dim))
    else:
        x = x0
        if tuple(x.shape) != (n, dim):
            raise ValueError(f"x0 must have shape (n, d) = {(n, dim)}, got {tuple(x.shape)}")

    def first(y: Any) -> tuple[Any, Any, Any]:
        lp, g = density.value_and_grad(y)
        return lp, g, density.any_bad(xp, lp, g) | xp.any(lp == -math.inf)

    run = be.compiled(("mcmc-first", _target_key(target)), lambda: first) if compiled and density.bound else first
    lp, g, bad = run(x)
    if tuple(lp.shape) == (n,) and tuple(g.shape) == (n, dim) and not bool(bad):
        return x, lp, g, dim
    density.check(xp, x, lp, g, where="the initial states")
    if not bool(xp.all(lp > -math.inf)):
        i = int(xp.argmax(xp.astype(lp == -math.inf, xp.int32)))
        raise ValueError(f"initial state of walker {i} has zero density (log_prob = -inf)")
    return x, lp, g, dim


def mcmc(
    target: Any,
    n: int,
    *,
    kernel: str = "mala",
    steps: int = 1000,
    warmup: int | None = None,
    step_size: float | None = None,
    adapt_step_size: bool = True,
    target_accept: float | None = None,
    n_leapfrog: int = 5,
    x0: Any = None,
    thin: int = 0,
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    progress: bool = False,
    _where: str = "mcmc()",
) -> Samples:
    r"""Run ``n`` independent chains of ``kernel`` for ``steps`` steps; return the final states.

    Parameters
    ----------
    target
        an object with ``log_prob`` (and ``grad_log_prob``, or autodiff on torch/jax) batched over rows, a
        :class:`~transportkit.targets.Target`, or a pair ``(log_prob, grad_log_prob)`` of callables.
    n : int
        number of chains.
    kernel, step_size, adapt_step_size, target_accept, n_leapfrog, backend, device, dtype, rng, progress
        see :class:`~transportkit.sampling.options.SamplerOptions` (``seed`` is the deprecated alias of ``rng``).
    steps : int
        steps per chain.
    warmup : int, optional
        the first ``warmup`` steps (default ``steps // 2``) adapt the step size; the rest use the adapted step.
    x0 : array (n, d), optional
        initial states (default :math:`\mathcal N(0, \sigma^2 I)`, σ = ``target.base_scale`` or 1).
    thin : int
        with ``thin > 0``, keep every ``thin``-th post-warm-up state in ``info["trace"]``.

    Returns
    -------
    Samples
        ``x`` the final states, ``log_weights`` zeros, ``log_Z = None``, ``ess = n`` (independent chains) and
        ``info`` a :class:`~transportkit.sampling.results.MCMCRunInfo`.
    """
    w = _where
    opts = SamplerOptions(
        kernel=kernel, step_size=step_size, adapt_step_size=adapt_step_size, target_accept=target_accept,
        n_leapfrog=n_leapfrog, backend=backend, device=device, dtype=dtype, rng=rng, seed=seed, progress=progress,
        where=w,
    )  # fmt: skip
    n = as_count(f"{w}: n", n, 1)
    steps = as_count(f"{w}: steps", steps, 1)
    warmup = steps // 2 if warmup is None else as_count(f"{w}: warmup", warmup, 0)
    if warmup > steps:
        raise ValueError(f"{w}: warmup must be in [0, steps], got {warmup}")
    thin = as_count(f"{w}: thin", thin, 0)
    check_target_dim(w, target)
    be, gen = opts.resolve() if x0 is None else opts.resolve(x0)
    if x0 is not None:
        x0 = as_points(f"{w}: x0", x0, be, ndim=2)
    xp = be.xp
    density = as_density(target, be, need_grad=opts.kernel != "rwm")
    compiled = be.compiles_loops and gen.functional
    x, lp, g, dim = _initial_states(target, n, x0, density, be, gen, compiled)
    state = init_state(x, lp, g, (), opts.initial_step_size(getattr(target, "base_scale", 1.0), dim))
    state, accs, nfs, trace = _run_chains(be, gen, density, opts, state, steps, warmup, thin, target, compiled)
    acc_trace = [float(a) for a in be.to_numpy(accs).tolist()]
    n_nonfinite = int(sum(be.to_numpy(nfs).tolist()))
    if n_nonfinite:
        warnings.warn(
            f"{w}: the target returned NaN/+inf (or a non-finite gradient) at {n_nonfinite} proposals; they were "
            "rejected (info.n_nonfinite); check log_prob where it is not finite",
            NonFiniteWarning,
            stacklevel=2,
        )
    post = acc_trace[warmup:] or acc_trace
    info = MCMCRunInfo(
        kernel=kernel,
        acceptance=sum(post) / len(post),
        acceptance_trace=acc_trace,
        step_size=float(state.step_size),
        steps=steps,
        warmup=warmup,
        trace=trace,
        n_nonfinite=n_nonfinite,
    )
    zeros = xp.zeros((n,), dtype=state.x.dtype, device=be.device)
    return Samples(x=state.x, log_weights=zeros, log_Z=None, log_Z_stderr=None, ess=float(n), info=info, backend=be)


def _run_chains(
    be: Any, gen: Any, density: Any, opts: SamplerOptions, state: MCMCState, steps: int, warmup: int, thin: int,
    target: Any, compiled: bool,
) -> tuple[MCMCState, Any, Any, Any]:  # fmt: skip
    """Warm-up (adapting), then sampling (with the thinned trace as a scan output): ``(state, accs, non-finite
    counts, trace)`` (per-step acceptance and non-finite proposal counts)."""
    xp = be.xp
    loop_key = gen.loop_key() if compiled else None
    step_fn, a_star = KERNEL_STEPS[opts.kernel], opts.a_star

    def fn(y: Any) -> tuple[Any, Any, tuple]:
        a, b = density.value_and_grad(y)
        return a, b, ()

    params = MCMCParams(fn, opts.n_leapfrog)

    def one(i: Any, s: MCMCState, key: Any, adapting: bool) -> tuple[MCMCState, Any]:
        s, info = step_fn(s, gen.at(key, i), params)
        if adapting:
            s = adapt_step_size(s, info.mean_acceptance, a_star)
        return s, (info.mean_acceptance, info.n_nonfinite)

    def warm(i: Any, s: MCMCState, c: Any) -> tuple[MCMCState, Any]:
        return one(i, s, c[0], True)

    def plain(i: Any, s: MCMCState, c: Any) -> tuple[MCMCState, Any]:
        return one(i + c[1], s, c[0], False)

    def thinned(j: Any, s: MCMCState, c: Any) -> tuple[MCMCState, Any]:
        s, (accs, nfs) = Loops(be, compiled).scan(lambda i, ss: one(i, ss, c[0], False), s, c[1] + j * thin, thin)
        return s, (accs, nfs, s.x)

    tkey = (opts.kernel, opts.n_leapfrog, a_star, thin, _target_key(target))
    desc = opts.kernel
    parts, nf_parts, trace = [], [], None
    if warmup:
        state, (accs, nfs) = scan_steps(be, warm, state, warmup, consts=(loop_key, 0), key=("mcmc-warm", *tkey),
                                        progress=opts.progress, desc=desc, compile=compiled)  # fmt: skip
        parts.append(accs)
        nf_parts.append(nfs)
    rest = steps - warmup
    if thin and rest >= thin:
        kept = rest // thin
        state, (accs, nfs, trace) = scan_steps(be, thinned, state, kept, consts=(loop_key, warmup),
                                               key=("mcmc-thin", *tkey), progress=opts.progress, desc=desc,
                                               compile=compiled)  # fmt: skip
        parts.append(xp.reshape(accs, (kept * thin,)))
        nf_parts.append(xp.reshape(nfs, (kept * thin,)))
        rest -= kept * thin
    if rest:
        state, (accs, nfs) = scan_steps(be, plain, state, rest, consts=(loop_key, steps - rest),
                                        key=("mcmc-plain", *tkey), progress=opts.progress, desc=desc,
                                        compile=compiled)  # fmt: skip
        parts.append(accs)
        nf_parts.append(nfs)
    accs = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
    nfs = nf_parts[0] if len(nf_parts) == 1 else xp.concat(nf_parts, axis=0)
    return state, accs, nfs, trace


_MCMC_OPTIONS = frozenset(
    {
        "steps", "warmup", "step_size", "adapt_step_size", "target_accept", "n_leapfrog", "x0", "thin", "backend",
        "device", "dtype", "rng", "seed", "progress",
    }
)  # fmt: skip


def _target_key(target: Any) -> Any:
    """What identifies the target in the backend's compile cache (the object itself; a pair as its callables)."""
    return tuple(target) if isinstance(target, list) else target


def _chains(kernel: str, doc: str) -> Callable[..., Samples]:
    """The entry ``kernel(target, n, **kwargs)``: :func:`mcmc` with that kernel (its options checked by name)."""

    def run(target: Any, n: int, **kwargs: Any) -> Samples:
        check_options(f"{kernel}()", kwargs, _MCMC_OPTIONS)
        return mcmc(target, n, kernel=kernel, _where=f"{kernel}()", **kwargs)

    run.__name__ = run.__qualname__ = kernel
    run.__doc__ = doc
    return run


rwm = declare(name="tk.sample(method='rwm')")(
    _chains("rwm", 'Random-walk Metropolis chains: :func:`mcmc` with ``kernel="rwm"``.')
)
ula = declare(uses=("value_and_grad",), name="tk.sample(method='ula')")(
    _chains("ula", 'Unadjusted Langevin chains (biased, O(h)): :func:`mcmc` with ``kernel="ula"``.')
)
mala = declare(uses=("value_and_grad",), name="tk.sample(method='mala')")(
    _chains("mala", 'Metropolis-adjusted Langevin chains: :func:`mcmc` with ``kernel="mala"``.')
)
hmc = declare(uses=("value_and_grad",), name="tk.sample(method='hmc')")(
    _chains("hmc", 'Hamiltonian Monte Carlo chains (leapfrog, ``n_leapfrog`` steps): :func:`mcmc`, ``kernel="hmc"``.')
)
