r"""Particle dynamics of shallow networks: gradient flow, SGD, birth–death.

Sources: Rotskoff & Vanden-Eijnden, "Trainability and accuracy of artificial neural networks: an interacting
particle system approach", Comm. Pure Appl. Math. 2022 (arXiv:1805.00915) for the particle picture, the
rescaled time and the dynamical CLT; Rotskoff, Jelassi, Bruna & Vanden-Eijnden, "Global convergence of neuron
birth-death dynamics", ICML 2019 (arXiv:1902.01843) for birth–death.

**Gradient flow** (forward Euler in the rescaled time of the mean-field limit, where each particle moves with
:math:`-n` times the gradient of the loss, so ``dt`` does not depend on ``n``):

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
   uniformly among the particles that do not die (inverse CDF of one uniform draw per slot);
2. *birth*: each particle with an event and :math:`V_i < \bar V` copies itself onto a distinct particle chosen
   uniformly among the particles without an event (random order by uniform keys; if there are more births
   than such particles, the surplus births, chosen at random, are dropped).

Every slot receives exactly one particle (copied from the state before the birth–death step), so ``n`` is
fixed. Since :math:`\sum_i (V_i - \bar V) = 0` the uniform overwrites of births and the uniform sources of
deaths balance on average and the particle rule matches the PDE to first order in :math:`\Delta t`.

**Compiled runs.** A run is blocks of ``record_every`` steps (one recorded loss, and optionally a snapshot, per
block) scanned by :func:`transportkit._loops.scan_steps`: one compiled program on JAX (draws from
``Generator.at(key, step)``; birth–death is array-only, with no host synchronization), Python loops elsewhere.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend
from .._capabilities import declare
from .._loops import progress_bar, scan_steps
from .._results import Result
from .._validation import as_bool, as_choice, as_count, as_points, as_real
from ..errors import NonFiniteWarning
from ..random import SEED_DEPRECATED, Generator, resolve_rng
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
    regime: str = "feature"
    l2: float = 0.0

    def predict(self, X: Any, problem: Problem) -> Any:
        """The trained network at the rows of ``X``: :math:`\\frac1n\\sum_i c_i\\varphi(x; w_i)` (feature regime)
        or :math:`\\frac1{\\sqrt n}\\sum_i c_i\\varphi(x; w_i)` (lazy regime), with ``problem``'s unit."""
        xp = problem.backend.xp
        p = self.particles
        n = p.c.shape[0]
        scale = 1.0 / math.sqrt(n) if self.regime == "lazy" else 1.0 / n
        return problem.unit.features(problem.backend.asarray(X), p.w, xp) @ p.c * scale


def birth_death_indices(V: Any, alpha: float, dt: float, gen: Generator) -> tuple[Any, Any, Any]:
    """Source indices ``src`` (``new = take(old, src)``) of one birth–death step, and the numbers of deaths
    and births, following the rule of the module docstring. ``V`` has shape ``(n,)`` with ``n >= 1``; ``alpha``
    (the rate) must be finite and ``>= 0``, ``dt`` finite and ``> 0`` (a negative or NaN value would silently
    mean "no events"); ``gen`` a :class:`transportkit.random.Generator`.

    Array operations only (no host synchronization), so the step runs inside a compiled loop with
    ``gen = Generator.at(key, step)``."""
    alpha = as_real("alpha", alpha, low=0.0)
    dt = as_real("dt", dt, low=0.0, low_open=True)
    if not isinstance(gen, Generator):
        raise TypeError(f"gen must be a transportkit.random.Generator, got {type(gen).__name__}")
    if getattr(V, "ndim", None) != 1 or V.shape[0] < 1:
        raise ValueError(f"V must be a non-empty 1-D array of potentials, got shape {tuple(getattr(V, 'shape', ()))}")
    kind = str(V.dtype)
    if "float" not in kind or "complex" in kind:
        raise TypeError(f"V must be a real floating array, got dtype {kind}")
    return _birth_death(V, alpha, dt, gen)


