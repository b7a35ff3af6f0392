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

__all__ = [
    "KERNELS",
    "KERNEL_STEPS",
    "TARGET_ACCEPT",
    "MCMCInfo",
    "MCMCParams",
    "MCMCState",
    "adapt_step_size",
    "default_step_size",
    "hmc_step",
    "mala_step",
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
    per-walker arrays carried with the positions, e.g. the parts of an annealing path) and ``step_size`` (0-d)."""

    x: Any
    log_prob: Any
    grad: Any
    extra: tuple
    step_size: Any


class MCMCInfo(NamedTuple):
    """What one step did: per-chain Metropolis ``acceptance_rate`` (n,) (ones for ULA), ``is_accepted`` (n,) and
    their mean over the chains ``mean_acceptance`` (0-d)."""

    acceptance_rate: Any
    is_accepted: Any
    mean_acceptance: Any


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


def init_state(x: Any, log_prob: Any, grad: Any, extra: tuple, step_size: float) -> MCMCState:
    """The state at positions ``x`` with the step size as a 0-d array of ``x``'s dtype and device."""
    xp = array_namespace(x)
    h = xp.asarray(step_size, dtype=x.dtype, device=getattr(x, "device", None))
    return MCMCState(x, log_prob, grad, tuple(extra), h)


def _sq(xp: Any, v: Any) -> Any:
    return xp.sum(v * v, axis=-1)


def _clean(xp: Any, lp: Any) -> Any:
    """NaN log-densities at proposals count as -inf (the proposal is rejected)."""
    return xp.where(xp.isnan(lp), -math.inf, lp)


def _metropolis(
    state: MCMCState, y: Any, lpy: Any, gy: Any, ey: tuple, log_a: Any, gen: Any
) -> tuple[MCMCState, MCMCInfo]:
    xp = array_namespace(state.x)
    n = state.x.shape[0]
    log_a = xp.where(xp.isnan(log_a), -math.inf, log_a)
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
    )
    return new, MCMCInfo(acc_prob, accept, xp.mean(acc_prob))


def rwm_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Random-walk Metropolis: :math:`y = x + h\\xi`."""
    xp = array_namespace(state.x)
    y = state.x + state.step_size * gen.normal(state.x.shape, dtype=state.x.dtype)
    lpy, gy, ey = params.fn(y)
    return _metropolis(state, y, lpy, gy, ey, _clean(xp, lpy) - state.log_prob, gen)


def _langevin_proposal(state: MCMCState, gen: Any) -> Any:
    xp = array_namespace(state.x)
    h = state.step_size
    return state.x + h * state.grad + xp.sqrt(2 * h) * gen.normal(state.x.shape, dtype=state.x.dtype)


def ula_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Unadjusted Langevin: :math:`y = x + h s(x) + \\sqrt{2h}\\xi`, always accepted."""
    xp = array_namespace(state.x)
    y = _langevin_proposal(state, gen)
    lpy, gy, ey = params.fn(y)
    ones = xp.ones_like(lpy)
    return MCMCState(y, lpy, gy, tuple(ey), state.step_size), MCMCInfo(ones, ones > 0, xp.mean(ones))


def mala_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Metropolis-adjusted Langevin: the ULA proposal with the Metropolis–Hastings correction."""
    xp = array_namespace(state.x)
    x, g, h = state.x, state.grad, state.step_size
    y = _langevin_proposal(state, gen)
    lpy, gy, ey = params.fn(y)
    log_a = _clean(xp, lpy) - state.log_prob - (_sq(xp, x - y - h * gy) - _sq(xp, y - x - h * g)) / (4 * h)
    return _metropolis(state, y, lpy, gy, ey, log_a, gen)


def hmc_step(state: MCMCState, gen: Any, params: MCMCParams) -> tuple[MCMCState, MCMCInfo]:
    """Hamiltonian Monte Carlo with ``params.n_leapfrog`` leapfrog steps (unrolled: L is static)."""
    xp = array_namespace(state.x)
    x, h, L = state.x, state.step_size, params.n_leapfrog
    p = gen.normal(x.shape, dtype=x.dtype)
    y, q = x, p + 0.5 * h * state.grad
    lpy, gy, ey = state.log_prob, state.grad, state.extra
    for i in range(L):
        y = y + h * q
        lpy, gy, ey = params.fn(y)
        gy = xp.where(xp.isfinite(gy), gy, xp.zeros_like(gy))
        q = q + (h if i < L - 1 else 0.5 * h) * gy
    log_a = (_clean(xp, lpy) - 0.5 * _sq(xp, q)) - (state.log_prob - 0.5 * _sq(xp, p))
    return _metropolis(state, y, lpy, gy, ey, log_a, gen)


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
