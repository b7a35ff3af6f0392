"""Score-based transport modeling (SBTM): the probability-flow solution of a Fokker–Planck equation.

For ``dX = b(t, X) dt + √(2D) dW`` the density obeys ``∂_tρ = −∇·((b − D∇log ρ)ρ)``, so particles moved by the
probability flow

    Ẋ = v_t(X) = b(t, X) − D s_t(X),    s_t = ∇log ρ_t,

have law ρ_t at every time, and along each trajectory ``d/dt log ρ_t(X_t) = −∇·v_t(X_t)``; the entropy
``S_t = −E log ρ_t`` follows with ``dS/dt = E[∇·v_t]`` (Boffi & Vanden-Eijnden 2023, "Probability flow solution
of the Fokker–Planck equation", Mach. Learn.: Sci. Technol. 4 035012, arXiv 2206.04642, Algorithm 1). The score
is refitted to the particles at every step by implicit score matching; with
:class:`~transportkit.fokker_planck.FeatureScore` that fit is one linear solve (no optimizer, no warm start needed),
exact for Gaussian laws with linear features, on every backend. Time stepping is Heun's method (or forward Euler,
the paper's choice); on JAX the whole run is one compiled loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._loops import scan_steps
from .._results import Result
from .._validation import as_bool, as_choice, as_count, as_points, as_real, check_callable, check_returned_shape
from ..errors import NonFiniteWarning
from ..random import SEED_DEPRECATED, resolve_rng
from .diffusion import Diffusion
from .scores import FeatureScore

__all__ = ["SBTMResult", "sbtm"]


@dataclasses.dataclass
class SBTMResult(Result):
    """What :func:`sbtm` returns.

    Attributes
    ----------
    x : array (n, d)
        the particles at the final time (the whole path ``(steps + 1, n, d)`` with ``return_path=True``).
    times : array (steps + 1,)
    entropy : array (steps + 1,) or None
        ``S_t = −mean log ρ_t(X_t)``, or ``entropy0 + entropy_change`` when ``entropy0`` is given (None without
        either; then see ``entropy_change``).
    entropy_change : array (steps + 1,)
        ``S_t − S_0 = ∫₀ᵗ E[∇·v]``.
    log_density : array (n,) or None
        ``log ρ_T`` at the final particles (None without ``log_density0``).
    """

    x: Any
    times: Any
    entropy: Any
    entropy_change: Any
    log_density: Any

    def __repr__(self) -> str:
        kind = "absolute" if self.entropy is not None else "relative only"
        return f"SBTMResult(x={tuple(self.x.shape)}, steps={self.times.shape[0] - 1}, entropy={kind})"


@declare(uses=("jit",), name="tk.fokker_planck.sbtm")
def sbtm(
    drift: Callable[[Any, Any], Any],
    D: Any,
    x0: Any,
    t_span: tuple[float, float],
    steps: int = 1000,
    score_model: FeatureScore | None = None,
    *,
    log_density0: Callable[[Any], Any] | None = None,
    entropy0: float | None = None,
    div_drift: Callable[[Any, Any], Any] | None = None,
    fd_step: float = 1e-5,
    solver: str = "heun",
    return_path: bool = False,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
    progress: bool = False,
) -> SBTMResult:
    """Move the samples ``x0`` of ρ₀ by the probability flow of ``dX = b dt + √(2D) dW`` (module docstring).

    Parameters
    ----------
    drift : callable ``drift(t, x) -> (n, d)``
    D : float or (d, d) SPD matrix
    x0 : array (n, d)
        samples of the initial density.
    t_span : (t0, t1)
    steps : int
        time steps of size ``(t1 − t0)/steps``.
    score_model : FeatureScore, optional
        the score model refitted at each step (default: linear features, the Gaussian score).
    log_density0 : callable ``log ρ₀(x) -> (n,)``, optional
        gives absolute log-densities and entropies; without it only ``entropy_change`` is known.
    entropy0 : float, optional
        the exact entropy of ρ₀ when known: ``entropy = entropy0 + entropy_change`` (no Monte Carlo error from
        ``−mean log ρ₀(X₀)``); otherwise ``entropy = −mean log ρ_t(X_t)``.
    div_drift : callable ``div_drift(t, x) -> (n,)``, optional
        ``∇·b``; by default central differences over the coordinates (exact for linear and quadratic drifts up to
        rounding; ``2d`` drift evaluations per step).
    solver : {"heun", "euler"}
        time stepping of the particles and their log-densities: Heun's second-order method (two score fits per
        step; the default) or forward Euler (one fit per step, first order, as in the paper's Algorithm 1).
    return_path : bool
        keep every step's particles (memory ``(steps + 1) n d``).
    rng
        random stream of the score model's Fourier features (SPEC 7: int, numpy Generator, None).
    """
    check_callable("drift", drift)
    be = resolve_backend(x0, backend=backend)
    x0 = as_points("x0", x0, be)
    n, d = x0.shape
    steps = as_count("steps", steps)
    t0, t1 = _check_span(t_span)
    model = FeatureScore() if score_model is None else score_model
    if not isinstance(model, FeatureScore):
        raise TypeError(f"score_model must be a FeatureScore, got {type(model).__name__}")
    if n < model.n_features + d + 1:
        raise ValueError(f"the score fit needs n >= features + d + 1 = {model.n_features + d + 1} particles, got {n}")
    if entropy0 is not None:
        entropy0 = as_real("entropy0", entropy0)
    fd_step = as_real("fd_step", fd_step, low=0.0, low_open=True)
    return_path = as_bool("return_path", return_path)
    heun = as_choice("solver", solver, ("heun", "euler")) == "heun"
    diff = Diffusion(D, d, be)
    gen = resolve_rng(rng, be, seed=seed)
    xp = be.xp
    dt = (t1 - t0) / steps

    check_returned_shape("drift", drift(t0, x0), (n, d), "(t, x)")
    if div_drift is not None:
        check_callable("div_drift", div_drift)
        check_returned_shape("div_drift", div_drift(t0, x0), (n,), "(t, x)")
    logrho = None
    if log_density0 is not None:
        check_callable("log_density0", log_density0)
        logrho = check_returned_shape("log_density0", log_density0(x0), (n,), "(x)")
    bound = model.bind(be, d, gen)
    divergence_b = div_drift if div_drift is not None else _CentralDivergence(drift, fd_step, be, d)

    def flow(t: Any, x: Any) -> tuple[Any, Any]:
        """The probability-flow velocity and its divergence with the score refitted to the particles ``x``."""
        w = bound.fit(x)
        v = drift(t, x) - diff.apply(bound.score(w, x))
        return v, divergence_b(t, x) - bound.divergence(diff.times_coef(w), x)

    def body(i: Any, carry: Any, consts: Any) -> tuple[Any, Any]:
        x, lr = carry
        t = t0 + dt * i
        v, divv = flow(t, x)
        if heun:
            v2, div2 = flow(t + dt, x + dt * v)
            v, divv = (v + v2) / 2, (divv + div2) / 2
        x_new = x + dt * v
        lr_new = lr - dt * divv
        mean_div = xp.mean(divv)
        return (x_new, lr_new), ((x_new, mean_div) if return_path else mean_div)

    lr0 = logrho if logrho is not None else xp.zeros((n,), dtype=x0.dtype)
    (x, lr), ys = scan_steps(be, body, (x0, lr0), steps, progress=progress, desc="sbtm")
    path, mean_div = ys if return_path else (None, ys)
    zero = xp.zeros((1,), dtype=x0.dtype)
    change = xp.concat([zero, xp.cumulative_sum(mean_div) * dt])
    if not bool(xp.all(xp.isfinite(change))) or not bool(xp.all(xp.isfinite(x))):
        import warnings

        warnings.warn("SBTM met non-finite values (the step may be too large for the drift)", NonFiniteWarning,
                      stacklevel=2)
    times = t0 + dt * xp.astype(xp.arange(steps + 1), x0.dtype)
    if entropy0 is not None:
        entropy = entropy0 + change
    else:
        entropy = None if logrho is None else -xp.mean(logrho) + change
    out_x = xp.concat([x0[None, ...], path], axis=0) if return_path else x
    return SBTMResult(out_x, times, entropy, change, None if logrho is None else lr, backend=be)


def _check_span(t_span: Any) -> tuple[float, float]:
    """``(t0, t1)`` with ``t1 > t0``, from a pair of reals."""
    try:
        t0, t1 = t_span
    except (TypeError, ValueError):
        raise TypeError(f"t_span must be a pair (t0, t1), got {t_span!r}") from None
    t0, t1 = as_real("t_span[0]", t0), as_real("t_span[1]", t1)
    if not t1 > t0:
        raise ValueError(f"t_span must have t1 > t0, got {t_span!r}")
    return t0, t1


class _CentralDivergence:
    r""":math:`\nabla\cdot b(t, x) \approx \sum_a [b_a(t, x + h e_a) - b_a(t, x - h e_a)] / (2h)`: central differences
    over the coordinates (exact for linear and quadratic drifts up to rounding; ``2d`` drift evaluations), as a
    compiled-friendly loop over the coordinates."""

    def __init__(self, drift: Callable[[Any, Any], Any], h: float, be: Any, d: int):
        self.drift, self.h, self.be, self.d = drift, h, be, d

    def __call__(self, t: Any, x: Any) -> Any:
        xp, h, d = self.be.xp, self.h, self.d
        eye = xp.eye(d, dtype=x.dtype)

        def one(a: Any, acc: Any) -> Any:
            e = xp.astype(xp.arange(d) == a, x.dtype) if not isinstance(a, int) else eye[a, :]
            diffb = self.drift(t, x + h * e) - self.drift(t, x - h * e)
            return acc + xp.sum(diffb * e, axis=1) / (2 * h)

        return self.be.fori_loop(0, d, one, xp.zeros((x.shape[0],), dtype=x.dtype))