def _birth_death(V: Any, alpha: float, dt: float, gen: Generator) -> tuple[Any, Any, Any]:
    """:func:`birth_death_indices` without the entry checks (the training loop's call)."""
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
    r = xp.arange(n, dtype=order_t.dtype, device=gen.backend.device)
    assign = xp.where(r < m, order_s, order_t)  # slot order_t[r] receives the particle assign[r]
    src = xp.take(assign, xp.argsort(order_t))
    # deaths copy a survivor drawn uniformly: inverse CDF of the survivor counts (never all killed: V_i > mean)
    cdf = xp.cumulative_sum(xp.astype(~kill, V.dtype))
    u = gen.uniform((n,), dtype=V.dtype) * cdf[-1]
    draw = xp.searchsorted(cdf, u, side="right")
    draw = xp.minimum(draw, xp.asarray(n - 1, dtype=draw.dtype, device=gen.backend.device))
    src = xp.where(kill, xp.astype(draw, src.dtype), src)
    return src, xp.sum(xp.astype(kill, xp.int64)), m


def _gradient_step(problem: Problem, dt: float, regime: str = "feature", l2: float = 0.0) -> Callable:
    """One explicit Euler step of the particle ODE (projected and retracted on the sphere):
    ``(c, W, batch) -> (loss, V, c_new, W_new)``; ``regime`` and ``l2`` as in :func:`train`."""
    xp = problem.backend.xp
    R = problem.sphere_radius

    def step(c: Any, W: Any, batch: Any = None) -> tuple[Any, Any, Any, Any]:
        if regime == "lazy":
            # f = n^{-1/2} sum c_i phi_i is the mean-field network of amplitudes sqrt(n) c_i; the chain rule
            # turns its rescaled-time velocities (n dl/dtheta) into the plain gradient flow -dl/dtheta
            n = c.shape[0]
            ev = problem.field(math.sqrt(n) * c, W, batch)
            vc, vw = ev.vc / math.sqrt(n), ev.vw / n
        else:
            ev = problem.field(c, W, batch)
            vc, vw = ev.vc, ev.vw
        if l2 > 0:
            vc = vc - l2 * c
            vw = vw - l2 * W
        if R is not None:
            vw = vw - (xp.sum(vw * W, axis=1, keepdims=True) / R**2) * W
        c = c + dt * vc
        W = W + dt * vw
        if R is not None:
            W = R * W / xp.sqrt(xp.sum(W * W, axis=1, keepdims=True))
        return ev.loss, ev.V, c, W

    return step


def _data_loss(problem: Problem, regime: str, c: Any, W: Any) -> Any:
    """The data loss of the network ``(c, W)`` in ``regime`` (no regularizer)."""
    if regime == "lazy":
        return problem.loss(math.sqrt(c.shape[0]) * c, W)
    return problem.loss(c, W)


@dataclasses.dataclass(frozen=True)
class _Run:
    """What one training run closes over (everything but the arrays)."""

    problem: Problem
    dt: float
    regime: str
    alpha: float
    batch_size: int | None
    gen: Generator
    grad: Callable  # (c, W, batch) -> (loss, V, c, W), compiled or not

    def step(self, k: Any, state: tuple[Any, Any], key: Any) -> tuple[tuple[Any, Any], tuple[Any, Any, Any]]:
        """Step ``k``: ``(c, W) -> (c, W), (loss before the step, deaths, births)`` (SGD: minibatch loss)."""
        c, W = state
        g = self.gen.at(key, k)
        xp = self.problem.backend.xp
        batch = None if self.batch_size is None else g.integers(0, self.problem.n_data, (self.batch_size,))
        loss, V, c, W = self.grad(c, W, batch)
        if self.alpha > 0:
            src, nk, nc = _birth_death(V, self.alpha, self.dt, g)
            c, W = xp.take(c, src, axis=0), xp.take(W, src, axis=0)
        else:
            nk = nc = xp.zeros((), dtype=xp.int64, device=self.problem.backend.device)
        return (c, W), (loss, nk, nc)

    def block(self, length: int, scan: Callable) -> Callable:
        """``length`` steps from step ``k0 + b * length``: ``(b, (c, W), (key, k0)) -> ((c, W), (recorded loss,
        deaths (length,), births (length,), c, W at the start, first step of the block whose loss is NaN/inf
        (``length`` if none)))``."""

        def body(b: Any, state: tuple[Any, Any], consts: tuple[Any, Any]) -> tuple:
            key, k0 = consts
            c, W = state
            xp = self.problem.backend.xp
            full = None if self.batch_size is None else _data_loss(self.problem, self.regime, c, W)
            state, (loss, nk, nc) = scan(lambda k, s: self.step(k, s, key), state, k0 + b * length, length)
            idx = xp.arange(length, device=self.problem.backend.device)
            first = xp.min(xp.where(xp.isfinite(loss), xp.full_like(idx, length), idx))
            return state, (loss[0] if full is None else full, nk, nc, c, W, first)

        return body


