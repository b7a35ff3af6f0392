r"""Reactive flux of transition path theory (TPT) for Markov jump processes and Markov chains on networks.

Continuous time: generator :math:`L` (:math:`L_{ij}\ge 0` for :math:`i\ne j`, rows sum to 0), stationary
distribution :math:`\pi^\top L = 0,\ \sum_i\pi_i = 1`, time-reversed generator
:math:`\tilde L_{ij} = \pi_j L_{ji}/\pi_i`. Discrete time: transition matrix :math:`P`, with :math:`L = P - I`
everywhere below (rates become "per step"). For disjoint non-empty sets :math:`A, B`:

- forward committor :math:`\sum_j L_{ij} q^+_j = 0` for :math:`i\notin A\cup B`, :math:`q^+|_A = 0,\ q^+|_B = 1`;
- backward committor :math:`\sum_j \tilde L_{ij} q^-_j = 0` for :math:`i\notin A\cup B`,
  :math:`q^-|_A = 1,\ q^-|_B = 0` (reversible chains: :math:`q^- = 1 - q^+`);
- reactive flux :math:`f_{ij} = \pi_i q^-_i L_{ij} q^+_j` (:math:`i\ne j`), net flux
  :math:`f^+_{ij} = \max(f_{ij} - f_{ji}, 0)`;
- total flux :math:`F = \sum_{i\in A,\, j\notin A} f_{ij}` (reactive trajectories per unit time) and rate
  constant :math:`k_{AB} = F / \sum_i \pi_i q^-_i` (deeptime's ``rate``; ``mfpt = 1/k_{AB}``);
- reactive density :math:`m_i = \pi_i q^-_i q^+_i`, :math:`Z_{AB} = \sum_i m_i`, mean reactive-trajectory
  duration :math:`t_{AB} = Z_{AB}/F`.

References: E & Vanden-Eijnden, "Towards a theory of transition paths", J. Stat. Phys. 123, 503 (2006);
Metzner, Schütte & Vanden-Eijnden, "Transition path theory for Markov jump processes", Multiscale Model. Simul.
7, 1192 (2009).

The linear systems are in :mod:`transportkit.tpt.solvers`. Backends that prefer host index bookkeeping
(:attr:`~transportkit.Backend.prefers_host_indexing`: JAX, which compiles every eager operation anew for each
array shape, ~4-30 s per network size) compute on the host with NumPy and SciPy's SuperLU — the solver JAX's CPU
arrays used anyway — and move the results once: nothing shape-specific is compiled. Every argument is checked
before the first factorization.
"""

from __future__ import annotations

from typing import Any

from .. import backends
from .._backend import Backend
from .._capabilities import declare
from .._validation import as_bool
from .graph import Network, compute_backend, reach, reversible_log_pi, scatter_set
from .result import Array, ReactiveFlux
from .solvers import backward_committor, committor, mean_first_passage, stationary
from .validation import (
    as_network,
    as_pi,
    as_states,
    check_connected,
    check_options,
    fmt_states,
    network_backend,
    unwrap_sparse,
)

__all__ = ["ReactiveFlux", "committors", "mean_first_passage_times", "reactive_flux", "stationary_distribution"]


# ----------------------------------------------------------------------------------------------- backends
def _mover(src: Backend, dst: Backend) -> Any:
    """``move(x)``: an array of ``src`` (or a host NumPy array; anything else is passed through) as an array of
    ``dst``; floating arrays take ``dst``'s dtype (float64 computations return in the caller's float32)."""
    if src is dst:
        return lambda x: x

    def move(x: Any) -> Any:
        if not hasattr(x, "shape"):
            return x
        owner = backends.owner_of(x)
        if owner is dst.adapter or (owner is not None and owner.is_host):
            return dst.asarray(x)
        return dst.asarray(src.to_numpy(src.asarray(x)))

    return move


