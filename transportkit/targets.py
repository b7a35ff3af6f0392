r"""Target densities with exact log-densities, gradients and samplers.

Every target is a :class:`Target`: ``dim``, ``log_Z`` (the log normalizing constant of the density that
``log_prob`` returns; 0.0 for normalized densities), ``log_prob(x)``, ``grad_log_prob(x)`` and, where exact
sampling is possible, ``sample(n, seed)``. Inputs may be arrays of any backend; results come back on the
backend of ``x`` (NumPy in, NumPy out). Parameters are stored once on the host (float64) and moved to each
backend on first use (cached per backend, device and dtype).

This module holds the Gaussian family: :class:`Gaussian` and :class:`GaussianMixture` (full covariances,
evaluated for all points and components at once, responsibilities in log space).
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import Backend, get_backend, resolve_backend
from .numerics import logsumexp
from .random import default_rng

#: benchmark targets defined in ``_target_zoo`` and loaded on first use (see ``__getattr__`` below)
_ZOO = ("GMM40", "GMM40_MEANS", "Funnel", "ManyWell", "Phi4", "StudentTMixture")
__all__ = ["BoundTarget", "Gaussian", "GaussianMixture", "Target", *_ZOO]

_LOG_2PI = math.log(2.0 * math.pi)


class Target:
    """Base class of targets. Subclasses implement ``_log_prob(x, be)`` (and ``_grad_log_prob``, ``_sample``
    where they can); the public methods resolve the backend once and convert the input."""

    dim: int
    #: log of the normalizing constant of exp(log_prob); 0.0 for normalized densities
    log_Z: float = 0.0
    #: the backend the target's parameters were given on (default backend of ``sample``)
    backend: Backend

    def _resolve(self, x: Any, backend: Any, dtype: Any = None) -> tuple[Backend, Any]:
        be = resolve_backend(x, backend=backend, dtype=dtype)
        x = be.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}) or ({self.dim},), got {tuple(x.shape)}")
        return be, x

    def log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """log density at the rows of ``x`` (shape ``(n, d)`` -> ``(n,)``; ``(d,)`` -> scalar)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        out = self._log_prob(x[None, :] if single else x, be)
        return out[0] if single else out

    def grad_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """Gradient of ``log_prob`` with respect to ``x`` (same shape as ``x``)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        out = self._grad_log_prob(x[None, :] if single else x, be)
        return out[0] if single else out

    def sample(self, n: int, seed: Any = None, *, backend: Any = None, dtype: Any = None, device: Any = None) -> Any:
        """``n`` exact samples, shape ``(n, d)``; ``seed`` is an int, ``None`` or a
        :class:`transportkit.random.Generator` (whose backend is then used unless ``backend`` is given)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if backend is None and hasattr(seed, "backend") and hasattr(seed, "normal"):
            backend = seed.backend
        be = get_backend(self.backend if backend is None else backend, device=device, dtype=dtype)
        gen = default_rng(seed, be)
        if gen.backend is not be:
            raise ValueError(f"the generator's backend {gen.backend!r} differs from backend={be!r}")
        return self._sample(n, gen, be)

    def bind(self, backend: Any) -> BoundTarget:
        """This target on one backend: a :class:`BoundTarget` whose methods take (n, d) arrays of that backend and
        do no resolution, validation or host sync (what the samplers call inside their loops)."""
        be = get_backend(backend)
        self._prepare(be)
        return BoundTarget(self, be)

    # -- to implement -------------------------------------------------------------------------------
    def _prepare(self, be: Backend) -> None:
        """Move the parameters to ``be`` (called by :meth:`bind`, outside any compiled program)."""

    def _log_prob(self, x: Any, be: Backend) -> Any:
        raise NotImplementedError

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        vg = be.require("value_and_grad")
        return vg(lambda y: be.xp.sum(self._log_prob(y, be)))(x)[1]

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no exact sampler")


