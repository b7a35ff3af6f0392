r"""MCMC kernels vectorized over chains: random-walk Metropolis, ULA, MALA and HMC (leapfrog).

All kernels act on n chains at once (x of shape (n, d)) for a density :math:`\rho\propto e^{\log\tilde\rho}`
with score :math:`s = \nabla\log\tilde\rho`. One step of each, with step size h and :math:`\xi\sim\mathcal N(0, I)`:

- **RWM**: :math:`y = x + h\xi`, accept with probability :math:`\min(1, \tilde\rho(y)/\tilde\rho(x))`.
- **ULA**: :math:`y = x + h\,s(x) + \sqrt{2h}\,\xi`, always accepted (biased: invariant law is
  :math:`\mathcal N(0, 1/(1-h/2))` for :math:`\tilde\rho = e^{-x^2/2}`).
- **MALA**: the ULA proposal accepted with probability
  :math:`\min\big(1, \frac{\tilde\rho(y)q(x|y)}{\tilde\rho(x)q(y|x)}\big)`,
  :math:`\log q(y|x) = -|y - x - h s(x)|^2/4h` + const.
- **HMC**: momentum :math:`p\sim\mathcal N(0, I)`, L leapfrog steps
  :math:`p \mathrel{+}= \tfrac h2 s(x);\ x \mathrel{+}= h p;\ p \mathrel{+}= \tfrac h2 s(x)`, accepted with
  probability :math:`\min(1, e^{-H(x',p') + H(x,p)})`, :math:`H = -\log\tilde\rho(x) + |p|^2/2`.

**Step-size adaptation** (during warm-up only, so the retained chain is a homogeneous Markov chain):
:math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)`, with :math:`\bar a` the mean Metropolis acceptance
probability over the chains at that step, γ = 0.5 and targets :math:`a^\star` = 0.234 (RWM), 0.574 (MALA),
0.65 (HMC). ULA is not adapted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from ..random import default_rng
from ._common import as_density, infer_dim, progress_range, samples

__all__ = ["KERNELS", "TARGET_ACCEPT", "hmc", "kernel_step", "mala", "mcmc", "rwm", "ula"]

KERNELS = ("rwm", "ula", "mala", "hmc")
#: default target acceptance rates of the step-size adaptation
TARGET_ACCEPT = {"rwm": 0.234, "ula": None, "mala": 0.574, "hmc": 0.65}


def _sq(xp: Any, v: Any) -> Any:
    return xp.sum(v * v, axis=-1)


def _clean(xp: Any, lp: Any) -> Any:
    """NaN log-densities at proposals count as -inf (the proposal is rejected)."""
    return xp.where(xp.isnan(lp), -math.inf, lp)


def kernel_step(
    kind: str,
    x: Any,
    lp: Any,
    g: Any,
    extra: tuple,
    fn: Callable[[Any], tuple[Any, Any, tuple]],
    h: float,
    gen: Any,
    xp: Any,
    n_leapfrog: int = 5,
) -> tuple[Any, Any, Any, tuple, Any]:
    """One step of ``kind`` for all chains. ``fn(y) -> (log_prob, grad, extra)`` evaluates the density
    (``extra`` is a tuple of per-walker arrays carried along, e.g. the parts of an annealing path).

    Returns ``(x, lp, g, extra, accept_prob)``; ``accept_prob`` is the per-chain Metropolis probability
    (ones for ULA)."""
    n, d = x.shape
    if kind == "ula":
        y = x + h * g + math.sqrt(2 * h) * gen.normal((n, d), dtype=x.dtype)
        lpy, gy, ey = fn(y)
        return y, lpy, gy, ey, xp.ones_like(lp)
    if kind == "rwm":
        y = x + h * gen.normal((n, d), dtype=x.dtype)
        lpy, gy, ey = fn(y)
        log_a = _clean(xp, lpy) - lp
    elif kind == "mala":
        y = x + h * g + math.sqrt(2 * h) * gen.normal((n, d), dtype=x.dtype)
        lpy, gy, ey = fn(y)
        log_a = _clean(xp, lpy) - lp - (_sq(xp, x - y - h * gy) - _sq(xp, y - x - h * g)) / (4 * h)
    elif kind == "hmc":
        p = gen.normal((n, d), dtype=x.dtype)
        y, q, gy = x, p + 0.5 * h * g, g
        for i in range(n_leapfrog):
            y = y + h * q
            lpy, gy, ey = fn(y)
            gy = xp.where(xp.isfinite(gy), gy, xp.zeros_like(gy))
            q = q + (h if i < n_leapfrog - 1 else 0.5 * h) * gy
        log_a = (_clean(xp, lpy) - 0.5 * _sq(xp, q)) - (lp - 0.5 * _sq(xp, p))
    else:
        raise ValueError(f"unknown kernel {kind!r}; choose one of {KERNELS}")
    log_a = xp.where(xp.isnan(log_a), -math.inf, log_a)
    acc_prob = xp.exp(xp.minimum(log_a, xp.zeros_like(log_a)))
    u = gen.uniform((n,), dtype=x.dtype)
    accept = xp.log(u) < log_a
    x = xp.where(accept[:, None], y, x)
    lp = xp.where(accept, lpy, lp)
    g = xp.where(accept[:, None], gy, g)
    extra = tuple(xp.where(accept if a.ndim == 1 else accept[:, None], b, a) for a, b in zip(extra, ey, strict=True))
    return x, lp, g, extra, acc_prob


def default_step_size(kind: str, scale: float, dim: int) -> float:
    """A first guess from the target's length scale; adaptation takes it from there."""
    if kind == "rwm":
        return 2.38 * scale / math.sqrt(dim)
    if kind == "hmc":
        return 0.5 * scale * dim ** (-0.25)
    return 0.5 * scale**2 * dim ** (-1 / 3)


