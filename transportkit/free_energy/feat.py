r"""FEAT: free energies from a learned escort and stochastic works in both directions.

The escort drift :math:`b_t` is learned from samples of both end states with the linear stochastic interpolant
:math:`x_t = (1-t)x_a + t x_b` (independent coupling): :math:`b = \arg\min E|\hat b(t, x_t) - (x_b - x_a)|^2`.
Two models:

- ``model="linear"`` (every backend): :math:`\hat b(t, x) = \sum_k P_k(t)\,(W_k x + c_k)` with shifted Legendre
  polynomials :math:`P_k` in time — linear in its parameters, so the loss is a least-squares problem solved with
  ``xp.linalg``. For Gaussian end states the exact interpolant velocity is of this form with rational time
  coefficients, which the polynomials approximate.
- ``model="mlp"`` (torch, jax): the MLP of :mod:`transportkit.interpolants.mlp` trained with Adam on the same loss.

The Langevin part uses the score :math:`s_t(x) = -\Sigma_t^{-1}(x - \mu_t)` of the moment-matched Gaussian
interpolant (:math:`\mu_t = (1-t)m_a + t m_b`, :math:`\Sigma_t = (1-t)^2C_a + t^2C_b`, from the fit samples).
Works use the discrete forward/backward kernel ratio (Albergo & Vanden-Eijnden 2024, "NETS", arXiv:2410.02711):
with Euler–Maruyama kernels
:math:`q_F(x_{k+1}|x_k) = \mathcal N(x_k + h(b+\varepsilon s)(t_k, x_k), 2h\varepsilon I)` and
:math:`q_B(x_k|x_{k+1}) = \mathcal N(x_{k+1} - h(b-\varepsilon s)(t_{k+1}, x_{k+1}), 2h\varepsilon I)`,

.. math:: W_F = U_b(x_K) - U_a(x_0) + \sum_k[\log q_F(x_{k+1}|x_k) - \log q_B(x_k|x_{k+1})],

from :math:`x_0 \sim \rho_a`, and the same functional with the sign flipped along paths drawn backward from
:math:`x_K \sim \rho_b` (:math:`W_R`). Then :math:`E[e^{-W_F}] = e^{-\Delta F}` and Crooks' relation hold exactly
for any step size, drift and score, so BAR (§6.2) on :math:`(W_F, W_R)` is consistent; the learned escort only
lowers the variance. ε = 0 is refused (use :func:`~transportkit.free_energy.escorted_jarzynski` for deterministic
flows).

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
from .exp_bar import bar, bounds, exp

__all__ = ["LinearEscort", "feat", "fit_linear_escort"]


def _legendre(t: Any, degree: int) -> list[Any]:
    """Shifted Legendre polynomials P_0..P_degree of 2t - 1 (t a 0-d or 1-d array), by the three-term recurrence."""
    s = 2.0 * t - 1.0
    out = [s * 0.0 + 1.0]
    if degree >= 1:
        out.append(s)
    for k in range(1, degree):
        out.append(((2 * k + 1) * s * out[k] - k * out[k - 1]) / (k + 1))
    return out


class LinearEscort:
    r"""A fitted drift :math:`b(t, x) = \sum_k P_k(t)\,[x, 1]\,\Theta_k` and the Gaussian interpolant score
    :math:`s_t(x) = -(x - \mu_t)\Sigma_t^{-1}` (see the module docstring). ``theta``: (K, d + 1, d)."""

    def __init__(self, theta: Array, m_a: Array, C_a: Array, m_b: Array, C_b: Array, be: Backend) -> None:
        self.theta, self.m_a, self.C_a, self.m_b, self.C_b, self.be = theta, m_a, C_a, m_b, C_b, be
        self.degree = int(theta.shape[0]) - 1

    def velocity(self, t: Any, x: Any) -> Any:
        P = _legendre(t, self.degree)
        M = P[0] * self.theta[0, ...]
        for k in range(1, self.degree + 1):
            M = M + P[k] * self.theta[k, ...]
        return x @ M[:-1, :] + M[-1, :]

    def score(self, t: Any, x: Any) -> Any:
        xp = self.be.xp
        mu = (1.0 - t) * self.m_a + t * self.m_b
        S = (1.0 - t) ** 2 * self.C_a + t**2 * self.C_b
        return -((x - mu) @ xp.linalg.inv(S))  # S is symmetric (d x d): one small inverse, then a matmul


def _moments(x: Array, xp: Any) -> tuple[Array, Array]:
    m = xp.mean(x, axis=0)
    y = x - m
    return m, (xp.matrix_transpose(y) @ y) / (x.shape[0] - 1)


def fit_linear_escort(
    xa: Array, xb: Array, be: Backend, gen: Any, *, degree: int = 7, pairs: int = 20000, ridge: float = 1e-8
) -> LinearEscort:
    r"""Least-squares fit of the linear-in-parameters interpolant velocity (module docstring) on ``pairs`` random
    pairs :math:`(x_a, x_b, t)`, :math:`t \sim U[0, 1]`: normal equations with a relative ridge ``ridge``."""
    xp = be.xp
    na, d = xa.shape
    nb = xb.shape[0]
    ia = gen.integers(0, na, (pairs,))
    ib = gen.integers(0, nb, (pairs,))
    a, b = xp.take(xa, ia, axis=0), xp.take(xb, ib, axis=0)
    t = gen.uniform((pairs,))
    xt = (1.0 - t)[:, None] * a + t[:, None] * b
    ones = xp.ones((pairs, 1), dtype=xa.dtype, device=be.device)
    z = xp.concat([xt, ones], axis=1)  # (m, d+1)
    P = _legendre(t, degree)
    Phi = xp.concat([p[:, None] * z for p in P], axis=1)  # (m, K(d+1))
    G = xp.matrix_transpose(Phi) @ Phi
    scale = xp.mean(xp.linalg.diagonal(G))
    nf = G.shape[0]
    G = G + ridge * scale * xp.eye(nf, dtype=G.dtype, device=be.device)
    theta = xp.linalg.solve(G, xp.matrix_transpose(Phi) @ (b - a))  # (K(d+1), d)
    theta = xp.reshape(theta, (degree + 1, d + 1, d))
    m_a, C_a = _moments(xa, xp)
    m_b, C_b = _moments(xb, xp)
    return LinearEscort(theta, m_a, C_a, m_b, C_b, be)


class _MLPEscort(LinearEscort):
    """The Gaussian score of :class:`LinearEscort` with an MLP drift."""

    def __init__(self, params: dict[str, Any], moments: LinearEscort) -> None:
        self.params = params
        self.m_a, self.C_a, self.m_b, self.C_b, self.be = (
            moments.m_a, moments.C_a, moments.m_b, moments.C_b, moments.be,
        )  # fmt: skip

    def velocity(self, t: Any, x: Any) -> Any:
        from ..interpolants.mlp import mlp_apply

        xp = self.be.xp
        return mlp_apply(self.params, xp.asarray(t, dtype=x.dtype, device=self.be.device), x, xp)


def _fit_mlp_escort(
    xa: Array, xb: Array, be: Backend, gen: Any, hidden: tuple[int, ...], train_steps: int, lr: float, batch: int
) -> _MLPEscort:
    from ..interpolants.mlp import adam, init_mlp, mlp_apply

    xp = be.xp
    d = xa.shape[1]
    params = init_mlp(d, hidden, 4, seed=int(be.to_numpy(gen.integers(0, 2**31))), backend=be)

    def batches(i: int) -> tuple[Array, Array, Array]:
        a = xp.take(xa, gen.integers(0, xa.shape[0], (batch,)), axis=0)
        b = xp.take(xb, gen.integers(0, xb.shape[0], (batch,)), axis=0)
        return gen.uniform((batch,)), a, b

    def loss(p: dict[str, Any], bt: tuple[Array, Array, Array]) -> Any:
        t, a, b = bt
        xt = (1.0 - t)[:, None] * a + t[:, None] * b
        r = mlp_apply(p, t, xt, xp) - (b - a)
        return xp.mean(xp.sum(r * r, axis=1))

    params, _ = adam(be, loss, params, batches, steps=train_steps, lr=lr)
    m_a, C_a = _moments(xa, xp)
    m_b, C_b = _moments(xb, xp)
    return _MLPEscort(params, LinearEscort(xp.zeros((1, d + 1, d), dtype=xa.dtype), m_a, C_a, m_b, C_b, be))


def _log_ratio(fwd: Array, bwd: Array, h: float, eps: float, xp: Any) -> Array:
    r""":math:`\log q_F(x_{k+1}|x_k) - \log q_B(x_k|x_{k+1})` from the residuals ``fwd`` :math:`= x_{k+1} - x_k -
    h(b + \varepsilon s)(t_k, x_k)` and ``bwd`` :math:`= x_k - x_{k+1} + h(b - \varepsilon s)(t_{k+1}, x_{k+1})`
    (the Gaussian normalizations cancel)."""
    return (xp.sum(bwd * bwd, axis=1) - xp.sum(fwd * fwd, axis=1)) / (4.0 * h * eps)


def _works(
    escort: LinearEscort, x: Array, be: Backend, gen: Any, eps: float, steps: int, forward: bool
) -> tuple[Array, Array]:
    r"""Simulate ``steps`` Euler–Maruyama steps forward (from t=0, kernel :math:`q_F`) or backward (from t=1,
    kernel :math:`q_B`); return :math:`\sum_k[\log q_F - \log q_B]` along the path and the end points."""
    xp = be.xp
    h = 1.0 / steps
    sq = math.sqrt(2.0 * h * eps)
    compiled = be.compiles_loops and gen.functional
    key = gen.loop_key() if compiled else None

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

    acc0 = xp.zeros(x.shape[:1], dtype=x.dtype, device=be.device)
    end, acc = run_steps(be, body, (x, acc0), steps, compile=compiled)
    return acc, end


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
    pairs: int = 20000,
    hidden: tuple[int, ...] = (64, 64),
    train_steps: int = 2000,
    lr: float = 2e-3,
    batch_size: int = 512,
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
        Polynomial degree in time and number of interpolant pairs of the linear fit.
    hidden, train_steps, lr, batch_size
        MLP width, Adam steps, learning rate and batch of the ``"mlp"`` model.
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
    pairs = as_count("pairs", pairs, 2)
    train_steps = as_count("train_steps", train_steps)
    batch_size = as_count("batch_size", batch_size)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    hidden = tuple(as_count("hidden", h) for h in hidden)
    check_callable("energy_a", energy_a)
    check_callable("energy_b", energy_b)
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
        escort = _fit_mlp_escort(fa, fb, be, gen, hidden, train_steps, lr, batch_size)
    wf, wr = feat_works(escort, ea, eb, energy_a, energy_b, eps=eps, steps=steps, rng=gen, backend=be)
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
    rng: Any = None,
    backend: Any = None,
) -> tuple[Array, Array]:
    r"""Forward works from ``xa`` and reverse works from ``xb`` along the escorted SDE of ``escort`` (an object with
    ``velocity(t, x)`` and ``score(t, x)``) with the FB-RND kernel ratio (module docstring); ``escort`` with a
    zero velocity gives the unescorted (plain annealed-Langevin) works on the same path and step count."""
    be = resolve_backend(xa, xb, backend=backend)
    gen = resolve_rng(rng, be)
    eps = as_real("eps", eps, low=0.0, low_open=True)
    steps = as_count("steps", steps)
    lf, xK = _works(escort, xa, be, gen, eps, steps, True)
    wf = energy_b(xK) - energy_a(xa) + lf
    lr_, x0 = _works(escort, xb, be, gen, eps, steps, False)
    wr = energy_a(x0) - energy_b(xb) - lr_
    return wf, wr