def _network_to(M: Any, move: Any) -> Any:
    """The network input with its arrays moved (COO tuple, dense array; graphs and sparse matrices as they are)."""
    if isinstance(M, tuple) and len(M) == 4:
        return (*(move(a) for a in M[:3]), M[3])
    if hasattr(M, "tocoo") or (hasattr(M, "edges") and hasattr(M, "nodes")):
        return M
    return move(M)


def _check_flags(**flags: Any) -> None:
    """Boolean options must be ``True`` or ``False`` (``reversible`` may also be ``None``): a ``TypeError``."""
    for name, v in flags.items():
        if not (name == "reversible" and v is None):
            as_bool(name, v)


# ----------------------------------------------------------------------------------------------- steps
def _network(M: Any, kind: str | None, fix_diagonal: bool, rate_attr: str, backend: Any
             ) -> tuple[Backend, Network, Any]:
    """The caller's backend, the checked network on the compute backend, and ``move`` (caller's arrays to it)."""
    if not isinstance(rate_attr, str):
        raise TypeError(f"rate_attr must be a string, got {rate_attr!r}")
    be = network_backend(M, backend)
    cb = compute_backend(be)
    move = _mover(be, cb)
    M, build = unwrap_sparse(M, be)  # torch sparse tensors, JAX BCOO/BCSR: a COO tuple and the output's type
    net = as_network(_network_to(M, move), kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend=cb,
                     sparse_build=build, single=be.dtype != be.xp.float64)
    return be, net, move


def _prepare(M: Any, A: Any, B: Any, pi: Any, kind: str | None, fix_diagonal: bool, rate_attr: str, backend: Any
             ) -> tuple[Backend, Network, Any, Any, Any]:
    """Every input converted and checked: ``(caller's backend, network, mask A, mask B, pi or None)``."""
    be, net, move = _network(M, kind, fix_diagonal, rate_attr, backend)
    cb = net.be
    mA = as_states(move(A), net, "A")
    mB = as_states(move(B), net, "B")
    xp = cb.xp
    both = mA & mB
    if bool(xp.any(both)):
        (w,) = xp.nonzero(both)
        raise ValueError(f"A and B overlap at states {fmt_states(w, cb, net.labels)}")
    return be, net, mA, mB, (None if pi is None else as_pi(move(pi), net))


def _detailed_balance(net: Network, pi: Any, rtol: float) -> bool:
    r""":math:`\pi_i L_{ij} = \pi_j L_{ji}` on every edge to ``rtol`` relative to the edge's own probability flow
    plus ``rtol`` times the largest one."""
    xp = net.be.xp
    idx, found = net.transpose_index()
    if not bool(xp.all(found)):
        return False
    fwd = xp.take(pi, net.rows) * net.vals
    bwd = xp.take(fwd, idx)
    atol = rtol * float(xp.max(fwd)) if fwd.shape[0] else 0.0
    return bool(xp.all(xp.abs(fwd - bwd) <= rtol * xp.maximum(fwd, bwd) + atol))


def _pi_and_reversibility(net: Network, mA: Any, mB: Any, pi: Any, reversible: bool | None, check: bool,
                          tol: float, double: bool) -> tuple[Any, bool]:
    """The stationary distribution (given, assembled in log space for a reversible network, or solved for) and
    whether detailed balance holds; the reachability checks run before any solve."""
    xp = net.be.xp
    if pi is None:
        # detailed balance gives pi in log space without a solve (also with reversible=False, which only asks
        # for the backward committor to be solved for)
        logpi = reversible_log_pi(net, 1e-9 if double else 1e-5)
        if logpi is not None:  # reversible and irreducible (symmetric pattern, the search reached every state)
            pi = xp.exp(logpi - xp.max(logpi))
            return pi / xp.sum(pi), reversible is not False
        if reversible:
            raise ValueError(
                "reversible=True, but the network violates detailed balance pi_i L_ij = pi_j L_ji (or its edge "
                "pattern is not symmetric): leave reversible=None to detect it"
            )
        if check:
            check_connected(net, mA, mB, strong=True, reversible=reversible)
        pi = stationary(net, tol)
    elif check:
        check_connected(net, mA, mB, strong=False, reversible=reversible)
    if reversible is None:
        reversible = _detailed_balance(net, pi, 1e-9 if double else 1e-4)
    elif reversible and not _detailed_balance(net, pi, 1e-9 if double else 1e-4):
        raise ValueError(
            "reversible=True, but detailed balance pi_i L_ij = pi_j L_ji fails (checked on every edge to 1e-9 "
            "relative): leave reversible=None to detect it"
        )
    return pi, bool(reversible)


