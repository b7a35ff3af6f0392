"""Works from sampler results: the bridge from AIS/SMC/NETS ``Samples`` to the free-energy estimators."""

from __future__ import annotations

from typing import Any

from .._backend import resolve_backend
from .diagnostics import Array, FreeEnergyEstimate
from .exp_bar import bar, exp

__all__ = ["from_samples", "works_from_samples"]


def works_from_samples(samples: Any, *, backend: Any = None) -> Array:
    r"""Works from a ``Samples``-like result (duck-typed).

    ``samples.info["works"]`` when present, else :math:`W = -A` from the log-weights ``samples.log_weights``
    (AIS/SMC/NETS: :math:`E[e^{A}] = Z_1/Z_0`, so :math:`\Delta F = -\log\,\text{mean}\, e^{A}` is
    :func:`~transportkit.free_energy.exp` of :math:`W = -A`). A plain array is taken as works. With resampling
    (SMC), use ``info["works"]`` or the ``log_Z`` of the sampler instead.

    Parameters
    ----------
    samples : Samples-like or array
        A result with ``info["works"]`` or ``log_weights``, or an array of works.
    backend : str or Backend, optional
        The backend (default: that of the arrays).

    Returns
    -------
    array
        The works, on the caller's backend.
    """
    info = getattr(samples, "info", None)
    if isinstance(info, dict) and info.get("works") is not None:
        w = info["works"]
    elif hasattr(samples, "log_weights"):
        lw = samples.log_weights
        if lw is None:
            raise ValueError("samples has neither info['works'] nor log_weights")
        be = resolve_backend(lw, backend=backend)
        return -be.asarray(lw, be.dtype)
    elif hasattr(samples, "shape"):
        w = samples
    else:
        raise TypeError(f"cannot get works from {type(samples).__name__}: need info['works'] or log_weights")
    be = resolve_backend(w, backend=backend)
    return be.asarray(w, be.dtype)


def from_samples(samples: Any, reverse: Any = None, **kwargs: Any) -> FreeEnergyEstimate:
    """EXP of :func:`works_from_samples` (or BAR when a second, reverse ``Samples``-like is given).

    Parameters
    ----------
    samples : Samples-like or array
        Forward works' source.
    reverse : Samples-like or array, optional
        Reverse works' source (then BAR).
    **kwargs
        Passed to :func:`~transportkit.free_energy.exp` or :func:`~transportkit.free_energy.bar`.

    Returns
    -------
    FreeEnergyEstimate
    """
    wf = works_from_samples(samples)
    if reverse is None:
        return exp(wf, **kwargs)
    return bar(wf, works_from_samples(reverse), **kwargs)
