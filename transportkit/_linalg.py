"""Iterative linear solvers in the Array API, for backends without a sparse direct solver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def bicgstab(
    matvec: Callable[[Any], Any],
    b: Any,
    diag: Any,
    *,
    xp: Any,
    tol: float = 1e-10,
    maxiter: int | None = None,
) -> Any:
    """Solve ``A x = b`` by Jacobi-preconditioned BiCGSTAB (van der Vorst 1992).

    ``matvec(v) = A v`` for a vector ``v`` of shape ``(n,)``; ``diag`` is the diagonal of ``A`` (the
    preconditioner). Converged when ``||b - A x|| <= tol ||b||``; otherwise ``RuntimeError`` with the residual
    reached. A 2-D ``b`` is solved column by column.
    """
    if b.ndim == 2:
        cols = [bicgstab(matvec, b[:, j], diag, xp=xp, tol=tol, maxiter=maxiter) for j in range(b.shape[1])]
        return xp.stack(cols, axis=1)
    n = b.shape[0]
    maxiter = 10 * n + 100 if maxiter is None else maxiter
    inv_d = 1.0 / xp.where(diag == 0, xp.ones_like(diag), diag)
    bnorm = float(xp.linalg.vector_norm(b))
    if bnorm == 0.0:
        return xp.zeros_like(b)
    x = b * inv_d
    r = b - matvec(x)
    r_hat = r
    rho = alpha = omega = 1.0
    v = p = xp.zeros_like(b)
    res = float(xp.linalg.vector_norm(r))
    for _ in range(maxiter):
        if res <= tol * bnorm:
            return x
        rho_new = float(xp.sum(r_hat * r))
        if rho_new == 0.0 or omega == 0.0:  # breakdown: restart from the current iterate
            r_hat = r
            rho_new = float(xp.sum(r * r))
            p = v = xp.zeros_like(b)
            rho = alpha = omega = 1.0
        beta = (rho_new / rho) * (alpha / omega)
        rho = rho_new
        p = r + beta * (p - omega * v)
        p_hat = p * inv_d
        v = matvec(p_hat)
        alpha = rho / float(xp.sum(r_hat * v))
        s = r - alpha * v
        s_hat = s * inv_d
        t = matvec(s_hat)
        tt = float(xp.sum(t * t))
        omega = float(xp.sum(t * s)) / tt if tt > 0 else 0.0
        x = x + alpha * p_hat + omega * s_hat
        r = s - omega * t
        res = float(xp.linalg.vector_norm(r))
    if res <= tol * bnorm:
        return x
    raise RuntimeError(
        f"BiCGSTAB did not converge in {maxiter} iterations: relative residual {res / bnorm:.3e} > tol {tol:.1e}"
    )
