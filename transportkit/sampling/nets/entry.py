"""What a public NETS call resolves and checks once, at entry, before the first target evaluation (Albergo &
Vanden-Eijnden, "NETS: A Non-Equilibrium Transport Sampler", 2024, arXiv:2410.02711): the backend and the random
streams (one per purpose: final run, training, resampling), the path and its arguments, a step that is stable on
the Gaussian base, the user drift's shapes, the resampler.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..._backend import Backend
from ..._validation import as_real
from ...random import Generator, default_rng
from .._common import GaussianBase, make_path
from ..options import Placement
from ..resampling import Resampler, make_resampler
from .drift import TrainedDrift, probe_drift
from .islands import check_client_islands, island_count
from .settings import RunSettings, TrainSettings

__all__ = [
    "CallOptions",
    "Setup",
    "Streams",
    "check_sampling_call",
    "check_stable_step",
    "path_options",
    "resolve",
    "setup",
    "streams",
]


@dataclasses.dataclass(frozen=True)
class Streams:
    """The random streams of one NETS call: ``run`` (final run), ``train`` (training rounds), ``resample``."""

    run: Generator
    train: Generator
    resample: Generator


def streams(rng: Any, be: Backend) -> Streams:
    """The stream of ``rng`` (anything :func:`transportkit.random.default_rng` takes) for the final run and two
    spawned children for training and resampling."""
    gen = default_rng(rng, be)
    if gen.backend.name != be.name:
        raise ValueError(
            f"rng is a transportkit Generator of backend {gen.backend.name!r}, the run is on {be.name!r}: pass an int "
            "or a numpy.random.Generator (it seeds any backend)"
        )
    train_gen, resample_gen = gen.spawn(2)
    return Streams(gen, train_gen, resample_gen)


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a call resolves once, at entry: backend, path, streams, (for a sampling run) the resampler, and the target
    and path arguments the path was built from (NETS islands rebuild it on a Dask worker)."""

    be: Backend
    path: Any
    streams: Streams
    resampler: Resampler | None = None
    target: Any = None
    path_kw: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallOptions(Placement):
    """The keyword tail of every public NETS call (:func:`~transportkit.sampling.nets.nets`,
    :func:`~transportkit.sampling.nets.train`, :func:`~transportkit.sampling.nets.sample_with_drift`), checked once
    when built (keywords only), before any target evaluation: where the call runs (the :class:`Placement` fields
    ``backend``, ``device``, ``dtype``, ``rng``, ``seed`` and :meth:`~Placement.resolve`) and the path from the base
    to the target (``path``, else the geometric path from ``base`` or N(``base_mean``, ``base_scale``² I) with
    ``schedule``; see :func:`path_options`)."""

    path: Any = None
    base: Any = None
    base_mean: Any = 0.0
    base_scale: float | None = None
    schedule: Any = None

    def __post_init__(self) -> None:
        kw = path_options(self.path, self.base, self.base_mean, self.base_scale, self.schedule)
        object.__setattr__(self, "base_mean", kw["base_mean"])
        object.__setattr__(self, "base_scale", kw["base_scale"])

    @property
    def path_kw(self) -> dict[str, Any]:
        """The arguments of :func:`~transportkit.sampling._common.make_path` (besides the target and backend)."""
        return dict(path=self.path, base=self.base, base_mean=self.base_mean, base_scale=self.base_scale,
                    schedule=self.schedule)  # fmt: skip


def check_sampling_call(where: str, n: Any, run: RunSettings, client: Any, drift: Any) -> tuple[int, Any]:
    """The checks of a call that ends in a sampling run, besides its settings: ``n`` with the run's islands, the
    Dask ``client`` with the islands it would run, and the ``drift`` argument's type; returns ``(n, client)``."""
    n = run.check_n(n)
    client = check_client_islands(where, client, island_count(n, run.resample, run.islands))
    _check_drift(drift)
    return n, client


def setup(
    target: Any,
    path_kw: dict[str, Any],
    be: Backend,
    gen: Generator,
    *,
    run: RunSettings | None = None,
    n: int | None = None,
    learner: str | None = None,
    eps_checked: tuple[tuple[str, float], ...] = (),
    drift: Any = None,
) -> Setup:
    """Bind the path, check what needs it (stable step on the base, the user drift's shapes), spawn the streams and
    build the resampler, evaluating no target."""
    if learner == "mlp":
        be.require("value_and_grad")
    pth = make_path(target, be, **path_kw)
    steps = run.steps if run is not None else None
    for name, eps in eps_checked:
        check_stable_step(pth, name, eps, steps)
    if drift is not None and not isinstance(drift, TrainedDrift):
        probe_drift(drift, pth, be)
    check_trained_drift(drift, pth)
    st = streams(gen, be)
    rs = None
    if run is not None and n is not None:
        rs = make_resampler(run.resample, n, run.islands, run.ess_threshold, st.resample, be.xp, be.dtype, be.device)
    return Setup(be, pth, st, rs, target, path_kw)


