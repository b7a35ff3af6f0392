"""The showcase of generative transport (``transportkit demo``): samples of a 2-D mixture through the exact field of
an interpolant with the ODE and the SDE, mode weights against the truth, and the probability-flow likelihood."""

from __future__ import annotations


def demo(plot_path: str | None = None) -> None:
    """Sample a 2-D 8-mode mixture through its exact field with the ODE and the SDE; print mode weights vs truth
    (and, with ``plot_path`` and matplotlib installed, save a scatter plot there)."""
    import time

    from ..interpolants import Interpolant, eight_mode_mixture, exact_field, log_likelihood
    from .registry import sample

    T = eight_mode_mixture()
    f = exact_field(Interpolant("linear"), T)
    n = 4000
    w = T._host["w"]
    print(f"2-D mixture of 8 Gaussians, n = {n}, exact velocity of the linear interpolant from N(0, I)")
    rows = []
    for method, kw in (("ode", dict(steps=100, solver="rk4")), ("sde", dict(steps=200, diffusion=1.0))):
        t0 = time.perf_counter()
        s = sample(f, n, method=method, rng=0, **kw)
        dt = time.perf_counter() - t0
        lab = T.responsibilities(s.x)
        import array_api_compat

        xp = array_api_compat.array_namespace(lab)
        frac = xp.mean(xp.astype(xp.argmax(lab, axis=0)[None, :] == xp.arange(8)[:, None], xp.float64), axis=1)
        z = xp.max(xp.abs(frac - w) / xp.sqrt(w * (1 - w) / n))
        rows.append((method, s, frac, float(z), dt))
    print("  mode   true    " + "   ".join(f"{m:6s}" for m, *_ in rows))
    for k in range(8):
        print(f"  {k}     {float(w[k]):.4f}  " + "   ".join(f"{float(r[2][k]):.4f}" for r in rows))
    for method, _, _, z, dt in rows:
        print(f"  {method}: max |weight error| = {z:.2f} binomial SE   ({dt:.2f} s)")
    x = T.sample(8, rng=1)
    ll = log_likelihood(f, x, steps=100)
    err = float(xp.max(xp.abs(ll - T.log_prob(x))))
    print(f"  log-likelihood by the probability flow (RK4, 100 steps) vs exact: max error {err:.1e}")
    if plot_path:
        try:  # a bare Figure: no pyplot, the user's matplotlib backend untouched
            from matplotlib.figure import Figure
        except ImportError:
            print("  (matplotlib not installed: no plot)")
            return
        fig = Figure(figsize=(8, 4))
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        for ax, (method, s, *_r) in zip(axes, rows, strict=True):
            ax.scatter(s.x[:, 0], s.x[:, 1], s=1, alpha=0.3)
            ax.set_title(f"{method.upper()} samples")
            ax.set_aspect("equal")
        fig.tight_layout()
        fig.savefig(plot_path, dpi=100)
        print(f"  wrote {plot_path}")
