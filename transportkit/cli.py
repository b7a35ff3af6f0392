"""The ``transportkit`` command: ``transportkit demo [section ...]`` and ``transportkit backends``.

``transportkit demo`` runs one short showcase per family and prints, for each, a progress line
``[i/N] Title`` followed by indented results and the time taken; with ``--png-dir DIR`` each section also writes
its picture ``DIR/<section>.png`` (drawn by :mod:`transportkit.plot` on a bare Agg figure: matplotlib's backend
is left alone). Section names are matched case-insensitively, ignoring spaces, hyphens and underscores
(``meanfield``, ``Mean field`` and ``mean-field`` are one section).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._validation import close_matches

Say = Callable[[str], None]


@dataclass(frozen=True)
class Section:
    """One demo section: its command-line ``name``, its ``title``, other accepted names, and the function
    ``run(say, fig)`` that prints through ``say`` and, when ``fig`` is a matplotlib Figure, draws on it."""

    name: str
    title: str
    run: Callable[[Say, Any], None]
    aliases: tuple[str, ...] = field(default=())


def _key(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


# --------------------------------------------------------------------------------------------- the tables
def backend_table() -> str:
    """The table of the backends that work on this machine, their capabilities and flags, as aligned text.

    The declared tables of every backend and algorithm are in README.md (``python -m transportkit._support_table``).
    """
    from . import backends
    from ._adapter import ADAPTER_FLAGS, OPTIONAL_CAPABILITIES

    flags = list(ADAPTER_FLAGS)
    cols = ["backend", "available", "device", "float64", *OPTIONAL_CAPABILITIES, *flags]
    rows = []
    for r in backends.table():
        if r["available"]:
            adapter = backends.load(r["backend"])
            r = {**r, **{f: getattr(adapter, f) for f in flags}}
            rows.append([r["backend"], "yes", r["device"]] + ["yes" if r[c] else "-" for c in cols[3:]])
        else:
            rows.append([r["backend"], "no"] + [""] * (len(cols) - 2))
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()  # noqa: E731
    missing = [f"{r['backend']}: {r['reason']}" for r in backends.table() if not r["available"]]
    notes = ["", "unavailable here: " + "; ".join(missing)] if missing else []
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in rows), *notes])


# --------------------------------------------------------------------------------------------- the sections
def demo_backends(say: Say = print, fig: Any = None) -> None:
    """The backend table, then log E[exp(Z)] (exact 0.5) from 10^5 normals on every backend; picture: time per
    backend."""
    from . import backends, numerics
    from ._backend import _dtype_name, get_backend

    for row in backend_table().splitlines():
        say(row)
    say("log E[exp(Z)] for Z ~ N(0,1) (exact 0.5) from n = 100000 normals on each backend:")
    names, times = [], []
    for name in backends.available():
        be = get_backend(name)
        t0 = time.perf_counter()
        z = be.rng(0).normal((100_000,))
        est = float(numerics.logmeanexp(z))
        dt = time.perf_counter() - t0
        names.append(name)
        times.append(1e3 * dt)
        say(f"  {name:18s} {_dtype_name(be.dtype):8s} estimate {est:.4f}   ({1e3 * dt:.1f} ms)")
    if fig is not None:
        ax = fig.subplots()
        ax.barh(names, times)
        ax.set_xscale("log")
        ax.set_xlabel("time for 10^5 normals and a log-mean-exp (ms, first call, log scale)")
        ax.set_title("backends available here")


def demo_interpolants(say: Say = print, fig: Any = None) -> None:
    """Samples of a 2-D 8-mode mixture through the exact velocity of the linear interpolant (ODE and SDE), mode
    weights against the truth, and the probability-flow likelihood; picture: samples over the target's contours and
    the mode weights with binomial error bars."""
    import array_api_compat

    from . import plot
    from .interpolants import Interpolant, eight_mode_mixture, exact_field, log_likelihood
    from .sampling.registry import sample

    T = eight_mode_mixture()
    f = exact_field(Interpolant("linear"), T)
    n = 2000
    w = T._host["w"]
    say(f"2-D mixture of 8 Gaussians, n = {n}, exact velocity of the linear interpolant from N(0, I)")
    runs: dict[str, Any] = {}
    fracs: dict[str, Any] = {}
    for method, kw in (("ode", dict(steps=100, solver="rk4")), ("sde", dict(steps=200, diffusion=1.0))):
        t0 = time.perf_counter()
        s = sample(f, n, method=method, rng=0, **kw)
        lab = T.responsibilities(s.x)
        xp = array_api_compat.array_namespace(lab)
        frac = xp.mean(xp.astype(xp.argmax(lab, axis=0)[None, :] == xp.arange(8)[:, None], xp.float64), axis=1)
        z = float(xp.max(xp.abs(frac - w) / xp.sqrt(w * (1 - w) / n)))
        runs[method.upper()], fracs[method.upper()] = s, frac
        say(f"  {method.upper()}: max |mode weight error| = {z:.2f} binomial SE   ({time.perf_counter() - t0:.2f} s)")
    x = T.sample(8, rng=1)
    err = float(xp.max(xp.abs(log_likelihood(f, x, steps=100) - T.log_prob(x))))
    say(f"  log-likelihood by the probability flow (RK4, 100 steps) vs exact: max error {err:.1e}")
    if fig is not None:
        axs = fig.subplots(1, 3)
        box = ((-6.5, 6.5), (-6.5, 6.5))
        for ax, (name, s) in zip(axs[:2], runs.items(), strict=True):
            plot.plot_samples(s.x, T, ax=ax, bounds=box, grid=100, label=f"{name} samples")
        plot.plot_mode_weights(fracs, w, n=n, ax=axs[2])
        axs[2].set_title("mode weights")


def demo_sampling(say: Say = print, fig: Any = None) -> None:
    """log Z of GMM40 (exact 0) by AIS and NETS at three step counts; picture: the AIS samples over the target's
    contours and log Z with ±2 SE against the number of steps."""
    from . import plot
    from ._target_zoo import GMM40
    from .sampling.ais import ais
    from .sampling.nets import nets

    t = GMM40()
    n, steps = 500, (10, 30, 100)
    say(f"GMM40 (2-D, 40 modes, log Z = 0): n = {n} walkers, steps {steps}, numpy")
    runs: dict[str, list[Any]] = {"AIS (MALA)": [], "NETS (eps=1, b=0)": []}
    for k in steps:
        for label, fn in (("AIS (MALA)", lambda k=k: ais(t, n, steps=k, rng=0)),
                          ("NETS (eps=1, b=0)",
                           lambda k=k: nets(t, n, steps=k, rounds=0, rng=0))):
            t0 = time.perf_counter()
            r = fn()
            runs[label].append(r)
            say(f"  {label:18s} steps {k:4d}: log Z = {r.log_Z:+.3f} +- {r.log_Z_stderr:.3f}   ESS = {r.ess:6.1f}"
                f" / {n}   modes visited = {t.modes_visited(r.x)}/40   ({time.perf_counter() - t0:.1f} s)")
    if fig is not None:
        a1, a2 = fig.subplots(1, 2)
        plot.plot_samples(runs["AIS (MALA)"][-1].x, t, ax=a1, bounds=((-55, 55), (-55, 55)), grid=200,
                          label=f"AIS, {steps[-1]} steps")
        plot.plot_log_Z(steps, runs, truth=0.0, ax=a2)


def demo_free_energy(say: Say = print, fig: Any = None) -> None:
    """EXP and BAR on Gaussian works satisfying Crooks exactly, works of magnitude 1e4, MBAR on harmonic states;
    picture: the work distributions and Crooks' relation."""
    from . import plot
    from .free_energy.showcase import showcase

    wf, wr, dF = showcase(say)
    if fig is not None:
        a1, a2 = fig.subplots(1, 2)
        plot.plot_work_distributions(wf, wr, delta_f=dF, ax=a1)
        plot.plot_crooks(wf, wr, ax=a2)


