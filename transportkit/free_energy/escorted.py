r"""Escorted (targeted) works along a deterministic flow and the escorted Jarzynski / controlled Crooks estimators.

A flow :math:`\dot X_t = b(t, X_t)` maps samples of :math:`\rho_{\rm start} \propto e^{-U_{\rm start}}` to points
whose generalized work :math:`W = U_{\rm end}(X_{\rm end}) - U_{\rm start}(X_{\rm start}) - \int \nabla\cdot b\,dt`
satisfies Jarzynski's equality :math:`E[e^{-W}] = Z_{\rm end}/Z_{\rm start}` for *any* field ``b``, and the forward
and time-reversed works satisfy Crooks' relation; the closer ``b`` is to a transport of one density onto the other,
the smaller the dissipation and the variance.

References
----------
- C. Jarzynski, "Targeted free energy perturbation", Phys. Rev. E 65, 046122 (2002).
- S. Vaikuntanathan, C. Jarzynski, "Escorted free energy simulations: improving convergence by reducing
  dissipation", Phys. Rev. Lett. 100, 190601 (2008).
- G. E. Crooks, "Path-ensemble averages in systems driven far from equilibrium", Phys. Rev. E 61, 2361 (2000).
- C. H. Bennett, J. Comput. Phys. 22, 245 (1976) (BAR of the two work sets).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import progress_range, run_steps
from .._validation import as_count, as_points, as_real, check_callable, refuse_lazy
from ..runge_kutta import get_tableau, rk_step
from ._checks import check_threshold
from .diagnostics import ESS_WARNING, Array, EscortedDiagnostics, FreeEnergyEstimate
from .exp_bar import bar, bounds, exp

__all__ = ["escorted_jarzynski", "flow_works"]

_RK4 = get_tableau("rk4")


class _Augmented:
    """The state (x, ell) of the flow with its integrated divergence: adds and scales like one array, so that the
    shared Runge-Kutta stack steps both without concatenating them."""

    __slots__ = ("ell", "x")

    def __init__(self, x: Array, ell: Array) -> None:
        self.x, self.ell = x, ell

    def __add__(self, other: _Augmented) -> _Augmented:
        return _Augmented(self.x + other.x, self.ell + other.ell)

    def __rmul__(self, c: Any) -> _Augmented:
        return _Augmented(c * self.x, c * self.ell)


def _flow_step(velocity: Callable, divergence: Callable) -> Callable[[Any, tuple, tuple], tuple]:
    """One RK4 step of (x, ell): dx/dt = b(t, x), d(ell)/dt = div b(t, x), at time ``t0 + i h`` with
    ``(t0, h) = consts``; the carry is the pair of arrays."""

    def field(t: Any, z: _Augmented) -> _Augmented:
        return _Augmented(velocity(t, z.x), divergence(t, z.x))

    def body(i: Any, carry: tuple, consts: tuple) -> tuple:
        t0, h = consts
        z = rk_step(_RK4, field, t0 + i * h, h, _Augmented(*carry))
        return z.x, z.ell

    return body


def _integrate(
    be: Backend, velocity: Callable, divergence: Callable, x: Array, t0: float, t1: float, n_steps: int,
    jit: bool | None, progress: bool,
) -> tuple[Array, Array]:  # fmt: skip
    """(x at t1, integral of div b) by fixed-step RK4: one compiled run on JAX (``jit`` not False), else a Python
    loop; ``jit=None`` falls back to the Python loop, with a warning, when the fields cannot be traced."""
    h = (t1 - t0) / n_steps
    body = _flow_step(velocity, divergence)
    z = (x, be.xp.zeros(x.shape[:1], dtype=x.dtype, device=be.device))
    desc = "escorted works"
    if be.compiles_loops and jit is not False:
        consts = (be.asarray(t0), be.asarray(h))
        key = ("free_energy.escorted", velocity, divergence)
        try:
            return run_steps(be, body, z, n_steps, consts=consts, key=key, progress=progress, desc=desc)
        except Exception as exc:  # a field that cannot be traced (numpy calls, float(t), ...)
            if jit:
                raise
            why = (str(exc).splitlines() or [""])[0]
            warnings.warn(
                f"escorted works: the velocity/divergence could not be compiled ({type(exc).__name__}: {why}); "
                "running the steps as a Python loop (write them with the array namespace on t, or pass jit=False)",
                UserWarning,
                stacklevel=4,
            )
    for i in progress_range(n_steps, progress, desc):
        z = body(i, z, (t0, h))
    return z


_UNSET: Any = object()


def _check_points(name: str, x: Any, be: Backend, d: int | None = None) -> Array:
    x = as_points(name, x, be, ndim=2)
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} has dimension {x.shape[1]}, but x0 has {d}")
    return x


def _check_flow_args(
    velocity: Any, divergence: Any, energies: dict[str, Any], steps: Any, n_steps: Any, jit: Any
) -> int:
    check_callable("velocity", velocity)
    check_callable("divergence", divergence)
    for name, U in energies.items():
        check_callable(name, U)
    if jit not in (None, True, False):
        raise ValueError(f"jit must be None, True or False, got {jit!r}")
    if n_steps is not _UNSET:
        warnings.warn("n_steps= is deprecated; use steps=", DeprecationWarning, stacklevel=3)
        steps = n_steps
    return as_count("steps", steps)


@declare(uses=("jit",))
def flow_works(
    velocity: Callable[[Any, Any], Any],
    divergence: Callable[[Any, Any], Any],
    U_start: Callable[[Any], Any],
    U_end: Callable[[Any], Any],
    x: Any,
    *,
    t_start: float = 0.0,
    t_end: float = 1.0,
    steps: int = 100,
    jit: bool | None = None,
    progress: bool = False,
    backend: Any = None,
    n_steps: Any = _UNSET,
) -> tuple[Array, Array]:
    r"""Generalized (escorted) works along the deterministic flow :math:`\dot X_t = b(t, X_t)` (ε = 0):

    .. math:: W = U_{\rm end}(X_{t_{\rm end}}) - U_{\rm start}(X_{t_{\rm start}})
              - \int_{t_{\rm start}}^{t_{\rm end}} \nabla\!\cdot b(t, X_t)\,dt,

    the targeted-FEP work of the map :math:`T` (Jarzynski 2002, Phys. Rev. E 65, 046122;
    :math:`\log|\det\nabla T| = \int \nabla\cdot b\,dt`), which satisfies
    :math:`E_{\rho_{\rm start}}[e^{-W}] = Z_{\rm end}/Z_{\rm start}` for *any* ``b``. Integrated with fixed-step RK4
    (:func:`transportkit.runge_kutta.rk_step` on the state :math:`(x, \int\nabla\cdot b)`); the whole trajectory
    is one compiled program on JAX.

    Parameters
    ----------
    velocity : callable ``(t, x) -> (n, d)``
        The field :math:`b`. ``t`` is a float, or a 0-d array inside a compiled run (JAX): write ``t``-dependence
        with the array namespace (``xp.sin(t)``), not ``math``/NumPy, to let the run compile.
    divergence : callable ``(t, x) -> (n,)``
        :math:`\nabla\cdot b(t, x)`.
    U_start, U_end : callable ``x -> (n,)``
        Reduced energies of the start and end states.
    x : array, shape (n, d)
        Samples of the start state.
    t_start, t_end : float
        Time interval (``t_end < t_start`` runs backward, giving reverse works).
    steps : int >= 1
        RK4 steps (``n_steps=``: its deprecated alias).
    jit : bool or None
        ``None``: compile on backends that compile loops, falling back to a Python loop (with a warning) when the
        fields cannot be traced; ``True``: compile (errors propagate); ``False``: Python loop.
    progress : bool
        Show a progress bar over the steps.
    backend : str or Backend, optional
        The backend (default: that of ``x``).

    Returns
    -------
    works : array, shape (n,)
    x_end : array, shape (n, d)
    """
    steps = _check_flow_args(velocity, divergence, {"U_start": U_start, "U_end": U_end}, steps, n_steps, jit)
    t0, t1 = as_real("t_start", t_start), as_real("t_end", t_end)
    refuse_lazy("x", x)
    be = resolve_backend(x, backend=backend)
    x = _check_points("x", x, be)
    x_end, ell = _integrate(be, velocity, divergence, x, t0, t1, steps, jit, bool(progress))
    return U_end(x_end) - U_start(x) - ell, x_end


@declare(uses=("jit",))
def escorted_jarzynski(
    velocity: Callable[[Any, Any], Any],
    divergence: Callable[[Any, Any], Any],
    U0: Callable[[Any], Any],
    U1: Callable[[Any], Any],
    x0: Any,
    x1: Any = None,
    *,
    steps: int = 100,
    ess_warning: float = ESS_WARNING,
    jit: bool | None = None,
    progress: bool = False,
    backend: Any = None,
    n_steps: Any = _UNSET,
) -> FreeEnergyEstimate:
    r"""Escorted Jarzynski (``x1`` omitted: EXP of the forward works) or controlled Crooks (``x1`` given: BAR of
    forward works from ``x0 ~ ρ0`` and reverse works from ``x1 ~ ρ1`` along the time-reversed flow).

    Works: :func:`flow_works` with :math:`\rho_k \propto e^{-U_k}`; forward
    :math:`W_F = U_1(X_1) - U_0(X_0) - \int_0^1 \nabla\cdot b\,dt` from :math:`X_0 = x_0`, reverse
    :math:`W_R = U_0(X_0) - U_1(X_1) + \int_0^1 \nabla\cdot b\,dt` from :math:`X_1 = x_1`. They satisfy Crooks'
    relation (Vaikuntanathan & Jarzynski 2008, Phys. Rev. Lett. 100, 190601), so BAR is the minimum-variance
    combination; an exact transport (:math:`X_1 \sim \rho_1`) makes every work equal to :math:`\Delta F` (zero
    variance).

    Parameters
    ----------
    velocity, divergence : callable
        The field and its divergence, as in :func:`flow_works`.
    U0, U1 : callable ``x -> (n,)``
        Reduced energies of the states at t = 0 and t = 1.
    x0 : array, shape (n, d)
        Samples of :math:`\rho_0`.
    x1 : array, shape (m, d), optional
        Samples of :math:`\rho_1` (for reverse works and BAR).
    steps : int >= 1
        RK4 steps per direction (``n_steps=``: its deprecated alias).
    ess_warning : float
        As in :func:`~transportkit.free_energy.exp`; 0 disables.
    jit : bool or None
        As in :func:`flow_works`.
    progress : bool
        Show a progress bar over the steps.
    backend : str or Backend, optional
        The backend (default: that of ``x0``/``x1``).

    Returns
    -------
    FreeEnergyEstimate
        ``diagnostics``: :class:`EscortedDiagnostics` (``w_forward``, ``w_reverse`` (or None), ``lower_bound``
        :math:`-E[W_R]`, ``upper_bound`` :math:`E[W_F]`, ``exp_forward`` (the EXP estimate), ``method``, and the
        estimator's own diagnostics).
    """
    steps = _check_flow_args(velocity, divergence, {"U0": U0, "U1": U1}, steps, n_steps, jit)
    threshold = check_threshold(ess_warning)
    refuse_lazy("x0", x0)
    refuse_lazy("x1", x1)
    be = resolve_backend(x0, x1, backend=backend)
    x0 = _check_points("x0", x0, be)
    x1 = None if x1 is None else _check_points("x1", x1, be, x0.shape[1])
    kw = {"steps": steps, "jit": jit, "progress": progress, "backend": be}
    wf, _ = flow_works(velocity, divergence, U0, U1, x0, t_start=0.0, t_end=1.0, **kw)
    ef = exp(wf, ess_warning=threshold, backend=be)
    if x1 is None:
        est, wr = ef, None
    else:
        wr, _ = flow_works(velocity, divergence, U1, U0, x1, t_start=1.0, t_end=0.0, **kw)
        est = bar(wf, wr, ess_warning=threshold, backend=be)
    bd = bounds(wf, wr, backend=be)
    diagnostics = EscortedDiagnostics(
        method="exp" if x1 is None else "bar",
        w_forward=wf,
        w_reverse=wr,
        lower_bound=bd.lower,
        upper_bound=bd.upper,
        exp_forward=ef.value,
        estimator=est.diagnostics,
        backend=be,
    )
    return FreeEnergyEstimate(est.value, est.stderr, diagnostics=diagnostics, backend=be)
