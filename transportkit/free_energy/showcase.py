"""The free-energy demo of the ``transportkit demo`` command: EXP/BAR on works that satisfy Crooks exactly, works of
magnitude 1e4, MBAR on harmonic states."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import host_backend
from .diagnostics import Array
from .exp_bar import bar, bounds, exp
from .multistate import mbar

__all__ = ["demo"]


def demo() -> None:
    """Print a short showcase: EXP/BAR on Gaussian works satisfying Crooks, works of magnitude 1e4, MBAR."""
    showcase(print)


def showcase(say: Callable[[str], Any]) -> tuple[Array, Array, float]:
    """The showcase of :func:`demo`, printed through ``say`` (the ``transportkit demo`` command passes its own).
    Returns the forward and reverse works and the exact ΔF, for a picture."""
    be = host_backend()
    xp = be.xp
    gen = be.rng(0)
    dF, s, n = 1.0, 2.0, 20_000
    wf = gen.normal((n,), loc=dF + s * s / 2, scale=s)
    wr = gen.normal((n,), loc=-dF + s * s / 2, scale=s)
    say(f"Gaussian works satisfying Crooks exactly: dF = {dF}, sigma = {s}, n = {n} per direction")
    for name, e in [("EXP forward", exp(wf)), ("EXP reverse", exp(wr, direction="reverse")), ("BAR", bar(wf, wr))]:
        say(f"  {name:12s} {float(e.value):8.4f} +- {float(e.stderr):.4f}")
    b = bounds(wf, wr)
    say(f"  bounds       {float(b.lower):8.4f} <= dF <= {float(b.upper):.4f}")
    e = bar(wf + 1e4, wr - 1e4, ess_warning=0)
    say(
        f"  works shifted by +-1e4 (dF = 1e4 + 1): BAR {float(e.value):.4f} +- {float(e.stderr):.4f}, "
        f"overlap {float(e.diagnostics['overlap']):.2e}"
    )
    # MBAR on three harmonic states u_k(x) = k_k x^2 / 2: f_k - f_0 = 0.5 log(k_k / k_0)
    ks = [1.0, 2.0, 4.0]
    x = xp.concat([gen.normal((2000,), scale=1 / math.sqrt(k)) for k in ks])
    m = mbar(xp.stack([0.5 * k * x * x for k in ks]), [2000, 2000, 2000])
    exact = ", ".join(f"{0.5 * math.log(k / ks[0]):.4f}" for k in ks)
    got = ", ".join(f"{float(v):.4f} +- {float(se):.4f}" for v, se in zip(m.value, m.stderr, strict=True))
    say(f"  MBAR, harmonic states k = 1, 2, 4: f_k - f_0 = {got} (exact {exact})")
    return wf, wr, dF
