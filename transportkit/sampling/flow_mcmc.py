r"""Flow-assisted MCMC (Gabrié, Rotskoff & Vanden-Eijnden 2022, PNAS, arXiv:2105.12603): local kernel moves
alternated with independence Metropolis–Hastings
moves from a density model trained on the walkers.

Each sweep: ``local_steps`` steps of a local kernel (MALA by default, through :func:`~transportkit.sampling.mcmc.mcmc`),
then one independence move per walker, :math:`x' \sim \hat\rho`, accepted with probability

.. math:: \min\Big(1, \frac{\tilde\rho(x')\,\hat\rho(x)}{\tilde\rho(x)\,\hat\rho(x')}\Big),

which leaves the target invariant for any fixed proposal density :math:`\hat\rho`. Every ``train_every`` sweeps
the proposal is refitted by maximum likelihood on the current walkers (forward KL), so that, with walkers started
in several modes, it learns to propose jumps between them. The proposal is ``flow="gmm"`` (a Gaussian mixture fitted
by EM: exact density, any backend), or any object with ``sample(n, gen) -> (n, d)``, ``log_prob(x) -> (n,)`` and
optionally ``fit(x, gen)`` (e.g. a normalizing flow). During training the chain is adaptive; the reported
acceptance and the recorded trace after the last refit are those of a homogeneous Markov chain.

``blocks=k`` makes the proposal a product of one shared k-dimensional model over the d/k consecutive blocks of k
coordinates (:class:`BlockFlow`; fitted on the walkers' blocks pooled, n d/k points): a user-facing structural
choice for targets made of exchangeable weakly coupled blocks (ManyWell: 16 identical 2-D double wells, 2^16 modes,
for which any d-dimensional mixture fitted to n walkers misses most modes). After the sweeps the final proposal
also gives an importance-sampling estimate :math:`\log\hat Z = \log\frac1M\sum_j \tilde\rho(y_j)/\hat\rho(y_j)`,
:math:`y_j \sim \hat\rho` (unbiased in :math:`Z` for any proposal that covers the target; standard error by the
delta method; a :class:`~transportkit.errors.DegenerateWeightsWarning` when its ESS is below 1% of M or the
weights' Pareto tail shape exceeds 0.7).

Reference: M. Gabrié, G. M. Rotskoff, E. Vanden-Eijnden, "Adaptive Monte Carlo augmented with normalizing flows",
PNAS 119 (2022), arXiv:2105.12603 (code ``marylou-gabrie/flonaco``).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import warnings
from typing import Any

from .._backend import Backend
from .._capabilities import declare
from .._validation import as_choice, as_count, as_real
from ..errors import DegenerateWeightsWarning
from ..random import SEED_DEPRECATED
from ..target_core import Target
from ._common import as_density, infer_dim
from .mcmc import mcmc
from .registry import register_method
from .results import InfoRecord, Samples
from .target_samplers import is_target

__all__ = ["BlockFlow", "FlowMCMCInfo", "GaussianMixtureFlow", "Phi4Field", "flow_mcmc"]


class GaussianMixtureFlow:
    r"""A K-component full-covariance Gaussian mixture :math:`\hat\rho = \sum_k \pi_k \mathcal N(m_k, C_k)`,
    fitted by ``em_steps`` EM iterations (warm-started from the previous fit; covariances regularized by
    ``ridge`` times the mean variance). Exact ``log_prob`` and ``sample``."""

    def __init__(self, components: int = 2, *, em_steps: int = 20, ridge: float = 1e-4) -> None:
        self.K = as_count("components", components)
        self.em_steps = as_count("em_steps", em_steps)
        self.ridge = as_real("ridge", ridge, low=0.0)
        self.params: tuple[Any, Any, Any] | None = None  # (log_pi (K,), means (K, d), chol (K, d, d))

    def _log_components(self, x: Any, xp: Any) -> Any:
        log_pi, means, L = self.params  # type: ignore[misc]
        d = x.shape[1]
        Linv = xp.linalg.inv(L)  # (K, d, d)
        y = x[None, :, :] - means[:, None, :]  # (K, n, d)
        z = y @ xp.matrix_transpose(Linv)  # rows: L^{-1}(x - m)
        logdet = xp.sum(xp.log(xp.linalg.diagonal(L)), axis=1)  # (K,)
        lc = -0.5 * xp.sum(z * z, axis=2) - logdet[:, None] - 0.5 * d * math.log(2 * math.pi)
        return lc + log_pi[:, None]  # (K, n)

    def log_prob(self, x: Any) -> Any:
        from array_api_compat import array_namespace

        from ..numerics import logsumexp

        xp = array_namespace(x)
        return logsumexp(self._log_components(x, xp), axis=0, xp=xp)

    def sample(self, n: int, gen: Any) -> Any:
        xp = gen.backend.xp
        log_pi, means, L = self.params  # type: ignore[misc]
        k = gen.categorical(log_pi, (n,))
        z = gen.normal((n, means.shape[1]))
        Lk = xp.take(L, k, axis=0)  # (n, d, d)
        return xp.take(means, k, axis=0) + xp.sum(Lk * z[:, None, :], axis=2)

    def fit(self, x: Any, gen: Any) -> None:
        from ..numerics import logsumexp

        be = gen.backend
        xp = be.xp
        n, d = x.shape
        eye = xp.eye(d, dtype=x.dtype, device=be.device)
        var = xp.mean(xp.var(x, axis=0))
        if self.params is None:
            # initial means: K walkers far apart (greedy farthest-point from a random walker)
            idx = [int(be.to_numpy(gen.integers(0, n)))]
            for _ in range(1, self.K):
                dist = xp.min(xp.stack([xp.sum((x - x[i, :]) ** 2, axis=1) for i in idx], axis=0), axis=0)
                idx.append(int(be.to_numpy(xp.argmax(dist))))
            means = xp.stack([x[i, :] for i in idx], axis=0)
            L = xp.stack([xp.sqrt(var) * eye] * self.K, axis=0)
            log_pi = xp.full((self.K,), -math.log(self.K), dtype=x.dtype, device=be.device)
            self.params = (log_pi, means, L)
        for _ in range(self.em_steps):
            lc = self._log_components(x, xp)  # (K, n)
            r = xp.exp(lc - logsumexp(lc, axis=0, keepdims=True, xp=xp))
            nk = xp.sum(r, axis=1) + 1e-12  # (K,)
            means = (r @ x) / nk[:, None]
            y = x[None, :, :] - means[:, None, :]
            C = xp.matrix_transpose(y * r[:, :, None]) @ y / nk[:, None, None] + self.ridge * var * eye
            self.params = (xp.log(nk / n), means, xp.linalg.cholesky(C))


class BlockFlow:
    r"""The product :math:`\hat\rho(x) = \prod_{j=1}^{d/k} q(x_{[jk, (j+1)k)})` of one shared k-dimensional model
    ``base`` (``sample``, ``log_prob``, optionally ``fit``) over the consecutive blocks of ``block_size``
    coordinates; ``fit`` pools the blocks of all walkers."""

    def __init__(self, base: Any, block_size: int, dim: int) -> None:
        self.base = base
        self.k = as_count("blocks", block_size)
        self.dim = as_count("dim", dim)
        if self.dim % self.k:
            raise ValueError(f"blocks={self.k} does not divide the dimension {self.dim}")

    def _pooled(self, x: Any, xp: Any) -> Any:
        return xp.reshape(x, (x.shape[0] * (self.dim // self.k), self.k))

    def fit(self, x: Any, gen: Any) -> None:
        if callable(getattr(self.base, "fit", None)):
            self.base.fit(self._pooled(x, gen.backend.xp), gen)

    def log_prob(self, x: Any) -> Any:
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        return xp.sum(xp.reshape(self.base.log_prob(self._pooled(x, xp)), (x.shape[0], self.dim // self.k)), axis=1)

    def sample(self, n: int, gen: Any) -> Any:
        return gen.backend.xp.reshape(self.base.sample(n * (self.dim // self.k), gen), (n, self.dim))


class Phi4Field(Target):
    r"""The 1-D φ⁴ field of §5.7 (Gabrié, Rotskoff & Vanden-Eijnden): N sites, Dirichlet boundaries
    :math:`\phi_0 = \phi_{N+1} = 0`, grid spacing 1/N,

    .. math:: U(\phi) = \frac{aN}{2}\sum_{i=0}^{N}(\phi_{i+1} - \phi_i)^2
              + \frac{1}{aN}\sum_{i=1}^{N}\Big[\frac{(1 - \phi_i^2)^2}{4} + b\,\phi_i\Big],

    density :math:`\propto e^{-\beta U}`; two symmetric modes (φ ≈ ±1 inside) for b = 0. No closed-form log Z."""

    log_Z = None  # type: ignore[assignment]

    def __init__(self, N: int = 32, *, a: float = 0.1, b: float = 0.0, beta: float = 20.0) -> None:
        from .._backend import get_backend

        self.dim = as_count("N", N, 2)
        self.a = as_real("a", a, low=0.0, low_open=True)
        self.b = as_real("b", b)
        self.beta = as_real("beta", beta, low=0.0, low_open=True)
        self.backend = get_backend("numpy")

    def _padded(self, x: Any, xp: Any) -> Any:
        z = xp.zeros((x.shape[0], 1), dtype=x.dtype, device=getattr(x, "device", None))
        return xp.concat([z, x, z], axis=1)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        p = self._padded(x, xp)
        dphi = p[:, 1:] - p[:, :-1]
        N, a = self.dim, self.a
        U = 0.5 * a * N * xp.sum(dphi * dphi, axis=1)
        U = U + xp.sum((1 - x * x) ** 2 / 4 + self.b * x, axis=1) / (a * N)
        return -self.beta * U

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp = be.xp
        p = self._padded(x, xp)
        N, a = self.dim, self.a
        lap = p[:, 2:] - 2 * p[:, 1:-1] + p[:, :-2]
        gU = -a * N * lap + (-(1 - x * x) * x + self.b) / (a * N)
        return -self.beta * gU


@dataclasses.dataclass(frozen=True)
class FlowMCMCInfo(InfoRecord):
    """Of :func:`flow_mcmc`: ``flow_acceptance`` (mean acceptance of the independence moves after the last
    refit), ``flow_acceptance_trace`` (per sweep), ``local_acceptance`` (mean of the local kernel),
    ``step_size`` (of the local kernel), ``sweeps``, ``trace`` (per sweep ``record(x)`` stacked, shape
    (sweeps, n, ...), or None), ``flow`` (the fitted proposal, or None), ``importance_ess`` and ``pareto_k`` (of the
    importance weights of the log Z estimate, or None)."""

    flow_acceptance: float
    flow_acceptance_trace: list[float]
    local_acceptance: float
    step_size: float
    sweeps: int
    trace: Any
    flow: Any
    importance_ess: float | None = None
    pareto_k: float | None = None


def _mcmc_rng_kw() -> str:
    """``rng`` once :func:`mcmc` takes SPEC-7 ``rng=``, ``seed`` before that (it accepts a Generator either way)."""
    return "rng" if "rng" in inspect.signature(mcmc).parameters else "seed"


@declare(uses=("value_and_grad",), name="tk.sample(method='flow_mcmc')")
def flow_mcmc(
    target: Any,
    n: int,
    *,
    flow: Any = "gmm",
    components: int = 2,
    blocks: int | None = None,
    sweeps: int = 200,
    local_steps: int = 10,
    local_kernel: str = "mala",
    step_size: float | None = None,
    train_every: int = 10,
    train_until: int | None = None,
    x0: Any = None,
    record: Any = None,
    log_Z_samples: int = 0,
    backend: Any = None,
    dtype: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Samples:
    r"""Sample ``target`` with ``n`` walkers of local MCMC plus independence moves from a learned proposal
    (module docstring; Gabrié, Rotskoff & Vanden-Eijnden 2022, arXiv:2105.12603).

    Parameters
    ----------
    target
        A target (``log_prob``/``grad_log_prob``, or a pair of callables), as for the other samplers.
    n : int
        Walkers (independent chains coupled only through the shared proposal fit).
    flow : "gmm", None, or an object with ``sample(n, gen)``, ``log_prob(x)`` and optionally ``fit(x, gen)``
        The proposal; ``None`` runs the local kernel alone (the reference without flow moves).
    components : int
        Mixture components of ``flow="gmm"``.
    blocks : int, optional
        Block size k: the proposal is :class:`BlockFlow`, one shared k-dimensional ``flow`` (``"gmm"`` or an
        object) over the d/k consecutive blocks of k coordinates (module docstring). Default: one d-dimensional
        proposal.
    sweeps, local_steps : int
        Number of sweeps, and local kernel steps per sweep.
    local_kernel : {"mala", "rwm", "hmc", "ula"}
        Local kernel (see :func:`~transportkit.sampling.mcmc.mcmc`); its step size is adapted during a warm-up of
        ``local_steps * 10`` steps (``step_size`` is the initial value) and then fixed.
    train_every, train_until : int
        Refit the proposal every ``train_every`` sweeps while ``sweep < train_until`` (default ``sweeps // 2``).
    x0 : array (n, d), optional
        Initial walkers (put them in several modes: the proposal learns only the modes the walkers visit).
    record : callable ``x -> array (n, ...)``, optional
        Recorded after every sweep into ``info.trace`` (e.g. the magnetization of each walker).
    log_Z_samples : int
        Draws M from the final proposal for the importance-sampling :math:`\log\hat Z` (module docstring); 0 (the
        default) skips it, as does ``flow=None``.
    backend, dtype, rng
        As for the other samplers (``rng`` SPEC 7; ``seed=`` deprecated alias).

    Returns
    -------
    Samples
        Final walkers (unweighted: ``log_weights`` zeros), ``log_Z`` and ``log_Z_stderr`` from the final proposal
        (None unless ``log_Z_samples``), and :class:`FlowMCMCInfo`.
    """
    n = as_count("n", n)
    sweeps = as_count("sweeps", sweeps)
    local_steps = as_count("local_steps", local_steps, 0)
    local_kernel = as_choice("local_kernel", local_kernel, ("mala", "rwm", "hmc", "ula"))
    train_every = as_count("train_every", train_every)
    train_until = sweeps // 2 if train_until is None else as_count("train_until", train_until, 0)
    components = as_count("components", components)
    blocks = None if blocks is None else as_count("blocks", blocks)
    log_Z_samples = as_count("log_Z_samples", log_Z_samples, 0)
    if step_size is not None:
        step_size = as_real("step_size", step_size, low=0.0, low_open=True)
    if record is not None and not callable(record):
        raise TypeError(f"record must be callable, got {type(record).__name__}")
    if isinstance(flow, str):
        as_choice("flow", flow, ("gmm",))
        flow = GaussianMixtureFlow(components)
    elif flow is not None and not all(callable(getattr(flow, a, None)) for a in ("sample", "log_prob")):
        raise TypeError(f"flow must be 'gmm', None, or an object with sample and log_prob; got {type(flow).__name__}")
    from .options import Placement

    be, gen = Placement(backend=backend, dtype=dtype, rng=rng, seed=seed).resolve(x0)
    xp = be.xp
    density = as_density(target, be)
    dim = infer_dim(density, target, x0)
    x = gen.normal((n, dim)) * getattr(target, "base_scale", 1.0) if x0 is None else be.asarray(x0)
    if tuple(x.shape) != (n, dim):
        raise ValueError(f"x0 must have shape (n, d) = {(n, dim)}, got {tuple(x.shape)}")
    if blocks is not None and flow is not None:
        flow = BlockFlow(flow, blocks, dim)
    kw = {_mcmc_rng_kw(): gen}
    warm = mcmc(target, n, kernel=local_kernel, steps=max(10, 10 * local_steps), warmup=max(10, 10 * local_steps),
                step_size=step_size, x0=x, backend=be, **kw)  # fmt: skip
    x, h = warm.x, warm.info["step_size"]
    lp = density.log_prob(x)
    if flow is not None and hasattr(flow, "fit"):
        flow.fit(x, gen)
    flow_acc: list[float] = []
    local_acc: list[float] = []
    trace = []
    for s in range(sweeps):
        if local_steps:
            r = mcmc(target, n, kernel=local_kernel, steps=local_steps, warmup=0, step_size=h,
                     adapt_step_size=False, x0=x, backend=be, **kw)  # fmt: skip
            x = r.x
            local_acc.append(float(r.info["acceptance"]))
            lp = density.log_prob(x)
        if flow is not None:
            y = flow.sample(n, gen)
            lq_x, lq_y = flow.log_prob(x), flow.log_prob(y)
            lp_y = density.log_prob(y)
            log_alpha = lp_y - lp + lq_x - lq_y
            acc = xp.log(gen.uniform((n,), dtype=x.dtype)) < log_alpha
            x = xp.where(acc[:, None], y, x)
            lp = xp.where(acc, lp_y, lp)
            flow_acc.append(float(xp.mean(xp.astype(acc, x.dtype))))
            if hasattr(flow, "fit") and s < train_until and (s + 1) % train_every == 0:
                flow.fit(x, gen)
        if record is not None:
            trace.append(record(x))
    post = flow_acc[train_until:] or flow_acc
    info = FlowMCMCInfo(
        flow_acceptance=sum(post) / len(post) if post else math.nan,
        flow_acceptance_trace=flow_acc,
        local_acceptance=sum(local_acc) / len(local_acc) if local_acc else math.nan,
        step_size=float(h),
        sweeps=sweeps,
        trace=be.stack_steps(trace) if trace else None,
        flow=flow,
    )
    zeros = xp.zeros((n,), dtype=x.dtype, device=be.device)
    lz = se = None
    if flow is not None and log_Z_samples:
        lz, se, ess, k_hat = _importance_log_Z(flow, density, log_Z_samples, gen, be)
        info = dataclasses.replace(info, importance_ess=ess, pareto_k=k_hat)
    return Samples(x=x, log_weights=zeros, log_Z=lz, log_Z_stderr=se, ess=float(n), info=info, backend=be)


def _importance_log_Z(flow: Any, density: Any, m: int, gen: Any, be: Backend) -> tuple[float, float, float, float]:
    r""":math:`\log\hat Z = \operatorname{logmeanexp}(\log\tilde\rho(y) - \log\hat\rho(y))`, :math:`y \sim
    \hat\rho`; delta-method standard error :math:`\operatorname{sd}(w)/(\sqrt m\,\bar w)`; ESS and the Pareto
    shape of the weights' tail (Vehtari et al. 2024, arXiv:1507.02646), with a warning when they are poor."""
    from ..numerics import logsumexp
    from .ais import ESS_WARNING, PARETO_K_WARNING, pareto_k

    xp = be.xp
    y = flow.sample(m, gen)
    lw = density.log_prob(y) - flow.log_prob(y)
    lw = xp.where(xp.isnan(lw), -math.inf, lw)
    top = xp.max(lw)
    lz = float(be.to_numpy(logsumexp(lw, axis=0, xp=xp))) - math.log(m)
    w = xp.exp(lw - top)
    s1, s2 = float(be.to_numpy(xp.sum(w))), float(be.to_numpy(xp.sum(w * w)))
    ess = s1 * s1 / s2 if s2 > 0 else 0.0
    mean = s1 / m
    se = math.sqrt(max(s2 / m - mean * mean, 0.0) / m) / mean if mean > 0 else math.inf
    k_hat = pareto_k(be.to_numpy(lw))
    if ess < ESS_WARNING * m or (math.isfinite(k_hat) and k_hat > PARETO_K_WARNING):
        warnings.warn(
            f"flow_mcmc: the importance weights of the log Z estimate are degenerate (ESS {ess:.1f} of {m}, Pareto "
            f"k = {k_hat:.2f}): log Z = {lz:.4g} +- {se:.2g} is not reliable (the proposal misses part of the target)",
            DegenerateWeightsWarning,
            stacklevel=3,
        )
    return lz, se, ess, k_hat


register_method(
    "flow_mcmc",
    flow_mcmc,
    is_target,
    kind="a target (an object with log_prob/grad_log_prob, or a pair of callables)",
    summary="local MCMC moves alternated with independence Metropolis–Hastings moves from a proposal retrained on "
    "the walkers; optional importance-sampling log Z",
)
