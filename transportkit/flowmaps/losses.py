r"""Losses of flow maps :math:`X_{s,t}(x) = x + (t-s)\varphi_{s,t}(x)`, each a function of ``(model, batch)``.

Sources: Boffi, Albergo & Vanden-Eijnden, "Flow Map Matching" (2024, arXiv:2406.07507; LMD, EMD and the direct
flow-map-matching loss with its invertibility term) and "How to build a consistency model: Learning flow maps via
self-distillation" (2025, arXiv:2505.18825; the diagonal term and the LSD, ESD, PSD self-distillation losses).

A batch (:func:`make_batch`) holds times ``s``, ``t`` (shape (n,)), interpolant samples ``xs`` :math:`= I_s`,
``xt`` :math:`= I_t` and ``dxt`` :math:`= \dot I_t` drawn with the same :math:`(x_0, x_1, z)`, and optionally
``u`` (the intermediate time of PSD). With :math:`\mathrm{sg}[\cdot]` the stop-gradient, every loss is the batch
mean of a per-sample squared residual (``reduce=False`` returns the per-sample values, shape (n,)):

- ``diagonal`` (flow matching on the diagonal): :math:`|\varphi_{t,t}(I_t) - \dot I_t|^2`; its minimum over maps
  is :math:`E|\dot I_t|^2 - E|b_t(I_t)|^2`, not zero;
- ``lsd`` (Lagrangian self-distillation):
  :math:`|\partial_t X_{s,t}(I_s) - \mathrm{sg}[\varphi_{t,t}(X_{s,t}(I_s))]|^2`;
- ``esd`` (Eulerian): :math:`|\partial_s X_{s,t}(I_s) + \nabla X_{s,t}(I_s)\,\mathrm{sg}[\varphi_{s,s}(I_s)]|^2`;
- ``psd`` (progressive), :math:`u \in (s, t)` (default the midpoint):
  :math:`|\varphi_{s,t}(I_s) - \mathrm{sg}[\tfrac{u-s}{t-s}\varphi_{s,u}(I_s)
  + \tfrac{t-u}{t-s}\varphi_{u,t}(X_{s,u}(I_s))]|^2`;
- ``lmd`` / ``emd`` (distillation of a given field :math:`b`): :math:`|\partial_t X_{s,t}(I_s) - b_t(X_{s,t}(I_s))|^2`,
  :math:`|\partial_s X_{s,t}(I_s) + \nabla X_{s,t}(I_s)\, b_s(I_s)|^2`;
- ``fmm`` (direct flow-map matching): with :math:`y = X_{t,s}(I_t)`,
  :math:`|\partial_t X_{s,t}(y) - \dot I_t|^2 + w\,|X_{s,t}(y) - I_t|^2` (the derivative at fixed :math:`y`);
  ``invertibility`` is the second term alone.

The stop-gradient is functional, so it is the same on every backend: ``teacher`` is the model with its parameters
held as constants (what :func:`transportkit.flowmaps.train` passes); by default the teacher is the model itself,
which gives the same *value* (what a residual check needs). The time derivatives are forward-mode JVPs built from
two reverse passes (:mod:`._autodiff`), so ``lsd``, ``esd``, ``lmd``, ``emd`` and ``fmm`` need ``value_and_grad``
(torch, jax) and raise :class:`~transportkit.CapabilityError` elsewhere; ``diagonal`` and ``psd`` run everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import resolve_backend
from .._capabilities import declare
from .._typing import Array
from ..interpolants.field import Field
from ._autodiff import jvp
from .maps import BoundFlowMap, FlowMap, _col

__all__ = ["diagonal", "emd", "esd", "fmm", "invertibility", "lmd", "lsd", "make_batch", "psd"]


def make_batch(interpolant: Any, x0: Any, x1: Any, s: Any, t: Any, *, z: Any = None, u: Any = None) -> dict[str, Any]:
    r"""A loss batch from base draws ``x0`` (n, d), target draws ``x1`` (n, d), times ``s``, ``t`` (n,), optional
    noise ``z`` (two-sided interpolants) and PSD times ``u``: ``{"s", "t", "xs", "xt", "dxt"[, "u"]}`` with
    :math:`I_r = \alpha_r x_0 + \beta_r x_1 + \gamma_r z` and :math:`\dot I_t = \alpha'_t x_0 + \beta'_t x_1 +
    \gamma'_t z`."""
    be = resolve_backend(x0, x1, s, t)
    xp = be.xp
    cs = interpolant.coefficients(_col(s), xp)
    ct = interpolant.coefficients(_col(t), xp)
    xs = cs.a * x0 + cs.b * x1
    xt = ct.a * x0 + ct.b * x1
    dxt = ct.ad * x0 + ct.bd * x1
    if z is not None and not interpolant.one_sided:
        xs = xs + cs.g * z
        xt = xt + ct.g * z
        dxt = dxt + interpolant.schedule.gamma_dot(_col(t), xp) * z
    out = {"s": s, "t": t, "xs": xs, "xt": xt, "dxt": dxt}
    if u is not None:
        out["u"] = u
    return out


def _bound(model: Any, batch: dict[str, Any], *keys: str) -> BoundFlowMap:
    missing = [k for k in keys if k not in batch]
    if missing:
        raise KeyError(f"the batch lacks {missing}; build it with tk.flowmaps.losses.make_batch")
    if isinstance(model, BoundFlowMap):
        return model
    if isinstance(model, FlowMap):
        return model.bind(resolve_backend(batch[keys[-1]]))
    raise TypeError(f"model must be a FlowMap or a bound flow map, got {type(model).__name__}")


def _teacher(model: BoundFlowMap, teacher: Any) -> BoundFlowMap:
    if teacher is None:
        return model
    if isinstance(teacher, FlowMap):
        return teacher.bind(model.be)
    if not isinstance(teacher, BoundFlowMap):
        raise TypeError(f"teacher must be a FlowMap or a bound flow map, got {type(teacher).__name__}")
    return teacher


def _velocity_fn(field: Any, be: Any) -> Callable[[Any, Any], Any]:
    if isinstance(field, Field):
        return field.bind(be).velocity
    if callable(field):
        return field
    raise TypeError(f"field must be a Field or a callable b(t, x), got {type(field).__name__}")


def _out(xp: Any, r: Any, reduce: bool) -> Any:
    per = xp.sum(r * r, axis=-1)
    return xp.mean(per) if reduce else per


def _dt_map(m: BoundFlowMap, s: Any, t: Any, x: Any) -> tuple[Any, Any]:
    """:math:`(X_{s,t}(x), \\partial_t X_{s,t}(x))` by one JVP in ``t`` (tangent 1 per sample)."""
    return jvp(m.be, lambda tt: m.map(s, tt, x), t, m.xp.ones_like(t))


def _ds_map(m: BoundFlowMap, s: Any, t: Any, x: Any, v: Any) -> Any:
    r""":math:`\partial_s X_{s,t}(x) + \nabla X_{s,t}(x) v` by one JVP in ``(s, x)`` along ``(1, v)``."""
    xp = m.xp
    p = xp.concat([s[:, None], x], axis=1)
    tangent = xp.concat([xp.ones_like(s)[:, None], v], axis=1)
    return jvp(m.be, lambda q: m.map(q[:, 0], t, q[:, 1:]), p, tangent)[1]


@declare(name="tk.flowmaps.losses.diagonal")
def diagonal(model: Any, batch: dict[str, Any], *, reduce: bool = True) -> Array:
    r"""Mean of :math:`|\varphi_{t,t}(I_t) - \dot I_t|^2` (flow matching on the diagonal)."""
    m = _bound(model, batch, "t", "dxt", "xt")
    return _out(m.xp, m.velocity(batch["t"], batch["xt"]) - batch["dxt"], reduce)


@declare(needs=("value_and_grad",), name="tk.flowmaps.losses.lsd")
def lsd(model: Any, batch: dict[str, Any], *, teacher: Any = None, reduce: bool = True) -> Array:
    r"""Lagrangian self-distillation: mean of
    :math:`|\partial_t X_{s,t}(I_s) - \mathrm{sg}[\varphi_{t,t}(X_{s,t}(I_s))]|^2`."""
    m = _bound(model, batch, "s", "t", "xs")
    T = _teacher(m, teacher)
    s, t, x = batch["s"], batch["t"], batch["xs"]
    _, dX = _dt_map(m, s, t, x)
    target = T.velocity(t, T.map(s, t, x))
    return _out(m.xp, dX - target, reduce)


@declare(needs=("value_and_grad",), name="tk.flowmaps.losses.esd")
def esd(model: Any, batch: dict[str, Any], *, teacher: Any = None, reduce: bool = True) -> Array:
    r"""Eulerian self-distillation: mean of
    :math:`|\partial_s X_{s,t}(I_s) + \nabla X_{s,t}(I_s)\,\mathrm{sg}[\varphi_{s,s}(I_s)]|^2`."""
    m = _bound(model, batch, "s", "t", "xs")
    T = _teacher(m, teacher)
    s, t, x = batch["s"], batch["t"], batch["xs"]
    return _out(m.xp, _ds_map(m, s, t, x, T.velocity(s, x)), reduce)


@declare(name="tk.flowmaps.losses.psd")
def psd(model: Any, batch: dict[str, Any], *, teacher: Any = None, reduce: bool = True) -> Array:
    r"""Progressive self-distillation: mean of :math:`|\varphi_{s,t}(I_s) - \mathrm{sg}[\tfrac{u-s}{t-s}
    \varphi_{s,u}(I_s) + \tfrac{t-u}{t-s}\varphi_{u,t}(X_{s,u}(I_s))]|^2` with ``batch["u"]`` (default
    :math:`u = (s+t)/2`, weights ½, ½; where :math:`s = t` the weights are ½, ½ as well)."""
    m = _bound(model, batch, "s", "t", "xs")
    T = _teacher(m, teacher)
    s, t, x = batch["s"], batch["t"], batch["xs"]
    u = batch.get("u")
    if u is None:
        u = 0.5 * (s + t)
        w1 = w2 = 0.5
    else:
        xp = m.xp
        dt = t - s
        safe = xp.where(dt == 0, xp.ones_like(dt), dt)
        w1 = _col(xp.where(dt == 0, 0.5 * xp.ones_like(dt), (u - s) / safe))
        w2 = 1.0 - w1
    target = w1 * T.phi(s, u, x) + w2 * T.phi(u, t, T.map(s, u, x))
    return _out(m.xp, m.phi(s, t, x) - target, reduce)


@declare(needs=("value_and_grad",), name="tk.flowmaps.losses.lmd")
def lmd(model: Any, batch: dict[str, Any], field: Any, *, reduce: bool = True) -> Array:
    r"""Lagrangian map distillation of a given field :math:`b` (a Field or ``b(t, x)``): mean of
    :math:`|\partial_t X_{s,t}(I_s) - b_t(X_{s,t}(I_s))|^2`."""
    m = _bound(model, batch, "s", "t", "xs")
    b = _velocity_fn(field, m.be)
    X, dX = _dt_map(m, batch["s"], batch["t"], batch["xs"])
    return _out(m.xp, dX - b(batch["t"], X), reduce)


@declare(needs=("value_and_grad",), name="tk.flowmaps.losses.emd")
def emd(model: Any, batch: dict[str, Any], field: Any, *, reduce: bool = True) -> Array:
    r"""Eulerian map distillation of a given field :math:`b`: mean of
    :math:`|\partial_s X_{s,t}(I_s) + \nabla X_{s,t}(I_s)\, b_s(I_s)|^2`."""
    m = _bound(model, batch, "s", "t", "xs")
    b = _velocity_fn(field, m.be)
    s, t, x = batch["s"], batch["t"], batch["xs"]
    return _out(m.xp, _ds_map(m, s, t, x, b(s, x)), reduce)


@declare(needs=("value_and_grad",), name="tk.flowmaps.losses.fmm")
def fmm(model: Any, batch: dict[str, Any], *, invertibility_weight: float = 1.0, reduce: bool = True) -> Array:
    r"""Direct flow-map matching: mean of :math:`|\partial_t X_{s,t}(y) - \dot I_t|^2 + w|X_{s,t}(y) - I_t|^2`,
    :math:`y = X_{t,s}(I_t)` held fixed in the derivative. Minimum: :math:`E|\dot I_t|^2 - E|b_t(I_t)|^2`."""
    m = _bound(model, batch, "s", "t", "dxt", "xt")
    s, t, xt = batch["s"], batch["t"], batch["xt"]
    y = m.map(t, s, xt)
    X, dX = _dt_map(m, s, t, y)
    xp = m.xp
    per = xp.sum((dX - batch["dxt"]) ** 2, axis=-1) + invertibility_weight * xp.sum((X - xt) ** 2, axis=-1)
    return xp.mean(per) if reduce else per


@declare(name="tk.flowmaps.losses.invertibility")
def invertibility(model: Any, batch: dict[str, Any], *, reduce: bool = True) -> Array:
    r"""Mean of :math:`|X_{s,t}(X_{t,s}(I_t)) - I_t|^2` (zero for an exact map)."""
    m = _bound(model, batch, "s", "t", "xt")
    s, t, xt = batch["s"], batch["t"], batch["xt"]
    return _out(m.xp, m.map(s, t, m.map(t, s, xt)) - xt, reduce)
