r"""MCMC kernels as pure steps, vectorized over chains: ``step(state, gen, params) -> (state, info)``.

Each kernel acts on n chains at once (``state.x`` of shape (n, d)) for a density :math:`\rho\propto e^{\log\tilde\rho}`
with score :math:`s = \nabla\log\tilde\rho`; the step size h lives in the state (a 0-d array) so that its adaptation
is an array operation too. With :math:`\xi\sim\mathcal N(0, I)`:

- **RWM** (Metropolis et al. 1953): :math:`y = x + h\xi`, accepted with probability
  :math:`\min(1, \tilde\rho(y)/\tilde\rho(x))`.
- **ULA** (Roberts & Tweedie 1996): :math:`y = x + h\,s(x) + \sqrt{2h}\,\xi`, always accepted (biased: the
  invariant law of :math:`\tilde\rho = e^{-x^2/2}` is :math:`\mathcal N(0, 1/(1-h/2))`).
- **MALA** (Roberts & Tweedie 1996): the ULA proposal accepted with probability
  :math:`\min\big(1, \frac{\tilde\rho(y)q(x|y)}{\tilde\rho(x)q(y|x)}\big)`,
  :math:`\log q(y|x) = -|y - x - h s(x)|^2/4h`.
- **HMC** (Duane, Kennedy, Pendleton & Roweth 1987; Neal 2011, arXiv:1206.1901): momentum :math:`p\sim\mathcal N(0, I)`,
  L leapfrog steps :math:`p \mathrel{+}= \tfrac h2 s;\ x \mathrel{+}= h p;\ p \mathrel{+}= \tfrac h2 s`, accepted with
  probability :math:`\min(1, e^{-H(x',p') + H(x,p)})`, :math:`H = -\log\tilde\rho(x) + |p|^2/2`.

**Preconditioning** (optional, ``state.scale``): with a factor :math:`L` of a covariance :math:`M = LL^\top`
(``scale`` a (d,) vector of standard deviations, :math:`L = \mathrm{diag}(\sigma)`, or a (d, d) lower-triangular
Cholesky factor), each kernel runs in the whitened coordinates :math:`z = L^{-1}x`: RWM :math:`y = x + hL\xi`;
MALA :math:`y = x + hM s(x) + \sqrt{2h}L\xi` with :math:`\log q(y|x) = -|L^{-1}(y - x - hMs(x))|^2/4h`
(computed from ξ without inverting L); HMC with momentum :math:`q\sim\mathcal N(0, I)` in z, i.e. inverse mass
matrix M (Girolami & Calderhead 2011 for the preconditioned Langevin proposal; Neal 2011 for the mass matrix).
``scale=None`` is the identity.

**Non-finite proposals.** A proposal whose log-density is NaN or +inf, or whose gradient is not finite where the
log-density is finite, is rejected and counted in :attr:`MCMCInfo.n_nonfinite` (never accepted as "infinitely
likely", never silently taken for zero density: the samplers report the count and warn).

**Step-size adaptation** (:func:`adapt_step_size`): :math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)`,
clipped to a factor 2 per step, with :math:`\bar a` the mean acceptance probability over the chains, γ = 0.5 and the
optimal-scaling targets :math:`a^\star` = 0.234 (RWM; Roberts, Gelman & Gilks 1997), 0.574 (MALA; Roberts &
Rosenthal 1998), 0.65 (HMC; Beskos, Pillai, Roberts, Sanz-Serna & Stuart 2013, arXiv:1001.4460). ULA is not adapted.

The state and info are NamedTuples (pytrees on JAX), and a step draws only from the generator it is given
(``gen.at(key, i)`` inside a compiled loop), so that a whole run is one compiled program (blackjax's kernels,
Cabezas et al. 2024, arXiv:2402.10797, are the model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from array_api_compat import array_namespace

from .._backend import scalar_device
from .._typing import Array

__all__ = [
    "KERNELS",
    "KERNEL_STEPS",
    "TARGET_ACCEPT",
    "MCMCInfo",
    "MCMCParams",
    "MCMCState",
    "adapt_step_size",
    "apply_L",
    "apply_Lt",
    "default_step_size",
    "hmc_step",
    "mala_step",
    "particle_scale",
    "rwm_step",
    "ula_step",
]

KERNELS = ("rwm", "ula", "mala", "hmc")
#: default target acceptance rates of the step-size adaptation (None: not adapted)
TARGET_ACCEPT: dict[str, float | None] = {"rwm": 0.234, "ula": None, "mala": 0.574, "hmc": 0.65}
#: γ of the adaptation log h += γ (mean acceptance - target)
ADAPT_RATE = 0.5

#: ``fn(y) -> (log_prob, grad, extra)``: the density at a batch of positions, ``extra`` a tuple of per-walker arrays
DensityFn = Callable[[Any], tuple[Any, Any, tuple]]


class MCMCState(NamedTuple):
    """The state of n chains: positions ``x`` (n, d), ``log_prob`` (n,), ``grad`` (n, d), ``extra`` (a tuple of
    per-walker arrays carried with the positions, e.g. the parts of an annealing path), ``step_size`` (0-d) and the
    preconditioner ``scale`` (None, a (d,) vector of standard deviations or a (d, d) Cholesky factor)."""

    x: Any
    log_prob: Any
    grad: Any
    extra: tuple
    step_size: Any
    scale: Any = None


class MCMCInfo(NamedTuple):
    """What one step did: per-chain Metropolis ``acceptance_rate`` (n,) (ones for ULA), ``is_accepted`` (n,), their
    mean over the chains ``mean_acceptance`` (0-d) and ``n_nonfinite`` (0-d): proposals rejected because the target
    returned NaN/+inf or a non-finite gradient there."""

    acceptance_rate: Any
    is_accepted: Any
    mean_acceptance: Any
    n_nonfinite: Any = None


class MCMCParams(NamedTuple):
    """The static parameters of a kernel: the density ``fn`` and the number of leapfrog steps (HMC)."""

    fn: DensityFn
    n_leapfrog: int = 5


def default_step_size(kind: str, scale: float, dim: int) -> float:
    """The one first guess of each kernel from the target's length scale ``scale`` (adaptation takes it from
    there): RWM :math:`2.38\\,\\sigma/\\sqrt d`, HMC :math:`0.5\\,\\sigma d^{-1/4}`, MALA/ULA
    :math:`0.5\\,\\sigma^2 d^{-1/3}`."""
    if kind == "rwm":
        return 2.38 * scale / math.sqrt(dim)
    if kind == "hmc":
        return 0.5 * scale * dim ** (-0.25)
    return 0.5 * scale**2 * dim ** (-1 / 3)


def init_state(x: Any, log_prob: Any, grad: Any, extra: tuple, step_size: float, scale: Any = None) -> MCMCState:
    """The state at positions ``x`` with the step size as a 0-d array of ``x``'s dtype and device."""
    xp = array_namespace(x)
    h = xp.asarray(step_size, dtype=x.dtype, device=scalar_device(x))
    return MCMCState(x, log_prob, grad, tuple(extra), h, scale)


