r"""FEAT: free energies from a learned escort and stochastic works in both directions.

The escort drift :math:`b_t` is learned from samples of both end states with the linear stochastic interpolant
:math:`x_t = (1-t)x_a + t x_b` (independent coupling): :math:`b = \arg\min E|\hat b(t, x_t) - (x_b - x_a)|^2`
(:mod:`transportkit.free_energy.escort_fit`): ``model="linear"`` (every backend), :math:`\hat b(t, x) = \sum_k
P_k(t)\,(xW_k + c_k)` with shifted Legendre polynomials in time, fitted in closed form from the sample moments
(for Gaussian end states the exact velocity is of this form with rational time coefficients); ``model="mlp"``
(torch, jax), an MLP trained with Adam on the same loss. The Langevin part uses the score
:math:`s_t(x) = -(x - \mu_t)\Sigma_t^{-1}` of the moment-matched Gaussian interpolant (:math:`\mu_t = (1-t)m_a +
t m_b`, :math:`\Sigma_t = (1-t)^2C_a + t^2C_b`, from the fit samples).

Works use the discrete forward/backward kernel ratio (Albergo & Vanden-Eijnden 2024, "NETS", arXiv:2410.02711):

.. math:: W_F = U_b(x_K) - U_a(x_0) + \sum_k[\log q_F(x_{k+1}|x_k) - \log q_B(x_k|x_{k+1})]

from :math:`x_0 \sim \rho_a`, and the same functional with the sign flipped along paths drawn backward from
:math:`x_K \sim \rho_b` (:math:`W_R`). Then :math:`E[e^{-W_F}] = e^{-\Delta F}` and Crooks' relation hold exactly
for any step size, drift and score, so BAR on :math:`(W_F, W_R)` is consistent; the escort only lowers the
variance. Two kernel pairs (``scheme``):

- ``"em"`` (any drift): Euler–Maruyama, :math:`q_F(x_{k+1}|x_k) = \mathcal N(x_k + h(b+\varepsilon s)(t_k, x_k),
  2h\varepsilon I)`, :math:`q_B(x_k|x_{k+1}) = \mathcal N(x_{k+1} - h(b-\varepsilon s)(t_{k+1}, x_{k+1}),
  2h\varepsilon I)`. The divergence of :math:`b` then enters the works only through the noise
  (:math:`-h\,\xi^\top\nabla b\,\xi` per step): a work variance :math:`\approx 2h\int_0^1 E\|\nabla b\|_F^2\,dt`
  even for the exact escort (for two isotropic Gaussian wells, :math:`2hd\int\beta_t^2dt` with
  :math:`b = \beta_t x`).
- ``"split"`` (affine drifts, the default for ``model="linear"``): an exactly invertible Crank–Nicolson step of
  :math:`b`, whose log-determinant enters the work exactly, then a Langevin step of :math:`\varepsilon s`
  (:func:`_split_body`); with the exact escort the work variance falls as :math:`h^2`.

ε = 0 is refused (use :func:`~transportkit.free_energy.escorted_jarzynski` for deterministic flows).

References
----------
- J. He, Y. Du, F. Vargas, Y. Wang, C. P. Gomes, J. M. Hernández-Lobato, E. Vanden-Eijnden, "FEAT: Free energy
  Estimators with Adaptive Transport", NeurIPS 2025, arXiv:2504.11516.
- M. S. Albergo, N. M. Boffi, E. Vanden-Eijnden, "Stochastic interpolants", arXiv:2303.08797 (2023).
- S. Vaikuntanathan, C. Jarzynski, Phys. Rev. Lett. 100, 190601 (2008); C. H. Bennett, J. Comput. Phys. 22, 245
  (1976).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import run_steps
from .._validation import as_choice, as_count, as_points, as_real, check_callable, refuse_lazy
from ..errors import UncertaintyWarning
from ..random import SEED_DEPRECATED, resolve_rng
from ._checks import check_threshold
from .diagnostics import ESS_WARNING, Array, EscortedDiagnostics, FreeEnergyEstimate
from .escort_fit import LinearEscort, fit_linear_escort, fit_mlp_escort
from .exp_bar import bar, bounds, exp

__all__ = ["LinearEscort", "feat", "feat_works", "fit_linear_escort"]


def _log_ratio(fwd: Array, bwd: Array, h: float, eps: float, xp: Any) -> Array:
    r""":math:`\log q_F(x_{k+1}|x_k) - \log q_B(x_k|x_{k+1})` from the residuals ``fwd`` :math:`= x_{k+1} - x_k -
    h(b + \varepsilon s)(t_k, x_k)` and ``bwd`` :math:`= x_k - x_{k+1} + h(b - \varepsilon s)(t_{k+1}, x_{k+1})`
    (the Gaussian normalizations cancel)."""
    return (xp.sum(bwd * bwd, axis=1) - xp.sum(fwd * fwd, axis=1)) / (4.0 * h * eps)


def _works(
    escort: LinearEscort, x: Array, be: Backend, gen: Any, eps: float, steps: int, forward: bool, scheme: str
) -> tuple[Array, Array]:
    r"""Simulate ``steps`` steps forward (from t=0) or backward (from t=1) with the kernels of ``scheme``; return
    :math:`\sum_k[\log q_F - \log q_B]` along the path and the end points."""
    body = (_split_body if scheme == "split" else _em_body)(escort, be, gen, eps, 1.0 / steps, steps, forward)
    acc0 = be.xp.zeros(x.shape[:1], dtype=x.dtype, device=be.device)
    end, acc = run_steps(be, body, (x, acc0), steps, compile=be.compiles_loops and gen.functional)
    return acc, end


def _em_body(escort: Any, be: Backend, gen: Any, eps: float, h: float, steps: int, forward: bool) -> Callable:
    """Euler–Maruyama kernels :math:`q_F, q_B` of the module docstring (any drift)."""
    xp = be.xp
    sq = math.sqrt(2.0 * h * eps)
    key = gen.loop_key() if be.compiles_loops and gen.functional else None

    def drift_f(t: Any, z: Array) -> Array:
        return escort.velocity(t, z) + eps * escort.score(t, z)

    def drift_b(t: Any, z: Array) -> Array:
        return escort.velocity(t, z) - eps * escort.score(t, z)

    def body(i: Any, carry: tuple[Array, Array], consts: Any) -> tuple[Array, Array]:
        z, acc = carry
        noise = sq * gen.at(key, i).normal(z.shape, dtype=z.dtype)
        if forward:  # z = x_k at t_k -> new = x_{k+1}
            new = z + h * drift_f(i * h, z) + noise
            return new, acc + _log_ratio(noise, z - new + h * drift_b((i + 1) * h, new), h, eps, xp)
        # z = x_{k+1} at t_{k+1} = 1 - i h -> new = x_k at t_k = 1 - (i + 1) h
        new = z - h * drift_b(1.0 - i * h, z) + noise
        return new, acc + _log_ratio(z - new - h * drift_f(1.0 - (i + 1) * h, new), noise, h, eps, xp)

    return body


def _split_body(escort: Any, be: Backend, gen: Any, eps: float, h: float, steps: int, forward: bool) -> Callable:
    r"""Split kernels for an affine drift :math:`b = xA_t + c_t`: the Crank–Nicolson map
    :math:`y = \Phi_k(x)`, :math:`(y - x)/h = \tfrac12(x + y)A + c` at :math:`t_{k+1/2}` (invertible, exact
    :math:`\log|\det\nabla\Phi_k|`), then a Langevin step :math:`x' \sim \mathcal N(y + h\varepsilon
    s_{t_{k+1}}(y), 2h\varepsilon I)`; backward: the Langevin step from :math:`x'`, then :math:`\Phi_k^{-1}`. Per
    step :math:`\log q_F/q_B = \log q_L(x'|y) - \log q_L(y|x') - \log|\det\nabla\Phi_k|`: the divergence of
    :math:`b` enters exactly instead of through the noise, so an exact escort leaves only the Langevin step's
    :math:`O(h^{3/2})` defect per step (Wu, Köhler & Noé 2020, "Stochastic normalizing flows", arXiv:2002.06707)."""
    xp = be.xp
    sq = math.sqrt(2.0 * h * eps)
    key = gen.loop_key() if be.compiles_loops and gen.functional else None

    def body(i: Any, carry: tuple[Array, Array], consts: Any) -> tuple[Array, Array]:
        z, acc = carry
        k = i if forward else steps - 1 - i
        A, c = escort.affine((k + 0.5) * h)
        eye = xp.eye(A.shape[0], dtype=A.dtype, device=be.device)
        Pp, Pm = eye + (0.5 * h) * A, eye - (0.5 * h) * A
        logdet = xp.linalg.slogdet(Pp)[1] - xp.linalg.slogdet(Pm)[1]
        t1 = (k + 1) * h
        noise = sq * gen.at(key, i).normal(z.shape, dtype=z.dtype)
        if forward:  # z = x_k -> y = Phi_k(x_k) -> new = x_{k+1}
            y = (z @ Pp + h * c) @ xp.linalg.inv(Pm)
            new = y + (h * eps) * escort.score(t1, y) + noise
            bwd = y - new - (h * eps) * escort.score(t1, new)
            return new, acc + _log_ratio(noise, bwd, h, eps, xp) - logdet
        # z = x_{k+1} -> y (Langevin) -> new = x_k = Phi_k^{-1}(y)
        y = z + (h * eps) * escort.score(t1, z) + noise
        fwd = z - y - (h * eps) * escort.score(t1, y)
        new = (y @ Pm - h * c) @ xp.linalg.inv(Pp)
        return new, acc + _log_ratio(fwd, noise, h, eps, xp) - logdet

    return body


def _resolve_scheme(scheme: Any, escort: Any) -> str:
    scheme = as_choice("scheme", scheme, ("auto", "split", "em"))
    affine = callable(getattr(escort, "affine", None))
    if scheme == "split" and not affine:
        raise ValueError("scheme='split' needs an affine escort (with affine(t) -> (A, c)), e.g. model='linear'")
    return "em" if scheme == "em" or not affine else "split"


def _split(x: Array, frac: float, gen: Any, be: Backend, name: str) -> tuple[Array, Array]:
    xp = be.xp
    n = x.shape[0]
    k = round(frac * n)
    if k < 2 or n - k < 2:
        raise ValueError(f"{name}: with fit_fraction={frac} the fit or estimation part has < 2 of {n} samples")
    perm = gen.permutation(n)
    x = xp.take(x, perm, axis=0)
    return x[:k, ...], x[k:, ...]


@declare(uses=("value_and_grad", "jit"))
def feat(
    samples_a: Any,
    samples_b: Any,
    energy_a: Callable[[Any], Any],
    energy_b: Callable[[Any], Any],
    *,
    model: str = "linear",
    eps: float = 0.5,
    steps: int = 100,
    fit_fraction: float = 0.5,
    degree: int = 7,
    pairs: int | None = None,
    hidden: tuple[int, ...] = (64, 64),
    train_steps: int = 2000,
    lr: float = 2e-3,
    batch_size: int = 512,
    scheme: str = "auto",
    ess_warning: float = ESS_WARNING,
    rng: Any = None,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> FreeEnergyEstimate:
    r""":math:`\Delta F = F_b - F_a = -\log(Z_b/Z_a)` by FEAT (He et al. 2025, arXiv:2504.11516): learn the escort
    from samples of both states, run stochastic escorted paths in both directions, BAR on the works.

    Parameters
    ----------
    samples_a, samples_b : array, shapes (n_a, d), (n_b, d)
        Samples of :math:`\rho_a \propto e^{-U_a}` and :math:`\rho_b \propto e^{-U_b}`. A random ``fit_fraction``
        of each set trains the escort; the rest start the work paths (so that the escort is independent of the
        works that estimate ΔF).
    energy_a, energy_b : callable ``x -> (n,)``
        Reduced energies :math:`U_a, U_b` (only evaluated at the path ends).
    model : {"linear", "mlp"}
        The drift model (module docstring); ``"mlp"`` needs a backend with ``value_and_grad`` (torch, jax).
    eps : float > 0
        Langevin diffusion ε of the escorted SDE :math:`dX = (b + \varepsilon s)dt + \sqrt{2\varepsilon}dW`.
    steps : int
        Euler–Maruyama steps per path (the estimator is consistent for any ``steps``).
    fit_fraction : float in (0, 1)
        Fraction of each sample set used to fit the escort.
    degree, pairs
        Polynomial degree in time of the linear fit, and its interpolant pairs: ``None`` (default) the exact
        expectation over all pairs of the fit samples (closed form from their moments), an int that many random
        pairs.
    hidden, train_steps, lr, batch_size
        MLP width, Adam steps, learning rate and batch of the ``"mlp"`` model.
    scheme : {"auto", "split", "em"}
        Time discretization of the escorted works (both exact at any step count): ``"em"`` Euler–Maruyama kernels
        (any drift; the divergence of :math:`b` enters through the noise, a work variance :math:`\propto d/` steps
        even for an exact escort); ``"split"`` an exactly invertible Crank–Nicolson step of the affine drift with
        its exact log-determinant, then a Langevin step (work variance :math:`O(\text{steps}^{-2})` for an exact
        escort); ``"auto"``: ``"split"`` for ``model="linear"``, ``"em"`` for ``"mlp"``.
    ess_warning : float
        As in :func:`~transportkit.free_energy.bar`; 0 disables.
    rng : None, int, numpy.random.Generator or transportkit Generator
        Randomness (SPEC 7); ``seed=`` is its deprecated alias.
    backend : str or Backend, optional
        Default: that of the samples.

    Returns
    -------
    FreeEnergyEstimate
        BAR on the stochastic works; ``diagnostics`` is :class:`EscortedDiagnostics` (``w_forward``,
        ``w_reverse``, ``lower_bound`` :math:`-E[W_R]`, ``upper_bound`` :math:`E[W_F]`, ``exp_forward``, and BAR's
        own diagnostics by name, e.g. ``overlap``). Warns :class:`~transportkit.errors.UncertaintyWarning` when the
        BAR estimate falls outside the variational bounds by more than 4 standard errors of the bounds.
    """
    model = as_choice("model", model, ("linear", "mlp"))
    eps = as_real("eps", eps, low=0.0, low_open=True)
    steps = as_count("steps", steps)
    fit_fraction = as_real("fit_fraction", fit_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    degree = as_count("degree", degree, 0)
    pairs = None if pairs is None else as_count("pairs", pairs, 2)
    train_steps = as_count("train_steps", train_steps)
    batch_size = as_count("batch_size", batch_size)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    hidden = tuple(as_count("hidden", h) for h in hidden)
    check_callable("energy_a", energy_a)
    check_callable("energy_b", energy_b)
    scheme = as_choice("scheme", scheme, ("auto", "split", "em"))
    if scheme == "split" and model == "mlp":
        raise ValueError("scheme='split' needs the affine drift of model='linear'")
    threshold = check_threshold(ess_warning)
    refuse_lazy("samples_a", samples_a)
    refuse_lazy("samples_b", samples_b)
    be = resolve_backend(samples_a, samples_b, backend=backend)
    xa = as_points("samples_a", samples_a, be, ndim=2)
    xb = as_points("samples_b", samples_b, be, ndim=2)
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(f"samples_b has dimension {xb.shape[1]}, but samples_a has {xa.shape[1]}")
    if model == "mlp":
        be.require("value_and_grad")
    gen = resolve_rng(rng, be, seed=seed)
    fa, ea = _split(xa, fit_fraction, gen, be, "samples_a")
    fb, eb = _split(xb, fit_fraction, gen, be, "samples_b")
    if model == "linear":
        escort = fit_linear_escort(fa, fb, be, gen, degree=degree, pairs=pairs)
    else:
        escort = fit_mlp_escort(fa, fb, be, gen, hidden, train_steps, lr, batch_size)
    wf, wr = feat_works(escort, ea, eb, energy_a, energy_b, eps=eps, steps=steps, scheme=scheme, rng=gen, backend=be)
    est = bar(wf, wr, ess_warning=threshold, backend=be)
    ef = exp(wf, ess_warning=0, backend=be)
    bd = bounds(wf, wr, backend=be)
    v, lo, up = (float(be.to_numpy(q)) for q in (est.value, bd.lower, bd.upper))
    n_f, n_r = wf.shape[0], wr.shape[0]
    sd = math.sqrt(float(be.to_numpy(be.xp.var(wf))) / n_f + float(be.to_numpy(be.xp.var(wr))) / n_r)
    if v > up + 4 * sd or v < lo - 4 * sd:
        warnings.warn(
            f"feat: BAR estimate {v:.4g} lies outside the variational bounds [{lo:.4g}, {up:.4g}] by more than "
            "4 standard errors: the works do not satisfy Crooks' relation as sampled (too few samples or poor "
            "overlap)",
            UncertaintyWarning,
            stacklevel=2,
        )
    diagnostics = EscortedDiagnostics(
        method="bar", w_forward=wf, w_reverse=wr, lower_bound=bd.lower, upper_bound=bd.upper,
        exp_forward=ef.value, estimator=est.diagnostics, backend=be,
    )  # fmt: skip
    return FreeEnergyEstimate(est.value, est.stderr, diagnostics=diagnostics, backend=be)


def feat_works(
    escort: Any,
    xa: Any,
    xb: Any,
    energy_a: Callable[[Any], Any],
    energy_b: Callable[[Any], Any],
    *,
    eps: float = 0.5,
    steps: int = 100,
    scheme: str = "auto",
    rng: Any = None,
    backend: Any = None,
) -> tuple[Array, Array]:
    r"""Forward works from ``xa`` and reverse works from ``xb`` along the escorted SDE of ``escort`` (an object with
    ``velocity(t, x)`` and ``score(t, x)``, and ``affine(t) -> (A, c)`` for the ``"split"`` scheme) with the
    FB-RND kernel ratio (module docstring; ``scheme`` as in :func:`feat`); ``escort.without_drift()`` gives the
    unescorted (plain annealed-Langevin) works on the same path and step count."""
    be = resolve_backend(xa, xb, backend=backend)
    gen = resolve_rng(rng, be)
    eps = as_real("eps", eps, low=0.0, low_open=True)
    steps = as_count("steps", steps)
    scheme = _resolve_scheme(scheme, escort)
    lf, xK = _works(escort, xa, be, gen, eps, steps, True, scheme)
    wf = energy_b(xK) - energy_a(xa) + lf
    lr_, x0 = _works(escort, xb, be, gen, eps, steps, False, scheme)
    wr = energy_a(x0) - energy_b(xb) - lr_
    return wf, wr