def check_stable_step(path: Any, name: str, eps: float, steps: int | None) -> None:
    r"""``ValueError`` when the Euler–Maruyama step is unstable on the Gaussian base already: at t = 0 the move is
    :math:`x \mapsto x + h\varepsilon\nabla\log\rho_0(x) = m + (1 - h\varepsilon/\sigma^2)(x - m)`, which
    diverges when :math:`h\varepsilon \ge 2\sigma^2` (h = 1/steps, σ the base scale)."""
    base = getattr(path, "base", None)
    if steps is None or not isinstance(base, GaussianBase):
        return
    h = 1.0 / steps
    if h * eps >= 2 * base.scale**2:
        bound = 2 * base.scale**2 * steps
        raise ValueError(
            f"{name} = {eps:g} with steps = {steps} is unstable: the Euler–Maruyama step h*{name} = {h * eps:g} is "
            f">= 2 * base_scale**2 = {2 * base.scale**2:g}, so the walkers diverge on the base already; use "
            f"{name} < {bound:g} (or more steps, or a wider base_scale)"
        )


def _check_drift(drift: Any) -> None:
    if drift is not None and not callable(drift):
        raise TypeError(
            f"drift must be None, a callable drift(t, x) -> (b, div_b) or a TrainedDrift, got {type(drift).__name__}"
        )


def path_options(path: Any, base: Any, base_mean: Any, base_scale: Any, schedule: Any) -> dict[str, Any]:
    """The path arguments, checked: ``base_scale`` a positive finite real, ``base_mean`` a finite real or a 1-D
    sequence of them, ``schedule`` a pair of callables ``(lam, dlam)``; ``path`` and ``base`` exclude the others."""
    if base_scale is not None:
        base_scale = as_real("base_scale", base_scale, low=0.0, low_open=True)
    if isinstance(base_mean, (str, bytes, bool)) or base_mean is None:
        raise TypeError(f"base_mean must be a real number or a sequence of d real numbers, got {base_mean!r}")
    if (hasattr(base_mean, "shape") and getattr(base_mean, "ndim", None) != 0) or isinstance(base_mean, (list, tuple)):
        vals = base_mean.tolist() if hasattr(base_mean, "tolist") else list(base_mean)
        if not isinstance(vals, list) or not vals or any(isinstance(v, list) for v in vals):
            raise ValueError(f"base_mean must be a real number or a non-empty 1-D sequence, got {base_mean!r}")
        for v in vals:
            as_real("base_mean", v)
    else:
        base_mean = as_real("base_mean", base_mean)
    if schedule is not None and not (
        isinstance(schedule, (tuple, list)) and len(schedule) == 2 and all(callable(f) for f in schedule)
    ):
        raise TypeError("schedule must be a pair of callables (lam, dlam) with lam(0) = 0 and lam(1) = 1")
    if path is not None and (base is not None or base_scale is not None or schedule is not None):
        raise ValueError("give either path= or the geometric path's base/base_scale/schedule, not both")
    return dict(path=path, base=base, base_mean=base_mean, base_scale=base_scale, schedule=schedule)


def check_trained_drift(drift: Any, path: Any) -> None:
    """``ValueError`` when a :class:`TrainedDrift` was learned in another dimension than the path's."""
    if not isinstance(drift, TrainedDrift):
        return
    d_new = getattr(getattr(path, "base", None), "dim", None)
    d_old = getattr(getattr(drift.path, "base", None), "dim", None)
    if d_new is not None and d_old is not None and d_new != d_old:
        raise ValueError(f"drift is a TrainedDrift learned in dimension {d_old}; this target has dimension {d_new}")


def resolve(backend: Any, device: Any, dtype: Any, rng: Any, seed: Any) -> tuple[Backend, Generator]:
    """The backend and the stream of a public call (``seed=`` warns as the deprecated alias of ``rng=``); see
    :meth:`transportkit.sampling.options.Placement.resolve`."""
    return Placement(backend=backend, device=device, dtype=dtype, rng=rng, seed=seed).resolve()


def _learner(tr: TrainSettings) -> str | None:
    """ "mlp" when the settings need autodiff for sure (checked at entry), else None."""
    return "mlp" if tr.learner == "mlp" else None
