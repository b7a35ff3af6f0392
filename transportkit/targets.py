r"""Target densities with exact log-densities, gradients and samplers.

Every target is a :class:`Target`: ``dim``, ``log_Z`` (the log normalizing constant of the density that
``log_prob`` returns; 0.0 for normalized densities), ``log_prob(x)``, ``grad_log_prob(x)`` and, where exact
sampling is possible, ``sample(n, rng=None)``. Inputs may be arrays of any backend; results come back on the
backend of ``x`` (NumPy in, NumPy out). Parameters are stored once on the host (float64) and moved to each
backend on first use (cached per backend, device and dtype).

This module is the public face: the base class (:mod:`transportkit.target_core`), targets from callables
(:mod:`transportkit.callable_target`), the Gaussian family (:mod:`transportkit.gaussians`) and the benchmark targets
(:mod:`transportkit._target_zoo`, :mod:`transportkit.lattice_targets`), each module importing only the floors below
it (no import circle); and the normalizer :func:`as_target` with :func:`from_log_prob`: a target from a log-density
callable, an object with ``log_prob``, a ``(log_prob, grad)`` pair or a frozen
``scipy.stats`` distribution.
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import get_backend
from ._target_zoo import GMM40, GMM40_MEANS, Funnel, ManyWell, StudentTMixture
from ._validation import as_count
from .callable_target import CallableTarget, from_log_prob, gradient_free
from .gaussians import Gaussian, GaussianMixture, _as_covs, gaussian_terms
from .highdim_targets import CurieWeiss, GaussianRandomField, SymmetricMixture
from .lattice_targets import Phi4
from .target_core import BoundTarget, Target, is_traced

__all__ = [
    "GMM40",
    "GMM40_MEANS",
    "BoundTarget",
    "CallableTarget",
    "CurieWeiss",
    "Funnel",
    "Gaussian",
    "GaussianMixture",
    "GaussianRandomField",
    "ManyWell",
    "Phi4",
    "StudentTMixture",
    "SymmetricMixture",
    "Target",
    "_as_covs",
    "as_target",
    "from_log_prob",
    "gaussian_terms",
    "gradient_free",
    "is_traced",
]


def _is_scipy_frozen(obj: Any) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("scipy.stats") and callable(getattr(obj, "logpdf", None))


def _scipy_target(obj: Any, dim: int | None) -> Target:
    """A frozen ``scipy.stats`` distribution as a target: ``multivariate_normal`` becomes an exact
    :class:`~transportkit.gaussians.Gaussian` (gradients, every backend); any other continuous distribution is
    evaluated by its ``logpdf`` on the host (NumPy backend; dimension from ``.dim``, the mean, or 1 for
    univariate distributions)."""
    host = get_backend("numpy")
    tname = type(obj).__name__
    if tname == "multivariate_normal_frozen":
        g = Gaussian(host.asarray(obj.mean, "float64"), host.asarray(obj.cov, "float64"))
        if dim is not None and dim != g.dim:
            raise ValueError(f"the distribution has dimension {g.dim}, but dim={dim} was given")
        return g
    univariate = hasattr(obj, "dist") and hasattr(obj, "args")  # rv_continuous_frozen
    if univariate:
        if not callable(getattr(obj, "pdf", None)):
            raise TypeError(f"scipy.stats distribution {obj.dist.name} is not continuous (it has no logpdf)")
        d = 1

        def logpdf(x: Any) -> Any:
            return obj.logpdf(x[:, 0])

    else:
        d = getattr(obj, "dim", None)
        if d is None:
            mean = getattr(obj, "mean", None)
            mean = mean() if callable(mean) else mean
            d = None if mean is None else math.prod(host.asarray(mean).shape)
        if d is None:
            d = dim
        logpdf = obj.logpdf
    if d is None:
        raise ValueError(f"cannot tell the dimension of {tname}: pass dim=")
    if dim is not None and dim != d:
        raise ValueError(f"the distribution has dimension {d}, but dim={dim} was given")
    name = getattr(getattr(obj, "dist", None), "name", tname)
    return CallableTarget(logpdf, dim=d, backend="numpy", name=f"scipy.stats.{name}", host=True, source=obj)


def as_target(obj: Any, *, dim: Any = None, x0: Any = None, backend: Any = None, base: Any = None) -> Target:
    """Any sensible description of a log-density as a :class:`Target`.

    Accepted: a :class:`Target` (returned as is); an object with ``log_prob`` (and optionally ``grad_log_prob``,
    ``laplacian_log_prob``, ``dim``, ``log_Z``, ``base_scale``); a pair ``(log_prob, grad_log_prob)`` of callables;
    a bare log-density callable (see :func:`from_log_prob`); a frozen ``scipy.stats`` distribution
    (``multivariate_normal(...)`` becomes an exact :class:`~transportkit.gaussians.Gaussian`; others are
    evaluated by ``logpdf`` on the host). The dimension comes from ``dim``, the object, ``x0`` (its last axis) or
    ``base`` (its ``dim``), in this order; ``backend`` is the library a callable is written for (default: detected
    by a probe call once the dimension is known).
    """
    src = "dim="
    if dim is not None:
        dim = as_count("dim", dim)
    elif x0 is not None and getattr(x0, "shape", None) is not None and len(x0.shape) >= 1:
        dim, src = as_count("x0.shape[-1]", x0.shape[-1]), "x0 (its last axis)"
    elif base is not None and getattr(base, "dim", None) is not None:
        dim, src = as_count("base.dim", base.dim), "the base (base=, base_mean=)"
    if isinstance(obj, Target):
        if isinstance(obj, CallableTarget) and obj.dim is None and dim is not None:
            return obj.with_dim(dim)
        if dim is not None and getattr(obj, "dim", None) is not None and obj.dim != dim:
            raise ValueError(f"the target has dimension {obj.dim}, but {src} gives dimension {dim}")
        return obj
    if _is_scipy_frozen(obj):
        return _scipy_target(obj, dim)
    if isinstance(obj, (tuple, list)):
        if len(obj) == 2 and all(callable(f) for f in obj):
            return CallableTarget(obj[0], dim=dim, grad=obj[1], backend=backend, name=_fn_name(obj[0]))
        raise TypeError(
            "a target given as a sequence must be a pair (log_prob, grad_log_prob) of callables; "
            f"got a {type(obj).__name__} of length {len(obj)}"
        )
    lp = getattr(obj, "log_prob", None)
    if callable(lp) and not isinstance(obj, type):
        own = getattr(obj, "dim", None)
        if own is not None:
            own = as_count(f"{type(obj).__name__}.dim", own)
            if dim is not None and own != dim:
                raise ValueError(f"the target has dimension {own}, but {src} gives dimension {dim}")
            dim = own
        gr = getattr(obj, "grad_log_prob", None)
        lap = getattr(obj, "laplacian_log_prob", None)
        t = CallableTarget(
            lp, dim=dim, grad=gr if callable(gr) else None, backend=backend, log_Z=getattr(obj, "log_Z", None),
            name=type(obj).__name__, laplacian=lap if callable(lap) else None, source=obj, probe=False,
        )  # fmt: skip
        return t
    if callable(obj):
        return CallableTarget(obj, dim=dim, backend=backend, name=_fn_name(obj))
    raise TypeError(
        "a target must be a tk.targets.Target, an object with a log_prob method, a pair (log_prob, grad_log_prob), "
        f"a log-density callable or a frozen scipy.stats distribution; got {type(obj).__name__}"
    )


def _fn_name(f: Any) -> str:
    return getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__
