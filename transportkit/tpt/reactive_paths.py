r"""Sampling reactive paths from A to B: reactive trajectories by Doob's h-transform with :math:`h = q^+`
(Metzner, Schütte & Vanden-Eijnden, Multiscale Model. Simul. 7, 1192 (2009); Cameron & Vanden-Eijnden, J. Stat.
Phys. 156, 427 (2014), arXiv:1402.1736), and detour-free paths on the net flux :math:`f^+`. All paths advance
together on the host (vectorized over paths, one loop over jumps), on one CSR of the positive net-flux edges
(:class:`~transportkit.tpt.graph.NetFluxCSR`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

from .._backend import host_backend
from .._capabilities import declare
from .._validation import as_choice, as_count
from ..errors import ConvergenceWarning
from ..random import SEED_DEPRECATED, resolve_rng
from .graph import NetFluxCSR, Network, reach, segment_sum
from .result import ReactiveFlux, ReactivePaths

__all__ = ["sample_reactive"]


def _check_walkable(csr: NetFluxCSR) -> None:
    """Every state reachable from A along the net flux (not through B) must have outgoing net flux."""
    hb = host_backend()
    hx = hb.xp
    start = csr.in_a & (csr.out > 0)
    if not bool(hx.any(start)):
        raise ValueError("no net flux leaves A")
    (keep,) = hx.nonzero(~hx.take(csr.in_b, csr.rows))  # walks stop in B
    walk = Network(be=hb, n=csr.n, rows=hx.take(csr.rows, keep), cols=hx.take(csr.cols, keep),
                   vals=hx.take(csr.flux, keep), kind="generator", fmt="coo")
    stuck = reach(walk, start) & ~csr.in_b & ~(csr.out > 0)
    if bool(hx.any(stuck)):
        (w,) = hx.nonzero(stuck)
        raise ValueError(f"states {w[:10].tolist()} are reachable from A along the net flux but have no outgoing "
                         "net flux (a reactive path would stop there)")


def _uniforms(gen: Any, m: int) -> Any:
    """``m`` uniforms on [0, 1) as a host float64 array, whatever the generator's backend."""
    hb = host_backend()
    u = gen.uniform((m,))
    return hb.asarray(gen.backend.to_numpy(u), dtype=hb.xp.float64) if not gen.backend.adapter.is_host else u


def _draw(cum: Any, start: Any, total: Any, u: Any, lo: Any, hi: Any) -> Any:
    """Inverse-CDF draw of one edge per row from the global cumulative weights ``cum``: edge positions in
    ``[lo, hi)`` (one row's edges) with probability proportional to their weights."""
    hx = host_backend().xp
    e = hx.searchsorted(cum, start + u * total, side="right")
    return hx.clip(e, lo, hi - 1)


def _collect(ids: list, states: list, times: list, n_paths: int, lab: list | None) -> tuple[list, list]:
    """Per path, its states and entry times in step order (a stable sort of all records by path)."""
    hx = host_backend().xp
    ids_all, st_all, t_all = hx.concat(ids), hx.concat(states), hx.concat(times)
    order = hx.argsort(ids_all, stable=True)
    flat_s = hx.take(st_all, order).tolist()
    flat_t = hx.take(t_all, order).tolist()
    ptr = hx.searchsorted(hx.take(ids_all, order), hx.arange(n_paths + 1)).tolist()
    st = [flat_s[a:b] for a, b in itertools.pairwise(ptr)]
    tt = [flat_t[a:b] for a, b in itertools.pairwise(ptr)]
    return ([[lab[s] for s in p] for p in st] if lab else st), tt