def _python_scan(body: Callable, carry: Any, n: int, consts: Any, bar: Any, per: int) -> tuple[Any, list]:
    """``carry, y_i = body(i, carry, consts)`` for ``i < n`` in Python; the ``y_i`` as a list."""
    ys = []
    for i in range(n):
        carry, y = body(i, carry, consts)
        ys.append(y)
        bar.update(per)
    return carry, ys


def _stack_steps(be: Backend, ys: list) -> tuple:
    """Stack a list of per-step output tuples along a new axis."""
    return tuple(be.xp.stack([y[j] for y in ys], axis=0) for j in range(len(ys[0])))


def _inner_scan(be: Backend, compiled: bool) -> Callable:
    """``scan(f, carry, lower, length)``: the backend's (compiled) or a Python loop with stacked outputs."""
    if compiled:
        return be.scan

    def scan(f: Callable, carry: Any, lower: Any, length: int) -> tuple[Any, tuple]:
        carry, ys = _python_scan(lambda i, c, _: f(lower + i, c), carry, length, None, _NO_BAR, 0)
        return carry, _stack_steps(be, ys)

    return scan


_NO_BAR = progress_bar(None, False, "")


def _check(problem: Any, dt: Any, steps: Any, record_every: Any, birth_death: Any) -> tuple[float, int, int, float]:
    """The scalar arguments of :func:`train`, checked before any work: ``(dt, steps, record_every, alpha)``."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a transportkit.meanfield Problem, got {type(problem).__name__}")
    return (as_real("dt", dt, low=0.0, low_open=True), as_count("steps", steps, low=0),
            as_count("record_every", record_every), as_real("birth_death", birth_death, low=0.0))


def _initial_particles(problem: Problem, particles: Any, init_gen: Generator) -> tuple[Any, Any]:
    """``(c, W)`` of the initial particles: a width ``n >= 1`` (drawn by ``problem.init_particles``) or a
    :class:`Particles` set of at least one particle with finite ``c`` ``(n,)`` and ``w`` ``(n, p)``."""
    be = problem.backend
    if not isinstance(particles, Particles):
        if isinstance(particles, (bool, float)) or not isinstance(particles, numbers.Integral):
            raise TypeError(f"particles must be a Particles set or a width (an integer >= 1), got {particles!r}")
        n = as_count("particles (the width)", particles)
        particles = problem.init_particles(n, init_gen)
    if getattr(particles.c, "shape", (0,))[0:1] == (0,):
        raise ValueError("particles is empty (width 0): a network needs at least one particle")
    c = as_points("particles.c", particles.c, be, ndim=1)
    W = as_points("particles.w", particles.w, be, ndim=2)
    if W.shape != (c.shape[0], problem.p):
        raise ValueError(f"particles need c (n,) and w (n, {problem.p}); got {tuple(c.shape)}, {tuple(W.shape)}")
    return c, W


_STEPS_ALIAS: Any = object()


def _steps(steps: Any, n_steps: Any) -> Any:
    """``steps``, or the deprecated alias ``n_steps`` (with a ``DeprecationWarning``)."""
    if n_steps is _STEPS_ALIAS:
        return steps
    warnings.warn("n_steps= is deprecated; use steps=", DeprecationWarning, stacklevel=3)
    return n_steps


def _warn_divergence(be: Backend, outs: list[tuple], blocks: list[tuple[int, int]], final_loss: Any,
                     steps: int, dt: float) -> None:
    """A :class:`~transportkit.errors.NonFiniteWarning` naming the first step whose loss is NaN/inf (one host
    transfer of one index per block)."""
    k0 = 0
    for ys, (count, length) in zip(outs, blocks, strict=True):
        firsts = be.to_numpy(ys[5]).tolist()
        for b, first in enumerate(firsts):
            if first < length:
                k = k0 + b * length + int(first)
                warnings.warn(f"the training diverged: the loss is NaN or inf at step {k} (t = {k * dt:.6g}); "
                              f"reduce dt (= {dt:g})", NonFiniteWarning, stacklevel=3)
                return
        k0 += count * length
    if not bool(be.xp.isfinite(final_loss)):
        warnings.warn(f"the training diverged: the loss is NaN or inf at the end (step {steps}, t = {steps * dt:.6g}); "
                      f"reduce dt (= {dt:g})", NonFiniteWarning, stacklevel=3)


@declare(uses=("jit",))
def train(problem: Problem, particles: Particles | int, *, dt: float = 0.1, steps: int = 1000,
          birth_death: float = 0.0, batch_size: int | None = None, rng: Any = None, record_every: int = 1,
          record_particles: bool = False, progress: bool = False, jit: bool | None = None,
          regime: str = "feature", l2: float = 0.0,
          n_steps: Any = _STEPS_ALIAS, seed: Any = SEED_DEPRECATED) -> Trajectory:
    """Run gradient flow (``batch_size=None``) or SGD, optionally with birth–death at rate ``birth_death``.

    Parameters
    ----------
    problem
        a :class:`~.problems.Problem` (it fixes the backend).
    particles
        initial :class:`~.network.Particles` (at least one), or a width ``n >= 1`` (then
        ``problem.init_particles(n, rng)``).
    dt, steps
        step in rescaled time (finite, ``> 0``) and number of steps (the run covers ``[0, dt * steps]``;
        ``n_steps=`` is a deprecated alias).
    birth_death
        the birth–death rate :math:`\\alpha` (0: pure transport).
    batch_size
        SGD minibatch size (data problems only).
    rng
        seeds the initialization (when ``particles`` is an int) and, on a second stream, the minibatches and
        birth–death: an int, a ``numpy.random.Generator``, a :class:`transportkit.random.Generator`, or
        ``None`` (fresh entropy), as in SciPy's SPEC 7; ``seed=`` is its deprecated alias.
    record_every
        record the loss every that many steps (and at the end).
    record_particles
        keep the particles at the recorded times (``Trajectory.snapshots``).
    progress
        a tqdm bar over the steps.
    jit
        where the backend compiles (JAX), run the whole training as one compiled program
        (:func:`transportkit._loops.scan_steps`; with a host generator, ``rng_on_host=True``, that draws
        during the run, only the gradient step is compiled); default: when ``steps >= 100`` (compilation
        costs more than it saves on short runs).
    regime
        ``"feature"`` (default): mean-field scaling :math:`f_n = \\frac1n\\sum_i c_i\\varphi(x;w_i)` in the
        rescaled time :math:`\\dot\\theta_i = -n\\nabla_{\\theta_i}\\ell` (the units move by O(1): feature
        learning). ``"lazy"``: NTK scaling :math:`f_n = \\frac1{\\sqrt n}\\sum_i c_i\\varphi(x;w_i)` under the plain
        gradient flow :math:`\\dot\\theta_i = -\\nabla_{\\theta_i}\\ell`, whose tangent kernel
        :math:`\\frac1n\\sum_i\\nabla_{\\theta_i}(c_i\\varphi_i)(x)\\cdot\\nabla_{\\theta_i}(c_i\\varphi_i)(x')`
        is O(1) while each unit moves by :math:`O(n^{-1/2})` (the linearized, random-features/NTK regime;
        Jacot, Gabriel & Hongler 2018; Chen, Vanden-Eijnden & Bruna, arXiv:2204.10782 contrast the two). The
        particles of the result are the parameters of the chosen scaling (use :meth:`Trajectory.predict`).
        Birth–death is a mean-field measure dynamics and is refused with ``regime="lazy"``.
    l2
        :math:`\\lambda \\ge 0`, the 2-norm regularizer: every particle gets the extra velocity
        :math:`-\\lambda\\theta_i` (gradient of :math:`\\frac\\lambda2\\int|\\theta|^2d\\mu_n` in the rescaled
        time of the feature regime; weight decay :math:`\\frac\\lambda2\\sum_i|\\theta_i|^2` in the lazy regime).
        On the sphere only the amplitudes feel it. The recorded ``loss`` is the data loss (without the penalty).
        The dynamical CLT of Chen, Rotskoff, Bruna & Vanden-Eijnden (NeurIPS 2020, arXiv:2008.09623) uses it to
        control the long-time fluctuation term of the loss.

    Returns
    -------
    Trajectory
        recorded times and losses, final particles, per-step birth–death counts, optional snapshots.

    Every argument is checked before any work (docs/reliability.md). A run whose loss becomes NaN or inf (an
    explicit Euler step too large for the landscape, e.g. ``dt=1e6``) returns its trajectory with a
    :class:`~transportkit.errors.NonFiniteWarning` naming the first such step.
    """
    dt, n_steps, every, alpha = _check(problem, dt, _steps(steps, n_steps), record_every, birth_death)
    regime = as_choice("regime", regime, ("feature", "lazy"))
    l2 = as_real("l2", l2, low=0.0)
    if regime == "lazy" and alpha > 0:
        raise ValueError("birth_death needs regime='feature' (birth-death acts on the mean-field measure)")
    batch = None
    if batch_size is not None:
        if problem.n_data is None:
            raise ValueError("batch_size (SGD) needs a data problem; this problem is exact")
        batch = as_count("batch_size", batch_size)
    record_particles, progress = as_bool("record_particles", record_particles), as_bool("progress", progress)
    if jit is not None:
        jit = as_bool("jit", jit)
    be = problem.backend
    xp = be.xp
    init_gen, gen = resolve_rng(rng, be, seed=seed).spawn(2)
    c, W = _initial_particles(problem, particles, init_gen)
    compile = (n_steps >= 100 if jit is None else bool(jit)) and be.jit is not None
    whole = compile and be.compiles_loops and (gen.functional or (batch is None and alpha == 0))
    grad = _gradient_step(problem, dt, regime, l2)
    if compile and not whole:
        grad = be.compiled(("meanfield.gradient_step", problem, dt, regime, l2),
                           lambda: _gradient_step(problem, dt, regime, l2))
    run = _Run(problem, dt, regime, alpha, batch, gen, grad)
    key = gen.loop_key()
    state, outs, k0 = (c, W), [], 0
    blocks = [(k, m) for k, m in ((n_steps // every, every), (1, n_steps % every)) if k and m]
    bar = progress_bar(n_steps, progress and not whole, "meanfield")
    try:
        for count, length in blocks:
            if whole:
                state, ys = scan_steps(be, run.block(length, be.scan), state, count, consts=(key, xp.asarray(k0)),
                                       key=("meanfield.train", problem, dt, regime, l2, alpha, batch, length),
                                       progress=progress, desc="meanfield")
            else:
                state, ylist = _python_scan(run.block(length, _inner_scan(be, False)), state, count, (key, k0), bar,
                                            length)
                ys = _stack_steps(be, ylist)
            outs.append(ys)
            k0 += count * length
    finally:
        bar.close()
    tr = _trajectory(be, problem, state, outs, n_steps, every, dt, record_particles, regime, l2)
    _warn_divergence(be, outs, blocks, tr.loss[-1], n_steps, dt)
    return tr


def _trajectory(be: Backend, problem: Problem, state: tuple[Any, Any], outs: list[tuple], n_steps: int, every: int,
                dt: float, record_particles: bool, regime: str = "feature", l2: float = 0.0) -> Trajectory:
    """Assemble the :class:`Trajectory` from the per-block outputs ``(loss, deaths, births, c, W)``."""
    xp = be.xp
    c, W = state
    n_rec = sum(o[0].shape[0] for o in outs)
    times = [k * every * dt for k in range(n_rec)] + [n_steps * dt]
    losses = xp.concat([*[o[0] for o in outs], xp.reshape(_data_loss(problem, regime, c, W), (1,))])
    if outs:
        kills, clones = (xp.concat([xp.reshape(o[j], (-1,)) for o in outs]) for j in (1, 2))
    else:
        kills = clones = xp.zeros((0,), dtype=xp.int64, device=be.device)
    snaps = None
    if record_particles:
        cs = [o[3][i, ...] for o in outs for i in range(o[3].shape[0])]
        ws = [o[4][i, ...] for o in outs for i in range(o[4].shape[0])]
        snaps = [Particles(a, b, backend=be) for a, b in zip(cs, ws, strict=True)] + [Particles(c, W, backend=be)]
    return Trajectory(be.asarray(times), losses, Particles(c, W, backend=be), kills, clones, snaps, regime, l2,
                      backend=be)


@declare(uses=("jit",))
def gradient_flow(problem: Problem, particles: Particles | int, *, dt: float = 0.1, steps: int = 1000,
                  birth_death: float = 0.0, rng: Any = None, record_every: int = 1,
                  record_particles: bool = False, progress: bool = False, jit: bool | None = None,
                  regime: str = "feature", l2: float = 0.0,
                  n_steps: Any = _STEPS_ALIAS, seed: Any = SEED_DEPRECATED) -> Trajectory:
    """Gradient flow :math:`\\dot\\theta_i = -\\nabla V(\\theta_i;\\mu_n) - \\lambda\\theta_i` (optionally +
    birth–death) in the mean-field (``regime="feature"``) or NTK (``regime="lazy"``) scaling, with the 2-norm
    regularizer ``l2`` = :math:`\\lambda`; see :func:`train` (``n_steps=`` and ``seed=`` are deprecated aliases of
    ``steps=`` and ``rng=``)."""
    rng = _rng_alias(rng, seed)
    return train(problem, particles, dt=dt, steps=_steps(steps, n_steps), birth_death=birth_death, rng=rng,
                 record_every=record_every, record_particles=record_particles, progress=progress, jit=jit,
                 regime=regime, l2=l2)


@declare(uses=("jit",))
def sgd(problem: Problem, particles: Particles | int, *, batch_size: int, dt: float = 0.1, steps: int = 1000,
        birth_death: float = 0.0, rng: Any = None, record_every: int = 1, record_particles: bool = False,
        progress: bool = False, jit: bool | None = None, regime: str = "feature", l2: float = 0.0,
        n_steps: Any = _STEPS_ALIAS, seed: Any = SEED_DEPRECATED) -> Trajectory:
    """SGD: the gradient-flow step on a fresh minibatch of ``batch_size`` points each step; see :func:`train`
    (``n_steps=`` and ``seed=`` are deprecated aliases of ``steps=`` and ``rng=``)."""
    rng = _rng_alias(rng, seed)
    return train(problem, particles, dt=dt, steps=_steps(steps, n_steps), birth_death=birth_death,
                 batch_size=batch_size, rng=rng, record_every=record_every, record_particles=record_particles,
                 progress=progress, jit=jit, regime=regime, l2=l2)


def _rng_alias(rng: Any, seed: Any) -> Any:
    """``rng``, or the deprecated ``seed=`` (warned about here, resolved once in :func:`train`)."""
    if seed is SEED_DEPRECATED:
        return rng
    if rng is not None:
        raise TypeError("pass rng= only (seed= is its deprecated alias)")
    warnings.warn("seed= is deprecated; use rng= (an int, a numpy.random.Generator or None)", DeprecationWarning,
                  stacklevel=3)
    return seed
