r"""The Gaussian family of targets: :class:`Gaussian` and :class:`GaussianMixture` (full covariances, evaluated for
all points and components at once, responsibilities in log space), and :func:`gaussian_terms`."""

from __future__ import annotations

import math
from typing import Any

from ._backend import Backend, get_backend, resolve_backend
from .numerics import logsumexp
from .target_base import Target

__all__ = ["Gaussian", "GaussianMixture", "gaussian_terms"]

_LOG_2PI = math.log(2.0 * math.pi)


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
