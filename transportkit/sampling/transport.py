r"""Generative transport: push base samples through the probability-flow ODE or the forward SDE of a field.

ODE: :math:`\dot X = b(t, X)`; SDE: :math:`dX = [b + \varepsilon s](t, X)\,dt + \sqrt{2\varepsilon(t)}\,dW`
(Albergo, Boffi & Vanden-Eijnden, "Stochastic Interpolants: A Unifying Framework for Flows and
Diffusions", 2023, arXiv:2303.08797), both from
 :math:`X_{t_0} \sim \rho_{t_0}` (the base at :math:`t_0 = 0`) to :math:`t_1`.
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend, get_backend
from .._capabilities import declare
from .._dask import backend_spec, check_client, run_tasks, task_backend, task_generator, task_seeds
from .._validation import as_bool, as_count
from ..integrate import ODE_SOLVERS, SDE_SOLVERS, diffusion_function, grid_times, odeint, sdeint
from ..random import SEED_DEPRECATED, Generator, resolve_rng
from .registry import register_method
from .results import Samples

__all__ = ["sample_transport"]


def _is_field(obj: Any) -> bool:
    return hasattr(obj, "bind") and hasattr(obj, "velocity") and hasattr(obj, "dim")


@declare(uses=("jit",), name="tk.sample(method='ode'/'sde')")
def sample_transport(
    field: Any,
    n: int,
    *,
    method: str = "ode",
    steps: int | None = None,
    diffusion: Any = 1.0,
    solver: str | None = None,
    grid: Any = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    rng_on_host: bool = False,
    return_path: bool = False,
    progress: bool = False,
    chunks: int | None = None,
    client: Any = None,
) -> Samples:
    r"""``n`` samples of :math:`\rho_{t_1}` by integrating from base samples at :math:`t_0`.

    - ``method="ode"``: ``solver`` in ``"euler", "heun", "midpoint", "rk4"`` (default), ``"dopri5"``;
      ``steps`` default 100.
    - ``method="sde"``: ``diffusion`` :math:`\varepsilon` (number or callable of ``t``; default 1), ``solver``
      ``"heun"`` (default) or ``"euler_maruyama"``; ``steps`` default 500. Fields without a score use the
      one-sided conversion :math:`s = (\beta b - \beta' x)/(\alpha(\alpha\beta'-\alpha'\beta))`, singular at
      :math:`t = 1`: there, take an :math:`\varepsilon(t)` that vanishes at 1 or end ``t_span`` before 1.
    - ``grid``: an explicit time grid (overrides ``steps``/``t_span``), e.g. :func:`transportkit.integrate.time_grid`.
    - ``rng``: ``None``, an int, a ``numpy.random.Generator`` or a :class:`transportkit.random.Generator` (SPEC 7;
      ``seed=`` is its deprecated alias); ``rng_on_host=True`` draws every random
      number with NumPy on the host, so that backends can be compared on identical noise.

    - ``chunks``: split the walkers into that many chunks (sizes differing by at most one), each from its own
      random stream (:func:`transportkit._dask.task_seeds`), integrated one after another here or, with ``client``
      (a ``dask.distributed.Client``), as Dask tasks on its cluster: the same numbers either way (bit-identical on
      NumPy), a lost chunk an error naming it (docs/scaling.md).

    Returns :class:`Samples` with ``x`` (n, d); ``info`` holds ``method, solver, steps, t_span`` and, with
    ``return_path``, ``path`` (len(grid), n, d).
    """
    if method not in ("ode", "sde"):
        raise ValueError(f"transport sampling takes method='ode' or 'sde', got {method!r}")
    n = as_count("n", n)
    return_path, progress, rng_on_host = (as_bool("return_path", return_path), as_bool("progress", progress),
                                          as_bool("rng_on_host", rng_on_host))
    solver = solver or ("rk4" if method == "ode" else "heun")
    allowed = ODE_SOLVERS if method == "ode" else SDE_SOLVERS
    if solver not in allowed:
        raise ValueError(f"unknown {method.upper()} solver {solver!r}; use one of {allowed}")
    steps = steps if steps is not None else (100 if method == "ode" else 500)
    chunks = None if chunks is None else as_count("chunks", chunks, 1)
    if chunks is not None and chunks > n:
        raise ValueError(f"chunks = {chunks} is more than the n = {n} walkers")
    if check_client("sample_transport()", client) is not None and chunks is None:
        raise ValueError("client= runs chunks of walkers as tasks: give chunks=k as well")
    if method == "sde":
        diffusion_function(diffusion)  # checks the diffusion before any work
    be, ts, gen = resolve_grid_run(field, grid, steps, t_span, backend, device, dtype, rng, seed, rng_on_host)
    info: dict[str, Any] = {"method": method, "solver": solver, "steps": len(ts) - 1, "t_span": (ts[0], ts[-1])}
    if method == "sde":
        info["diffusion"] = diffusion
    if chunks is None:
        out = _integrate(field, n, method, solver, ts, diffusion, be, gen, return_path, progress)
    else:
        info["chunks"] = chunks
        sizes = [n // chunks + (1 if j < n % chunks else 0) for j in range(chunks)]
        spec = be if client is None else backend_spec(be)
        args = [(field, m, method, solver, ts, diffusion, spec, s, rng_on_host, return_path)
                for m, s in zip(sizes, task_seeds(gen, chunks), strict=True)]  # fmt: skip
        parts = run_tasks("sample_transport()", "chunk", _chunk_task, args, client=client, progress=progress)
        out = be.xp.concat([be.asarray(p) for p in parts], axis=-2)
    if return_path:
        info["path"] = out
        out = out[-1, ...]
    return Samples(out, info=info, backend=be)


def resolve_grid_run(
    obj: Any, grid: Any, steps: int, t_span: Any, backend: Any, device: Any, dtype: Any, rng: Any, seed: Any,
    rng_on_host: bool,
) -> tuple[Backend, list[float], Generator]:
    """What a run along a time grid in [0, 1] resolves at entry (transport samplers, flow maps): the backend (given,
    else that of a transportkit Generator passed as ``rng``/``seed``, else ``obj.backend``, else NumPy), the grid
    (:func:`~transportkit.integrate.grid_times`; ``ValueError`` outside [0, 1]) and the stream of ``rng``."""
    src = rng if seed is SEED_DEPRECATED else seed
    if isinstance(src, Generator) and backend is None:
        backend = src.backend
    be = get_backend(backend if backend is not None else (obj.backend or "numpy"), device=device, dtype=dtype)
    ts = grid_times(grid, steps, t_span, be)
    if not (0.0 <= min(ts) and max(ts) <= 1.0):
        raise ValueError(f"the time grid must lie in [0, 1], got [{min(ts)}, {max(ts)}]")
    return be, ts, resolve_rng(rng, be, seed=seed, rng_on_host=rng_on_host)


def _integrate(field: Any, n: int, method: str, solver: str, ts: list, diffusion: Any, be: Any, gen: Any,
               return_path: bool, progress: bool) -> Any:  # fmt: skip
    """``n`` base samples from ``gen`` pushed through the ODE or SDE of ``field`` on the grid ``ts``."""
    bf = field.bind(be)
    x0 = bf.initial_samples(n, ts[0], gen)
    if method == "ode":
        return odeint(bf.velocity, x0, grid=ts, solver=solver, return_path=return_path, progress=progress, backend=be)
    eps_t = diffusion_function(diffusion)
    drift = _forward_drift(bf, eps_t if callable(diffusion) else eps_t(None))
    return sdeint(drift, x0, diffusion, grid=ts, solver=solver, rng=gen, return_path=return_path, progress=progress,
                  backend=be)  # fmt: skip


def _chunk_task(field: Any, n: int, method: str, solver: str, ts: list, diffusion: Any, backend: Any,
                seed: list[int], rng_on_host: bool, return_path: bool) -> Any:  # fmt: skip
    """One chunk of walkers from its own stream (module level, so that Dask can ship it)."""
    be = task_backend(backend)
    return _integrate(field, n, method, solver, ts, diffusion, be, task_generator(seed, be, rng_on_host), return_path,
                      False)  # fmt: skip


class _forward_drift:
    r""":math:`b + \varepsilon s` of a bound field; hashable by (field, diffusion) so that repeated runs reuse one
    compiled program."""

    def __init__(self, bf: Any, eps: Any):
        self.bf, self.eps = bf, eps

    def __call__(self, t: Any, x: Any) -> Any:
        e = self.eps(t) if callable(self.eps) else self.eps
        return self.bf.drift(t, x, e, "forward")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _forward_drift) and other.bf is self.bf and other.eps == self.eps

    def __hash__(self) -> int:
        return hash((id(self.bf), self.eps))


def _run(obj: Any, n: int, **options: Any) -> Samples:
    return sample_transport(obj, n, **options)


register_method(
    "ode", lambda obj, n, **kw: _run(obj, n, method="ode", **kw), _is_field, kind="a field or model", default=True,
    options_from=sample_transport, exclude=("method",), summary="probability-flow ODE from base samples",
)  # fmt: skip
register_method(
    "sde", lambda obj, n, **kw: _run(obj, n, method="sde", **kw), _is_field, kind="a field or model",
    options_from=sample_transport, exclude=("method",), summary="forward SDE with diffusion eps(t) from base samples",
)  # fmt: skip