def _sq(xp: Any, v: Any) -> Any:
    return xp.sum(v * v, axis=-1)


def apply_L(v: Any, scale: Any) -> Array:
    """:math:`Lv` for each row v of ``v`` (``scale`` None: the identity; (d,): diagonal; (d, d): lower factor)."""
    if scale is None:
        return v
    return v * scale if scale.ndim == 1 else v @ scale.T


def apply_Lt(g: Any, scale: Any) -> Array:
    """:math:`L^\\top g` for each row g of ``g``."""
    if scale is None:
        return g
    return g * scale if scale.ndim == 1 else g @ scale


def _bad(xp: Any, lp: Any, g: Any) -> Any:
    """Per walker: log-density NaN or +inf, or a non-finite gradient where the log-density is finite (a kernel that
    needs no gradient may be given ``g = None``)."""
    if g is None:
        return xp.isnan(lp) | (lp == math.inf)
    return xp.isnan(lp) | (lp == math.inf) | (xp.any(~xp.isfinite(g), axis=-1) & (lp > -math.inf))


def _metropolis(
    state: MCMCState, y: Any, lpy: Any, gy: Any, ey: tuple, log_a: Any, gen: Any, bad: Any
) -> tuple[MCMCState, MCMCInfo]:
    """Accept ``y`` with probability ``min(1, exp(log_a))``; proposals flagged ``bad`` are rejected and counted."""
    xp = array_namespace(state.x)
    n = state.x.shape[0]
    log_a = xp.where(xp.isnan(log_a) | bad, -math.inf, log_a)
    acc_prob = xp.exp(xp.minimum(log_a, xp.zeros_like(log_a)))
    u = gen.uniform((n,), dtype=state.x.dtype)
    accept = xp.log(u) < log_a
    col = accept[:, None]
    extra = tuple(xp.where(accept if a.ndim == 1 else col, b, a) for a, b in zip(state.extra, ey, strict=True))
    new = MCMCState(
        xp.where(col, y, state.x),
        xp.where(accept, lpy, state.log_prob),
        xp.where(col, gy, state.grad),
        extra,
        state.step_size,
        state.scale,
    )
    return new, MCMCInfo(acc_prob, accept, xp.mean(acc_prob), xp.sum(xp.astype(bad, xp.int32)))


