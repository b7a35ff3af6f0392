r"""Energy-based models with shallow-network energies trained by gradient descent–ascent over units and particles.

The model is the Gibbs density :math:`p_\mu(x) \propto e^{-E_\mu(x)}\tau(x)` of a shallow energy in the mean-field
scaling, :math:`E_\mu(x) = \frac1n\sum_{i=1}^n c_i\varphi(x; w_i)`, over a Gaussian base measure
:math:`\tau = N(0, \sigma_\tau^2 I)`. Maximum likelihood minimizes
:math:`L(\mu) = E_{\rm data}[E_\mu] + \log\int e^{-E_\mu}d\tau`, and by Fenchel duality
:math:`\log\int e^{-E}d\tau = \max_\nu\{-E_\nu[E] - {\rm KL}(\nu\,\|\,\tau)\}`, so that ML training is the min–max
problem :math:`\min_\mu\max_\nu\, E_{\rm data}[E_\mu] - E_\nu[E_\mu] - {\rm KL}(\nu\|\tau)` (Domingo-Enrich, Bietti,
Gabrié, Bruna & Vanden-Eijnden, "Dual training of energy-based models with overparametrized shallow neural
networks", arXiv:2107.05134). Its two-time-scale gradient descent–ascent moves

- the **units** :math:`\theta_i = (c_i, w_i)` down the Wasserstein gradient of the first variation
  :math:`\delta L/\delta\mu(\theta) = E_{\rm data}[c\varphi(\cdot;w)] - E_\nu[c\varphi(\cdot;w)]` (the time is rescaled
  by :math:`n` as in :func:`~transportkit.meanfield.gradient_flow`):
  :math:`\dot c_i = -(E_{\rm data} - E_\nu)[\varphi(\cdot;w_i)]`, :math:`\dot w_i = -c_i(E_{\rm data} - E_\nu)[\nabla_w
  \varphi(\cdot;w_i)]`, with :math:`\nu` the empirical measure of the particles;
- the **particles** :math:`x_j` up the Wasserstein gradient of :math:`-E_\nu[E] - {\rm KL}(\nu\|\tau)`, i.e. the
  Langevin dynamics of :math:`p_\mu`: :math:`x \leftarrow x - h_x(\nabla E_\mu(x) + x/\sigma_\tau^2) + \sqrt{2h_x}\xi`
  (unadjusted Langevin);
- optionally, each particle is **restarted** at a data point drawn uniformly with probability ``restart`` per step
  (the paper's variant; restarting at every step corresponds to score-matching training).

``regime="lazy"`` freezes the weights (random features: only the amplitudes move). The active (feature-learning)
vs lazy comparison of such EBMs is in Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna, "On energy-based models with
overparametrized shallow neural networks", ICML 2021 (arXiv:2104.07531); its maximum-likelihood version is
:func:`~transportkit.meanfield.ebm_mle` (module :mod:`.ebm_regimes`).
Everything here is analytic (unit gradients in :mod:`.units`, input gradients below): every backend, no autodiff;
on JAX the whole run is one compiled program (:func:`transportkit._loops.scan_steps`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import Loops, scan_steps
from .._results import Result
from .._typing import Array
from .._validation import as_bool, as_choice, as_count, as_points, as_real
from ..errors import NonFiniteWarning
from ..random import SEED_DEPRECATED, resolve_rng
from .units import Gaussian, Ridge, Unit, get_unit

__all__ = ["EBMResult", "ebm_gda", "energy_gradient_x"]


def energy_gradient_x(unit: Unit, X: Any, c: Any, W: Any, xp: Any) -> Array:
    r""":math:`\nabla_x E(x) = \frac1n\sum_ic_i\nabla_x\varphi(x;w_i)` at the rows of ``X`` ``(m, d)``, ``(m, d)``:
    :math:`\sigma'(w_{:d}\cdot x + b)\,w_{:d}` for ridge units, :math:`-\varphi\,(x - z)/s^2` for Gaussian units."""
    n, d = W.shape[0], X.shape[1]
    if isinstance(unit, Ridge):
        S = unit.dsigma(unit._pre(X, W, xp), xp) * (c / n)  # (m, n)
        return S @ W[:, :d]
    if isinstance(unit, Gaussian):
        P = unit.features(X, W, xp) * (c / n)
        return -(xp.sum(P, axis=1)[:, None] * X - P @ W) / unit.width**2
    raise TypeError(f"ebm_gda needs the input gradient of the unit: ridge or Gaussian units, got {unit!r}")


def _energy(unit: Unit, X: Any, c: Any, W: Any, base_scale: float, xp: Any) -> Any:
    """:math:`E(x) + |x|^2/2\\sigma_\\tau^2` at the rows of ``X``."""
    return unit.features(X, W, xp) @ c / W.shape[0] + xp.sum(X * X, axis=1) / (2.0 * base_scale**2)


@dataclasses.dataclass
class EBMResult(Result):
    """Output of :func:`ebm_gda`.

    ``c`` ``(n,)``, ``W`` ``(n, p)``: the final units; ``particles`` ``(m, d)``: the final particles; ``times``
    ``(K,)`` the recorded times (unit time scale, ``k * dt``), ``c_path`` ``(K, n)``, ``W_path`` ``(K, n, p)`` the
    units at those times; ``gap`` ``(K,)`` the contrastive gap :math:`E_{\\rm data}[E] - E_\\nu[E]` of the step that
    ends at each recorded time (zero at a stationary point of the GDA); ``unit``, ``base_scale``: the model.
    ``energy(x)`` is the full energy :math:`E(x) + |x|^2/2\\sigma_\\tau^2` of the final units (``k=`` a recorded
    index), whose Gibbs density is the model.
    """

    c: Any
    W: Any
    particles: Any
    times: Any
    c_path: Any
    W_path: Any
    gap: Any
    unit: Any = dataclasses.field(repr=False, default=None)
    base_scale: float = 1.0

    def energy(self, x: Any, k: int | None = None) -> Any:
        """The full energy :math:`E(x) + |x|^2/(2\\sigma_\\tau^2)` at the rows of ``x`` ``(B, d)`` (final units, or the
        ``k``-th recorded ones)."""
        be = self.backend
        x = be.asarray(x)
        c, W = (self.c, self.W) if k is None else (self.c_path[k], self.W_path[k])
        return _energy(self.unit, x, c, W, self.base_scale, be.xp)


def _check(data: Any, n: Any, particles: Any, unit: Any, steps: Any, dt: Any, dt_x: Any, restart: Any,
           base_scale: Any, l2: Any, record_every: Any, jit: Any, backend: Any, bias: Any) -> dict[str, Any]:
    be = resolve_backend(data, backend=backend)
    out: dict[str, Any] = {"be": be, "data": as_points("data", data, be, ndim=2)}
    if out["data"].shape[0] < 1:
        raise ValueError("data must hold at least one point")
    out["n"] = as_count("n", n)
    if hasattr(particles, "__index__") and getattr(particles, "ndim", 0) == 0:  # an int (NumPy integers too)
        out["m"], out["X0"] = as_count("particles", particles), None
    else:
        out["X0"] = as_points("particles", particles, be, dim=out["data"].shape[1], ndim=2)
        out["m"] = out["X0"].shape[0]
        if out["m"] < 1:
            raise ValueError("particles must hold at least one point")
    u = get_unit(unit, **({"bias": as_bool("bias", bias)} if isinstance(unit, str) and unit != "gaussian" else {}))
    if not isinstance(u, Ridge | Gaussian):
        raise TypeError(f"unit must be a ridge or Gaussian unit (ebm_gda needs its input gradient), got {u!r}")
    out["unit"] = u
    out["steps"] = as_count("steps", steps)
    out["dt"] = as_real("dt", dt, low=0.0, low_open=True)
    out["dt_x"] = out["dt"] if dt_x is None else as_real("dt_x", dt_x, low=0.0, low_open=True)
    out["restart"] = as_real("restart", restart, low=0.0, high=1.0)
    out["base_scale"] = as_real("base_scale", base_scale, low=0.0, low_open=True)
    out["l2"] = as_real("l2", l2, low=0.0)
    out["record_every"] = as_count("record_every", record_every)
    out["jit"] = None if jit is None else as_bool("jit", jit)
    return out


def _make_step(unit: Unit, dt: float, dt_x: float, restart: float, base_scale: float, l2: float, gen: Any,
               be: Backend, lazy: bool = False) -> Any:
    """The pure GDA step ``(k, (c, W, X), key, D) -> ((c, W, X), gap)``; both updates use the state at the start.
    It reads ``gen`` only through ``gen.at(key, k)``, so the compiled program depends on its arguments alone.
    ``lazy``: the weights ``W`` stay where they are (random features; only the amplitudes move)."""
    xp = be.xp

    def step(k: Any, state: tuple, key: Any, D: Any) -> tuple:
        c, W, X = state
        N = D.shape[0]
        g = gen.at(key, k)
        m, n = X.shape[0], W.shape[0]
        Fd, Fx = unit.features(D, W, xp), unit.features(X, W, xp)  # (N, n), (m, n)
        diff = xp.mean(Fd, axis=0) - xp.mean(Fx, axis=0)  # (E_data - E_nu) phi(.; w_i)
        gap = xp.sum(diff * c) / n
        grad_x = energy_gradient_x(unit, X, c, W, xp) + X / base_scale**2
        X_new = X - dt_x * grad_x + math.sqrt(2.0 * dt_x) * g.normal(X.shape, dtype=X.dtype)
        if restart > 0:
            hit = g.uniform((m,), dtype=X.dtype) < restart
            # the backend's default integer dtype (int32 on JAX without x64, which would truncate int64 with a warning)
            idx = xp.astype(xp.floor(g.uniform((m,), dtype=X.dtype) * N), xp.asarray(0).dtype)
            idx = xp.minimum(idx, xp.asarray(N - 1, dtype=idx.dtype, device=be.device))
            X_new = xp.where(hit[:, None], xp.take(D, idx, axis=0), X_new)
        c_new = c - dt * (diff + l2 * c)
        if lazy:
            return (c_new, W, X_new), gap
        vw = (unit.vjp(D, W, xp.ones_like(Fd) / N, xp) - unit.vjp(X, W, xp.ones_like(Fx) / m, xp)) * c[:, None]
        return (c_new, W - dt * (vw + l2 * W), X_new), gap

    return step


@declare(uses=("jit",))
def ebm_gda(
    data: Any,
    n: int = 64,
    particles: Any = 1000,
    *,
    unit: str | Unit = "relu",
    bias: bool = True,
    regime: str = "feature",
    steps: int = 2000,
    dt: float = 0.1,
    dt_x: float | None = None,
    restart: float = 0.0,
    base_scale: float = 3.0,
    l2: float = 0.0,
    init_scale: float = 1.0,
    units: Any = None,
    record_every: int = 100,
    rng: Any = None,
    jit: bool | None = None,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> EBMResult:
    r"""Train an energy-based model :math:`p \propto e^{-E}N(0,\sigma_\tau^2I)` with a shallow energy
    :math:`E(x) = \frac1n\sum_ic_i\varphi(x;w_i)` by two-time-scale gradient descent–ascent over units and particles
    (Domingo-Enrich, Bietti, Gabrié, Bruna & Vanden-Eijnden, "Dual training of energy-based models with
    overparametrized shallow neural networks", arXiv:2107.05134; see the module docstring for the dynamics).

    Parameters
    ----------
    data
        ``(N, d)`` samples of the target.
    n
        the number of units (the width of the energy).
    particles
        the number ``m`` of particles of the model (drawn from the data, then moved by Langevin dynamics), or an
        ``(m, d)`` array of initial particles.
    unit, bias
        the unit: a ridge unit name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"quadratic"``; ``bias=True`` adds a
        bias, :math:`\sigma(w_{:d}\cdot x + b)`), ``"gaussian"``, or a ridge/Gaussian :class:`~.units.Unit`.
    steps, dt, dt_x
        the number of GDA steps, the units' step (in the mean-field time) and the particles' Langevin step (default
        ``dt``; the ratio is the two time scales of the paper, which finds similar scales work best).
    restart
        per step and particle, the probability of restarting it at a uniformly drawn data point.
    base_scale
        :math:`\sigma_\tau`, the standard deviation of the Gaussian base measure (it keeps the Gibbs density
        normalizable whatever the units).
    l2
        weight decay :math:`\lambda\ge0` of the units (velocity :math:`-\lambda\theta_i`).
    init_scale, units
        amplitudes start at 0 (a flat energy: the model is the base measure) and weights at
        ``init_scale`` times standard normal draws; or ``units=(c, W)`` gives the initial units (``(n,)``,
        ``(n, p)``; then ``n`` is ignored).
    record_every
        record the units and the contrastive gap every that many steps.
    rng
        an int, a ``numpy.random.Generator``, a :class:`transportkit.random.Generator` or ``None`` (SciPy SPEC 7);
        ``seed=`` is a deprecated alias.
    jit
        compile the whole run on JAX (default ``None``: yes; a compilation takes about a second and costs less than
        JAX's first eager call of the same step).
    backend
        as usual (else from ``data``).

    Returns
    -------
    EBMResult
        final and recorded units, final particles, the contrastive gap.

    Notes
    -----
    Every argument is checked before any work; a run whose units or particles become NaN/inf (Langevin steps too
    large for the energy) returns with a :class:`~transportkit.errors.NonFiniteWarning`.

    Unadjusted Langevin has an :math:`O(h_x)` bias: at a fixed point the
    *particles* match the data, so the Gibbs density of the learned energy differs from the data law by
    :math:`O(h_x)` (for a Gaussian target of variance :math:`s^2` the Gibbs variance is
    :math:`v = (s^2 + \sqrt{s^4 - 2s^2h_x})/2 \approx s^2 - h_x/2`).
    """
    a = _check(data, n, particles, unit, steps, dt, dt_x, restart, base_scale, l2, record_every, jit, backend,
               bias)
    init_scale = as_real("init_scale", init_scale, low=0.0)
    lazy = as_choice("regime", regime, ("feature", "lazy")) == "lazy"
    be, D, u = a["be"], a["data"], a["unit"]
    xp = be.xp
    init_gen, gen = resolve_rng(rng, be, seed=seed).spawn(2)
    N, d = D.shape
    p = u.n_params(d)
    if units is None:
        c0 = xp.zeros((a["n"],), dtype=D.dtype, device=be.device)
        W0 = init_scale * init_gen.normal((a["n"], p), dtype=D.dtype)
    else:
        if not (isinstance(units, tuple | list) and len(units) == 2):
            raise TypeError("units must be a pair (c, W)")
        W0 = as_points("units[1] (W)", units[1], be, dim=p, ndim=2)
        c0 = as_points("units[0] (c)", units[0], be, ndim=1)
        if c0.shape[0] != W0.shape[0] or W0.shape[0] < 1:
            raise ValueError(f"units: c has {c0.shape[0]} entries and W {W0.shape[0]} rows; they must agree (>= 1)")
    if a["X0"] is None:
        idx = xp.astype(xp.floor(init_gen.uniform((a["m"],), dtype=D.dtype) * N), xp.asarray(0).dtype)
        X0 = xp.take(D, xp.minimum(idx, xp.asarray(N - 1, dtype=idx.dtype, device=be.device)), axis=0)
    else:
        X0 = a["X0"]
    steps, every = a["steps"], a["record_every"]
    jit = True if a["jit"] is None else a["jit"]  # one compilation beats eager JAX dispatch already at 1 step
    compiled = jit and be.compiles_loops and gen.functional
    step = _make_step(u, a["dt"], a["dt_x"], a["restart"], a["base_scale"], a["l2"], gen, be, lazy)
    cache = ("meanfield.ebm_gda", type(u).__name__, repr(u), a["dt"], a["dt_x"], a["restart"], a["base_scale"], a["l2"],
             lazy)
    key = gen.loop_key()
    blocks = [(k, length) for k, length in ((steps // every, every), (1, steps % every)) if k and length]
    state, outs, k0 = (c0, W0, X0), [], 0
    with warnings.catch_warnings():  # overflow in a diverging run: reported below as one NonFiniteWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        for count, length in blocks:
            loops = Loops(be, compiled)

            def block(b: Any, st: tuple, consts: tuple, length: int = length, loops: Loops = loops) -> tuple:
                kk, start, DD = consts
                st, gaps = loops.scan(lambda k, s: step(k, s, kk, DD), st, start + b * length, length)
                return st, (st[0], st[1], gaps[-1])

            state, ys = scan_steps(be, block, state, count, consts=(key, xp.asarray(k0), D), compile=compiled,
                                   key=(*cache, length))
            outs.append(ys)
            k0 += count * length
    c, W, X = state
    c_path = xp.concat([c0[None, :], *[o[0] for o in outs]], axis=0)
    ok = [bool(v) for v in be.to_numpy(xp.all(xp.isfinite(c_path), axis=1)).tolist()]
    if not all(ok) or not bool(xp.all(xp.isfinite(X))):
        first = ok.index(False) if not all(ok) else len(ok) - 1
        t_bad = first * every * a["dt"]
        warnings.warn(f"ebm_gda: the units or particles became NaN/inf (first recorded at t = {t_bad:g}): reduce"
                      f" dt_x (= {a['dt_x']:g}; Langevin on a steep energy) or dt (= {a['dt']:g})",
                      NonFiniteWarning, stacklevel=2)
    times = [0.0] + [min(k, steps) * a["dt"] for k in range(every, steps + every, every)]
    return EBMResult(
        c=c, W=W, particles=X, times=xp.asarray(times, dtype=D.dtype, device=be.device),
        c_path=c_path,
        W_path=xp.concat([W0[None, ...], *[o[1] for o in outs]], axis=0),
        gap=xp.concat([xp.zeros((1,), dtype=D.dtype, device=be.device), *[o[2] for o in outs]], axis=0),
        unit=u, base_scale=a["base_scale"], backend=be,
    )
