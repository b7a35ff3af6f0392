"""transportkit.plot: each function draws on an Agg figure the test makes, returns that Axes with the expected labels,
legend entries and artists, and leaves matplotlib's backend and the working directory as they were."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import transportkit as tk
from transportkit import plot as tkplot

mpl = pytest.importorskip("matplotlib")
from matplotlib.collections import PathCollection, PolyCollection, QuadMesh  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture
def ax(tmp_path, monkeypatch):
    """An Axes on a bare Agg figure; after the test: same backend, rcParams backend, and an empty cwd."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    monkeypatch.chdir(tmp_path)
    backend, rc = mpl.get_backend(), mpl.rcParams._get_backend_or_none()
    fig = Figure()
    FigureCanvasAgg(fig)
    yield fig.add_subplot()
    fig.canvas.draw()  # every artist renders
    assert mpl.get_backend() == backend
    assert mpl.rcParams._get_backend_or_none() == rc
    assert os.listdir(tmp_path) == [], "a plot function wrote a file"


def legend_texts(a):
    leg = a.get_legend()
    assert leg is not None, "no legend"
    return [t.get_text() for t in leg.get_texts()]


def mixture_and_samples(n=400):
    T = tk.interpolants.eight_mode_mixture()
    gen = np.random.default_rng(0)
    w, mu = T._host["w"], T._host["means"]
    k = gen.choice(len(w), size=n, p=w)
    return T, mu[k] + 0.3 * gen.standard_normal((n, 2))


def test_import_needs_no_matplotlib_and_draws_nothing():
    import subprocess
    import sys

    code = "import sys, transportkit.plot; assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plot_samples(ax):
    T, x = mixture_and_samples()
    out = tkplot.plot_samples(x, T, ax=ax, grid=40)
    assert out is ax
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("$x_1$", "$x_2$")
    assert legend_texts(ax) == ["target density", "samples (n = 400)"]
    assert len([c for c in ax.collections if isinstance(c, PathCollection)]) == 1
    assert len(ax.collections) >= 2  # scatter + contour set
    with pytest.raises(ValueError, match="2-D"):
        tkplot.plot_samples(np.zeros((5, 3)), ax=ax)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        tkplot.plot_samples(x, ax="not an axes")


def test_plot_marginals_integrates_the_target(ax):
    T, x = mixture_and_samples()
    tkplot.plot_marginals(x, T, dim=1, ax=ax, bins=20, grid=200)
    assert ax.get_xlabel() == "$x_{2}$" and ax.get_ylabel() == "density"
    assert legend_texts(ax) == ["samples (n = 400)", "target marginal"]
    assert len(ax.patches) == 20
    (line,) = ax.get_lines()
    t, dens = line.get_data()
    assert abs(np.trapezoid(dens, t) - 1) < 1e-6  # normalized on the window
    with pytest.raises(ValueError, match="marginal="):
        tkplot.plot_marginals(np.zeros((5, 3)), T, ax=ax)


def test_plot_mode_weights(ax):
    w = np.array([0.5, 0.3, 0.2])
    tkplot.plot_mode_weights({"ode": [0.48, 0.31, 0.21], "sde": [0.52, 0.29, 0.19]}, w, n=1000, ax=ax)
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(len(b) == 3 for b in bars)
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 2
    assert sorted(legend_texts(ax)) == sorted(["ode", "sde", "truth"])
    assert ax.get_xlabel() == "mode" and "SE" in ax.get_ylabel()
    with pytest.raises(ValueError, match=r"truth must have shape \(2,\)"):
        tkplot.plot_mode_weights([0.5, 0.5], w, ax=ax)


def _samples(log_z, se, ess, n=100):
    return tk.Samples(x=np.zeros((n, 2)), log_Z=log_z, log_Z_stderr=se, ess=ess)


def test_plot_log_Z_and_ess(ax):
    steps = [10, 100, 1000]
    runs = {"AIS": [_samples(-1.0, 0.5, 10), _samples(-0.2, 0.1, 40), _samples(0.0, 0.02, 90)],
            "NETS": [_samples(-0.5, 0.3, 20), _samples(-0.1, 0.05, 60), _samples(0.01, 0.01, 95)]}
    tkplot.plot_log_Z(steps, runs, truth=0.0, ax=ax)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "steps"
    assert sorted(legend_texts(ax)) == sorted(["AIS", "NETS", "exact log Z = 0"])
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == 2
    fig2 = Figure()
    ax2 = tkplot.plot_ess(steps, runs, ax=fig2.add_subplot())
    assert ax2.get_ylabel() == "ESS / n" and len(ax2.get_lines()) == 2
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), [0.1, 0.4, 0.9])
    with pytest.raises(ValueError, match="3 step counts"):
        tkplot.plot_ess(steps, {"x": runs["AIS"][:2]}, ax=ax2)


