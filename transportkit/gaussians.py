r"""The Gaussian family of targets: :class:`Gaussian` and :class:`GaussianMixture` (full covariances, evaluated for
all points and components at once, responsibilities in log space), and :func:`gaussian_terms`."""

from __future__ import annotations

import math
import warnings
from typing import Any

from ._backend import Backend, get_backend, resolve_backend
from ._typing import Array
from ._validation import as_count, as_points
from .numerics import logsumexp
from .target_core import Target, is_traced

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


def _host_param(name: str, v: Any, src: Backend, host: Backend, ndim: Any, shape: str = "") -> Any:
    """A parameter as a finite, real float64 host array of rank ``ndim`` (complex, bool, object, NaN/inf and
    empty input refused with an error naming ``name``)."""
    try:
        a = src.to_numpy(src.asarray(v))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real floating array: {err}") from err
    try:
        return as_points(name, a, host, ndim=ndim, dtype="float64")
    except ValueError as err:
        if shape and "-D array" in str(err):
            raise ValueError(f"{name} must have shape {shape}, got {tuple(a.shape)}") from None
        raise


def _as_covs(covs: Any, k: int, d: int, xp: Any) -> Array:
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


def _whitened(x: Any, p: dict[str, Any], xp: Any) -> tuple[Any, Any]:
    """``(u, c)`` with :math:`u_k = L_k^{-1}x` (K, n, d) and :math:`c_k = L_k^{-1}m_k` (K, d), so that
    :math:`y_k = L_k^{-1}(x - m_k) = u_k - c_k` and differences :math:`y_k - y_j` between components of equal
    covariance are exactly :math:`c_j - c_k` (no cancellation against a huge x)."""
    u = x[None, :, :] @ xp.linalg.matrix_transpose(p["whiten"])
    c = xp.sum(p["whiten"] * p["means"][:, None, :], axis=-1)
    return u, c


def _responsibilities(x: Any, u: Any, c: Any, log_w: Any, logdet: Any, xp: Any) -> Any:
    r"""Responsibilities :math:`r_k(x) = \mathrm{softmax}_k[\log w_k - \tfrac12\log\det C_k - \tfrac12 q_k]`,
    :math:`q_k = |y_k|^2`, :math:`y_k = L_k^{-1}(x - m_k) = u_k - c_k` (``x`` (n, d); ``u`` (K, n, d), ``c`` (K, d) from
    :func:`_whitened`; result (K, n)).

    Computed relative to a reference component :math:`j` (the least :math:`q`): the softmax only needs
    :math:`q_k - q_j = (y_k - y_j)\cdot(y_k + y_j)` with
    :math:`y_k - y_j = (u_k - u_j) - (c_k - c_j)`, which stays finite (and accurate) where :math:`q_k` itself
    overflows, so points ~1e154 widths away and beyond get the dominant component's responsibility 1 instead of
    0/0 = NaN from all-underflowing densities."""
    k, n = u.shape[0], u.shape[1]
    y = u - c[:, None, :]
    fmax = float(xp.finfo(y.dtype).max)
    # the reference: least |y_k|^2, compared after dividing each point's y by max(1, max_i |x_i|) (so that the
    # squares of points far beyond the float range do not overflow, and those of ordinary points are untouched);
    # zero-weight components are never the reference
    scale = xp.maximum(xp.max(xp.abs(x), axis=-1), 1.0)  # (n,)
    ys = y / scale[None, :, None]
    key = xp.where(log_w[:, None] > -math.inf, xp.vecdot(ys, ys), math.inf)
    ref = xp.argmin(key, axis=0)  # (n,)
    rows = ref * n + xp.arange(n, dtype=ref.dtype, device=getattr(u, "device", None))
    u_ref = xp.take(xp.reshape(u, (k * n, u.shape[2])), rows, axis=0)  # (n, d)
    c_ref = xp.take(c, ref, axis=0)  # (n, d)
    ys_ref = (u_ref - c_ref) / scale[:, None]
    # q_k - q_ref = (y_k - y_ref).(y_k + y_ref), the sum taken scaled (it may overflow where y_k - y_ref is 0)
    diff = (u - u_ref[None, ...]) - (c[:, None, :] - c_ref[None, ...])
    dq = xp.vecdot(diff, ys + ys_ref[None, ...]) * scale[None, :]
    dq = xp.where(xp.isnan(dq), math.inf, xp.maximum(dq, -0.25 * fmax))  # undetermined: ignored; -inf: clamped
    rel = log_w[:, None] - 0.5 * logdet[:, None] - 0.5 * dq
    return xp.exp(rel - logsumexp(rel, axis=0, keepdims=True, xp=xp))


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
        w = _host_param("weights", weights, src, host, 1)
        m = _host_param("means", means, src, host, 2, "(K, d)")
        c = _host_param("covs", covs, src, host, (0, 1, 2, 3))
        k, d = m.shape
        if w.shape != (k,):
            raise ValueError(f"weights must have shape ({k},) to match means {tuple(m.shape)}, got {tuple(w.shape)}")
        if bool(xp.any(w < 0)) or not float(xp.sum(w)) > 0:
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
            p = {k: be.asarray(v) for k, v in self._host.items()}
            if not is_traced(*p.values()):  # converted under a JAX trace: tracers, never cached
                self._cache[key] = p
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
        """Posterior component probabilities :math:`r_k(x)`, shape (K, n), computed in log space (far from every
        component, where all of them underflow, the nearest one in Mahalanobis distance has responsibility 1)."""
        be, x = self._resolve(x, backend)
        p = self.params(be)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflowing quadratic forms are handled
            return _responsibilities(x, *_whitened(x, p, be.xp), p["log_w"], p["logdet"], be.xp)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        p = self.params(be)
        logn, _ = gaussian_terms(x, p["means"], p["whiten"], p["logdet"], be.xp)
        return logsumexp(p["log_w"][:, None] + logn, axis=0, xp=be.xp)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp, p = be.xp, self.params(be)
        if self.n_components == 1:  # -C^{-1}(x - m): no responsibilities to underflow
            _, g = gaussian_terms(x, p["means"], p["whiten"], p["logdet"], xp)
            return -g[0, ...]
        u, c = _whitened(x, p, xp)
        g = (u - c[:, None, :]) @ p["whiten"]  # (K, n, d): C_k^{-1}(x - m_k)
        r = _responsibilities(x, u, c, p["log_w"], p["logdet"], xp)[:, :, None]
        # components with r = 0 contribute exactly 0, even where their g_k overflowed (0 * inf would be NaN)
        return -xp.sum(xp.where(r > 0, r * g, 0.0), axis=0)

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
        m = _host_param("mean", mean, src, host, 1, "(d,)")
        c = _host_param("cov", cov, src, host, (0, 1, 2))
        d = m.shape[0]
        if c.ndim == 1 and c.shape != (d,):
            raise ValueError(f"a diagonal covariance must have shape ({d},), got {tuple(c.shape)}")
        if c.ndim == 1:
            c = c[None, :]
        elif c.ndim == 2:
            if c.shape != (d, d):
                raise ValueError(f"cov must have shape ({d}, {d}), got {tuple(c.shape)}")
            c = c[None, :, :]
        super().__init__(xp.ones((1,), dtype=xp.float64), m[None, :], c)
        self.backend = get_backend(src.name, device=src.device)

    @classmethod
    def standard(cls, d: int) -> Gaussian:
        """:math:`N(0, I_d)`."""
        d = as_count("d", d)
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
