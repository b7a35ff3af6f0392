r"""Shared numerics of the conditional regressions (multimarginal :math:`g_k`, forecasting drifts).

Two learners, both for a quadratic loss :math:`E\,|\hat f(u) - Y|^2` over draws :math:`(u, Y)`:

- a linear-in-parameters model :math:`\hat f(u) = \Theta^T\phi(u)`, fitted by the ridge normal equations
  :math:`(E[\phi\phi^T] + \lambda I)\Theta = E[\phi Y^T]` accumulated over chunks (any backend, no autodiff);
- a small tanh MLP (:func:`transportkit.interpolants.mlp.init_net`, :func:`~transportkit.interpolants.mlp.net_apply`)
  trained with Adam (:func:`transportkit.interpolants.mlp.adam`; backends with autodiff).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend

__all__ = ["lstsq_fit", "time_features"]


def lstsq_fit(
    be: Backend,
    n: int,
    chunk_size: int,
    repeats: int,
    chunk: Callable[[int, int], tuple[Any, Any]],
    ridge: float,
) -> tuple[Any, dict]:
    r"""Solve the ridge normal equations over ``repeats`` passes of ``n`` samples in chunks; ``chunk(start, stop)``
    returns the features ``phi`` (m, k) and targets ``Y`` (m, p) of that chunk (fresh randomness each call).
    Returns :math:`\Theta` (k, p) and an info dict (samples, features, the loss minus its constant)."""
    xp = be.xp
    G = H = None
    total = 0
    for _ in range(repeats):
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            phi, y = chunk(start, stop)
            pt = xp.linalg.matrix_transpose(phi)
            G = pt @ phi if G is None else G + pt @ phi
            H = pt @ y if H is None else H + pt @ y
            total += stop - start
    k = G.shape[0]
    A = G / total + ridge * xp.eye(k, dtype=be.dtype, device=be.device)
    theta = xp.linalg.solve(A, H / total)
    resid = float(xp.sum(theta * (A @ theta)) - 2.0 * xp.sum(theta * (H / total)))
    return theta, {"n_samples": total, "n_features": k, "ridge": ridge, "loss_minus_const": resid}


def time_features(s: Any, n_time: int, n: int, xp: Any, dtype: Any, device: Any) -> Any:
    r""":math:`(\cos 2\pi k s, \sin 2\pi k s)_{k < K}` for ``s`` a 0-d array or shape (n,): shape (n, 2K)."""
    ss = s[:, None] if s.ndim == 1 else s * xp.ones((n, 1), dtype=dtype, device=device)
    k = xp.asarray(list(range(n_time)), dtype=dtype, device=device)
    ang = (2.0 * math.pi) * ss * k
    return xp.concat([xp.cos(ang), xp.sin(ang)], axis=1)