def adapt(h: float, mean_accept: float, target: float | None, rate: float = 0.5) -> float:
    r""":math:`\log h \leftarrow \log h + \gamma(\bar a - a^\star)` (clipped to a factor 2 per step)."""
    if target is None or not math.isfinite(mean_accept):
        return h
    return h * math.exp(max(-math.log(2), min(math.log(2), rate * (mean_accept - target))))


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
    seed: Any = None,
    progress: bool = False,
) -> Any:
    r"""Run ``n`` independent chains of ``kernel`` for ``steps`` steps; return the final states.

    The first ``warmup`` steps (default ``steps // 2``) adapt the step size toward ``target_accept`` (see the
    module docstring); the remaining steps use the fixed adapted step. Chains start at ``x0`` (shape (n, d))
    or at :math:`\mathcal N(0, \sigma^2 I)` with σ = ``target.base_scale`` (default 1).

    Returns a :class:`~transportkit.sampling.Samples` with ``x`` the final states, ``log_weights`` zeros,
    ``log_Z = None``, ``ess = n`` (independent chains) and ``info`` holding ``acceptance`` (mean acceptance
    probability after warm-up), ``acceptance_trace`` (per step), ``step_size`` (final) and, with ``thin > 0``,
    ``trace`` of shape (steps_kept, n, d) with every ``thin``-th post-warm-up state.
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    warmup = steps // 2 if warmup is None else int(warmup)
    if not 0 <= warmup <= steps:
        raise ValueError(f"warmup must be in [0, steps], got {warmup}")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    if n_leapfrog < 1:
        raise ValueError(f"n_leapfrog must be >= 1, got {n_leapfrog}")
    be = resolve_backend(x0, backend=backend, device=device, dtype=dtype)
    xp = be.xp
    density = as_density(target, be)
    dim = infer_dim(density, target, x0)
    gen = default_rng(seed, be)
    if x0 is None:
        x = getattr(target, "base_scale", 1.0) * gen.normal((n, dim))
    else:
        x = be.asarray(x0)
        if x.ndim != 2 or tuple(x.shape) != (n, dim):
            raise ValueError(f"x0 must have shape (n, d) = {(n, dim)}, got {tuple(x.shape)}")
    lp, g = density.value_and_grad(x)
    density.check(xp, x, lp, g, where="the initial states")
    if not bool(xp.all(lp > -math.inf)):
        i = int(xp.argmax(xp.astype(lp == -math.inf, xp.int32)))
        raise ValueError(f"initial state of walker {i} has zero density (log_prob = -inf)")
    h = (
        float(step_size)
        if step_size is not None
        else default_step_size(kernel, getattr(target, "base_scale", 1.0), dim)
    )
    a_star = TARGET_ACCEPT[kernel] if target_accept is None else float(target_accept)

    def fn(y: Any) -> tuple[Any, Any, tuple]:
        a, b = density.value_and_grad(y)
        return a, b, ()

    acc_trace: list[float] = []
    trace = []
    for k in progress_range(steps, progress, kernel):
        x, lp, g, _, acc = kernel_step(kernel, x, lp, g, (), fn, h, gen, xp, n_leapfrog)
        a = float(xp.mean(acc))
        acc_trace.append(a)
        if k < warmup and adapt_step_size:
            h = adapt(h, a, a_star)
        elif thin and (k - warmup) % thin == thin - 1:
            trace.append(x)
    post = acc_trace[warmup:] or acc_trace
    info = {
        "kernel": kernel,
        "acceptance": sum(post) / len(post),
        "acceptance_trace": acc_trace,
        "step_size": h,
        "steps": steps,
        "warmup": warmup,
    }
    if thin:
        info["trace"] = xp.stack(trace, axis=0) if trace else None
    return samples(
        x=x,
        log_weights=xp.zeros((n,), dtype=x.dtype, device=be.device),
        log_Z=None,
        log_Z_stderr=None,
        ess=float(n),
        info=info,
        backend=be,
    )


@declare(name="tk.sample(method='rwm')")
def rwm(target: Any, n: int, **kwargs: Any) -> Any:
    """Random-walk Metropolis chains: :func:`mcmc` with ``kernel="rwm"``."""
    return mcmc(target, n, kernel="rwm", **kwargs)


@declare(uses=("value_and_grad",), name="tk.sample(method='ula')")
def ula(target: Any, n: int, **kwargs: Any) -> Any:
    """Unadjusted Langevin chains (biased, O(h)): :func:`mcmc` with ``kernel="ula"``."""
    return mcmc(target, n, kernel="ula", **kwargs)


@declare(uses=("value_and_grad",), name="tk.sample(method='mala')")
def mala(target: Any, n: int, **kwargs: Any) -> Any:
    """Metropolis-adjusted Langevin chains: :func:`mcmc` with ``kernel="mala"``."""
    return mcmc(target, n, kernel="mala", **kwargs)


@declare(uses=("value_and_grad",), name="tk.sample(method='hmc')")
def hmc(target: Any, n: int, **kwargs: Any) -> Any:
    """Hamiltonian Monte Carlo chains (leapfrog, ``n_leapfrog`` steps): :func:`mcmc` with ``kernel="hmc"``."""
    return mcmc(target, n, kernel="hmc", **kwargs)