def _sample_doob(rf: ReactiveFlux, n_paths: int, gen: Any, max_steps: int) -> tuple:
    """Reactive trajectories by Doob's h-transform (host, vectorized over paths, one loop over jumps)."""
    hb = host_backend()
    hx = hb.xp
    be = rf.backend
    if rf.rate_values is None:
        raise ValueError("this ReactiveFlux carries no rates (rate_values); recompute it with reactive_flux")
    r, c, L, f = (hb.asarray(be.to_numpy(a)) for a in (*rf.edges, rf.rate_values, rf.flux_values))
    q = hb.asarray(be.to_numpy(rf.q_plus), dtype=hx.float64)
    n = rf.n
    in_a, in_b = NetFluxCSR.masks(rf)
    # entrance: the jump i -> j out of A (i in A, j not in A) with probability f_ij / F
    (ent,) = hx.nonzero(hx.take(in_a, r) & ~hx.take(in_a, c) & (f > 0))
    if ent.shape[0] == 0:
        raise ValueError("no reactive flux leaves A")
    ecum = hx.cumulative_sum(hx.take(f, ent))
    k = _draw(ecum, 0.0, ecum[-1], _uniforms(gen, n_paths), 0, ent.shape[0])
    e0 = hx.take(ent, k)
    # the h-transformed jumps out of interior states: weight L_uv q+_v (zero into A, where q+ = 0)
    interior = ~(in_a | in_b)
    w = hx.where(hx.take(interior, r), L * hx.take(q, c), 0.0)
    (pos,) = hx.nonzero(w > 0)
    hr, hc, hw = hx.take(r, pos), hx.take(c, pos), hx.take(w, pos)  # sorted by row
    ptr = hx.searchsorted(hr, hx.arange(n + 1, dtype=hr.dtype))
    cum = hx.cumulative_sum(hw)
    start = hx.take(hx.concat([hx.zeros(1), cum]), ptr[:-1])
    rowsum = segment_sum(hb, hr, hw, n)
    lam = segment_sum(hb, r, L, n)  # exit rate (generator) or 1 - P_uu (transition matrix)
    discrete = rf.kind == "transition"
    x = hx.take(c, e0)
    t = hx.full((n_paths,), 1.0 if discrete else 0.0)
    paths = hx.arange(n_paths)
    ids = [paths, paths]
    states = [hx.take(r, e0), hx.asarray(x, copy=True)]
    times = [hx.zeros(n_paths), hx.asarray(t, copy=True)]
    active = paths[~hx.take(in_b, x)]
    dead = hx.zeros((n_paths,), dtype=hx.bool)
    for _ in range(max_steps):
        if active.shape[0] == 0:
            break
        u = hx.take(x, active)
        stuck = hx.take(rowsum, u) <= 0  # cannot happen for q+ > 0; reported as truncated if rounding makes it
        if bool(hx.any(stuck)):
            dead[active[stuck]] = True
            active, u = active[~stuck], u[~stuck]
            if active.shape[0] == 0:
                break
        lu = hx.take(lam, u)
        hold = 1.0 - _uniforms(gen, u.shape[0])  # in (0, 1]
        if discrete:  # geometric number of steps at u: stays with probability P_uu = 1 - lam_u
            stay = 1.0 - lu
            logstay = hx.log(hx.where(stay > 0, stay, 0.5))
            steps = hx.where(stay > 0, hx.floor(hx.log(hold) / logstay), 0.0) + 1.0
            t[active] = hx.take(t, active) + steps
        else:
            t[active] = hx.take(t, active) - hx.log(hold) / lu
        e = _draw(cum, hx.take(start, u), hx.take(rowsum, u), _uniforms(gen, u.shape[0]), hx.take(ptr, u),
                  hx.take(ptr, u + 1))
        v = hx.take(hc, e)
        x[active] = v
        ids.append(active)
        states.append(v)
        times.append(hx.take(t, active))
        active = active[~hx.take(in_b, v)]
    truncated = ~hx.take(in_b, x) | dead
    st, tt = _collect(ids, states, times, n_paths, rf.labels)
    durations = hx.where(truncated, math.nan, t - (1.0 if discrete else 0.0))
    return st, tt, durations, truncated


def _sample_net_flux(rf: ReactiveFlux, n_paths: int, gen: Any, max_steps: int) -> tuple:
    """Detour-free paths on the net flux (host, vectorized over paths)."""
    host = host_backend()
    hx = host.xp
    csr = NetFluxCSR.of(rf)
    _check_walkable(csr)
    (A,) = hx.nonzero(csr.in_a)
    cum = hx.cumulative_sum(csr.flux)
    start_cum = hx.take(hx.concat([hx.zeros(1), cum]), csr.ptr[:-1])
    out_a = hx.take(csr.out, A)
    acum = hx.cumulative_sum(out_a)
    x = hx.take(A, _draw(acum, 0.0, acum[-1], _uniforms(gen, n_paths), 0, A.shape[0]))
    step = hx.zeros((n_paths,))
    paths = hx.arange(n_paths)
    ids, states, times = [paths], [hx.asarray(x, copy=True)], [hx.zeros(n_paths)]  # x is updated in place below
    active = paths
    for _ in range(max_steps):
        if active.shape[0] == 0:
            break
        u = hx.take(x, active)
        e = _draw(cum, hx.take(start_cum, u), hx.take(csr.out, u), _uniforms(gen, u.shape[0]), hx.take(csr.ptr, u),
                  hx.take(csr.ptr, u + 1))
        v = hx.take(csr.cols, e)
        x[active] = v
        step[active] = hx.take(step, active) + 1.0
        ids.append(active)
        states.append(v)
        times.append(hx.take(step, active))
        active = active[~hx.take(csr.in_b, v)]
    truncated = ~hx.take(csr.in_b, x)
    st, tt = _collect(ids, states, times, n_paths, rf.labels)
    return st, tt, hx.where(truncated, math.nan, step - 1.0), truncated


