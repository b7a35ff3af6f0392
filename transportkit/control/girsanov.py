r"""On-policy stochastic optimal control with the Girsanov surrogate loss (Hua, Laurière & Vanden-Eijnden 2024,
arXiv:2410.05163).

Problem: :math:`dX = (b(t, X) + \sigma u_\theta(t, X))dt + \sigma dW`, :math:`X_0 \sim \mu_0`,
:math:`J(\theta) = E[\int_0^T (\tfrac12|u_\theta|^2 + f(t, X))dt + g(X_T)]`. With the paths :math:`\bar X` of the
current policy simulated without gradients (Euler–Maruyama, step :math:`h = T/K`) and their noise increments
:math:`\Delta W_k` recorded, the surrogate

.. math:: L(\theta) = E\Big[\sum_k \tfrac12|u_\theta(t_k, \bar X_k)|^2 h
          + \sum_k \mathrm{sg}(C_k - c_k)\, u_\theta(t_k, \bar X_k)\cdot\Delta W_k\Big]

has :math:`\nabla L = \nabla J` at the current θ (Girsanov: :math:`\nabla_\theta \log p_\theta(\text{path}) =
\sum_k \nabla u_\theta\cdot\Delta W_k`). :math:`C_k` is the realized cost-to-go from :math:`t_k` (costs before
:math:`t_k` are independent of :math:`\Delta W_k` and drop out in expectation) or the total cost
(``baseline="total"``); :math:`c_k` its batch mean (a baseline: :math:`E[c\,u\cdot\Delta W] = 0`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from .._backend import Backend, get_backend, resolve_backend
from .._capabilities import declare
from .._loops import scan_steps
from .._results import Result
from .._typing import Array
from .._validation import as_choice, as_count, as_real, check_callable
from ..numerics import legendre_shifted
from ..random import SEED_DEPRECATED, resolve_rng

__all__ = [
    "ControlModel",
    "LinearFeedback",
    "OnPolicyResult",
    "SurrogateGradient",
    "linear_feedback",
    "mlp_control",
    "on_policy",
    "simulate",
    "surrogate_gradient",
]



@dataclasses.dataclass
class ControlModel:
    """A feedback control :math:`u_\\theta(t, x)`: ``apply(params, t, x) -> (n, d)`` with ``t`` of shape (n,) (written
    with the array namespace, differentiable in ``params`` by the backend's autodiff) and ``params`` (dict of
    arrays). Calling the model, ``model(t, x)``, evaluates it at its parameters (``t`` a float or (n,) array)."""

    apply: Callable[[dict[str, Any], Any, Any], Any]
    params: dict[str, Any]

    def __call__(self, t: Any, x: Any) -> Any:
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        tt = xp.zeros((x.shape[0],), dtype=x.dtype) + t
        return self.apply(self.params, tt, x)


def linear_feedback(dim: int, degree: int = 3, T: float = 1.0, *, backend: Any = None) -> ControlModel:
    r"""Affine feedback :math:`u(t, x) = x K(t)^\top + k(t)` with :math:`K, k` polynomials of degree ``degree`` in
    :math:`t/T` (shifted Legendre basis), started at zero. ``params["K"]``: (degree+1, d, d), ``params["k"]``:
    (degree+1, d); :meth:`gain` evaluates :math:`K(t)`."""
    dim, degree = as_count("dim", dim), as_count("degree", degree, 0)
    T = as_real("T", T, low=0.0, low_open=True)
    be = get_backend(backend)
    xp = be.xp
    params = {
        "K": xp.zeros((degree + 1, dim, dim), dtype=be.dtype, device=be.device),
        "k": xp.zeros((degree + 1, dim), dtype=be.dtype, device=be.device),
    }

    def apply(p: dict[str, Any], t: Any, x: Any) -> Any:
        P = legendre_shifted(t / T, degree)
        out = 0.0
        for j in range(degree + 1):
            out = out + P[j][:, None] * (x @ _transpose(p["K"][j, ...]) + p["k"][j, ...])
        return out

    return LinearFeedback(apply, params, degree=degree, T=T)


@dataclasses.dataclass
class LinearFeedback(ControlModel):
    """The model of :func:`linear_feedback`; :meth:`gain` is :math:`K(t)` (d, d)."""

    degree: int = 0
    T: float = 1.0

    def gain(self, t: float) -> Any:
        P = legendre_shifted(float(t) / self.T, self.degree)
        return sum(float(q) * self.params["K"][j, ...] for j, q in enumerate(P))


def _transpose(a: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(a).matrix_transpose(a)


def mlp_control(
    dim: int, hidden: tuple[int, ...] = (64, 64), T: float = 1.0, *, n_time: int = 4, rng: Any = 0, backend: Any = None
) -> ControlModel:
    """A tanh MLP :math:`u(t, x)` (:func:`transportkit.interpolants.mlp.init_mlp` / ``mlp_apply`` with time
    features of :math:`t/T`), last layer zero (so training starts from :math:`u = 0`)."""
    from ..interpolants.mlp import init_mlp, mlp_apply

    dim = as_count("dim", dim)
    T = as_real("T", T, low=0.0, low_open=True)
    params = init_mlp(dim, tuple(hidden), n_time, rng=rng, backend=backend)
    last = len(params) // 2 - 1
    from array_api_compat import array_namespace

    xp = array_namespace(params["W0"])
    params[f"W{last}"] = xp.zeros_like(params[f"W{last}"])

    def apply(p: dict[str, Any], t: Any, x: Any) -> Any:
        return mlp_apply(p, t / T, x, array_namespace(x))

    return ControlModel(apply, params)


@dataclasses.dataclass
class Paths:
    """Simulated paths of :func:`simulate`: states ``x`` (K, n, d) at :math:`t_0..t_{K-1}`, the end ``x_end``
    (n, d), noise increments ``dW`` (K, n, d), controls ``u`` (K, n, d), running costs ``running`` (K, n) (per step,
    times h), terminal costs ``terminal`` (n,), times ``t`` (K,), step ``h``."""

    x: Array
    x_end: Array
    dW: Array
    u: Array
    running: Array
    terminal: Array
    t: Array
    h: float

    @property
    def cost(self) -> Array:
        """Realized total cost per path (n,)."""
        from array_api_compat import array_namespace

        xp = array_namespace(self.terminal)
        return xp.sum(self.running, axis=0) + self.terminal

    @property
    def girsanov(self) -> Array:
        r""":math:`\sum_k u_k\cdot\Delta W_k` per path (n,)."""
        from array_api_compat import array_namespace

        xp = array_namespace(self.terminal)
        return xp.sum(xp.sum(self.u * self.dW, axis=2), axis=0)


def _initial(x0: Any, n: int, dim: int | None, be: Backend, gen: Any) -> Array:
    if callable(x0):
        x = be.asarray(x0(n, gen))
    else:
        x = be.asarray(x0)
        if x.ndim == 1:
            x = x[None, :] + be.xp.zeros((n, x.shape[0]), dtype=x.dtype, device=be.device)
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"x0 must give shape (n_paths, d) = ({n}, d), got {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"x0 has dimension {x.shape[1]}, the control {dim}")
    return x


def simulate(
    drift: Callable, sigma: float, running_cost: Callable, terminal_cost: Callable, T: float, control: ControlModel,
    x0: Any, *, steps: int, n_paths: int, gen: Any, be: Backend,
) -> Paths:  # fmt: skip
    r"""Euler–Maruyama paths of :math:`dX = (b + \sigma u)dt + \sigma dW` with the control at its current
    parameters (no gradients), recording the noise increments and the costs."""
    xp = be.xp
    h = T / steps
    x = _initial(x0, n_paths, None, be, gen)
    n, d = x.shape
    ones = xp.ones((n,), dtype=x.dtype, device=be.device)
    apply = control.apply
    compiled = be.compiles_loops and gen.functional

    def body(i: Any, z: Array, consts: tuple) -> tuple[Array, tuple]:
        params, key = consts
        t = i * h
        u = apply(params, t * ones, z)
        dW = math.sqrt(h) * gen.at(key, i).normal((n, d), dtype=z.dtype)
        run = (0.5 * xp.sum(u * u, axis=1) + running_cost(t, z)) * h
        return z + (drift(t, z) + sigma * u) * h + sigma * dW, (z, dW, u, run)

    consts = (control.params, gen.loop_key() if compiled else None)
    ckey = ("control.simulate", drift, sigma, running_cost, apply, steps, T, n, d)
    x_end, (xs, dws, us, runs) = scan_steps(be, body, x, steps, consts=consts, key=ckey, compile=compiled)
    tt = xp.asarray([k * h for k in range(steps)], dtype=x.dtype, device=be.device)
    return Paths(xs, x_end, dws, us, runs, terminal_cost(x_end), tt, h)


def _weights(paths: Paths, baseline: str, xp: Any) -> Array:
    """The detached factors sg(C_k - c_k) of the surrogate, (K, n)."""
    if baseline == "total":
        C = xp.sum(paths.running, axis=0) + paths.terminal
        C = C[None, :] + xp.zeros_like(paths.running)
    else:  # cost-to-go from t_k: reversed cumulative sum of the running costs plus the terminal cost
        rev = xp.flip(paths.running, axis=0)
        C = xp.flip(xp.cumulative_sum(rev, axis=0), axis=0) + paths.terminal[None, :]
    return C - xp.mean(C, axis=1, keepdims=True)


def _surrogate(apply: Callable, xp: Any) -> Callable:
    def loss(p: dict[str, Any], x: Array, t: Array, dW: Array, w: Array, h: float) -> Array:
        K, n, d = x.shape
        tt = xp.reshape(t[:, None] + xp.zeros((K, n), dtype=x.dtype), (K * n,))
        u = xp.reshape(apply(p, tt, xp.reshape(x, (K * n, d))), (K, n, d))
        quad = 0.5 * h * xp.sum(u * u)
        lin = xp.sum(w * xp.sum(u * dW, axis=2))
        return (quad + lin) / n

    return loss


def _check(drift: Any, sigma: Any, running_cost: Any, terminal_cost: Any, T: Any) -> tuple[float, float]:
    check_callable("drift", drift)
    check_callable("running_cost", running_cost)
    check_callable("terminal_cost", terminal_cost)
    return as_real("sigma", sigma, low=0.0, low_open=True), as_real("T", T, low=0.0, low_open=True)


@dataclasses.dataclass
class OnPolicyResult(Result):
    """``control`` (the trained :class:`ControlModel`), ``history`` (``cost``: mean realized cost per iteration,
    ``cost_se``: its standard error)."""

    control: ControlModel
    history: dict[str, list[float]]


@declare(needs=("value_and_grad",), name="tk.control.on_policy")
def on_policy(
    drift: Callable[[float, Any], Any],
    sigma: float,
    running_cost: Callable[[float, Any], Any],
    terminal_cost: Callable[[Any], Any],
    T: float,
    *,
    x0: Any,
    control: ControlModel | None = None,
    steps: int = 50,
    n_paths: int = 256,
    iterations: int = 500,
    lr: float = 1e-2,
    baseline: str = "cost_to_go",
    lr_decay: float = 1.0,
    rng: Any = None,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> OnPolicyResult:
    r"""Train a feedback control with the on-policy Girsanov surrogate (module docstring; Hua, Laurière &
    Vanden-Eijnden 2024, arXiv:2410.05163). Adam on :math:`L(\theta)`, fresh paths every iteration.

    Parameters
    ----------
    drift : callable ``(t, x) -> (n, d)``
        Uncontrolled drift :math:`b`.
    sigma : float > 0
        Noise scale (isotropic); the control enters as :math:`\sigma u`.
    running_cost : callable ``(t, x) -> (n,)``
        :math:`f(t, x)` (the control cost :math:`\tfrac12|u|^2` is added).
    terminal_cost : callable ``x -> (n,)``
        :math:`g(x)`.
    T : float > 0
        Horizon.
    x0 : array (d,), array (n_paths, d), or callable ``(n, gen) -> (n, d)``
        Initial states (a point, fixed states, or a sampler).
    control : ControlModel, optional
        The model to train (default :func:`mlp_control`).
    steps, n_paths, iterations : int
        Euler–Maruyama steps, paths per iteration, Adam iterations.
    lr, lr_decay : float
        Adam learning rate, multiplied by ``lr_decay`` every iteration.
    baseline : {"cost_to_go", "total"}
        The weight of :math:`u\cdot\Delta W` at :math:`t_k`: realized cost-to-go or total cost, minus its batch
        mean.
    rng, backend
        Randomness (SPEC 7; ``seed=`` deprecated alias) and backend.

    Returns
    -------
    OnPolicyResult
        ``.control``, ``.history``.
    """
    sigma, T = _check(drift, sigma, running_cost, terminal_cost, T)
    steps, n_paths = as_count("steps", steps), as_count("n_paths", n_paths, 2)
    iterations = as_count("iterations", iterations)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    lr_decay = as_real("lr_decay", lr_decay, low=0.0, high=1.0, low_open=True)
    baseline = as_choice("baseline", baseline, ("cost_to_go", "total"))
    arrays = () if control is None or not isinstance(control, ControlModel) else tuple(control.params.values())
    be = resolve_backend(None if callable(x0) else x0, *arrays, backend=backend)
    be.require("value_and_grad")
    gen = resolve_rng(rng, be, seed=seed)
    xp = be.xp
    if control is None:
        d = _initial(x0, 2, None, be, gen).shape[1]
        control = mlp_control(d, T=T, rng=int(be.to_numpy(gen.integers(0, 2**31))), backend=be)
    elif not isinstance(control, ControlModel):
        raise TypeError(f"control must be a ControlModel, got {type(control).__name__}")
    p = {k: be.asarray(v) for k, v in control.params.items()}
    model = dataclasses.replace(control, params=p)
    vg = be.require("value_and_grad")
    loss = _surrogate(control.apply, xp)
    b1, b2 = 0.9, 0.999

    def update(p, m, v, x, t, dW, w, c1, c2, rate):  # type: ignore[no-untyped-def]
        _, g = vg(loss)(p, x, t, dW, w, T / steps)
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in p}
        v = {k: b2 * v[k] + (1 - b2) * g[k] * g[k] for k in p}
        p = {k: p[k] - rate * (m[k] / c1) / (xp.sqrt(v[k] / c2) + 1e-8) for k in p}
        return p, m, v

    update = be.maybe_jit(update)
    m = {k: xp.zeros_like(a) for k, a in p.items()}
    v = {k: xp.zeros_like(a) for k, a in p.items()}
    history: dict[str, list[float]] = {"cost": [], "cost_se": []}
    rate = lr
    for i in range(iterations):
        model.params = p
        paths = simulate(drift, sigma, running_cost, terminal_cost, T, model, x0, steps=steps, n_paths=n_paths,
                         gen=gen, be=be)  # fmt: skip
        C = paths.cost
        history["cost"].append(float(xp.mean(C)))
        history["cost_se"].append(float(xp.std(C)) / math.sqrt(n_paths))
        w = _weights(paths, baseline, xp)
        p, m, v = update(p, m, v, paths.x, paths.t, paths.dW, w, 1 - b1 ** (i + 1), 1 - b2 ** (i + 1), rate)
        rate *= lr_decay
    model.params = p
    return OnPolicyResult(model, history, backend=be)


class SurrogateGradient(NamedTuple):
    """What :func:`surrogate_gradient` returns (a tuple, so ``J, J_se, grad, grad_se = ...`` unpacks it)."""

    #: the mean cost :math:`J` over all batches
    J: float
    #: its standard error across batches
    J_se: float
    #: :math:`\nabla_\theta J`, arrays keyed like ``control.params``
    grad: dict[str, Array]
    #: the standard errors of ``grad`` across batches, keyed alike
    grad_se: dict[str, Array]


@declare(needs=("value_and_grad",), name="tk.control.surrogate_gradient")
def surrogate_gradient(
    drift: Callable[[float, Any], Any],
    sigma: float,
    running_cost: Callable[[float, Any], Any],
    terminal_cost: Callable[[Any], Any],
    T: float,
    control: ControlModel,
    *,
    x0: Any,
    steps: int = 50,
    n_paths: int = 1000,
    batches: int = 10,
    baseline: str = "cost_to_go",
    rng: Any = None,
    backend: Any = None,
) -> SurrogateGradient:
    r"""Estimates of :math:`J` and :math:`\nabla_\theta J` at the control's parameters from ``batches``
    independent batches of ``n_paths`` paths (the gradient of the surrogate on each): a :class:`SurrogateGradient`
    ``(J, J_se, grad, grad_se)`` with the standard errors across batches (dicts of arrays keyed like
    ``control.params``)."""
    sigma, T = _check(drift, sigma, running_cost, terminal_cost, T)
    steps, n_paths, batches = as_count("steps", steps), as_count("n_paths", n_paths, 2), as_count("batches", batches, 2)
    baseline = as_choice("baseline", baseline, ("cost_to_go", "total"))
    be = resolve_backend(None if callable(x0) else x0, *control.params.values(), backend=backend)
    vg = be.require("value_and_grad")
    gen = resolve_rng(rng, be)
    xp = be.xp
    loss = _surrogate(control.apply, xp)
    Js, gs = [], []
    for _ in range(batches):
        paths = simulate(drift, sigma, running_cost, terminal_cost, T, control, x0, steps=steps, n_paths=n_paths,
                         gen=gen, be=be)  # fmt: skip
        Js.append(float(xp.mean(paths.cost)))
        _, g = vg(loss)(control.params, paths.x, paths.t, paths.dW, _weights(paths, baseline, xp), T / steps)
        gs.append(g)
    J = sum(Js) / batches
    J_se = math.sqrt(sum((a - J) ** 2 for a in Js) / (batches - 1) / batches)
    mean = {k: sum(g[k] for g in gs) / batches for k in gs[0]}
    se = {k: xp.sqrt(sum((g[k] - mean[k]) ** 2 for g in gs) / (batches - 1) / batches) for k in gs[0]}
    return SurrogateGradient(J, J_se, mean, se)
