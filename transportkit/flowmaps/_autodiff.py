r"""Forward-mode derivatives from reverse mode, written once for every backend with ``value_and_grad``.

A Jacobian-vector product :math:`J v` of :math:`f: \mathbb R^{p} \to \mathbb R^{q}` is the gradient in :math:`u` of
the linear function :math:`g(u) = \langle \nabla_p \langle u, f(p)\rangle, v\rangle = \langle u, J v\rangle` (the
"double-VJP" trick): two nested reverse passes, composable with an outer gradient in the parameters (torch.func and
JAX both nest). The flow-map losses need :math:`\partial_t X_{s,t}(x)` and
:math:`\partial_s X_{s,t}(x) + \nabla X_{s,t}(x)\,v`, both JVPs of this kind (Boffi, Albergo & Vanden-Eijnden 2025,
"How to build a consistency model", arXiv:2505.18825, §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["jvp"]


def jvp(be: Any, f: Callable[[Any], Any], p: Any, v: Any) -> tuple[Any, Any]:
    """``(f(p), J_f(p) v)`` for an array function ``f`` of one array ``p`` (tangent ``v`` shaped like ``p``).

    Raises :class:`~transportkit.CapabilityError` on a backend without ``value_and_grad``."""
    vg = be.require("value_and_grad")
    xp = be.xp
    y = f(p)
    u0 = xp.zeros_like(y)

    def g(u: Any) -> Any:
        grad_p = vg(lambda q: xp.sum(u * f(q)))(p)[1]
        return xp.sum(grad_p * v)

    return y, vg(g)(u0)[1]