def demo_galerkin(say: Say = print, fig: Any = None) -> None:
    """KdV two-soliton with 10 periodic Gaussian units to t = 0.25; picture: the solution against the exact one
    with the pointwise error below."""
    from . import plot
    from ._backend import host_backend
    from .galerkin.kdv import kdv_guess
    from .galerkin.pde import kdv
    from .galerkin.solver import relative_l2_error, solve

    be = host_backend()
    xp = be.xp
    pde = kdv()
    param, theta0 = kdv_guess(be)
    res = solve(pde, param, theta0, 0.25, 1e-3, ridge=1e-8, save_every=50, fit_iters=150)
    xg = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype), (-1, 1))
    say(f"Neural Galerkin, KdV two-soliton, {param.m} periodic Gaussian units, RK4 dt = 1e-3")
    say(f"  initial fit relative residual: {res.fit_error:.2e}")
    for tt in be.to_numpy(res.t).tolist():
        say(f"  t = {tt:4.2f}: relative L2 error vs exact = {relative_l2_error(res, xg, tt):.3e}")
    say("  (the full run to t = 4: transportkit.galerkin.run_kdv)")
    if fig is not None:
        a1, a2 = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
        plot.plot_galerkin(res, xg, ax=a1, error_ax=a2)
        a1.set_title("KdV two-soliton: Neural Galerkin (solid) vs exact (dotted)")


