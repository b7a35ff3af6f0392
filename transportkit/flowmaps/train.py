r"""Training a two-time MLP flow map on torch and jax: self-distillation, distillation or direct matching.

Each step draws a batch of interpolant samples and splits it (Boffi, Albergo & Vanden-Eijnden 2025,
arXiv:2505.18825, §4): a *diagonal* part with :math:`s = t`, :math:`t\sim U(0,1)`, and an *off-diagonal* part with
gap :math:`t - s \sim U(0, g_k)` and :math:`s \sim U(0, 1 - (t-s))`, where the admissible gap :math:`g_k` grows
linearly from 0 to 1 over the first ``anneal`` fraction of the steps. The objective is

- ``"lsd"``, ``"esd"``, ``"psd"`` (self-distillation, no teacher needed): ``diagonal`` on the diagonal part plus the
  self-distillation loss on the off-diagonal part, with the model's own parameters (held constant) as teacher;
- ``"lmd"``, ``"emd"`` (distillation of a field ``teacher=``; for a Gaussian-mixture target its exact field by
  default): the distillation loss on the whole batch (on the diagonal it is the tangent condition
  :math:`\varphi_{t,t} = b_t`);
- ``"fmm"`` (direct flow-map matching, Boffi, Albergo & Vanden-Eijnden 2024, arXiv:2406.07507): on the whole batch;
- ``"diagonal"``: flow matching of the diagonal only (a velocity model, for comparison).

``weighting="learned"`` adds a small network :math:`w_{s,t}` and minimizes
:math:`E[e^{-w_{s,t}}\ell_{s,t} + w_{s,t}]` on the off-diagonal part (the adaptive weighting of the reference code;
at its optimum :math:`e^{w} = E[\ell \mid s, t]`, which balances the scales across times).

Optimizer: Adam with global-norm gradient clipping. On JAX it is optax's (``scale_by_adam`` after
``clip_by_global_norm``), one ``jit``-compiled update per step; on other autodiff backends a hand Adam with the same
update in the Array API (``torch.optim`` cannot be reached from here: only the adapters in ``backends/`` import an
array library). Without ``value_and_grad`` (numpy, array_api_strict, cupy) training raises
:class:`~transportkit.CapabilityError`.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend, get_backend, resolve_backend
from .._capabilities import declare
from .._loops import progress_range
from .._results import Result
from .._validation import as_bool, as_choice, as_count, as_points, as_real
from ..errors import NonFiniteWarning
from ..interpolants.exact import exact_field
from ..interpolants.interpolant import Interpolant
from ..interpolants.mlp import init_net
from ..random import SEED_DEPRECATED, resolve_rng
from ..targets import GaussianMixture
from . import losses as L
from .maps import MLPFlowMap, ParamFlowMap, init_phi_mlp, time_features

__all__ = ["LOSSES", "TrainResult", "mlp_flow_map", "train"]

#: the objectives :func:`train` accepts
LOSSES = ("lsd", "esd", "psd", "lmd", "emd", "fmm", "diagonal")


@dataclasses.dataclass
class TrainResult(Result):
    """What :func:`train` returns: the trained ``model`` (an :class:`MLPFlowMap`) and ``history``, a dict of lists
    ``step``, ``loss`` (the objective, a batch estimate), ``max_gap`` (the annealed :math:`|t - s|` bound) and
    ``seconds`` (wall time since the start), recorded every ``log_every`` steps and at the last one."""

    model: MLPFlowMap
    history: dict[str, list[float]]
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


def mlp_flow_map(
    interpolant: Interpolant | str,
    dim: int,
    *,
    hidden: tuple[int, ...] = (64, 64, 64),
    n_time: int = 4,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
) -> MLPFlowMap:
    r"""An untrained two-time MLP flow map :math:`X_{s,t}(x) = x + (t-s)\varphi_{s,t}(x)` (Glorot-normal weights)
    with ``hidden`` widths and ``n_time`` frequencies of time features, on ``backend``."""
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    dim = as_count("dim", dim)
    n_time = as_count("n_time", n_time, low=0)
    hidden = tuple(as_count("hidden width", h) for h in hidden)
    be = get_backend(backend)
    gen = resolve_rng(rng, be, seed=seed)
    return MLPFlowMap(I, init_phi_mlp(dim, hidden, n_time, gen, be), be, {"hidden": hidden, "n_time": n_time})


# ---------------------------------------------------------------------------------------------- optimizers
def _tree_map(f: Callable, *trees: Any) -> Any:
    if isinstance(trees[0], dict):
        return {k: _tree_map(f, *(t[k] for t in trees)) for k in trees[0]}
    return f(*trees)


def _leaves(tree: Any) -> list[Any]:
    return [v for k in tree for v in _leaves(tree[k])] if isinstance(tree, dict) else [tree]


class _HandAdam:
    """Adam after global-norm clipping, in the Array API (the update of optax ``chain(clip_by_global_norm,
    scale_by_adam)``): :math:`m \\leftarrow \\beta_1 m + (1-\\beta_1)g`, :math:`v \\leftarrow \\beta_2 v +
    (1-\\beta_2)g^2`, :math:`\\theta \\leftarrow \\theta - \\eta\\,\\hat m/(\\sqrt{\\hat v}+\\epsilon)`."""

    library = "transportkit (Array API)"

    def __init__(self, xp: Any, clip: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.xp, self.clip, self.b1, self.b2, self.eps = xp, clip, b1, b2, eps

    def init(self, params: Any) -> Any:
        z = _tree_map(self.xp.zeros_like, params)
        return {"m": z, "v": _tree_map(self.xp.zeros_like, params), "k": 0}

    def update(self, grads: Any, state: Any, params: Any, lr: Any) -> tuple[Any, Any]:
        xp, b1, b2 = self.xp, self.b1, self.b2
        norm = xp.sqrt(sum(xp.sum(g * g) for g in _leaves(grads)))
        scale = xp.minimum(xp.ones_like(norm), self.clip / (norm + 1e-12))
        grads = _tree_map(lambda g: g * scale, grads)
        k = state["k"] + 1
        m = _tree_map(lambda a, g: b1 * a + (1 - b1) * g, state["m"], grads)
        v = _tree_map(lambda a, g: b2 * a + (1 - b2) * g * g, state["v"], grads)
        c1, c2 = 1 - b1**k, 1 - b2**k
        new = _tree_map(lambda p, a, b: p - lr * (a / c1) / (xp.sqrt(b / c2) + self.eps), params, m, v)
        return new, {"m": m, "v": v, "k": k}


class _Optax:
    """optax ``chain(clip_by_global_norm(clip), scale_by_adam())`` with the step size applied per step."""

    library = "optax"

    def __init__(self, clip: float):
        import optax

        self.optax = optax
        self.tx = optax.chain(optax.clip_by_global_norm(clip), optax.scale_by_adam())

    def init(self, params: Any) -> Any:
        return self.tx.init(params)

    def update(self, grads: Any, state: Any, params: Any, lr: Any) -> tuple[Any, Any]:
        upd, state = self.tx.update(grads, state, params)
        return self.optax.apply_updates(params, _tree_map(lambda u: -lr * u, upd)), state


#: optimizers from a well-kept library, by the array library of the backend (others get the Array-API Adam)
_LIBRARY_OPTIMIZERS: dict[str, Callable[[float], Any]] = {"jax": _Optax}


def _optimizer(be: Backend, clip: float) -> Any:
    make = _LIBRARY_OPTIMIZERS.get(be.adapter.library)
    if make is not None:
        try:
            return make(clip)
        except ImportError:
            pass
    return _HandAdam(be.xp, clip)


# ---------------------------------------------------------------------------------------------- training
def _weight_net(gen: Any, be: Backend, width: int = 32) -> dict[str, Any]:
    """The learned loss weighting :math:`w(s, t)`: a one-hidden-layer tanh net on the time features, starting at 0."""
    p = init_net(3 + 4 * 2, (width,), 1, gen, be)
    p["W1"] = p["W1"] * 0.0
    return p


def _weight_apply(p: dict[str, Any], s: Any, t: Any, xp: Any, like: Any) -> Any:
    h = time_features(s, t, s.shape[0], 2, xp, like)
    h = xp.tanh(h @ p["W0"] + p["c0"])
    return (h @ p["W1"] + p["c1"])[:, 0]


@declare(needs=("value_and_grad",), uses=("jit",), name="tk.flowmaps.train")
def train(
    model: MLPFlowMap | None,
    interpolant: Interpolant | str,
    data_or_target: Any,
    *,
    loss: str = "lsd",
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    lr_final: float | None = None,
    diag_fraction: float = 0.5,
    anneal: float = 0.3,
    psd_u: str = "midpoint",
    teacher: Any = None,
    weighting: str | None = None,
    invertibility_weight: float = 1.0,
    clip: float = 1.0,
    log_every: int = 50,
    max_seconds: float | None = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    backend: Any = None,
    progress: bool = False,
) -> TrainResult:
    r"""Train the flow map ``model`` (an :class:`MLPFlowMap`; ``None``: a fresh :func:`mlp_flow_map`) of
    ``interpolant`` towards ``data_or_target`` (samples (n, d), or a target with ``sample``, e.g. a
    :class:`~transportkit.targets.GaussianMixture`) with the objective ``loss`` (see the module docstring).

    ``steps`` Adam steps on batches of ``batch_size`` (a ``diag_fraction`` of them on the diagonal), step size
    ``lr`` decaying by a cosine to ``lr_final`` (default ``lr/10``); ``anneal``: fraction of the steps over which the
    admissible :math:`|t-s|` grows from 0 to 1; ``psd_u``: ``"midpoint"`` or ``"random"`` (:math:`u\sim U(s, t)`);
    ``teacher``: the field distilled by ``"lmd"``/``"emd"``; ``max_seconds``: stop after this wall time (the
    history and ``info["steps"]`` say where), with the step-size decay and the gap annealing then following the
    elapsed fraction of that time (so ``steps`` can be set large); ``rng``: SPEC-7 seed (``seed=`` deprecated alias).
    Returns a :class:`TrainResult` (``.model``, ``.history``). A non-finite loss stops training with a
    :class:`~transportkit.errors.NonFiniteWarning`.
    """
    loss = as_choice("loss", loss, LOSSES)
    steps = as_count("steps", steps)
    batch_size = as_count("batch_size", batch_size, low=2)
    lr = as_real("lr", lr, low=0.0, low_open=True)
    lr_final = lr / 10 if lr_final is None else as_real("lr_final", lr_final, low=0.0)
    diag_fraction = as_real("diag_fraction", diag_fraction, low=0.0, high=1.0, high_open=True)
    anneal = as_real("anneal", anneal, low=0.0, high=1.0)
    psd_u = as_choice("psd_u", psd_u, ("midpoint", "random"))
    weighting = None if weighting is None else as_choice("weighting", weighting, ("learned",))
    invertibility_weight = as_real("invertibility_weight", invertibility_weight, low=0.0)
    clip = as_real("clip", clip, low=0.0, low_open=True)
    log_every = as_count("log_every", log_every)
    if max_seconds is not None:
        max_seconds = as_real("max_seconds", max_seconds, low=0.0, low_open=True)
    progress = as_bool("progress", progress)
    I = Interpolant(interpolant) if isinstance(interpolant, str) else interpolant  # noqa: E741
    if not isinstance(I, Interpolant):
        raise TypeError(f"interpolant must be an Interpolant or a schedule name, got {type(I).__name__}")
    if model is not None and not isinstance(model, MLPFlowMap):
        raise TypeError(f"model must be an MLPFlowMap (tk.flowmaps.mlp_flow_map) or None, got {type(model).__name__}")

    is_target = hasattr(data_or_target, "sample") and hasattr(data_or_target, "dim")
    if backend is None and model is not None and is_target:
        backend = model.backend
    be = resolve_backend(*(() if is_target else (data_or_target,)), backend=backend)
    be.require("value_and_grad")
    data = None if is_target else as_points("data_or_target", data_or_target, be)
    d = int(data_or_target.dim) if is_target else int(data.shape[1])
    gen = resolve_rng(rng, be, seed=seed)
    if model is None:
        model = mlp_flow_map(I, d, rng=gen, backend=be)
    if model.dim != d:
        raise ValueError(f"the model maps dimension {model.dim}, the data has {d}")
    field = _teacher_field(loss, teacher, data_or_target, I, be)
    n_diag = round(diag_fraction * batch_size) if loss in ("lsd", "esd", "psd") else 0
    if loss in ("lsd", "esd", "psd") and batch_size - n_diag < 1:
        raise ValueError("diag_fraction leaves no off-diagonal samples for self-distillation")

    params: dict[str, Any] = {"phi": {k: be.asarray(v) for k, v in model._host.items()}}
    if weighting == "learned":
        params["w"] = _weight_net(gen, be)
    objective = _objective(loss, be, I, d, n_diag, field, invertibility_weight)
    opt = _optimizer(be, clip)
    vg = be.value_and_grad

    def update(p: Any, state: Any, batch: dict[str, Any], lr_k: Any) -> tuple[Any, Any, Any]:
        val, g = vg(objective)(p, p, batch)
        p, state = opt.update(g, state, p, lr_k)
        return p, state, val

    state = opt.init(params)
    # the arrays the compiled step returns are placed (committed) where its inputs were not: one placement pass
    # first, so that JAX compiles the step once rather than twice
    params, state = be.maybe_jit(lambda p, st: (_tree_map(lambda v: v * 1, p), st))(params, state)
    draw = _BatchDrawer(I, data_or_target, data, d, batch_size, n_diag, loss == "psd" and psd_u == "random", gen, be)
    schedule = _Schedule(steps, lr, lr_final, anneal, max_seconds)
    params, history, stopped = _fit(be.maybe_jit(update), params, state, draw, schedule, be, loss, log_every,
                                    progress)  # fmt: skip
    info = {"loss": loss, "steps": steps if stopped is None else stopped, "batch_size": batch_size, "lr": lr,
            "optimizer": opt.library, "weighting": weighting, "seconds": schedule.elapsed()}
    if "w" in params:
        info["weight_params"] = params["w"]
    trained = MLPFlowMap(I, params["phi"], be, {**model.info, **info})
    return TrainResult(trained, history, info, backend=be)


def _teacher_field(loss: str, teacher: Any, data_or_target: Any, I: Interpolant, be: Backend) -> Any:  # noqa: E741
    """The velocity ``b(t, x)`` distilled by ``"lmd"``/``"emd"`` (the teacher's, or the exact field of a
    GaussianMixture target); ``None`` for the other losses."""
    if loss not in ("lmd", "emd"):
        return None
    if teacher is None:
        if not isinstance(data_or_target, GaussianMixture):
            raise ValueError(f"loss={loss!r} distills a field: pass teacher= (a Field) or a GaussianMixture target")
        teacher = exact_field(I, data_or_target)
    field = teacher.bind(be).velocity if hasattr(teacher, "bind") else teacher
    if not callable(field):
        raise TypeError(f"teacher must be a Field or a callable b(t, x), got {type(teacher).__name__}")
    return field


def _objective(loss: str, be: Backend, I: Interpolant, d: int, n_diag: int, field: Any,  # noqa: E741
               invertibility_weight: float) -> Callable[[Any, Any, dict[str, Any]], Any]:  # fmt: skip
    """The training objective ``(params, frozen params, batch) -> loss``: the diagonal loss on the first ``n_diag``
    rows, ``loss`` on the others (per sample, reweighted by the learned :math:`e^{-w}` plus :math:`w` when the
    parameters hold a weight net ``"w"``); self-distillation's teacher is the frozen copy of the map."""
    xp = be.xp

    def per_sample(m: Any, T: Any, off: dict[str, Any]) -> Any:
        if loss in ("lsd", "esd", "psd"):
            return getattr(L, loss)(m, off, teacher=T, reduce=False)
        if loss in ("lmd", "emd"):
            return getattr(L, loss)(m, off, field, reduce=False)
        if loss == "fmm":
            return L.fmm(m, off, invertibility_weight=invertibility_weight, reduce=False)
        return L.diagonal(m, off, reduce=False)

    def objective(p: Any, frozen: Any, batch: dict[str, Any]) -> Any:
        m = ParamFlowMap(be, I, d, p["phi"])
        total = L.diagonal(m, {k: v[:n_diag, ...] for k, v in batch.items()}) if n_diag else 0.0
        off = {k: v[n_diag:, ...] for k, v in batch.items()} if n_diag else batch
        per = per_sample(m, ParamFlowMap(be, I, d, frozen["phi"]), off)
        if "w" in p:
            w = _weight_apply(p["w"], off["s"], off["t"], xp, off["xs"])
            return total + xp.mean(xp.exp(-w) * per + w)
        return total + xp.mean(per)

    return objective