class BoundTarget:
    """A :class:`Target` bound to a backend by :meth:`Target.bind`: ``log_prob(x)``, ``grad_log_prob(x)``,
    ``value_and_grad(x)`` and ``laplacian_log_prob(x)`` on arrays ``x`` of shape (n, d) of that backend, with no
    resolution, validation or host sync per call."""

    def __init__(self, target: Target, be: Backend):
        self.target, self.backend, self.dim = target, be, target.dim
        self.log_Z = target.log_Z

    def log_prob(self, x: Any) -> Any:
        """:math:`\\log\\tilde\\rho` at the rows of ``x`` (n, d) -> (n,)."""
        return self.target._log_prob(x, self.backend)

    def grad_log_prob(self, x: Any) -> Any:
        """:math:`\\nabla\\log\\tilde\\rho` at the rows of ``x`` (n, d) -> (n, d)."""
        return self.target._grad_log_prob(x, self.backend)

    def value_and_grad(self, x: Any) -> tuple[Any, Any]:
        """``(log_prob(x), grad_log_prob(x))``."""
        return self.log_prob(x), self.grad_log_prob(x)

    def laplacian_log_prob(self, x: Any) -> Any:
        """The target's Laplacian of the log-density (``NotImplementedError`` where it has none)."""
        lap = getattr(self.target, "_laplacian_log_prob", None)
        if lap is None:
            raise NotImplementedError(f"{type(self.target).__name__} has no laplacian_log_prob")
        return lap(x, self.backend)

    def __repr__(self) -> str:
        return f"BoundTarget({self.target!r}, backend={self.backend.name!r})"


# ---------------------------------------------------------------------------------------------- Gaussians
def gaussian_terms(x: Any, means: Any, whiten: Any, logdet: Any, xp: Any) -> tuple[Any, Any]:
    r"""Per-component Gaussian terms, batched over points and components without a Python loop.

    ``x`` (n, d); ``means`` (K, d) (or (K, n, d)); ``whiten`` :math:`W_k = L_k^{-1}` (K, d, d) with
    :math:`\Sigma_k = L_k L_k^T`; ``logdet`` (K,). Returns ``log N(x; m_k, Sigma_k)`` of shape (K, n) and
    :math:`g_k = \Sigma_k^{-1}(x - m_k)` of shape (K, n, d).
    """
    diff = x[None, :, :] - (means[:, None, :] if means.ndim == 2 else means)
    y = diff @ xp.linalg.matrix_transpose(whiten)  # (K, n, d): L^{-1}(x - m)
    g = y @ whiten  # (K, n, d): L^{-T} L^{-1} (x - m)
    const = -0.5 * logdet - 0.5 * x.shape[-1] * _LOG_2PI  # (K,): folded before broadcasting to (K, n)
    logn = -0.5 * xp.vecdot(y, y) + const[:, None]  # vecdot: a fused last-axis reduction
    return logn, g


def _as_covs(covs: Any, k: int, d: int, xp: Any) -> Any:
    """(K, d, d) full, (K, d) diagonal, (K,) isotropic, or a scalar -> (K, d, d)."""
    eye = xp.eye(d, dtype=xp.float64)
    if covs.ndim == 0:
        return xp.asarray(xp.broadcast_to(covs * eye, (k, d, d)), copy=True)
    if covs.ndim == 1 and covs.shape[0] == k:
        return covs[:, None, None] * eye
    if covs.ndim == 2 and covs.shape == (k, d):
        return covs[:, :, None] * eye
    if covs.ndim == 3 and covs.shape == (k, d, d):
        return covs
    raise ValueError(
        f"covariances must have shape ({k}, {d}, {d}), ({k}, {d}), ({k},) or be a scalar, got {tuple(covs.shape)}"
    )


