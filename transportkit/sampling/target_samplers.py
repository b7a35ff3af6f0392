"""Registers the samplers of unnormalized densities with :func:`transportkit.sample`:
``method=`` ``"ais"`` (default for targets), ``"smc"``, ``"nets"``, ``"mala"``, ``"hmc"``, ``"rwm"``, ``"ula"``.

A target is anything :func:`transportkit.targets.as_target` accepts: a Target, an object with a ``log_prob`` method,
a pair ``(log_prob, grad_log_prob)`` of callables, a bare log-density callable or a frozen ``scipy.stats``
distribution. With a random-walk kernel (``"rwm"``, or ``kernel="rwm"``) a target without a gradient is given a
zeros placeholder for it, so that no gradient is ever asked for.
"""

from __future__ import annotations

import weakref
from typing import Any

from ..targets import CallableTarget, Target, as_target, gradient_free
from .ais import ais, smc
from .mcmc import hmc, mala, mcmc, rwm, ula
from .nets import nets
from .registry import register_method


def is_target(obj: Any) -> bool:
    """A :class:`~transportkit.targets.Target`; an object with ``log_prob`` that is not a field/model (no ``bind``);
    a pair of callables; a bare log-density callable; a frozen ``scipy.stats`` distribution."""
    if isinstance(obj, Target):
        return True
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(callable(f) for f in obj):
        return True
    if hasattr(obj, "bind"):
        return False
    if callable(getattr(obj, "log_prob", None)) or callable(getattr(obj, "logpdf", None)):
        return True
    return callable(obj) and not isinstance(obj, type)


#: the gradient-free views of user targets, one per object (so that compiled runs keyed by the target are reused)
_GRADIENT_FREE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _without_gradient(obj: Any, options: dict[str, Any]) -> Any:
    """For kernels that never read the gradient (random-walk Metropolis): a target that has none on the run's
    backend is given a zeros placeholder, so that the sampler does not ask for one."""
    if isinstance(obj, Target) and not isinstance(obj, CallableTarget):
        return obj
    try:
        cached = _GRADIENT_FREE.get(obj)
    except TypeError:  # not weak-referenceable (a tuple): no cache
        cached = None
    if cached is not None:
        return cached
    try:
        t = as_target(obj, x0=options.get("x0"), base=options.get("base"), backend=options.get("backend"))
    except (TypeError, ValueError):
        return obj  # the sampler reports the problem
    out = gradient_free(t)
    if out is t:
        return obj
    try:
        _GRADIENT_FREE[obj] = out
    except TypeError:
        pass
    return out


def _gradient_free_kernel(run: Any, kernel_default: str | None) -> Any:
    def call(obj: Any, n: int, **options: Any) -> Any:
        if options.get("kernel", kernel_default) == "rwm":
            obj = _without_gradient(obj, options)
        return run(obj, n, **options)

    call.__wrapped__ = run  # type: ignore[attr-defined]
    return call


_KIND = "a target"
register_method(
    "ais", _gradient_free_kernel(ais, "mala"), is_target, kind=_KIND, default=True, options_from=ais,
    summary="annealed importance sampling from a Gaussian base: weighted walkers, log Z ± stderr",
)  # fmt: skip
register_method(
    "smc", _gradient_free_kernel(smc, "mala"), is_target, kind=_KIND, options_from=(smc, ais),
    summary="sequential Monte Carlo (AIS with resampling over islands): weighted walkers, log Z ± stderr",
)  # fmt: skip
register_method(
    "nets", nets, is_target, kind=_KIND, options_from=nets,
    summary="non-equilibrium transport sampler with a learned drift: weighted walkers, log Z ± stderr",
)  # fmt: skip
for _name, _fn, _what in (
    ("mala", mala, "Metropolis-adjusted Langevin chains"),
    ("hmc", hmc, "Hamiltonian Monte Carlo chains"),
    ("rwm", _gradient_free_kernel(rwm, "rwm"), "random-walk Metropolis chains (no gradient needed)"),
    ("ula", ula, "unadjusted Langevin chains (biased)"),
):
    register_method(
        _name, _fn, is_target, kind=_KIND, options_from=mcmc, exclude=("kernel",),
        summary=f"{_what}: final states of n independent chains",
    )  # fmt: skip


def demo() -> None:
    """Estimate log Z of GMM40 (truth 0) with AIS and NETS; print estimate, stderr, ESS and modes visited."""
    import time

    from .._target_zoo import GMM40

    t = GMM40()
    n, steps = 1000, 50
    print(f"GMM40 (2-D, 40 modes, log Z = 0): n = {n} walkers, {steps} steps, numpy")
    for label, fn in (
        ("AIS (MALA)", lambda: ais(t, n, steps=steps, rng=0)),
        ("NETS (eps=1, b=0)", lambda: nets(t, n, steps=steps, rounds=0, rng=0)),
    ):
        t0 = time.perf_counter()
        r = fn()
        print(
            f"  {label:18s} log Z = {r.log_Z:+.3f} +- {r.log_Z_stderr:.3f}   ESS = {r.ess:7.1f} / {n}   "
            f"modes visited = {t.modes_visited(r.x)}/40   ({time.perf_counter() - t0:.1f} s)"
        )
