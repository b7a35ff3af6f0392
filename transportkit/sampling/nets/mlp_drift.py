r"""The MLP drift of NETS, trained on the PINN residual with autodiff (torch, jax) (Albergo & Vanden-Eijnden,
"NETS: A Non-Equilibrium Transport Sampler", 2024, arXiv:2410.02711).

:math:`b^{\rm mlp}_t(x) = \sigma\,N([x/\sigma, \cos\pi kt, \sin\pi kt])` (the tanh network of
:mod:`transportkit.interpolants.mlp`, last layer zero at start, σ the rms of the walkers) is added to the
least-squares drift and trained, with a learned :math:`\partial_tF` per grid time, by Adam
(:func:`transportkit.interpolants.mlp.adam`, the backend's ``value_and_grad``) on the PINN residual over an
off-policy buffer of walkers. Its divergence is propagated forward through the layers (:func:`mlp_drift_div`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from array_api_compat import array_namespace

from ..._backend import scalar_device

__all__ = ["init_net", "mlp_drift_div", "mlp_scales", "pinn_data", "train_mlp"]


def mlp_drift_div(params: dict[str, Any], t: Any, x: Any, xp: Any, scale_in: float, scale_out: float) -> tuple:
    r"""The MLP drift :math:`b(t, x) = \sigma_{out}\,N\big([x/\sigma_{in}, \cos\pi kt, \sin\pi kt]_{k<K}\big)`
    (N the tanh network of :func:`transportkit.interpolants.mlp.init_mlp`: layers ``W{i}, c{i}``; time
    features of half period so that t = 0 and t = 1 differ) and its divergence, by forward propagation of
    the Jacobian :math:`J = \partial h/\partial x` through the layers,
    :math:`J_{i+1} = \mathrm{diag}(1 - h_{i+1}^2)\,W_i^T J_i`, :math:`\nabla\cdot b = \sigma_{out}\,\mathrm{tr}\,J_L`
    (d forward passes' worth of work; written once, differentiable by the backend's ``value_and_grad``)."""
    n, d = x.shape
    n_layers = sum(1 for k in params if k.startswith("W"))
    n_time = (params["W0"].shape[0] - d) // 2
    tt = t[:, None] if getattr(t, "ndim", 0) == 1 else t * xp.ones((n, 1), dtype=x.dtype)
    k = xp.arange(n_time, dtype=x.dtype)
    if hasattr(x, "device"):
        k = xp.asarray(k, device=x.device)
    ang = math.pi * tt * k
    h = xp.concat([x / scale_in, xp.cos(ang), xp.sin(ang)], axis=1)
    jt = None  # (n, d, width): row j = d h / d x_j
    for i in range(n_layers):
        W = params[f"W{i}"]
        h = h @ W + params[f"c{i}"]
        jt = W[:d, :][None, :, :] / scale_in if jt is None else jt @ W
        if i < n_layers - 1:
            h = xp.tanh(h)
            jt = jt * (1.0 - h * h)[:, None, :]
    eye = xp.eye(d, dtype=x.dtype, device=scalar_device(x))
    div = xp.sum(xp.reshape(jt * eye[None, :, :], (n, d * d)), axis=1)
    return scale_out * h, scale_out * div


def train_mlp(
    be: Any,
    params: dict[str, Any],
    data: tuple[Any, ...],
    scales: tuple[float, float],
    *,
    steps: int,
    batch: int,
    lr: float,
    gen: Any,
) -> tuple[dict[str, Any], list[float]]:
    r"""Adam on the PINN loss of the MLP part, on an off-policy buffer of walkers ``data = (x, t, s, r0, kidx)``:
    :math:`L = \mathrm{mean}\,\big|r_0 + \nabla\cdot b + s\cdot b + \dot F_{k}\big|^2`, where :math:`r_0` is the
    residual of the fixed linear drift at that point (:math:`\nabla\cdot b_{lin} + s\cdot b_{lin} +
    \partial_t\log\rho_t`) and :math:`\dot F_k` a learned number per grid time (``params["F"]``)."""
    from ...interpolants.mlp import adam

    xp = be.xp
    X, T, S, R0, KI = data
    m = X.shape[0]
    scale_in, scale_out = scales

    def batches(i: int) -> Any:
        idx = gen.integers(0, m, (batch,))
        return tuple(xp.take(a, idx, axis=0) for a in (X, T, S, R0, KI))

    def loss(p: dict[str, Any], bt: Any) -> Any:
        x, t, s, r0, ki = bt
        net = {k: v for k, v in p.items() if k != "F"}
        b, div = mlp_drift_div(net, t, x, xp, scale_in, scale_out)
        r = r0 + div + xp.sum(s * b, axis=1) + xp.take(p["F"], ki)
        return xp.mean(r * r)

    return adam(be, loss, params, batches, steps=steps, lr=lr)


def pinn_data(buffer: Sequence[tuple[Any, Any]], K: int, lin: Callable | None, path: Any, xp: Any) -> tuple[Any, ...]:
    """Flatten an off-policy buffer of walkers [(x_k, parts_k)] (K + 1 per round) into the PINN training set
    (x, t, s, r0, k) with r0 the residual of the linear drift ``lin`` (non-finite points dropped to zero weight)."""
    xs, ts, ss, rs, ks = [], [], [], [], []
    for j, (x, parts) in enumerate(buffer):
        k = j % (K + 1)
        t = min(k / K, 1.0)
        s = path.grad(t, parts)
        r0 = path.dt_log_prob(t, parts)
        if lin is not None:
            b, div = lin(t, x, s, True)
            r0 = r0 + div + xp.sum(s * b, axis=1)
        ok = xp.isfinite(r0) & xp.all(xp.isfinite(s), axis=1) & xp.all(xp.isfinite(x), axis=1)
        xs.append(xp.where(ok[:, None], x, xp.zeros_like(x)))
        ss.append(xp.where(ok[:, None], s, xp.zeros_like(s)))
        rs.append(xp.where(ok, r0, xp.zeros_like(r0)))
        ts.append(xp.full(r0.shape, t, dtype=x.dtype, device=getattr(x, "device", None)))
        ks.append(xp.full(r0.shape, k, dtype=xp.int64, device=getattr(x, "device", None)))
    return tuple(xp.concat(a, axis=0) for a in (xs, ts, ss, rs, ks))


def mlp_scales(data: tuple[Any, ...]) -> tuple[float, float]:
    """Input scale: the rms of the buffer walkers; output scale: the same length per unit time."""
    X = data[0]
    xp = array_namespace(X)
    s_in = float(xp.sqrt(xp.mean(X * X))) + 1e-12
    return s_in, s_in


def init_net(data: tuple[Any, ...], hidden: Sequence[int], n_time: int, gen: Any, be: Any, K: int) -> dict[str, Any]:
    """init_mlp weights with a zero last layer (the MLP starts at b = 0 on top of the linear drift) and dF/dt per
    grid time initialized to minus the mean linear residual there."""
    from ...interpolants.mlp import init_mlp

    xp = be.xp
    X, _, _, R0, KI = data
    d = X.shape[1]
    p = init_mlp(d, tuple(hidden), n_time, rng=int(be.to_numpy(gen.integers(0, 2**31, (1,)))[0]), backend=be)
    L = sum(1 for k in p if k.startswith("W")) - 1
    p[f"W{L}"] = xp.zeros_like(p[f"W{L}"])
    onehot = xp.astype(KI[:, None] == xp.arange(K + 1, dtype=KI.dtype, device=getattr(KI, "device", None)), X.dtype)
    cnt = xp.sum(onehot, axis=0)
    p["F"] = -(R0 @ onehot) / xp.maximum(cnt, xp.ones_like(cnt))
    return p
