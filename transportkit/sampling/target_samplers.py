"""Registers the samplers of unnormalized densities with :func:`transportkit.sample`:
``method=`` ``"ais"`` (default for targets), ``"smc"``, ``"nets"``, ``"mala"``, ``"hmc"``, ``"rwm"``, ``"ula"``.

A target is anything with a ``log_prob`` method, or a pair ``(log_prob, grad_log_prob)`` of callables.
"""

from __future__ import annotations

from typing import Any

from ..targets import Target
from .ais import ais, smc
from .mcmc import hmc, mala, rwm, ula
from .nets import nets
from .registry import register_method


def is_target(obj: Any) -> bool:
    """A :class:`~transportkit.targets.Target`, an object with ``log_prob`` that is not a field/model (no ``bind``),
    or a pair of callables."""
    if isinstance(obj, Target):
        return True
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and all(callable(f) for f in obj):
        return True
    return callable(getattr(obj, "log_prob", None)) and not hasattr(obj, "bind")


_KIND = "a target (an object with log_prob/grad_log_prob, or a pair of callables)"
register_method("ais", ais, is_target, kind=_KIND, default=True)
for _name, _fn in (("smc", smc), ("nets", nets), ("mala", mala), ("hmc", hmc), ("rwm", rwm), ("ula", ula)):
    register_method(_name, _fn, is_target, kind=_KIND)


def demo() -> None:
    """Estimate log Z of GMM40 (truth 0) with AIS and NETS; print estimate, stderr, ESS and modes visited."""
    import time

    from .._target_zoo import GMM40

    t = GMM40()
    n, steps = 1000, 50
    print(f"GMM40 (2-D, 40 modes, log Z = 0): n = {n} walkers, {steps} steps, numpy")
    for label, fn in (
        ("AIS (MALA)", lambda: ais(t, n, steps=steps, seed=0)),
        ("NETS (eps=1, b=0)", lambda: nets(t, n, steps=steps, rounds=0, seed=0)),
    ):
        t0 = time.perf_counter()
        r = fn()
        print(
            f"  {label:18s} log Z = {r.log_Z:+.3f} +- {r.log_Z_stderr:.3f}   ESS = {r.ess:7.1f} / {n}   "
            f"modes visited = {t.modes_visited(r.x)}/40   ({time.perf_counter() - t0:.1f} s)"
        )