def _output(net: Network, vals: Any, out: Backend) -> Any:
    """Edge values in the input's form on the backend ``out``: dense ``n x n``, ``out``'s sparse matrix (for sparse
    input), or a COO tuple ``(rows, cols, vals, n)``."""
    be, xp, n = net.be, net.be.xp, net.n
    move = _mover(be, out)
    (nz,) = xp.nonzero(vals != 0)
    r, c, v = xp.take(net.rows, nz), xp.take(net.cols, nz), xp.take(vals, nz)
    if net.fmt == "dense":
        flat = scatter_set(be, xp.zeros((n * n,), dtype=vals.dtype, device=be.device), r * n + c, v)
        return move(xp.reshape(flat, (n, n)))
    if net.fmt == "sparse" and net.build is not None:
        return net.build(move(r), move(c), move(v))
    return (move(r), move(c), move(v), n)


def _fluxes(net: Network, mA: Any, pi: Any, q_plus: Any, q_minus: Any) -> tuple[Any, Any, float, float]:
    """Gross and net flux per edge, total flux ``F`` and rate ``k_AB``."""
    xp = net.be.xp
    f = xp.take(pi * q_minus, net.rows) * net.vals * xp.take(q_plus, net.cols)
    idx, found = net.transpose_index()
    f_rev = xp.where(found, xp.take(f, idx), xp.zeros_like(f))
    fplus = xp.maximum(f - f_rev, xp.zeros_like(f))
    out_a = xp.take(mA, net.rows) & ~xp.take(mA, net.cols)
    total = float(xp.sum(xp.where(out_a, f, xp.zeros_like(f))))
    return f, fplus, total, total / float(xp.sum(pi * q_minus))


