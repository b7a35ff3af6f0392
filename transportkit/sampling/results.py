"""Typed sampler results: :class:`Samples` and the per-method ``info`` records (frozen dataclasses that also read as
mappings, so that ``r.info["acceptance"]`` and ``r.info.acceptance`` both work)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

from .._results import Result, fields_repr

__all__ = ["AISInfo", "InfoRecord", "MCMCRunInfo", "Samples"]


@dataclasses.dataclass(frozen=True)
class InfoRecord(Mapping):
    """Base of the typed ``info`` records: a frozen dataclass that is also a read-only mapping of its fields."""

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))

    def __repr__(self) -> str:
        """Short: arrays by shape, traces by length (see :func:`transportkit._results.summarize`)."""
        return fields_repr(type(self).__name__, ((k, getattr(self, k)) for k in self._names()))

    def converted(self, convert: Any) -> InfoRecord:
        """A copy with ``convert`` applied to every field (used by :meth:`Samples.to_numpy`)."""
        return dataclasses.replace(self, **{k: convert(getattr(self, k)) for k in self._names()})


@dataclasses.dataclass(frozen=True, repr=False)
class MCMCRunInfo(InfoRecord):
    """Diagnostics of :func:`~transportkit.sampling.mcmc.mcmc`: ``kernel``; ``acceptance`` (mean acceptance
    probability after warm-up); ``acceptance_trace`` (per step, a list); ``step_size`` (final); ``steps``;
    ``warmup``; ``trace`` ((kept, n, d) thinned post-warm-up states, or None); ``n_nonfinite`` (proposals rejected
    because the target returned NaN/+inf there)."""

    kernel: str
    acceptance: float
    acceptance_trace: list[float]
    step_size: float
    steps: int
    warmup: int
    trace: Any = None
    n_nonfinite: int = 0


@dataclasses.dataclass(frozen=True, repr=False)
class AISInfo(InfoRecord):
    """Diagnostics of :func:`~transportkit.sampling.ais.ais` / ``smc``: ``times`` (the temperatures, from 0 to 1);
    ``ess_trace`` (ESS/n after each reweighting); ``acceptance`` (mean) and ``acceptance_trace``; ``step_size``
    (final) and ``step_size_trace``; ``n_resample`` (resampling events); ``steps``; ``kernel``; ``ess_relative``;
    ``target_evaluations``; with resampling ``islands``, ``log_Z_epochs`` (one island) or ``log_Z_islands``
    (several); with ``return_works`` the per-walker ``works``; ``n_moves`` (MCMC moves per annealing step),
    ``n_nonfinite`` (NaN/+inf target values met and rejected), ``pareto_k`` (tail shape of the final weights) and
    ``pilot`` (the base a pilot run chose, or None); with several islands ``island_info``, each island's own record
    (the traces above are then the islands' means, ``n_moves`` their maxima per step, where their grids agree)."""

    times: list[float]
    ess_trace: list[float]
    acceptance: float | None
    acceptance_trace: list[float]
    step_size: float
    step_size_trace: list[float]
    n_resample: int
    steps: int
    kernel: str
    ess_relative: float
    target_evaluations: int
    islands: int | None = None
    log_Z_epochs: list[float] | None = None
    log_Z_islands: list[float] | None = None
    works: Any = None
    n_moves: list[int] | None = None
    n_nonfinite: int = 0
    pareto_k: float | None = None
    pilot: dict | None = None
    island_info: list | None = None


@dataclasses.dataclass
class Samples(Result):
    """Samples and, for weighted methods, their log-weights and normalizing-constant estimate.

    - ``x``: samples, shape (n, d) (with ``return_path``: ``info["path"]`` holds (steps+1, n, d));
    - ``log_weights``: importance log-weights (n,) or ``None`` (unweighted samples);
    - ``log_Z``, ``log_Z_stderr``: estimate of the log normalizing constant and its standard error, or ``None``;
    - ``ess``: effective sample size, or ``None``;
    - ``info``: method-specific diagnostics (a typed :class:`InfoRecord`, or a dict).
    """

    x: Any
    log_weights: Any = None
    log_Z: float | None = None
    log_Z_stderr: float | None = None
    ess: float | None = None
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        """Short (arrays by shape and dtype, traces in ``info`` by length): a 1000-walker run prints in a few
        lines. The fields themselves hold everything."""
        names = ("x", "log_weights", "log_Z", "log_Z_stderr", "ess")
        head = fields_repr("Samples", ((k, getattr(self, k)) for k in names))[:-1]
        info = self.info
        text = repr(info) if isinstance(info, InfoRecord) else fields_repr("info", dict(info).items())[4:]
        return f"{head}, info={text})"

    def to_numpy(self) -> Samples:
        """A copy with every array (also inside ``info``) as a NumPy array."""
        be = self.backend
        out = super().to_numpy()
        if be is not None and isinstance(self.info, InfoRecord):
            from .._results import _convert

            out = dataclasses.replace(out, info=self.info.converted(lambda v: _convert(v, be)))
        return out  # type: ignore[return-value]