class GaussianMixture(Target):
    r"""A Gaussian mixture :math:`\rho(x) = \sum_k w_k N(x; m_k, C_k)` (normalized: ``log_Z = 0``).

    ``weights`` (K,) non-negative (normalized here), ``means`` (K, d), ``covs`` (K, d, d) full covariances
    (also (K, d) diagonals, (K,) or a scalar: isotropic). Arrays of any backend.

    .. math:: \log\rho(x) = \operatorname{logsumexp}_k[\log w_k + \log N(x; m_k, C_k)], \quad
              \nabla\log\rho(x) = -\sum_k r_k(x)\, C_k^{-1}(x - m_k),

    with responsibilities :math:`r_k = \mathrm{softmax}_k(\log w_k + \log N(x; m_k, C_k))` computed in log space.
    """

    def __init__(self, weights: Any, means: Any, covs: Any):
        src = resolve_backend(weights, means, covs)
        self.backend = get_backend(src.name, device=src.device)
        host = get_backend("numpy")
        xp = host.xp
        w = xp.asarray(host.asarray(src.to_numpy(src.asarray(weights))), dtype=xp.float64)
        m = xp.asarray(host.asarray(src.to_numpy(src.asarray(means))), dtype=xp.float64)
        c = xp.asarray(host.asarray(src.to_numpy(src.asarray(covs))), dtype=xp.float64)
        if m.ndim != 2:
            raise ValueError(f"means must have shape (K, d), got {tuple(m.shape)}")
        k, d = m.shape
        if w.shape != (k,):
            raise ValueError(f"weights must have shape ({k},) to match means {tuple(m.shape)}, got {tuple(w.shape)}")
        for name, v in (("weights", w), ("means", m), ("covs", c)):
            if not bool(xp.all(xp.isfinite(v))):
                raise ValueError(f"{name} contain NaN or inf")
        if bool(xp.any(w < 0)) or float(xp.sum(w)) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {w}")
        c = _as_covs(c, k, d, xp)
        if not bool(xp.all(xp.abs(c - xp.linalg.matrix_transpose(c)) <= 1e-10 * (1 + xp.abs(c)))):
            raise ValueError("covariances must be symmetric")
        c = 0.5 * (c + xp.linalg.matrix_transpose(c))
        try:
            chol = xp.linalg.cholesky(c)
        except Exception:
            chol = None
        if chol is None or not bool(xp.all(xp.isfinite(chol))) or not bool(xp.all(xp.linalg.diagonal(chol) > 0)):
            raise ValueError("every covariance must be positive definite")
        w = w / xp.sum(w)
        self.dim = int(d)
        self.n_components = int(k)
        self._host = {
            "log_w": xp.where(w > 0, xp.log(xp.where(w > 0, w, 1.0)), -math.inf),
            "w": w,
            "means": m,
            "covs": c,
            "chol": chol,
            "whiten": xp.linalg.inv(chol),
            "logdet": 2.0 * xp.sum(xp.log(xp.linalg.diagonal(chol)), axis=-1),
        }
        self._cache: dict[tuple, dict[str, Any]] = {}

    # -- parameters on a backend ------------------------------------------------------------------------
    def params(self, be: Backend) -> dict[str, Any]:
        """The parameters (``log_w, w, means, covs, chol, whiten, logdet``) on backend ``be`` (cached)."""
        key = (be.name, str(be.device), str(be.dtype))
        p = self._cache.get(key)
        if p is None:
            p = self._cache[key] = {k: be.asarray(v) for k, v in self._host.items()}
        return p

    def _prepare(self, be: Backend) -> None:
        self.params(be)

    @property
    def weights(self) -> Any:
        return self.params(self.backend)["w"]

    @property
    def means(self) -> Any:
        return self.params(self.backend)["means"]

    @property
    def covs(self) -> Any:
        return self.params(self.backend)["covs"]

    def mean(self, *, backend: Any = None) -> Any:
        r"""Mixture mean :math:`\sum_k w_k m_k`."""
        p = self.params(get_backend(backend or self.backend))
        return p["w"] @ p["means"]

    def covariance(self, *, backend: Any = None) -> Any:
        r"""Mixture covariance :math:`\sum_k w_k (C_k + m_k m_k^T) - \bar m \bar m^T`."""
        be = get_backend(backend or self.backend)
        xp, p = be.xp, self.params(be)
        mbar = p["w"] @ p["means"]
        second = p["covs"] + p["means"][:, :, None] * p["means"][:, None, :]
        return xp.sum(p["w"][:, None, None] * second, axis=0) - mbar[:, None] * mbar[None, :]

    # -- density ------------------------------------------------------------------------------------------
    def component_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """``log w_k + log N(x; m_k, C_k)``, shape (K, n)."""
        be, x = self._resolve(x, backend)
        p = self.params(be)
        logn, _ = gaussian_terms(x, p["means"], p["whiten"], p["logdet"], be.xp)
        return p["log_w"][:, None] + logn

    def responsibilities(self, x: Any, *, backend: Any = None) -> Any:
        """Posterior component probabilities :math:`r_k(x)`, shape (K, n), computed in log space."""
        be, _ = self._resolve(x, backend)
        lc = self.component_log_prob(x, backend=be)
        return be.xp.exp(lc - logsumexp(lc, axis=0, keepdims=True, xp=be.xp))

    def _log_prob(self, x: Any, be: Backend) -> Any:
        p = self.params(be)
        logn, _ = gaussian_terms(x, p["means"], p["whiten"], p["logdet"], be.xp)
        return logsumexp(p["log_w"][:, None] + logn, axis=0, xp=be.xp)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp, p = be.xp, self.params(be)
        logn, g = gaussian_terms(x, p["means"], p["whiten"], p["logdet"], xp)
        lc = p["log_w"][:, None] + logn
        r = xp.exp(lc - logsumexp(lc, axis=0, keepdims=True, xp=xp))
        return -xp.sum(r[:, :, None] * g, axis=0)

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        xp, p = be.xp, self.params(be)
        k = self.n_components
        if k == 1:
            z = gen.normal((n, self.dim))
            return p["means"][0, ...] + z @ xp.linalg.matrix_transpose(p["chol"][0, ...])
        idx = gen.categorical(p["log_w"], (n,))
        z = gen.normal((n, self.dim))
        y = z[None, :, :] @ xp.linalg.matrix_transpose(p["chol"]) + p["means"][:, None, :]  # (K, n, d)
        ks = xp.arange(k, dtype=idx.dtype, device=be.device)
        mask = xp.astype(ks[:, None] == idx[None, :], y.dtype)
        return xp.sum(mask[:, :, None] * y, axis=0)

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"