# ----------------------------------------------------------------------------------------------- public
@declare(uses=("sparse_factor", "sparse_solve"))
def reactive_flux(
    M: Any,
    A: Any,
    B: Any,
    *,
    kind: str | None = None,
    pi: Any = None,
    reversible: bool | None = None,
    fix_diagonal: bool = False,
    rate_attr: str = "rate",
    tol: float = 1e-12,
    check: bool = True,
    backend: Any = None,
) -> ReactiveFlux:
    r"""Transition path theory from ``A`` to ``B`` on a network (E & Vanden-Eijnden 2006; Metzner, Schütte &
    Vanden-Eijnden 2009).

    Parameters
    ----------
    M : array, sparse matrix, tuple or networkx.DiGraph
        Generator ``L`` (``kind="generator"``, rows sum to 0) or transition matrix ``P`` (``kind="transition"``,
        rows sum to 1), real: a dense 2-D array of any backend, a sparse matrix with ``.tocoo()`` (scipy.sparse
        on numpy, any format, array or matrix; cupyx on cupy), a torch sparse tensor (COO, CSR, CSC), a JAX
        ``BCOO``/``BCSR``, a COO tuple ``(rows, cols, vals, n)`` on any backend (integer indices; duplicates are
        an error), or a networkx ``DiGraph`` with edge attribute ``rate_attr`` (diagonal implied).
    A, B : array, list or labels
        Disjoint non-empty state sets: index arrays/lists, boolean masks of length ``n``, or node labels.
    kind : {"generator", "transition"} or None
        Continuous time (rates) or discrete time (per-step probabilities, :math:`L = P - I`). ``None`` (default)
        infers it: rows summing to 1 with a non-negative diagonal -> ``"transition"``; rows summing to 0 ->
        ``"generator"`` (off-diagonal entries non-negative in both, rows to ``1e-10`` relative, ``1e-5`` in
        float32); neither -> a ``ValueError`` that names both. Without a diagonal to read (COO tuple without
        diagonal entries, networkx, ``fix_diagonal=True``) ``None`` means ``"generator"``.
    pi : array, optional
        Stationary distribution if known (normalized here; checked: :math:`\pi^\top L = 0` at every state to
        ``1e-8`` relative to its in- plus out-flow, ``O(nnz)``, a ``ValueError`` naming the states otherwise).
        Otherwise: for a reversible network
        :math:`\log\pi` is assembled along a spanning tree from :math:`L_{ij}/L_{ji}` and accepted when
        detailed balance holds on every edge (no solve, accurate for :math:`\pi` over many orders of
        magnitude); else one sparse solve of :math:`\pi^\top L = 0` with one equation replaced by
        :math:`\pi_k = 1`.
    reversible : bool, optional
        Use :math:`q^- = 1 - q^+` (one committor solve). ``None``: detected from detailed balance
        :math:`\pi_i L_{ij} = \pi_j L_{ji}` on every edge to ``1e-9`` relative to the edge's own probability flow
        plus ``1e-9`` times the largest one. ``True`` is checked the same way (``O(nnz)``): a ``ValueError`` when
        detailed balance fails. ``False`` solves for the backward committor (``pi`` is still assembled in log
        space when detailed balance holds).
    fix_diagonal : bool
        Set the diagonal from the off-diagonal entries instead of checking that rows sum to 0 / 1.
    rate_attr : str
        Edge attribute holding the rate (networkx input).
    tol : float
        Relative residual of the iterative solvers (torch on accelerators), in ``(0, 1)``; CPU arrays are solved
        directly.
    check : bool
        Reachability checks (below) before solving.
    backend : str or Backend, optional
        Explicit backend (default: that of the input arrays, else numpy).

    Returns
    -------
    ReactiveFlux
        All fields on the caller's backend and dtype (JAX: computed on the host, moved once). ``flux`` and
        ``net_flux`` in the input's form: dense in, dense out; a sparse matrix in, the same type out (scipy
        format and array/matrix flavour, torch layout, BCOO/BCSR); a COO tuple or networkx graph in, a COO tuple
        out. A float32 request is computed in float64 where the device has it and cast once at the end (the
        stationary distribution of a metastable network spans more decades than float32 holds).

    Notes
    -----
    Equations: see :mod:`transportkit.tpt.flux`. ``total_flux`` is :math:`F = \sum_{i\in A, j\notin A} f_{ij}`
    and ``rate`` is :math:`k_{AB} = F/\sum_i\pi_i q^-_i`; for ``kind="transition"`` both are per step (deeptime's
    conventions).

    A ``ValueError`` naming the offending states is raised, before any solve, for: empty or overlapping ``A``/``B``,
    negative off-diagonal entries, rows not summing to 0 (1), a network that is not irreducible (when ``pi`` is
    computed), states that cannot reach ``A`` ∪ ``B`` (or, for the backward committor, cannot be reached from
    it), and ``B`` unreachable from ``A``; likewise for a bad ``kind``, ``tol``, flag or ``pi``.
    """
    kind, tol = check_options(kind, tol)
    _check_flags(reversible=reversible, fix_diagonal=fix_diagonal, check=check)
    be, net, mA, mB, pi = _prepare(M, A, B, pi, kind, fix_diagonal, rate_attr, backend)
    xp = net.be.xp
    # detailed balance to what the caller's dtype resolves (float32 input is computed in float64)
    pi, reversible = _pi_and_reversibility(net, mA, mB, pi, reversible, check, tol, not net.single)
    q_plus, factored = committor(net, mA, mB, tol)
    # reversible: q- = 1 - q+; otherwise one transposed solve with the forward factorization
    q_minus = 1.0 - q_plus if reversible else backward_committor(net, pi, mA, mB, factored)
    del factored  # free the LU factors before the per-edge flux arrays are formed (peak memory)
    f, fplus, total, rate = _fluxes(net, mA, pi, q_plus, q_minus)
    move = _mover(net.be, be)
    (ia,) = xp.nonzero(mA)
    (ib,) = xp.nonzero(mB)
    return ReactiveFlux(
        pi=move(pi), q_plus=move(q_plus), q_minus=move(q_minus), flux=_output(net, f, be),
        net_flux=_output(net, fplus, be), total_flux=total, rate=rate, A=move(ia), B=move(ib), kind=net.kind,
        reversible=reversible, edges=(move(net.rows), move(net.cols)), flux_values=move(f),
        net_flux_values=move(fplus), n=net.n, labels=net.labels, rate_values=move(net.vals), backend=be,
    )


