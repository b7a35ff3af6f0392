r"""Probabilistic forecasting with stochastic interpolants and Föllmer processes.

Chen, Goldstein, Hua, Albergo, Boffi & Vanden-Eijnden, "Probabilistic Forecasting with Stochastic Interpolants and
Föllmer Processes", ICML 2024, arXiv:2403.13724; Chen & Vanden-Eijnden, "Variational Optimality of Föllmer Processes
in Generative Diffusions", arXiv:2602.10989.

Data are pairs :math:`(x_0, x_1)` = (current state, future state); the base is the point mass at :math:`x_0`. The
Wiener interpolant is

.. math:: I_s = \alpha_s x_0 + \beta_s x_1 + \sigma_s W_s,\qquad \alpha_s = 1 - s,\quad
          \beta_s \in \{s, s^2\},\quad \sigma_s = c\,(1 - s),

and the drift :math:`b(s, x; x_0) = E[\dot\alpha_s x_0 + \dot\beta_s x_1 + \dot\sigma_s W_s \mid I_s = x, x_0]`
(note :math:`\dot\sigma_s W_s`, not :math:`d(\sigma W)/ds`) is the minimizer of
:math:`E|\hat b(s, I_s; x_0) - (\dot\alpha x_0 + \dot\beta x_1 + \dot\sigma W_s)|^2` with :math:`W_s = \sqrt s\,\zeta`.
The SDE :math:`dX_s = b(s, X_s; x_0)\,ds + \sigma_s\,dW_s`, :math:`X_0 = x_0`, ends at :math:`X_1 \sim
\rho(x_1 \mid x_0)` (library convention: :math:`\varepsilon_s = \sigma_s^2/2`). The conditional score follows from
the drift,

.. math:: S_s(x) = A_s\,[\beta_s b - \dot\beta_s x + (\alpha_s\dot\beta_s - \dot\alpha_s\beta_s) x_0],\qquad
          A_s = \frac{1}{s\,\sigma_s(\dot\beta_s\sigma_s - \beta_s\dot\sigma_s)},

so for any :math:`g_s \ge 0` the SDE :math:`dX = [b + \tfrac12(g_s^2 - \sigma_s^2) S_s]\,ds + g_s\,dW` has the
same marginals. A drift error :math:`\delta b` enters as :math:`(1 + \tfrac12(g^2 - \sigma^2)A\beta)\,\delta b`; the
path-KL weight :math:`(1 + \tfrac12(g^2-\sigma^2)A\beta)^2/g^2` is smallest at

.. math:: g_s^2 = 2 s\sigma_s(\dot\beta_s\sigma_s - \beta_s\dot\sigma_s)/\beta_s - \sigma_s^2

(:func:`optimal_diffusion`; :math:`1 - s^2` for :math:`\beta = s` and :math:`(1-s)(3-s)` for :math:`\beta = s^2`
when :math:`c = 1`), a Föllmer process.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import run_steps
from .._typing import Array
from .._validation import as_choice, as_count, as_points, check_callable
from ..errors import NonFiniteWarning
from ..random import resolve_rng
from ._follmer import (
    _S_CLIP,
    ConditionalDrift,
    ExactDrift,
    FollmerInterpolant,
    _BoundDrift,
    _g2_optimal,
    exact_drift,
    optimal_diffusion,
)
from ._follmer_learn import FeatureDrift, MLPDrift, fit_drift, train_drift

__all__ = ["ConditionalDrift", "ExactDrift", "FeatureDrift", "FollmerInterpolant", "MLPDrift", "exact_drift",
           "fit_drift", "forecast", "optimal_diffusion", "sample", "train_drift"]


# ------------------------------------------------------------------------------------------------ sampling
def _diffusion_spec(diffusion: Any) -> Any:
    if diffusion is None:
        return None
    if isinstance(diffusion, str):
        return as_choice("diffusion", diffusion, ("optimal",))
    return check_callable("diffusion", diffusion)


def _runner(bd: _BoundDrift, diffusion: Any, gen: Any) -> Callable:
    """The Euler–Maruyama body :math:`X \\leftarrow X + h\\,\\tilde b + g\\sqrt h\\,\\xi` with
    :math:`\\tilde b = b + \\lambda_s[\\beta b - \\dot\\beta(x - x_0) + (\\beta - s\\dot\\beta)x_0]`,
    :math:`\\lambda_s = \\tfrac12(g^2 - \\sigma^2)A_s` (0 for ``diffusion=None``: g = σ)."""
    xp, interp = bd.xp, bd.interpolant

    def body(i: Any, x: Any, consts: tuple) -> Any:
        times, key, x0 = consts
        s = times[i]
        h = times[i + 1] - s
        b = bd.drift(s, x, x0)
        c = interp.coefficients(s, xp)
        if diffusion is None:
            g = c.sg
        else:
            if diffusion == "optimal":
                g2 = _g2_optimal(c, s)
                sc = xp.clip(s, _S_CLIP, 1.0 - _S_CLIP)
                cc = interp.coefficients(sc, xp)  # lambda = ((q-1) sigma - s sigma')/(s w): no cancellation
                lam = ((cc.q - 1.0) * cc.sg - sc * cc.sgd) / (sc * (cc.bd * cc.sg - cc.b * cc.sgd))
            else:
                g = diffusion(s, xp)
                g2 = g * g
                lam = 0.5 * (g2 - c.sg * c.sg) * bd.score_factor(s)
            g = xp.sqrt(xp.clip(g2, 0.0, None))
            b = b + lam * bd.bracket(s, x, x0, b)
        return x + h * b + (g * xp.sqrt(h)) * gen.at(key, i).normal(x.shape)

    return body


def _prepare(drift: Any, x0: Any, n: Any, steps: Any, diffusion: Any, backend: Any) -> tuple:
    if not isinstance(drift, ConditionalDrift):
        raise TypeError(f"drift must be a ConditionalDrift (exact_drift, fit_drift, train_drift), got "
                        f"{type(drift).__name__}")
    steps = as_count("steps", steps)
    diffusion = _diffusion_spec(diffusion)
    be = resolve_backend(x0, backend=backend)
    xp = be.xp
    x0 = as_points("x0", x0, be, dim=drift.dim, ndim=(1, 2))
    if x0.ndim == 1:
        if n is None:
            raise ValueError("give n (the ensemble size) with a single state x0 of shape (d,)")
        x0 = xp.broadcast_to(x0[None, :], (as_count("n", n), drift.dim))
    elif n is not None and as_count("n", n) != x0.shape[0]:
        raise ValueError(f"x0 holds {x0.shape[0]} states but n = {n}; give n only with a single state")
    return be, x0, steps, diffusion


def _run(be: Backend, drift: ConditionalDrift, x0: Any, steps: int, diffusion: Any, gen: Any) -> Any:
    xp = be.xp
    bd = drift.bind(be)
    body = _runner(bd, diffusion, gen)
    times = xp.asarray([k / steps for k in range(steps + 1)], dtype=be.dtype, device=be.device)
    # the body reads gen only through gen.at(key, i), pure in the loop key (a const): one program per (drift, g)
    key = ("follmer_em", bd, diffusion) if diffusion is None or isinstance(diffusion, str) or \
        _hashable(diffusion) else None
    x = 1.0 * x0
    out = run_steps(be, body, x, steps, consts=(times, gen.loop_key(), x0), key=key, compile=gen.functional,
                    desc="Föllmer SDE")
    if not bool(xp.all(xp.isfinite(out))):
        warnings.warn("the Föllmer SDE returned NaN or inf (a non-finite drift or diffusion, or too few steps for "
                      "a stiff drift); raise steps or check the drift", NonFiniteWarning, stacklevel=3)
    return out


def _hashable(obj: Any) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True


@declare(uses=("jit",), name="tk.interpolants.forecasting.sample")
def sample(
    drift: ConditionalDrift,
    x0: Any,
    n: int | None = None,
    *,
    steps: int = 100,
    diffusion: Any = None,
    rng: Any = None,
    backend: Any = None,
) -> Array:
    r"""Draw from :math:`\rho(x_1 \mid x_0)` by the SDE :math:`dX_s = \tilde b\,ds + g_s\,dW_s`, :math:`X_0 = x_0`
    (Euler–Maruyama on ``steps`` uniform steps; compiled on JAX).

    ``x0``: one state (d,) with ``n`` the ensemble size, or (m, d) states (one draw each). ``diffusion``: ``None``
    (:math:`g = \sigma`, :math:`\tilde b = b`), ``"optimal"`` (:func:`optimal_diffusion`, the Föllmer choice) or a
    callable ``g(s, xp)`` returning :math:`g_s`; then :math:`\tilde b = b + \tfrac12(g^2 - \sigma^2)S_s` with the
    score from the drift (Chen et al. 2024, arXiv:2403.13724). ``rng``: SPEC 7."""
    be, x0, steps, diffusion = _prepare(drift, x0, n, steps, diffusion, backend)
    gen = resolve_rng(rng, be)
    return _run(be, drift, x0, steps, diffusion, gen)


@declare(uses=("jit",), name="tk.interpolants.forecasting.forecast")
def forecast(
    drift: ConditionalDrift,
    x0: Any,
    horizon: int,
    n: int | None = None,
    *,
    steps: int = 100,
    diffusion: Any = None,
    rng: Any = None,
    backend: Any = None,
) -> Array:
    r"""Forecast a trajectory by repeated conditional sampling: :math:`X^{(0)} = x_0`, then
    :math:`X^{(k+1)} \sim \rho(\cdot \mid X^{(k)})` by :func:`sample` for each ensemble member, ``horizon`` times.
    Returns the ensemble at every lag, shape (horizon + 1, n, d) (Chen et al. 2024, arXiv:2403.13724)."""
    horizon = as_count("horizon", horizon)
    be, x, steps, diffusion = _prepare(drift, x0, n, steps, diffusion, backend)
    gen = resolve_rng(rng, be)
    out = [x]
    for _ in range(horizon):
        x = _run(be, drift, x, steps, diffusion, gen)
        out.append(x)
    return be.xp.stack(out, axis=0)
