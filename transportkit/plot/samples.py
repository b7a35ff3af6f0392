r"""Pictures of samples: 2-D scatter over the target's density contours, 1-D marginals, mode weights with error
bars, and the normalizing-constant estimate and effective sample size of a sampler against its number of steps."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._validation import as_count, check_callable
from ._common import axes, host, host_xp, labelled

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_ess", "plot_log_Z", "plot_marginals", "plot_mode_weights", "plot_samples"]


def _points(x: Any, name: str = "x") -> Any:
    X = host(getattr(x, "x", x), name)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, d), got {tuple(X.shape)}")
    return X


def _log_prob(target: Any) -> Callable[[Any], Any]:
    f = getattr(target, "log_prob", target)
    return check_callable("target (or target.log_prob)", f)


def _bounds(X: Any, bounds: Any, pad: float = 0.1) -> tuple[tuple[float, float], tuple[float, float]]:
    if bounds is not None:
        (a, b), (c, d) = bounds
        return (float(a), float(b)), (float(c), float(d))
    xp = host_xp()
    lo, hi = xp.min(X, axis=0), xp.max(X, axis=0)
    span = hi - lo
    return ((float(lo[0] - pad * span[0]), float(hi[0] + pad * span[0])),
            (float(lo[1] - pad * span[1]), float(hi[1] + pad * span[1])))


def plot_samples(
    x: Any,
    target: Any = None,
    *,
    ax: Any = None,
    bounds: Any = None,
    grid: int = 150,
    levels: int = 8,
    max_points: int = 5000,
    label: str = "samples",
    title: str | None = None,
    **scatter_kw: Any,
) -> Axes:
    r"""Scatter of 2-D samples over the contours of the target density :math:`\rho(x) \propto e^{\log\rho(x)}`.

    Parameters
    ----------
    x : array (n, 2) or a result with ``.x`` (e.g. :class:`~transportkit.Samples`)
        The samples (any backend). At most ``max_points`` (the first ones) are drawn.
    target : object with ``log_prob``, or a callable ``log_prob(x)`` on host arrays (m, 2); optional
        Its density :math:`e^{\log\rho}` is evaluated on a ``grid x grid`` mesh over ``bounds`` and drawn as
        ``levels`` contour lines (normalization is irrelevant).
    ax : matplotlib Axes, optional
        Where to draw; a new pyplot figure when omitted.
    bounds : ((x_min, x_max), (y_min, y_max)), optional
        The window; default: the samples' range plus 10 %.
    """
    ax = axes(ax)
    grid, levels, max_points = as_count("grid", grid, 2), as_count("levels", levels), as_count("max_points", max_points)
    X = _points(x)
    if X.shape[1] != 2:
        raise ValueError(f"plot_samples draws 2-D samples; x has d = {X.shape[1]} (use plot_marginals)")
    (x0, x1), (y0, y1) = _bounds(X, bounds)
    if target is not None:
        xp = host_xp()
        lp = _log_prob(target)
        gx, gy = xp.linspace(x0, x1, grid), xp.linspace(y0, y1, grid)
        GX, GY = xp.meshgrid(gx, gy)
        pts = xp.stack([xp.reshape(GX, (-1,)), xp.reshape(GY, (-1,))], axis=1)
        logp = xp.reshape(host(lp(pts), "target.log_prob(x)"), GX.shape)
        dens = xp.exp(logp - xp.max(logp))
        ax.contour(GX, GY, dens, levels=levels, colors="k", linewidths=0.8, alpha=0.8)
        ax.plot([], [], "k-", lw=0.8, label="target density")
    Xs = X[:max_points]
    kw = {"s": 2, "alpha": 0.4, **scatter_kw}
    ax.scatter(Xs[:, 0], Xs[:, 1], label=f"{label} (n = {X.shape[0]})", **kw)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal", adjustable="box")
    if title is not None:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small", markerscale=4)
    return ax


def plot_marginals(
    x: Any,
    target: Any = None,
    *,
    dim: int = 0,
    ax: Any = None,
    marginal: Callable[[Any], Any] | None = None,
    bins: int = 60,
    bounds: Any = None,
    grid: int = 400,
    label: str = "samples",
) -> Axes:
    r"""Histogram of coordinate ``dim`` of the samples against the target's marginal density.

    The marginal is ``marginal(t)`` (a density of the 1-D points ``t``) when given; else, for a 1-D or 2-D
    ``target``, :math:`\rho_i(t) = \int \rho(x)\,dx_{\setminus i}` by the trapezoidal rule on a ``grid x grid``
    mesh, normalized on the window (``bounds``: ((lo, hi), (lo, hi)), default the samples' range plus 10 %).
    """
    ax = axes(ax)
    bins, grid = as_count("bins", bins), as_count("grid", grid, 2)
    X = _points(x)
    d = X.shape[1]
    dim = as_count("dim", dim, 0, d - 1)
    xp = host_xp()
    ax.hist(X[:, dim], bins=bins, density=True, alpha=0.5, label=f"{label} (n = {X.shape[0]})")
    lo, hi = float(xp.min(X[:, dim])), float(xp.max(X[:, dim]))
    if marginal is not None or target is not None:
        if bounds is not None:
            lims = [tuple(map(float, b)) for b in bounds]
        else:
            mn, mx = xp.min(X, axis=0), xp.max(X, axis=0)
            lims = [(float(a - 0.1 * (b - a)), float(b + 0.1 * (b - a))) for a, b in zip(mn, mx, strict=True)]
        t = xp.linspace(lims[dim][0], lims[dim][1], grid)
        if marginal is not None:
            dens = host(check_callable("marginal", marginal)(t), "marginal(t)")
        elif d == 1:
            lp = host(_log_prob(target)(t[:, None]), "target.log_prob(x)")
            dens = xp.exp(lp - xp.max(lp))
        elif d == 2:
            other = 1 - dim
            s = xp.linspace(lims[other][0], lims[other][1], grid)
            T, S = xp.meshgrid(t, s, indexing="ij")
            cols = [xp.reshape(T, (-1,)), xp.reshape(S, (-1,))]
            pts = xp.stack(cols if dim == 0 else cols[::-1], axis=1)
            lp = xp.reshape(host(_log_prob(target)(pts), "target.log_prob(x)"), T.shape)
            p = xp.exp(lp - xp.max(lp))
            ds = (lims[other][1] - lims[other][0]) / (grid - 1)
            dens = ds * (xp.sum(p, axis=1) - 0.5 * (p[:, 0] + p[:, -1]))
        else:
            raise ValueError(f"the marginal of a {d}-D target needs marginal= (a density of coordinate {dim})")
        dt = (lims[dim][1] - lims[dim][0]) / (grid - 1)
        Z = dt * (float(xp.sum(dens)) - 0.5 * float(dens[0] + dens[-1]))
        if marginal is None:
            dens = dens / Z
        ax.plot(t, dens, "k-", lw=1.2, label="target marginal")
        lo, hi = min(lo, lims[dim][0]), max(hi, lims[dim][1])
    ax.set_xlim(lo, hi)
    ax.set_xlabel(f"$x_{{{dim + 1}}}$")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax


def plot_mode_weights(
    weights: Any,
    truth: Any = None,
    *,
    n: int | Mapping[str, int] | None = None,
    stderr: Any = None,
    ax: Any = None,
    z: float = 2.0,
) -> Axes:
    r"""Estimated mode weights as grouped bars with :math:`\pm z` standard-error bars, and the true weights.

    ``weights``: ``{label: (K,) fractions}`` (or one array). The standard errors are ``stderr`` (same shape) when
    given, else the binomial :math:`\sqrt{w(1 - w)/n}` of ``n`` independent samples; no bars without either.
    """
    ax = axes(ax)
    xp = host_xp()
    rows = [(lab, host(w, "weights")) for lab, w in labelled(weights, "weights")]
    K = rows[0][1].shape[0]
    if any(w.ndim != 1 or w.shape[0] != K for _, w in rows):
        raise ValueError(f"every weight vector must have shape ({K},)")
    ses = dict(labelled(stderr, "stderr")) if stderr is not None else {}
    width = 0.8 / len(rows)
    idx = xp.arange(K, dtype=xp.float64)
    for j, (lab, w) in enumerate(rows):
        se = ses.get(lab, ses.get("")) if ses else None
        nn = n.get(lab) if isinstance(n, Mapping) else n
        if se is None and nn is not None:
            nn = as_count("n", nn)
            se = xp.sqrt(xp.clip(w * (1 - w), 0.0, None) / nn)
        yerr = None if se is None else z * host(se, "stderr")
        ax.bar(idx + (j - (len(rows) - 1) / 2) * width, w, width=width, yerr=yerr, capsize=2, label=lab or "estimate")
    if truth is not None:
        t = host(truth, "truth")
        if t.shape != (K,):
            raise ValueError(f"truth must have shape ({K},), got {tuple(t.shape)}")
        ax.scatter(idx, t, marker="_", s=400, color="k", linewidths=2, zorder=3, label="truth")
    ax.set_xticks([int(i) for i in range(K)])
    ax.set_xlabel("mode")
    ax.set_ylabel(f"weight (bars: ±{z:g} SE)" if (ses or n is not None) else "weight")
    ax.legend(fontsize="small")
    return ax


def _runs(runs: Any, steps: Sequence[int]) -> list[tuple[str, list[Any]]]:
    out = [(lab, list(rs)) for lab, rs in labelled(runs, "runs")]
    for lab, rs in out:
        if len(rs) != len(steps):
            raise ValueError(f"runs[{lab!r}] has {len(rs)} results for {len(steps)} step counts")
    return out


def plot_log_Z(
    steps: Sequence[int], runs: Any, *, truth: float | None = None, ax: Any = None, z: float = 2.0
) -> Axes:
    r"""Estimates :math:`\log \hat Z` with :math:`\pm z` standard errors against the number of steps.

    ``runs``: ``{label: [Samples, ...]}`` with one result (``.log_Z``, ``.log_Z_stderr``) per entry of ``steps``
    (several runs are drawn side by side, a few percent apart on the log axis);
    ``truth``: the exact :math:`\log Z` (a horizontal line)."""
    ax = axes(ax)
    steps = [as_count("steps", s) for s in steps]
    rows = _runs(runs, steps)
    for j, (lab, rs) in enumerate(rows):
        lz = [float(r.log_Z) for r in rs]
        se = [z * float(r.log_Z_stderr) if r.log_Z_stderr is not None else 0.0 for r in rs]
        shift = 1.04 ** (j - (len(rows) - 1) / 2)  # side by side on the log axis
        ax.errorbar([s * shift for s in steps], lz, yerr=se, marker="o", capsize=3, label=lab or "estimate")
    if truth is not None:
        ax.axhline(float(truth), color="k", ls="--", lw=1, label=f"exact log Z = {float(truth):g}")
    ax.set_xscale("log")
    ax.set_xlabel("steps")
    ax.set_ylabel(rf"$\log \hat Z$ ($\pm${z:g} SE)")
    ax.legend(fontsize="small")
    return ax


def plot_ess(steps: Sequence[int], runs: Any, *, ax: Any = None) -> Axes:
    r"""Relative effective sample size :math:`\mathrm{ESS}/n` (Kish) of each result against the number of steps."""
    ax = axes(ax)
    steps = [as_count("steps", s) for s in steps]
    for lab, rs in _runs(runs, steps):
        ax.plot(steps, [float(r.ess) / r.x.shape[0] for r in rs], marker="o", label=lab or "ESS / n")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("steps")
    ax.set_ylabel("ESS / n")
    ax.legend(fontsize="small")
    return ax