@dataclasses.dataclass(frozen=True)
class _BatchDrawer:
    r"""Draws a training batch: ``n_diag`` diagonal times then off-diagonal pairs :math:`s < t` with
    :math:`t - s \le` ``gap_max`` (a random intermediate time ``u`` for ``psd_u="random"``)."""

    I: Interpolant  # noqa: E741
    source: Any
    data: Any
    d: int
    batch_size: int
    n_diag: int
    random_u: bool
    gen: Any
    be: Backend

    def __call__(self, gap_max: float) -> dict[str, Any]:
        B, gen, xp, d = self.batch_size, self.gen, self.be.xp, self.d
        if self.data is None:
            x1 = self.source.sample(B, gen, backend=self.be)
        else:
            x1 = xp.take(self.data, gen.integers(0, self.data.shape[0], (B,)), axis=0)
        x0 = gen.normal((B, d))
        z = None if self.I.one_sided else gen.normal((B, d))
        n_off = B - self.n_diag
        td = gen.uniform((self.n_diag,))
        gap = gap_max * gen.uniform((n_off,))
        so = (1.0 - gap) * gen.uniform((n_off,))
        s = xp.concat([td, so])
        t = xp.concat([td, so + gap])
        u = s + gen.uniform((B,)) * (t - s) if self.random_u else None
        return L.make_batch(self.I, x0, x1, s, t, z=z, u=u)