def rwm_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Random-walk Metropolis: :math:`y = x + hL\\xi`."""
    xp = array_namespace(state.x)
    xi = gen.normal(state.x.shape, dtype=state.x.dtype)
    y = state.x + state.step_size * apply_L(xi, state.scale)
    lpy, gy, ey = params.fn(y)
    return _metropolis(state, y, lpy, gy, ey, lpy - state.log_prob, gen, _bad(xp, lpy, gy))


def ula_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Unadjusted Langevin: :math:`y = x + hMs(x) + \\sqrt{2h}L\\xi`, accepted unless the target is not finite
    there (then the walker stays and the proposal is counted in ``n_nonfinite``)."""
    xp = array_namespace(state.x)
    h, sc = state.step_size, state.scale
    xi = gen.normal(state.x.shape, dtype=state.x.dtype)
    y = state.x + apply_L(h * apply_Lt(state.grad, sc) + xp.sqrt(2 * h) * xi, sc)
    lpy, gy, ey = params.fn(y)
    bad = _bad(xp, lpy, gy)
    ok = ~bad
    col = ok[:, None]
    extra = tuple(xp.where(ok if a.ndim == 1 else col, b, a) for a, b in zip(state.extra, ey, strict=True))
    new = MCMCState(
        xp.where(col, y, state.x), xp.where(ok, lpy, state.log_prob), xp.where(col, gy, state.grad), extra, h, sc
    )
    acc = xp.astype(ok, state.x.dtype)
    return new, MCMCInfo(acc, ok, xp.mean(acc), xp.sum(xp.astype(bad, xp.int32)))