def test_plot_work_distributions_and_crooks(ax):
    gen = np.random.default_rng(1)
    dF, s, n = 1.0, 1.5, 4000
    wf = gen.normal(dF + s * s / 2, s, n)
    wr = gen.normal(-dF + s * s / 2, s, n)
    tkplot.plot_work_distributions(wf, wr, delta_f=dF, ax=ax, bins=30)
    assert len(ax.patches) == 60
    assert sorted(legend_texts(ax)) == sorted([r"$\Delta F$ = 1", "$W_F$ (n = 4000)", "$-W_R$ (n = 4000)"])
    assert ax.get_xlabel() == "work $W$ ($k_BT$)"
    fig2 = Figure()
    a2 = tkplot.plot_crooks(wf, wr, ax=fig2.add_subplot(), bins=20)
    (eb,) = [c for c in a2.containers if isinstance(c, ErrorbarContainer)]
    xs, ys = eb.lines[0].get_data()
    # Crooks holds exactly for these works: the points lie on W - dF within their error bars (+-2 SE, and BAR's dF)
    assert len(xs) >= 10
    assert np.mean(np.abs(ys - (xs - dF)) < 0.5) > 0.8
    assert a2.get_title().startswith("Crooks relation (overlap")
    a3 = tkplot.plot_crooks(wf + 50, wr + 50, delta_f=0.0, ax=Figure().add_subplot())
    assert "no overlap" in a3.texts[0].get_text()


def test_plot_tpt_marks_A_B_potential_flux_pathways(ax):
    Q, xy, A, B = tk.tpt.mueller_brown(n=24, beta=0.1)
    rf = tk.tpt.reactive_flux(Q, A, B)
    tkplot.plot_tpt(rf, xy, ax=ax, potential=tk.tpt.mueller_brown_potential, paths=2)
    texts = legend_texts(ax)
    assert texts[:2] == ["potential", "reactive flux"]
    assert [t.split(":")[0] for t in texts[2:]] == ["pathway 1", "pathway 2"]
    assert all(t.endswith("% of the flux") for t in texts[2:])
    assert sorted(t.get_text() for t in ax.texts) == ["A", "B"]
    assert sum(isinstance(c, QuadMesh) for c in ax.collections) == 1
    assert len(ax.figure.axes) == 2  # the colorbar
    assert ax.get_title().startswith("TPT on 24x24 grid")
    with pytest.raises(ValueError, match="square 2-D grid"):
        tkplot.plot_tpt(rf, xy[:-1], ax=ax)


def test_tpt_plot_mueller_brown_keeps_its_name_and_writes_only_where_asked(tmp_path):
    from transportkit.tpt.plot import plot_mueller_brown

    backend = mpl.get_backend()
    Q, xy, A, B = tk.tpt.mueller_brown(n=20, beta=0.1)
    rf = tk.tpt.reactive_flux(Q, A, B)
    out = tmp_path / "sub.png"
    plot_mueller_brown(rf, xy, 20, rf.pathways(k=1), str(out))
    assert out.read_bytes()[:4] == b"\x89PNG" and os.listdir(tmp_path) == ["sub.png"]
    assert mpl.get_backend() == backend


def _galerkin_result():
    from transportkit.galerkin import GalerkinResult
    from transportkit.galerkin.kdv import kdv_guess
    from transportkit.galerkin.pde import kdv

    be = tk.get_backend("numpy")
    param, theta0 = kdv_guess(be)
    theta = np.stack([theta0, theta0])
    return GalerkinResult(t=np.array([0.0, 0.1]), theta=theta, particles=None, rank=[], cond=[], fit_error=0.0,
                          n_steps=0, param=param, pde=kdv(), backend=be)