class _Schedule:
    """The step size (a cosine from ``lr`` to ``lr_final``) and the admissible gap (growing to 1 over the first
    ``anneal`` of training) at a training progress measured in steps, or in wall time under ``max_seconds``."""

    def __init__(self, steps: int, lr: float, lr_final: float, anneal: float, max_seconds: float | None):
        self.steps, self.lr, self.lr_final, self.anneal, self.max_seconds = steps, lr, lr_final, anneal, max_seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def at(self, k: int) -> tuple[float, float]:
        """``(lr_k, gap_max)`` at step ``k``."""
        frac = k / max(self.steps - 1, 1)
        if self.max_seconds is not None:
            frac = min(1.0, max(frac, self.elapsed() / self.max_seconds))
        lr_k = self.lr_final + 0.5 * (self.lr - self.lr_final) * (1.0 + math.cos(math.pi * frac))
        return lr_k, 1.0 if self.anneal == 0 else min(1.0, frac / self.anneal)

    def out_of_time(self) -> bool:
        return self.max_seconds is not None and self.elapsed() > self.max_seconds


def _fit(step_fn: Callable, params: Any, state: Any, draw: _BatchDrawer, schedule: _Schedule, be: Backend, loss: str,
         log_every: int, progress: bool) -> tuple[Any, dict[str, list[float]], int | None]:  # fmt: skip
    """The training loop: ``(params, history, step where it stopped early or None)``. A non-finite logged loss stops
    it with a :class:`~transportkit.errors.NonFiniteWarning` and returns the parameters of the last finite log."""
    history: dict[str, list[float]] = {"step": [], "loss": [], "max_gap": [], "seconds": []}
    steps, stopped, last_good = schedule.steps, None, params
    for k in progress_range(steps, progress, f"flow map ({loss})"):
        lr_k, gap_max = schedule.at(k)
        new_params, new_state, val = step_fn(params, state, draw(gap_max), be.asarray(lr_k))
        if k % log_every == 0 or k == steps - 1:
            v = float(val)
            if not math.isfinite(v):
                warnings.warn(f"flow-map training ({loss}) hit a non-finite loss at step {k}; stopped and returned "
                              "the parameters of the last logged finite step (lower lr= or clip=)", NonFiniteWarning,
                              stacklevel=3)  # fmt: skip
                return last_good, history, k
            last_good = params
            for key, value in zip(history, (float(k), v, gap_max, schedule.elapsed()), strict=True):
                history[key].append(value)
        params, state = new_params, new_state
        if schedule.out_of_time():
            return params, history, k + 1
    return params, history, stopped