def mala_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Metropolis-adjusted Langevin: the (preconditioned) ULA proposal with the Metropolis–Hastings correction;
    in whitened coordinates the forward residual is :math:`\\sqrt{2h}\\xi` and the backward one
    :math:`-\\sqrt{2h}\\xi - h L^\\top(s(x) + s(y))`."""
    xp = array_namespace(state.x)
    h, sc = state.step_size, state.scale
    xi = xp.sqrt(2 * h) * gen.normal(state.x.shape, dtype=state.x.dtype)
    gz = apply_Lt(state.grad, sc)
    y = state.x + apply_L(h * gz + xi, sc)
    lpy, gy, ey = params.fn(y)
    back = xi + h * (gz + apply_Lt(gy, sc))
    log_a = lpy - state.log_prob - (_sq(xp, back) - _sq(xp, xi)) / (4 * h)
    return _metropolis(state, y, lpy, gy, ey, log_a, gen, _bad(xp, lpy, gy))


def hmc_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Hamiltonian Monte Carlo with ``params.n_leapfrog`` leapfrog steps (unrolled: L is static), in whitened
    coordinates (inverse mass matrix :math:`M = LL^\\top`)."""
    xp = array_namespace(state.x)
    x, h, L, sc = state.x, state.step_size, params.n_leapfrog, state.scale
    p = gen.normal(x.shape, dtype=x.dtype)
    y, q = x, p + 0.5 * h * apply_Lt(state.grad, sc)
    lpy, gy, ey = state.log_prob, state.grad, state.extra
    bad = xp.zeros(lpy.shape, dtype=xp.bool, device=getattr(x, "device", None))
    for i in range(L):
        y = y + h * apply_L(q, sc)
        lpy, gy, ey = params.fn(y)
        bad = bad | _bad(xp, lpy, gy)
        gy = xp.where(xp.isfinite(gy), gy, xp.zeros_like(gy))
        q = q + (h if i < L - 1 else 0.5 * h) * apply_Lt(gy, sc)
    log_a = (lpy - 0.5 * _sq(xp, q)) - (state.log_prob - 0.5 * _sq(xp, p))
    return _metropolis(state, y, lpy, gy, ey, log_a, gen, bad)


KERNEL_STEPS: dict[str, Callable[[MCMCState, Any, MCMCParams], tuple[MCMCState, MCMCInfo]]] = {
    "rwm": rwm_step,
    "ula": ula_step,
    "mala": mala_step,
    "hmc": hmc_step,
}


def adapt_step_size(state: MCMCState, mean_accept: Any, target: float | None, rate: float = ADAPT_RATE) -> MCMCState:
    r""":math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)`, clipped to a factor 2, as array operations (no
    host sync); unchanged for ``target=None`` or a non-finite mean acceptance."""
    if target is None:
        return state
    xp = array_namespace(state.step_size)
    h = state.step_size
    a = xp.astype(mean_accept, h.dtype)
    ok = xp.isfinite(a)
    step = xp.clip(rate * (xp.where(ok, a, xp.zeros_like(a)) - target), -math.log(2), math.log(2))
    return state._replace(step_size=xp.where(ok, h * xp.exp(step), h))


def particle_scale(x: Any, log_w: Any, kind: str) -> Array:
    r"""The preconditioner of the moves from the weighted particle cloud (as in the SMC samplers of Chopin 2002 and
    pymc's SMC; Buchholz, Chopin & Jacob 2021, arXiv:1808.07730, for adapting the kernels of tempering SMC from the
    particles): with :math:`W = \mathrm{softmax}(\log w)`, :math:`\mu = \sum_i W_i x_i`,
    ``"diag"`` gives the weighted standard deviations :math:`\sigma_j = (\sum_i W_i (x_{ij} - \mu_j)^2)^{1/2}`,
    ``"full"`` the Cholesky factor of the weighted covariance (plus :math:`10^{-8}` of its mean variance on the
    diagonal). Dimensions with a zero or non-finite variance fall back to 1 (a collapsed cloud does not freeze the
    walkers); traceable (no host sync)."""
    xp = array_namespace(x)
    lw = xp.where(xp.isnan(log_w), -math.inf, log_w)
    m = xp.max(lw)
    w = xp.exp(lw - xp.where(xp.isfinite(m), m, xp.zeros_like(m)))
    w = w / xp.sum(w)
    w = xp.where(xp.isfinite(w), w, xp.zeros_like(w))
    mu = xp.sum(w[:, None] * x, axis=0)
    xc = x - mu
    var = xp.sum(w[:, None] * xc * xc, axis=0)
    ok = xp.isfinite(var) & (var > 0)
    var = xp.where(ok, var, xp.ones_like(var))
    if kind == "diag":
        return xp.sqrt(var)
    d = x.shape[1]
    cov = (w[:, None] * xc).T @ xc
    eye = xp.eye(d, dtype=x.dtype, device=scalar_device(x))
    good = xp.all(xp.isfinite(cov)) & xp.all(ok)
    cov = xp.where(good, cov, eye * var) + 1e-8 * xp.mean(var) * eye
    return xp.linalg.cholesky(cov)