def demo_meanfield(say: Say = print, fig: Any = None) -> None:
    """Loss against time on the 3-spin problem (d = 6) with and without birth–death; picture: the loss curves."""
    from . import plot
    from .meanfield.experiments import print_runs, three_spin_runs

    runs = three_spin_runs()
    print_runs(runs, say)
    if fig is not None:
        plot.plot_losses(runs, ax=fig.subplots(), title="3-spin (d = 6): loss against time")


def demo_fokker_planck(say: Say = print, fig: Any = None) -> None:
    """The entropy of a harmonic trap (5 particles in 2-D) along the probability flow (SBTM) against the exact
    curve; picture: the two curves."""
    from . import plot
    from ._backend import host_backend
    from .fokker_planck import harmonic_trap, sbtm

    be = host_backend()
    trap = harmonic_trap(n_particles=5, d=2)
    n, steps = 1000, 50
    x0 = be.asarray(trap.sample0(n, rng=4))
    res = sbtm(trap.drift, trap.D, x0, (0.0, 1.0), steps=steps, div_drift=trap.divergence,
               log_density0=trap.log_density0, entropy0=float(trap.entropy(0.0)), rng=5)
    t = be.to_numpy(res.times)
    S, Se = be.to_numpy(res.entropy), trap.entropy(t)
    say(f"probability flow (SBTM) of a harmonic trap, 5 particles in 2-D ({trap.dim} coordinates): n = {n} samples,"
        f" {steps} Heun steps to T = 1")
    for k in (0, steps // 2, steps):
        say(f"  t = {float(t[k]):4.2f}: entropy {float(S[k]):8.4f}   exact {float(Se[k]):8.4f}")
    if fig is not None:
        ax = plot.plot_entropy({"SBTM (probability flow)": res}, exact=trap.entropy, ax=fig.subplots())
        ax.set_title("harmonic trap: entropy along the probability flow")


def demo_tpt(say: Say = print, fig: Any = None) -> None:
    """Müller–Brown on a 100 x 100 grid: rate and the top three pathways; picture: committor, potential, A and B,
    the reactive flux and the pathways."""
    from . import plot
    from .tpt import mueller_brown, mueller_brown_potential, reactive_flux

    n, beta = 100, 0.1
    t0 = time.perf_counter()
    Q, xy, A, B = mueller_brown(n=n, beta=beta)
    rf = reactive_flux(Q, A, B)
    say(f"Müller-Brown, {n}x{n} grid ({n * n} states), beta = {beta}: reactive_flux in "
        f"{time.perf_counter() - t0:.2f} s")
    say(f"  total flux F = {rf.total_flux:.4e}, rate k_AB = {rf.rate:.4e}, mfpt = {rf.mfpt:.4e}")
    paths = rf.pathways(k=3)
    for i, (states, share) in enumerate(paths, 1):
        say(f"  pathway {i}: {len(states)} states, carries {100 * share:.1f}% of the flux")
    if fig is not None:
        plot.plot_tpt(rf, xy, ax=fig.subplots(), paths=paths, potential=mueller_brown_potential)


#: The demo sections, in order.
SECTIONS: tuple[Section, ...] = (
    Section("backends", "Backends", demo_backends),
    Section("interpolants", "Stochastic interpolants", demo_interpolants, ("transport",)),
    Section("sampling", "Sampling", demo_sampling, ("samplers",)),
    Section("free-energy", "Free energy", demo_free_energy),
    Section("galerkin", "Neural Galerkin", demo_galerkin),
    Section("meanfield", "Mean field", demo_meanfield),
    Section("fokker-planck", "Fokker–Planck", demo_fokker_planck, ("Fokker-Planck", "fp")),
    Section("tpt", "Transition path theory", demo_tpt),
)

#: (title, "module:function") of each section, as before (kept for scripts that read it).
DEMOS: list[tuple[str, str]] = [(s.title, f"transportkit.cli:{s.run.__name__}") for s in SECTIONS]

_SIZES = {"backends": (7, 3.5), "interpolants": (13, 4.3), "sampling": (11, 4.8), "free-energy": (11, 4.2),
          "galerkin": (8, 5.5), "meanfield": (6, 4.2), "fokker-planck": (6, 4.2), "tpt": (7.5, 6)}


def find_sections(names: Sequence[str]) -> list[Section]:
    """The sections named (case-insensitive; spaces, hyphens and underscores ignored), in the demo's order; all of
    them for no names. ``ValueError`` listing the section names for a name that is none of them."""
    index = {}
    for s in SECTIONS:
        for alias in (s.name, s.title, *s.aliases):
            index[_key(alias)] = s
    wanted = set()
    for name in names:
        if _key(name) not in index:
            hint = close_matches(_key(name), [_key(s.name) for s in SECTIONS])
            raise ValueError(f"unknown demo section {name!r}{hint}; the sections are: "
                             + ", ".join(s.name for s in SECTIONS))
        wanted.add(index[_key(name)].name)
    return [s for s in SECTIONS if not names or s.name in wanted]


def _figure(size: tuple[float, float]) -> Any:
    """A bare Agg figure (no pyplot: matplotlib's backend is not touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _run_demo(only: Sequence[str] | None = None, png_dir: str | None = None, out: Any = None) -> int:
    """Run the demo sections (all, or those named in ``only``); with ``png_dir`` write ``<section>.png`` there."""
    out = out if out is not None else sys.stdout
    sections = find_sections(list(only or ()))
    draw = png_dir is not None and _has_matplotlib()
    if png_dir is not None and not draw:
        print("matplotlib is not installed: no pictures (pip install 'transportkit[plot]')", file=out)
    if draw:
        os.makedirs(png_dir, exist_ok=True)
    total = time.perf_counter()

    def say(line: str) -> None:
        print(("  " + line).rstrip(), file=out, flush=True)

    for i, s in enumerate(sections, 1):
        print(f"[{i}/{len(sections)}] {s.title}", file=out, flush=True)
        t0 = time.perf_counter()
        fig = _figure(_SIZES[s.name]) if draw else None
        s.run(say, fig)
        if fig is not None:
            path = os.path.join(png_dir, f"{s.name}.png")
            fig.savefig(path, dpi=110)
            say(f"picture: {path}")
        say(f"done in {time.perf_counter() - t0:.1f} s")
    print(f"{len(sections)} section(s) in {time.perf_counter() - total:.1f} s", file=out, flush=True)
    return 0


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transportkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the showcase of every algorithm family (or of the sections named)")
    demo.add_argument("sections", nargs="*", metavar="section",
                      help="only these sections (case-insensitive): " + ", ".join(s.name for s in SECTIONS))
    demo.add_argument("--png-dir", default=None, help="write each section's picture <section>.png into this folder")
    demo.add_argument("--list", action="store_true", help="list the sections and exit")
    sub.add_parser("backends", help="print the table of backends and their capabilities")
    args = parser.parse_args(argv)
    if args.command == "backends":
        print(backend_table())
        return 0
    if args.list:
        for s in SECTIONS:
            print(f"{s.name:14s} {s.title}")
        return 0
    try:
        find_sections(args.sections)
    except ValueError as e:
        demo.error(str(e))
    return _run_demo(args.sections, args.png_dir)


if __name__ == "__main__":
    sys.exit(main())
