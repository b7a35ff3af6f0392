r"""Particle dynamics of shallow networks: gradient flow, SGD, birth–death (ALGORITHMS.md §8.1–8.2).

**Gradient flow** (forward Euler in the rescaled time of §8.1, so ``dt`` does not depend on ``n``):

.. math::

    \theta_i \leftarrow \theta_i - \Delta t\,\nabla_\theta V(\theta_i;\mu_n),\qquad
    V(\theta;\mu_n) = E_\nu[(f_n - f)(x)\,c\,\varphi(x; w)].

**SGD**: the same step with the expectation over a random minibatch of ``batch_size`` data points drawn with
replacement at each step. On the sphere (``problem.sphere_radius = R``) the unit velocity is projected on
the tangent space, :math:`v \leftarrow v - (v\cdot w)w/R^2`, and :math:`w \leftarrow Rw/|w|` after the step.

**Birth–death** (rate :math:`\alpha`, PDE :math:`\partial_t\mu = \nabla\cdot(\mu\nabla V) - \alpha(V - \bar V)\mu`),
applied after every gradient step with the potentials :math:`V_i` of the particles at the start of the step
(Lie splitting). The rule that keeps ``n`` fixed: draw for each particle an event with probability
:math:`p_i = \min(1, \alpha|V_i - \bar V|\Delta t)`, :math:`\bar V = \frac1n\sum_j V_j`; then, all at once,

1. *death*: each particle with an event and :math:`V_i > \bar V` is replaced by a copy of a particle drawn
   uniformly (``Generator.categorical``) among the particles that do not die;
2. *birth*: each particle with an event and :math:`V_i < \bar V` copies itself onto a distinct particle chosen
   uniformly among the particles without an event (random order by uniform keys; if there are more births
   than such particles, the surplus births, chosen at random, are dropped).

Every slot receives exactly one particle (copied from the state before the birth–death step), so ``n`` is
fixed. Since :math:`\sum_i (V_i - \bar V) = 0` the uniform overwrites of births and the uniform sources of
deaths balance on average and the particle rule matches the PDE to first order in :math:`\Delta t`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from .._capabilities import declare
from .._results import Result
from ..random import default_rng
from .network import Particles
from .problems import Problem

__all__ = ["Trajectory", "birth_death_indices", "gradient_flow", "sgd", "train"]


@dataclasses.dataclass
class Trajectory(Result):
    """A training run: ``times`` and ``loss`` at the recorded steps (``loss[k]`` is the loss at
    ``times[k]``; for SGD the full-data loss), the final ``particles``, per-step counts ``n_killed``
    and ``n_cloned`` of birth–death, and, with ``record_particles=True``, ``snapshots`` (a list of
    :class:`~.network.Particles` at the recorded times)."""

    times: Any
    loss: Any
    particles: Particles
    n_killed: Any
    n_cloned: Any
    snapshots: list | None = None


def birth_death_indices(V: Any, alpha: float, dt: float, gen: Any) -> tuple[Any, Any, Any]:
    """Source indices ``src`` (``new = take(old, src)``) of one birth–death step, and the numbers of deaths
    and births, following the rule of the module docstring. ``V`` has shape ``(n,)``."""
    xp = gen.backend.xp
    n = V.shape[0]
    Vbar = xp.mean(V)
    p = xp.clip(alpha * dt * xp.abs(V - Vbar), max=1.0)
    event = gen.uniform((n,), dtype=V.dtype) < p
    kill = event & (V > Vbar)
    clone = event & (V < Vbar)
    free = ~event
    k1, k2 = gen.uniform((n,), dtype=V.dtype), gen.uniform((n,), dtype=V.dtype)
    order_t = xp.argsort(xp.where(free, k1, k1 + 2.0))  # free particles first, in random order
    order_s = xp.argsort(xp.where(clone, k2, k2 + 2.0))  # cloning particles first, in random order
    m = xp.minimum(xp.sum(xp.astype(clone, xp.int64)), xp.sum(xp.astype(free, xp.int64)))
    r = xp.arange(n, dtype=order_t.dtype, device=order_t.device)
    assign = xp.where(r < m, order_s, order_t)  # slot order_t[r] receives the particle assign[r]
    src = xp.take(assign, xp.argsort(order_t))
    ninf = xp.full_like(V, -math.inf)
    draw = gen.categorical(xp.where(kill, ninf, xp.zeros_like(V)), (n,))
    src = xp.where(kill, xp.astype(draw, src.dtype), src)
    return src, xp.sum(xp.astype(kill, xp.int64)), m


def _step_function(problem: Problem, dt: float, jit: bool):
    """One explicit Euler step of the particle ODE (projected and retracted on the sphere):
    ``(c, W, batch) -> (loss, V, c_new, W_new)``; with ``jit``, compiled once per problem and ``dt`` where the
    backend compiles (JAX)."""
    cache = problem.__dict__.setdefault("_step_cache", {})
    if (dt, jit) in cache:
        return cache[dt, jit]
    xp = problem.backend.xp
    R = problem.sphere_radius

    def step(c, W, batch=None):
        ev = problem.field(c, W, batch)
        vw = ev.vw
        if R is not None:
            vw = vw - (xp.sum(vw * W, axis=1, keepdims=True) / R**2) * W
        c = c + dt * ev.vc
        W = W + dt * vw
        if R is not None:
            W = R * W / xp.sqrt(xp.sum(W * W, axis=1, keepdims=True))
        return ev.loss, ev.V, c, W

    cache[dt, jit] = problem.backend.maybe_jit(step) if jit else step
    return cache[dt, jit]


def _check(problem: Any, dt: float, n_steps: int, record_every: int, birth_death: float) -> None:
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a meanfield Problem, got {type(problem).__name__}")
    if not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be positive and finite, got {dt}")
    if int(n_steps) < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    if int(record_every) < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    if not (birth_death >= 0 and math.isfinite(birth_death)):
        raise ValueError(f"birth_death (the rate alpha) must be >= 0, got {birth_death}")


@declare(uses=("jit",))
def train(problem: Problem, particles: Particles | int, *, dt: float = 0.1, n_steps: int = 1000,
          birth_death: float = 0.0, batch_size: int | None = None, seed: Any = None, record_every: int = 1,
          record_particles: bool = False, progress: bool = False, jit: bool | None = None) -> Trajectory:
    """Run gradient flow (``batch_size=None``) or SGD, optionally with birth–death at rate ``birth_death``.

    Parameters
    ----------
    problem
        a :class:`~.problems.Problem` (it fixes the backend).
    particles
        initial :class:`~.network.Particles`, or a width ``n`` (then ``problem.init_particles(n, seed)``).
    dt, n_steps
        step in rescaled time and number of steps (the run covers ``[0, dt * n_steps]``).
    birth_death
        the birth–death rate :math:`\\alpha` (0: pure transport).
    batch_size
        SGD minibatch size (data problems only).
    seed
        seeds the initialization (when ``particles`` is an int), the minibatches and birth–death.
    record_every
        record the loss every that many steps (and at the end).
    record_particles
        keep the particles at the recorded times (``Trajectory.snapshots``).
    progress
        a tqdm bar over the steps.
    jit
        compile the gradient step where the backend can (JAX); default: when ``n_steps >= 100``
        (compilation costs more than it saves on short runs).
    """
    _check(problem, dt, n_steps, record_every, birth_death)
    be = problem.backend
    xp = be.xp
    init_gen, gen = default_rng(seed, be).spawn(2)
    if isinstance(particles, numbers.Integral):
        particles = problem.init_particles(int(particles), init_gen)
    c, W = be.asarray(particles.c), be.asarray(particles.w)
    n = c.shape[0]
    if c.ndim != 1 or W.ndim != 2 or W.shape != (n, problem.p):
        raise ValueError(f"particles need c (n,) and w (n, {problem.p}); got {c.shape}, {W.shape}")
    if batch_size is not None:
        if problem.n_data is None:
            raise ValueError("batch_size (SGD) needs a data problem; this problem is exact")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    steps = range(int(n_steps))
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="meanfield")
    times, losses, kills, clones, snaps = [], [], [], [], []
    zero = xp.zeros((), dtype=xp.int64, device=be.device)

    def record(k, loss):
        times.append(k * dt)
        losses.append(loss)
        if record_particles:
            snaps.append(Particles(c, W, backend=be))

    step = _step_function(problem, float(dt), int(n_steps) >= 100 if jit is None else bool(jit))
    for k in steps:
        batch = None if batch_size is None else gen.integers(0, problem.n_data, (int(batch_size),))
        if k % record_every == 0 and batch is not None:
            record(k, problem.loss(c, W))
        loss, V, c_new, W_new = step(c, W, batch)
        if k % record_every == 0 and batch is None:
            record(k, loss)
        c, W = c_new, W_new
        if birth_death > 0:
            src, nk, nc = birth_death_indices(V, birth_death, dt, gen)
            c, W = xp.take(c, src, axis=0), xp.take(W, src, axis=0)
            kills.append(nk)
            clones.append(nc)
        else:
            kills.append(zero)
            clones.append(zero)
    record(int(n_steps), problem.loss(c, W))  # the final state
    stack = (lambda a: xp.stack(a)) if kills else (lambda a: xp.zeros((0,), dtype=xp.int64, device=be.device))
    return Trajectory(
        be.asarray(times), xp.stack(losses), Particles(c, W, backend=be), stack(kills), stack(clones),
        snaps if record_particles else None, backend=be,
    )


@declare(uses=("jit",))
def gradient_flow(problem: Problem, particles: Particles | int, *, dt: float = 0.1, n_steps: int = 1000,
                  birth_death: float = 0.0, seed: Any = None, record_every: int = 1,
                  record_particles: bool = False, progress: bool = False, jit: bool | None = None) -> Trajectory:
    """Gradient flow :math:`\\dot\\theta_i = -\\nabla V(\\theta_i;\\mu_n)` (optionally + birth–death);
    see :func:`train`."""
    return train(problem, particles, dt=dt, n_steps=n_steps, birth_death=birth_death, seed=seed,
                 record_every=record_every, record_particles=record_particles, progress=progress, jit=jit)


@declare(uses=("jit",))
def sgd(problem: Problem, particles: Particles | int, *, batch_size: int, dt: float = 0.1, n_steps: int = 1000,
        birth_death: float = 0.0, seed: Any = None, record_every: int = 1, record_particles: bool = False,
        progress: bool = False, jit: bool | None = None) -> Trajectory:
    """SGD: the gradient-flow step on a fresh minibatch of ``batch_size`` points each step; see :func:`train`."""
    return train(problem, particles, dt=dt, n_steps=n_steps, birth_death=birth_death, batch_size=batch_size,
                 seed=seed, record_every=record_every, record_particles=record_particles, progress=progress,
                 jit=jit)