@declare()
def sample_reactive(rf: ReactiveFlux, n_paths: int, *, method: str = "doob", rng: Any = None,
                    max_steps: int = 100_000, seed: Any = SEED_DEPRECATED) -> ReactivePaths:
    r"""Sample reactive paths from A to B.

    ``method="doob"`` (default): **reactive trajectories**, exactly distributed as the pieces of a long
    equilibrium trajectory between its last exit from A and its next entrance into B (Metzner, Schütte &
    Vanden-Eijnden 2009; Cameron & Vanden-Eijnden, "Flows in complex networks: theory, algorithms, and
    application to Lennard-Jones cluster rearrangement", J. Stat. Phys. 156, 427 (2014), arXiv:1402.1736).
    The exit jump :math:`i\to j` (:math:`i\in A`, :math:`j\notin A`) is drawn with probability
    :math:`f_{ij}/F`; from then on the process is the original one conditioned to reach B before A, Doob's
    h-transform with :math:`h = q^+`: from an interior state :math:`u` it jumps to :math:`v` with rate
    :math:`L_{uv}q^+_v/q^+_u` (total rate :math:`\lambda_u = -L_{uu}`, unchanged, since
    :math:`\sum_v L_{uv}q^+_v = 0`), never into A (:math:`q^+ = 0` there), until it enters B. For a generator
    the holding times are exponential with rate :math:`\lambda_u`; for a transition matrix the chain stays at
    :math:`u` a geometric number of steps (probability :math:`P_{uu}` per step). The mean of ``durations`` is
    :math:`t_{AB} = Z_{AB}/F` (``rf.transition_time``); the mean number of net crossings of an edge per path
    is :math:`(f_{ij} - f_{ji})/F`.

    ``method="net_flux"``: detour-free paths: start :math:`i\in A` with probability
    :math:`\propto\sum_j f^+_{ij}`, then :math:`i\to j` with probability :math:`f^+_{ij}/\sum_k f^+_{ik}` until
    B; for reversible chains :math:`f^+` is acyclic and a path uses edge ``e`` with probability
    :math:`f^+_e/F`. No physical time: ``times`` are jump indices. ``ValueError`` before any draw when a state
    reachable from A along :math:`f^+` (not through B) has no outgoing net flux.

    All paths advance together on the host (vectorized over paths, one loop over jumps). Paths still outside
    B after ``max_steps`` jumps are flagged in ``truncated`` (their duration is NaN) and a
    :class:`~transportkit.errors.ConvergenceWarning` says how many: they are not reactive paths.

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.
    n_paths : int
        Number of paths (positive).
    method : {"doob", "net_flux"}
        Reactive trajectories, or detour-free paths on the net flux.
    rng : int, numpy.random.Generator, transportkit Generator or None
        Randomness (SPEC 7; ``None``: fresh entropy). ``seed=`` is its deprecated alias.
    max_steps : int
        Most jumps per path after leaving A (positive).

    Returns
    -------
    ReactivePaths
        ``.states``, ``.times``, ``.durations``, ``.truncated``; ``paths[i]`` is a :class:`ReactivePath`.
    """
    n_paths = as_count("n_paths", n_paths)
    max_steps = as_count("max_steps", max_steps)
    method = as_choice("method", method, ("doob", "net_flux"))
    if not isinstance(rf, ReactiveFlux):
        raise TypeError(f"rf must be a ReactiveFlux (from tk.tpt.reactive_flux), got {type(rf).__name__}")
    gen = resolve_rng(rng, host_backend(), seed=seed)
    sampler = _sample_doob if method == "doob" else _sample_net_flux
    st, tt, durations, truncated = sampler(rf, n_paths, gen, max_steps)
    n_trunc = int(truncated.sum())
    if n_trunc:
        warnings.warn(
            f"{n_trunc} of {n_paths} paths did not reach B within max_steps={max_steps} jumps: they are flagged in "
            ".truncated (duration NaN) and are not reactive paths; raise max_steps",
            ConvergenceWarning, stacklevel=2,
        )
    be = rf.backend
    return ReactivePaths(states=st, times=tt, durations=be.asarray(durations), truncated=be.asarray(truncated),
                         method=method, kind=rf.kind, backend=be)