@declare(uses=("sparse_factor", "sparse_solve"))
def stationary_distribution(
    M: Any, *, kind: str | None = None, fix_diagonal: bool = False, tol: float = 1e-12, backend: Any = None
) -> Array:
    r"""Stationary distribution :math:`\pi^\top L = 0,\ \sum_i \pi_i = 1` (``L = P - I`` for
    ``kind="transition"``) by one sparse solve with one equation replaced by the normalization.

    Parameters
    ----------
    M, kind, fix_diagonal, tol, backend
        As in :func:`reactive_flux`.

    Returns
    -------
    array, shape (n,)
        On the caller's backend. ``ValueError`` naming the states outside the communicating class of state 0
        when the network is not irreducible (checked before the solve).
    """
    kind, tol = check_options(kind, tol)
    _check_flags(fix_diagonal=fix_diagonal)
    be, net, _ = _network(M, kind, fix_diagonal, "rate", backend)
    check_connected(net, None, None, strong=True, reversible=None)
    return _mover(net.be, be)(stationary(net, tol))


@declare(uses=("sparse_factor", "sparse_solve"))
def committors(
    M: Any, A: Any, B: Any, *, kind: str | None = None, fix_diagonal: bool = False, tol: float = 1e-12,
    backend: Any = None,
) -> tuple[Array, Array]:
    """Forward and backward committors of :func:`reactive_flux` (same parameters).

    Returns
    -------
    q_plus, q_minus : array, shape (n,)
        On the caller's backend.
    """
    rf = reactive_flux(M, A, B, kind=kind, fix_diagonal=fix_diagonal, tol=tol, backend=backend)
    return rf.q_plus, rf.q_minus


@declare(uses=("sparse_factor", "sparse_solve"))
def mean_first_passage_times(
    M: Any, target: Any, *, kind: str | None = None, fix_diagonal: bool = False, tol: float = 1e-12,
    rate_attr: str = "rate", backend: Any = None,
) -> Array:
    r"""Mean first passage times :math:`\tau_i` to the set ``target``: :math:`\sum_j L_{ij}\tau_j = -1` for
    :math:`i\notin T`, :math:`\tau|_T = 0` (``kind="transition"``: in steps, with :math:`L = P - I`).

    Parameters
    ----------
    M, kind, fix_diagonal, tol, rate_attr, backend
        As in :func:`reactive_flux`.
    target : array, list or labels
        The target set ``T`` (indices, boolean mask or node labels).

    Returns
    -------
    array, shape (n,)
        On the caller's backend. ``ValueError`` naming the states that cannot reach the target (before the solve).
    """
    kind, tol = check_options(kind, tol)
    _check_flags(fix_diagonal=fix_diagonal)
    be, net, move = _network(M, kind, fix_diagonal, rate_attr, backend)
    cb = net.be
    mT = as_states(move(target), net, "target")
    ok = reach(net, mT, reverse=True)
    if not bool(cb.xp.all(ok)):
        (w,) = cb.xp.nonzero(~ok)
        raise ValueError(f"states {fmt_states(w, cb, net.labels)} cannot reach the target")
    return _mover(cb, be)(mean_first_passage(net, mT, tol))