class Gaussian(GaussianMixture):
    r"""A Gaussian :math:`N(m, C)`: ``mean`` (d,), ``cov`` (d, d), a diagonal (d,) or a scalar (isotropic).

    ``Gaussian.standard(d)`` is :math:`N(0, I_d)`. A one-component :class:`GaussianMixture`.
    """

    def __init__(self, mean: Any, cov: Any = 1.0):
        src = resolve_backend(mean, cov)
        host = get_backend("numpy")
        xp = host.xp
        m = xp.asarray(host.asarray(src.to_numpy(src.asarray(mean))), dtype=xp.float64)
        c = xp.asarray(host.asarray(src.to_numpy(src.asarray(cov))), dtype=xp.float64)
        if m.ndim != 1:
            raise ValueError(f"mean must have shape (d,), got {tuple(m.shape)}")
        d = m.shape[0]
        if c.ndim == 1 and c.shape != (d,):
            raise ValueError(f"a diagonal covariance must have shape ({d},), got {tuple(c.shape)}")
        if c.ndim == 1:
            c = c[None, :]
        elif c.ndim == 2:
            if c.shape != (d, d):
                raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(c.shape)}")
            c = c[None, :, :]
        elif c.ndim != 0:
            raise ValueError(f"cov must be a scalar, (d,) or (d, d), got shape {tuple(c.shape)}")
        super().__init__(xp.ones((1,), dtype=xp.float64), m[None, :], c)
        self.backend = get_backend(src.name, device=src.device)

    @classmethod
    def standard(cls, d: int) -> Gaussian:
        """:math:`N(0, I_d)`."""
        if not isinstance(d, int) or d < 1:
            raise ValueError(f"dimension must be a positive integer, got {d!r}")
        xp = get_backend("numpy").xp
        return cls(xp.zeros((d,), dtype=xp.float64), 1.0)

    @property
    def mean_vector(self) -> Any:
        return self.params(self.backend)["means"][0, ...]

    @property
    def cov(self) -> Any:
        return self.params(self.backend)["covs"][0, ...]

    def __repr__(self) -> str:
        return f"Gaussian(dim={self.dim})"


def __getattr__(name: str) -> Any:
    """The benchmark targets live in ``_target_zoo`` (they subclass :class:`Target`): loaded on first use."""
    if name in _ZOO:
        from . import _target_zoo

        return getattr(_target_zoo, name)
    raise AttributeError(f"module 'transportkit.targets' has no attribute {name!r}")
