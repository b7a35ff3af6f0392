r"""Maximum-likelihood shallow energy-based models in the feature ("active") and lazy (random-features) regimes.

Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna, "On energy-based models with overparametrized shallow neural
networks", ICML 2021 (arXiv:2104.07531), compare two function classes for the energy of a Gibbs density
:math:`p(x) = e^{-E(x)}\tau(x)/Z` over a base measure :math:`\tau` (the uniform measure on the sphere
:math:`\mathbb S^{d-1}` in their experiments):

- :math:`\mathcal F_1` (**active** / feature learning): :math:`E(x) = \frac1n\sum_ic_i\sigma(\langle w_i, x\rangle)`
  with amplitudes *and* weights trained, in the mean-field scaling; with weight decay
  :math:`\frac\lambda2\int(c^2 + |w|^2)d\mu` on ReLU units this is the variation (path) norm
  :math:`\frac1n\sum_i|c_i||w_i|`;
- :math:`\mathcal F_2` (**lazy** / kernel): the weights :math:`w_i` drawn at random and frozen, only the amplitudes
  trained (random features of the RKHS), with the penalty :math:`\frac\lambda2\int c^2d\mu` (the RKHS norm).

Their theory: when the target energy has hidden low-dimensional structure (e.g. a single neuron
:math:`E^*(x) = -\beta\,\sigma(\langle w^*, x\rangle)`), the :math:`\mathcal F_1` estimator's rate does not depend on
the dimension while :math:`\mathcal F_2`'s does ("models trained in the active regime provide a statistical
advantage over their associated lazy or kernel regime"). :func:`ebm_mle` trains either model by gradient descent on
the negative log-likelihood :math:`L = E_{\rm data}[E] + \log E_\tau[e^{-E}]`; the gradient of the log-partition,
:math:`-E_p[\nabla_\theta E]`, is estimated at every step by self-normalized importance sampling from fresh draws
of the base measure (weights :math:`\propto e^{-E(x_k)}`), which is accurate when
:math:`{\rm KL}(p\,\|\,\tau)` is moderate (the effective sample size is recorded, and a collapse warns).
:func:`planted_ebm` gives targets with known energy (sums of orthonormal ReLU neurons on the sphere) and
:meth:`PlantedEBM.kl` the test :math:`{\rm KL}(p^*\|p)` by importance sampling from the base.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._loops import Loops, scan_steps
from .._results import Estimate, Result
from .._validation import as_bool, as_choice, as_count, as_points, as_real
from ..errors import DegenerateWeightsWarning, NonFiniteWarning
from ..random import SEED_DEPRECATED, resolve_rng
from .units import Ridge, Unit, get_unit

__all__ = ["EBMFit", "PlantedEBM", "ebm_mle", "planted_ebm"]

BASES = ("sphere", "gaussian")


def _base_draw(gen: Any, shape: tuple, base: str, base_scale: float, dtype: Any, xp: Any) -> Any:
    z = gen.normal(shape, dtype=dtype)
    if base == "sphere":
        return z / xp.sqrt(xp.sum(z * z, axis=1, keepdims=True))
    return base_scale * z


def _log_mean_exp(v: Any, xp: Any) -> Any:
    top = xp.max(v)
    return top + xp.log(xp.mean(xp.exp(v - top)))


def _batch_stats(vals: Any, xp: Any) -> Estimate:
    batches = vals.shape[0]
    mean = xp.mean(vals)
    return Estimate(value=float(mean), stderr=float(xp.sqrt(xp.sum((vals - mean) ** 2) / (batches - 1) / batches)))


def _log_partition(energy: Any, gen: Any, d: int, base: str, base_scale: float, samples: int, dtype: Any,
                   xp: Any, batches: int = 10) -> Estimate:
    r""":math:`\log E_\tau[e^{-E}]` by plain Monte Carlo over ``samples`` base draws; stderr from ``batches``
    independent batches (the value is their mean: its bias, :math:`O(\text{batches}/\text{samples})`, is far below
    the stderr for the sizes used here)."""
    per = max(samples // batches, 1)
    U = _base_draw(gen, (batches * per, d), base, base_scale, dtype, xp)
    v = xp.reshape(-energy(U), (batches, per))
    top = xp.max(v, axis=1, keepdims=True)
    return _batch_stats(top[:, 0] + xp.log(xp.mean(xp.exp(v - top), axis=1)), xp)


@dataclasses.dataclass
class EBMFit(Result):
    """Output of :func:`ebm_mle`: the model :math:`p = e^{-E}\\tau/Z`, :math:`E(x) = \\frac1n\\sum_ic_i\\varphi(x;w_i)`.

    ``c`` ``(n,)``, ``W`` ``(n, p)``: the final units; ``times`` ``(K,)``; ``c_path`` ``(K, n)``, ``W_path``
    ``(K, n, p)``: the units at those times (in the lazy regime ``W_path`` is constant); ``loss`` ``(K,)``: the
    training negative log-likelihood relative to the base, :math:`E_{\\rm data}[E] + \\log E_\\tau[e^{-E}]`, at the
    units that start the last step before each record (its log-partition estimated from that step's base draws;
    ``loss[0]`` is set to 0, the value of the default flat start); ``ess`` ``(K,)``: the effective sample size
    fraction of that step's importance weights; ``regime``, ``base``, ``base_scale``, ``unit``.
    """

    c: Any
    W: Any
    times: Any
    c_path: Any
    W_path: Any
    loss: Any
    ess: Any
    regime: str = "feature"
    base: str = "sphere"
    base_scale: float = 1.0
    unit: Any = dataclasses.field(repr=False, default=None)

    def energy(self, x: Any, k: int | None = None) -> Any:
        """:math:`E(x)` (relative to the base measure) at the rows of ``x`` ``(B, d)``: final or ``k``-th recorded
        units."""
        be = self.backend
        xp = be.xp
        c, W = (self.c, self.W) if k is None else (self.c_path[k], self.W_path[k])
        return self.unit.features(be.asarray(x), W, xp) @ c / W.shape[0]

    def log_partition(self, samples: int = 200_000, rng: Any = None, k: int | None = None) -> Estimate:
        """:math:`\\log Z = \\log E_\\tau[e^{-E}]` by Monte Carlo over ``samples`` base draws (value, stderr)."""
        be = self.backend
        gen = resolve_rng(rng, be)
        return _log_partition(lambda x: self.energy(x, k), gen, self.W.shape[1] - _extra(self.unit), self.base,
                              self.base_scale, as_count("samples", samples, low=20), self.c.dtype, be.xp)

    def cross_entropy(self, x: Any, samples: int = 200_000, rng: Any = None, k: int | None = None) -> float:
        """:math:`-\\frac1B\\sum_b\\log p(x_b)` (density relative to the base :math:`\\tau`) over the rows of ``x``."""
        return float(self.backend.xp.mean(self.energy(x, k))) + float(self.log_partition(samples, rng, k).value)


def _extra(unit: Unit) -> int:
    return 1 if isinstance(unit, Ridge) and unit.bias else 0


@dataclasses.dataclass
class PlantedEBM(Result):
    """A target :math:`p^* \\propto e^{-E^*}\\tau` on the sphere :math:`\\mathbb S^{d-1}` (uniform base) with the
    energy of a few planted ReLU neurons, :math:`E^*(x) = \\sum_j a_j\\max(\\langle w_j^*, x\\rangle, 0)`, the rows
    ``W`` ``(J, d)`` orthonormal, amplitudes ``a`` ``(J,)``."""

    W: Any
    a: Any

    def energy(self, x: Any) -> Any:
        """:math:`E^*` at the rows of ``x`` ``(B, d)``."""
        xp = self.backend.xp
        z = self.backend.asarray(x) @ xp.matrix_transpose(self.W)
        return xp.maximum(z, xp.zeros_like(z)) @ self.a

    def sample(self, N: int, rng: Any = None) -> Any:
        """``N`` exact draws by rejection from the uniform measure, accepted with probability
        :math:`e^{-(E^*(x) - \\min E^*)}`, :math:`\\min E^* = -(\\sum_j\\min(a_j, 0)^2)^{1/2}` for orthonormal rows.
        The acceptance rate is :math:`Z^*e^{\\min E^*}`, small for large :math:`\\beta` (two neurons at
        :math:`d = 20` with the default :math:`\\beta` accept about one draw in :math:`10^4`)."""
        be = self.backend
        xp = be.xp
        N = as_count("N", N)
        gen = resolve_rng(rng, be)
        neg = xp.minimum(self.a, xp.zeros_like(self.a))
        lo = -float(xp.sqrt(xp.sum(neg * neg)))  # min of E* on the sphere (orthonormal rows: Cauchy-Schwarz)
        d = self.W.shape[1]
        out, got, chunk = [], 0, 1 << 14  # one chunk size: one compilation per array op on JAX
        while got < N:
            X = _base_draw(gen, (chunk, d), "sphere", 1.0, self.W.dtype, xp)
            keep = gen.uniform((chunk,), dtype=self.W.dtype) < xp.exp(-(self.energy(X) - lo))
            Xk = X[keep]
            out.append(Xk)
            got += int(Xk.shape[0])
        return xp.concat(out, axis=0)[:N, :]

    def kl(self, model: EBMFit, samples: int = 200_000, rng: Any = None, k: int | None = None,
           batches: int = 10) -> Estimate:
        """The test :math:`{\\rm KL}(p^*\\|p) = E_{p^*}[E - E^*] + \\log Z - \\log Z^*` of a fitted ``model`` (base:
        the uniform sphere), every term by self-normalized importance sampling from ``samples`` uniform draws
        (weights :math:`\\propto e^{-E^*}`), value and stderr over ``batches`` independent batches."""
        be = self.backend
        xp = be.xp
        if model.base != "sphere":
            raise ValueError(f"PlantedEBM.kl: the model's base must be 'sphere', got {model.base!r}")
        gen = resolve_rng(rng, be)
        batches = as_count("batches", batches, low=2)
        per = max(as_count("samples", samples, low=20) // batches, 10)
        U = _base_draw(gen, (batches * per, self.W.shape[1]), "sphere", 1.0, self.W.dtype, xp)
        Es = xp.reshape(self.energy(U), (batches, per))
        Em = xp.reshape(model.energy(U, k), (batches, per))

        def lme(v: Any) -> Any:
            top = xp.max(v, axis=1, keepdims=True)
            return top[:, 0] + xp.log(xp.mean(xp.exp(v - top), axis=1))

        ws = xp.exp(-(Es - xp.min(Es, axis=1, keepdims=True)))
        ws = ws / xp.sum(ws, axis=1, keepdims=True)
        return _batch_stats(xp.sum(ws * (Em - Es), axis=1) + lme(-Em) - lme(-Es), xp)


def planted_ebm(d: int, neurons: int = 1, beta: float | None = None, rng: Any = None, backend: Any = None,
                seed: Any = SEED_DEPRECATED) -> PlantedEBM:
    r"""A planted-neuron target on :math:`\mathbb S^{d-1}`: :math:`E^*(x) = -\beta\sum_{j\le J}\max(\langle w_j^*,
    x\rangle, 0)` with ``neurons`` :math:`= J \le d` random orthonormal directions (the low-dimensional structure of
    the experiments of Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna, arXiv:2104.07531). ``beta`` defaults to
    :math:`2\sqrt d`, which keeps :math:`{\rm KL}(p^*\|\tau)` of order one as ``d`` grows (the projection
    :math:`\langle w^*, x\rangle` of a uniform point has standard deviation :math:`d^{-1/2}`)."""
    d = as_count("d", d, low=2)
    J = as_count("neurons", neurons, high=d)
    beta = 2.0 * math.sqrt(d) if beta is None else as_real("beta", beta)
    be = resolve_backend(backend=backend)
    xp = be.xp
    gen = resolve_rng(rng, be, seed=seed)
    Q, _ = xp.linalg.qr(gen.normal((d, J), dtype=be.dtype))
    return PlantedEBM(W=xp.matrix_transpose(Q), a=xp.full((J,), -beta, dtype=be.dtype, device=be.device), backend=be)


def _make_step(unit: Unit, dt: float, l2: float, lazy: bool, base: str, base_scale: float, B: int, gen: Any,
               be: Backend) -> Any:
    """The pure step ``(k, (c, W), key, D) -> ((c, W), (loss, ess))`` of gradient descent on the penalized NLL."""
    xp = be.xp

    def step(k: Any, state: tuple, key: Any, D: Any) -> tuple:
        c, W = state
        N, d = D.shape
        n = W.shape[0]
        X = _base_draw(gen.at(key, k), (B, d), base, base_scale, D.dtype, xp)
        Fd, Fx = unit.features(D, W, xp), unit.features(X, W, xp)  # (N, n), (B, n)
        negE = -(Fx @ c) / n
        top = xp.max(negE)
        w = xp.exp(negE - top)
        sw = xp.sum(w)
        w = w / sw
        diff = xp.mean(Fd, axis=0) - w @ Fx  # (E_data - E_p) phi(.; w_i)
        loss = xp.mean(Fd @ c) / n + top + xp.log(sw / B)
        ess = 1.0 / (B * xp.sum(w * w))
        c_new = c - dt * (diff + l2 * c)
        if lazy:
            return (c_new, W), (loss, ess)
        vw = (unit.vjp(D, W, xp.ones_like(Fd) / N, xp) - unit.vjp(X, W, xp.ones_like(Fx) * w[:, None], xp))
        return (c_new, W - dt * (vw * c[:, None] + l2 * W)), (loss, ess)

    return step


@declare(uses=("jit",))
def ebm_mle(
    data: Any,
    n: int = 64,
    *,
    regime: str = "feature",
    unit: str | Unit = "relu",
    bias: bool = False,
    base: str = "sphere",
    base_scale: float = 1.0,
    base_samples: int = 2000,
    steps: int = 1000,
    dt: float = 0.5,
    l2: float = 0.0,
    units: Any = None,
    record_every: int = 50,
    rng: Any = None,
    jit: bool | None = None,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> EBMFit:
    r"""Maximum-likelihood training of the shallow energy-based model :math:`p = e^{-E}\tau/Z`,
    :math:`E(x) = \frac1n\sum_ic_i\varphi(x; w_i)`, in the feature ("active", :math:`\mathcal F_1`) or lazy
    (random features, :math:`\mathcal F_2`) regime (Domingo-Enrich, Bietti, Vanden-Eijnden & Bruna, "On energy-based
    models with overparametrized shallow neural networks", arXiv:2104.07531).

    Gradient descent in the mean-field time on :math:`L + \frac\lambda2\int|\theta|^2d\mu`,
    :math:`L = E_{\rm data}[E] + \log E_\tau[e^{-E}]`:
    :math:`\dot c_i = -(E_{\rm data} - E_p)[\varphi(\cdot; w_i)] - \lambda c_i` and (feature regime only)
    :math:`\dot w_i = -c_i(E_{\rm data} - E_p)[\nabla_w\varphi(\cdot; w_i)] - \lambda w_i`; the expectations
    :math:`E_p` are self-normalized importance-sampling averages over ``base_samples`` fresh base draws per step.

    Parameters
    ----------
    data
        ``(N, d)`` samples (on the unit sphere when ``base="sphere"``).
    n
        the width (number of units).
    regime
        ``"feature"`` (amplitudes and weights move) or ``"lazy"`` (weights frozen at their random start).
    unit, bias
        a ridge unit name (default ReLU without bias: homogeneous, so that weight decay is the variation norm) or a
        :class:`~.units.Unit` with ``features``/``vjp``.
    base, base_scale
        the base measure :math:`\tau`: ``"sphere"`` (uniform on :math:`\mathbb S^{d-1}`) or ``"gaussian"``
        (:math:`N(0, \sigma^2I)`, :math:`\sigma` = ``base_scale``).
    base_samples
        base draws per step for the log-partition gradient.
    steps, dt, l2
        the number of steps, the step (mean-field time) and the weight decay :math:`\lambda\ge0`.
    units
        ``(c, W)`` initial units; default: amplitudes 0 (the model starts at the base measure) and weights uniform on
        the unit sphere (standard normal with ``base="gaussian"``).
    record_every, rng, jit, backend
        record every that many steps; randomness (SciPy SPEC 7; ``seed=`` deprecated); compile the run on JAX
        (default yes); the backend (else from ``data``).

    Returns
    -------
    EBMFit
        final and recorded units, training loss and effective sample sizes; ``energy``, ``log_partition``,
        ``cross_entropy``.

    Notes
    -----
    A run whose units become NaN/inf warns with :class:`~transportkit.errors.NonFiniteWarning`; one whose
    importance weights collapse (effective sample size below 10 draws, or half the draws if fewer, at a recorded
    step: the model is far from the base and its log-partition gradient unreliable) with
    :class:`~transportkit.errors.DegenerateWeightsWarning`.
    """
    be = resolve_backend(data, backend=backend)
    D = as_points("data", data, be, ndim=2)
    if D.shape[0] < 1:
        raise ValueError("data must hold at least one point")
    n = as_count("n", n)
    lazy = as_choice("regime", regime, ("feature", "lazy")) == "lazy"
    u = get_unit(unit, **({"bias": as_bool("bias", bias)} if isinstance(unit, str) and unit != "gaussian" else {}))
    base = as_choice("base", base, BASES)
    base_scale = as_real("base_scale", base_scale, low=0.0, low_open=True)
    B = as_count("base_samples", base_samples, low=2)
    steps, every = as_count("steps", steps), as_count("record_every", record_every)
    dt = as_real("dt", dt, low=0.0, low_open=True)
    l2 = as_real("l2", l2, low=0.0)
    jit = True if jit is None else as_bool("jit", jit)
    xp = be.xp
    init_gen, gen = resolve_rng(rng, be, seed=seed).spawn(2)
    d = D.shape[1]
    p = u.n_params(d)
    if units is None:
        c0 = xp.zeros((n,), dtype=D.dtype, device=be.device)
        W0 = init_gen.normal((n, p), dtype=D.dtype)
        if base == "sphere":
            W0 = W0 / xp.sqrt(xp.sum(W0 * W0, axis=1, keepdims=True))
    else:
        if not (isinstance(units, tuple | list) and len(units) == 2):
            raise TypeError("units must be a pair (c, W)")
        W0 = as_points("units[1] (W)", units[1], be, dim=p, ndim=2)
        c0 = as_points("units[0] (c)", units[0], be, ndim=1)
        if c0.shape[0] != W0.shape[0] or W0.shape[0] < 1:
            raise ValueError(f"units: c has {c0.shape[0]} entries and W {W0.shape[0]} rows; they must agree (>= 1)")
    compiled = jit and be.compiles_loops and gen.functional
    step = _make_step(u, dt, l2, lazy, base, base_scale, B, gen, be)
    cache = ("meanfield.ebm_mle", type(u).__name__, repr(u), dt, l2, lazy, base, base_scale, B)
    key = gen.loop_key()
    blocks = [(k, length) for k, length in ((steps // every, every), (1, steps % every)) if k and length]
    state, outs, k0 = (c0, W0), [], 0
    with warnings.catch_warnings():  # overflow in a diverging run: reported below as one NonFiniteWarning
        warnings.simplefilter("ignore", RuntimeWarning)
        for count, length in blocks:
            loops = Loops(be, compiled)

            def block(b: Any, st: tuple, consts: tuple, length: int = length, loops: Loops = loops) -> tuple:
                kk, start, DD = consts
                st, (ls, es) = loops.scan(lambda k, s: step(k, s, kk, DD), st, start + b * length, length)
                return st, (st[0], st[1], ls[-1], es[-1])

            state, ys = scan_steps(be, block, state, count, consts=(key, xp.asarray(k0), D), compile=compiled,
                                   key=(*cache, length))
            outs.append(ys)
            k0 += count * length
    c, W = state
    zero = xp.zeros((1,), dtype=D.dtype, device=be.device)
    c_path = xp.concat([c0[None, :], *[o[0] for o in outs]], axis=0)
    ess = xp.concat([zero + 1.0, *[o[3] for o in outs]], axis=0)
    if not bool(xp.all(xp.isfinite(c_path))) or not bool(xp.all(xp.isfinite(W))):
        warnings.warn(f"ebm_mle: the units became NaN/inf: reduce dt (= {dt:g})", NonFiniteWarning, stacklevel=2)
    elif float(xp.min(ess)) * B < min(10.0, B / 2):
        warnings.warn(f"ebm_mle: the importance weights of the base draws collapsed (effective sample size"
                      f" {float(xp.min(ess)) * B:.1f} of {B}): the log-partition gradient is unreliable; increase"
                      " base_samples or use a base measure closer to the data", DegenerateWeightsWarning, stacklevel=2)
    times = [0.0] + [min(k, steps) * dt for k in range(every, steps + every, every)]
    return EBMFit(
        c=c, W=W, times=xp.asarray(times, dtype=D.dtype, device=be.device), c_path=c_path,
        W_path=xp.concat([W0[None, ...], *[o[1] for o in outs]], axis=0),
        loss=xp.concat([zero, *[o[2] for o in outs]], axis=0), ess=ess,
        regime="lazy" if lazy else "feature", base=base, base_scale=base_scale, unit=u, backend=be,
    )