def test_plot_galerkin_solution_and_error_panel(ax):
    res = _galerkin_result()
    x = np.linspace(-20, 40, 300)
    out = tkplot.plot_galerkin(res, x, ax=ax)
    assert out is ax
    assert len(ax.figure.axes) == 2
    err_ax = ax.figure.axes[-1]
    assert err_ax.get_yscale() == "log" and err_ax.get_ylabel() == r"$|u - u^*|$"
    assert legend_texts(ax) == ["t = 0", "t = 0.1", "exact"]
    assert len(ax.get_lines()) == 5 and len(err_ax.get_lines()) == 2
    fig2 = Figure()
    a2 = tkplot.plot_galerkin(res, x, times=[0.1], ax=fig2.add_subplot(), error_ax=False)
    assert len(fig2.axes) == 1 and a2.get_xlabel() == "$x$"
    with pytest.raises(ValueError, match="not a saved time"):
        tkplot.plot_galerkin(res, x, times=[0.05], ax=fig2.add_subplot())


def test_plot_losses_and_scaling(ax):
    from transportkit.meanfield import Fluctuations, ScalingResult, fit_power_law

    t = np.linspace(0, 10, 11)
    L = np.exp(-t)[None, :] * np.array([[1.0], [1.2], [0.8]])
    fl = Fluctuations(t, L, L.mean(0), L.var(0, ddof=1), None, None, None, 64)
    tkplot.plot_losses({"gradient flow": (t, np.exp(-t)), "3 seeds": fl}, ax=ax, title="toy")
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "time (rescaled)" and ax.get_title() == "toy"
    assert legend_texts(ax) == ["gradient flow", "3 seeds"]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1  # the seed band
    with pytest.raises(TypeError, match="curve 'bad'"):
        tkplot.plot_losses({"bad": 3}, ax=ax)
    ns = np.array([32.0, 64.0, 128.0, 256.0])
    errs = np.stack([2.0 / ns, 2.2 / ns])
    sr = ScalingResult(ns, errs, errs.mean(0), fit_power_law(ns, errs.mean(0)))
    a2 = tkplot.plot_scaling(sr, ax=Figure().add_subplot())
    assert a2.get_xscale() == "log" and a2.get_yscale() == "log"
    texts = legend_texts(a2)
    assert texts[0] == "mean of 2 seeds" and "a = 1.00 ± 0.00" in texts[1]
    assert len(a2.get_lines()) == 1 + 2 + 1


def test_plot_energy_spectrum(ax):
    k = np.arange(0, 64, dtype=float)
    E = np.stack([np.where(k > 0, k, 1.0) ** (-5 / 3), 2 * np.where(k > 0, k, 1.0) ** (-3)])
    tkplot.plot_energy_spectrum(k, E, ax=ax, labels=["a", "b"], slope=-5 / 3)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "wavenumber $k$"
    assert legend_texts(ax) == ["a", "b", "$k^{-1.67}$"]
    lines = ax.get_lines()
    assert len(lines) == 3 and len(lines[0].get_xdata()) == 63  # k = 0 left out
    np.testing.assert_allclose(lines[2].get_ydata(), lines[0].get_ydata())  # the reference goes through E
    with pytest.raises(ValueError, match="labels"):
        tkplot.plot_energy_spectrum(k, E, ax=ax, labels=["a"])


def test_plot_entropy_with_exact_curve(ax):
    from transportkit.fokker_planck.sbtm import SBTMResult

    t = np.linspace(0, 1, 21)
    exact = lambda s: 1 + 0.5 * np.log1p(s)  # noqa: E731
    r = SBTMResult(x=np.zeros((4, 2)), times=t, entropy=exact(t) + 0.01, entropy_change=exact(t) - 1,
                   log_density=None)
    tkplot.plot_entropy({"SBTM": r}, exact=exact, ax=ax)
    assert ax.get_ylabel() == r"entropy $S_t$" and ax.get_xlabel() == "time $t$"
    assert legend_texts(ax) == ["SBTM", "exact"]
    assert len(ax.get_lines()) == 2
    r2 = SBTMResult(x=np.zeros((4, 2)), times=t, entropy=None, entropy_change=exact(t) - 1, log_density=None)
    a2 = tkplot.plot_entropy(r2, ax=Figure().add_subplot())
    assert a2.get_ylabel() == r"$S_t - S_0$"


def test_without_ax_draws_on_a_new_pyplot_figure(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    backend = mpl.get_backend()
    before = set(plt.get_fignums())
    a = tkplot.plot_energy_spectrum([1.0, 2.0, 4.0], [1.0, 0.5, 0.25])
    try:
        assert a.figure.number not in before
        assert mpl.get_backend() == backend and os.listdir(tmp_path) == []
    finally:
        plt.close(a.figure)
    assert math.isfinite(a.get_xlim()[0])
