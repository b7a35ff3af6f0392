"""Sequential-in-time training, OtD vs DtO (Zhang, Chen, Vanden-Eijnden & Peherstorfer, arXiv:2404.01145), run once and
reported.

- ``rank``: Allen–Cahn (docs/galerkin.md) with 6 periodic Gaussian units (p = 18 parameters) on a grid of
  n_samples < p points: the numerical rank of the sampled Jacobian at t = 0, T/4, T/2, 3T/4, T for OtD (explicit
  Euler / RK4 on theta' = J^+ f) and DtO (explicit-Euler and Crank–Nicolson fits by Gauss–Newton), and the error
  at T against a resolved run (256 grid points, RK4, dt = 1e-3), swept over n_samples x dt x ridge (a Markdown
  table, then a summary: where OtD collapsed, did DtO stay stable and accurate?). With ``--adam`` also OtD-Euler on
  n fresh uniform points every step, and DtO-Euler fitted by Adam (``solve(..., optimizer="adam")``) on the fixed
  grid and on n fresh uniform points every iteration (``resample=True``), over ``--seeds``; the rank is reported on
  the samples and on a dense 1024-point grid (the tangent space's dimension). ``--units`` sets the number of units
  (default 6).
- ``kdv``: the KdV two-soliton benchmark (10 periodic Gaussian units, 512-point grid): the a-posteriori estimates
  ``result.error_estimate`` (propagated by the error equation on the grid), ``result.error_accumulated`` (residuals
  summed point by point: the identity propagator) and ``result.error_bound`` against the true RMS error vs the
  exact solution on a 4096-point grid, for OtD-RK4, DtO-Euler and DtO-Crank–Nicolson.

- ``estimate``: why ``error_accumulated`` (residuals summed point by point: the error equation with the propagator
  replaced by the identity) is off by a factor 2-4 on KdV. OtD-RK4 as in ``kdv`` with every step saved; then, on the
  512-point grid: the true error there and on 4096 points (is it the residual's quadrature?), the step defects
  delta_k = u_{k+1} - u_k - dt (f_k + f_{k+1})/2 summed point by point (is it the time quadrature of the
  residual?), and the same defects propagated by the exact error equation e' = delta + f(u_theta) - f(u_theta - e)
  (spectral derivatives, exact flow of -e_xxx, explicit nonlinear part): is it the missing propagator?

    .venv/bin/python benchmarks/galerkin_training.py rank --backend jax --n-samples 16 12 --dt 1e-3 5e-4 \
        --ridge 0 1e-12 1e-10 1e-8
    .venv/bin/python benchmarks/galerkin_training.py rank --backend jax --n-samples 16 --adam --seeds 0 1 2 3 4
    .venv/bin/python benchmarks/galerkin_training.py rank --backend jax --units 10 --n-samples 24 20 --adam
    .venv/bin/python benchmarks/galerkin_training.py estimate --backend jax --t-final 4
    .venv/bin/python benchmarks/galerkin_training.py kdv --backend jax --t-final 1
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("JAX_ENABLE_X64", "1")  # float64 on JAX (the library's default dtype where it is enabled)

import numpy as np

import transportkit as tk
from transportkit import galerkin as g


def _allen_cahn(m: int = 6) -> tuple:
    pde = g.allen_cahn()
    P = g.GaussianUnits(m, 1, periodic=2 * np.pi)
    th0 = np.array([1.0, -1.0] + [0.0] * (m - 2) + [math.sqrt(10.0)] * 2 + [2.0] * (m - 2)
                   + [0.5, 4.4] + list(np.linspace(0, 2 * np.pi, m - 2, endpoint=False) + 0.3))
    return pde, P, th0


RANK_RUNS = (("otd", "euler"), ("otd", "rk4"), ("dto", "euler"), ("dto", "crank_nicolson"))
#: with --adam: (label, solve keywords, uses a seed); n is the number of samples per least-squares solve / Adam batch
ADAM_RUNS = (
    ("otd-euler, fresh uniform points every step", dict(training="otd", scheme="euler"), True),
    ("dto-adam, fixed grid", dict(training="dto", scheme="euler", optimizer="adam"), False),
    ("dto-adam, fresh uniform points every iteration", dict(training="dto", scheme="euler", optimizer="adam",
                                                            resample=True), True),
)


def _dense_rank(P, theta: np.ndarray, xs: np.ndarray, rcond: float = 1e-10) -> int:
    """Numerical rank of the Jacobian on the dense grid ``xs`` (the tangent space's dimension; rcond as solve's)."""
    s = np.linalg.svd(P.evaluate(theta, xs, ("jac",))["jac"], compute_uv=False)
    return int(np.sum(s > rcond * s[0]))


def rank(args: argparse.Namespace) -> None:
    """Rank vs time and the error at T of OtD-Euler, OtD-RK4, DtO-Euler and DtO-Crank–Nicolson side by side, for
    every (n_samples, dt, ridge) asked (with ``--adam`` also OtD-Euler on fresh uniform points every step and DtO
    fitted by Adam on the fixed grid and on fresh uniform points every iteration, for every ``--seeds``); the rank
    on the n samples and on a dense 1024-point grid; then, per (n, dt, ridge), whether OtD collapsed (its rank at T
    below half of min(n, p)) and whether DtO stayed stable and accurate there."""
    be = tk.get_backend(args.backend)
    pde, P, th0 = _allen_cahn(args.units)
    Pn = g.GaussianUnits(P.m, 1, periodic=2 * np.pi)
    pde = g.allen_cahn(eps=args.eps)
    T = args.t_final
    xs = np.linspace(0, 2 * np.pi, 1024, endpoint=False)[:, None]
    ref = g.solve(pde, P, be.asarray(th0), T, 1e-3, sampler=g.GridSampler(0, 2 * np.pi, 256), fit=False,
                  ridge=1e-6, save_every=10**6, backend=be)
    uref = np.asarray(be.to_numpy(ref.param.value(ref.theta[-1, :], be.asarray(xs))))
    scale = float(np.sqrt(np.mean(uref**2)))
    frozen = float(np.sqrt(np.mean((Pn.value(th0, xs) - uref) ** 2))) / scale
    print(f"Allen-Cahn (eps = {args.eps}), {P.m} units (p = {P.n_params}), T = {T}, backend {args.backend}; reference: "
          "256 grid points, RK4, dt = 1e-3, ridge = 1e-6; error = relative L2 on 1024 points at T (theta(0) kept "
          f"frozen: {frozen:.3e}); rank on the n samples of the step and on 1024 grid points (dense)"
          + (f"; Adam: {args.iterations} iterations, learning rate {args.learning_rate:g}" if args.adam else ""),
          flush=True)
    print("| n | dt | ridge | run | rank on the samples at t = 0, T/4, T/2, 3T/4, T | min | dense rank at t = 0, "
          "T/4, T/2, 3T/4, T | rel. error at T | time |")
    print("|---|---|---|---|---|---|---|---|---|")
    summary = []
    for n in args.n_samples:
        for dt in args.dt:
            se = max(1, round(T / dt / 4))
            for ridge in args.ridge:
                runs = [(f"{tr}-{sc}", dict(training=tr, scheme=sc), False) for tr, sc in RANK_RUNS]
                runs += list(ADAM_RUNS) if args.adam else []
                row: dict[str, list] = {}
                for label, kw, seeded in runs:
                    if "optimizer" in kw:
                        kw = dict(kw, iterations=args.iterations, learning_rate=args.learning_rate)
                    for seed in (args.seeds if seeded else [None]):
                        sampler = (g.UniformSampler(0, 2 * np.pi, n) if seeded else g.GridSampler(0, 2 * np.pi, n))
                        t0 = time.perf_counter()
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")  # the collapsing runs warn about their estimates
                            try:
                                res = g.solve(pde, P, be.asarray(th0), T, dt, sampler=sampler, fit=False, ridge=ridge,
                                              save_every=se, backend=be, rng=seed, **kw)
                            except FloatingPointError:
                                print(f"| {n} | {dt:g} | {ridge:g} | {label} | non-finite | | | inf | |")
                                row.setdefault(label, []).append((0, 0, float("inf"), 0))
                                continue
                        wall = time.perf_counter() - t0
                        ths = np.asarray(be.to_numpy(res.theta))
                        u = Pn.value(ths[-1], xs)
                        err = float(np.sqrt(np.mean((u - uref) ** 2))) / scale
                        err = err if math.isfinite(err) else float("inf")
                        r = np.asarray(res.rank, dtype=int)
                        marks = [int(r[int(f * (len(r) - 1))]) for f in (0, 0.25, 0.5, 0.75, 1.0)]
                        dense = [_dense_rank(Pn, th, xs) for th in ths] if np.all(np.isfinite(ths)) else []
                        row.setdefault(label, []).append((int(r[-1]), int(r.min()), err, min(dense[1:], default=0)))
                        name = label if seed is None else f"{label} (rng={seed})"
                        print(f"| {n} | {dt:g} | {ridge:g} | {name} | {marks} | {r.min()} | {dense} | {err:.2e} | "
                              f"{wall:.1f} s |", flush=True)
                summary.append((n, dt, ridge, row))
    print("\nwhere OtD's rank collapsed (rank at T < min(n, p)/2 for OtD-Euler or OtD-RK4 on the grid): does DtO keep "
          "rank >= min(n, p)/2 throughout with relative error < 0.1? (seeded runs: all seeds; error mean +- SD)")
    for n, dt, ridge, row in summary:
        full = min(n, P.n_params)
        collapsed = any(row[k][0][0] < full / 2 for k in ("otd-euler", "otd-rk4"))
        best_otd = min(row["otd-euler"][0][2], row["otd-rk4"][0][2])
        ok = {k: all(v[1] >= full / 2 and v[2] < 0.1 for v in vs) for k, vs in row.items() if k.startswith("dto")}
        print(f"n = {n}, dt = {dt:g}, ridge = {ridge:g}: OtD collapsed: {collapsed}; best OtD error {best_otd:.2e}; "
              f"DtO stable and accurate: {ok}")
        for k, vs in row.items():
            if len(vs) > 1:
                e = np.array([v[2] for v in vs])
                print(f"    {k}: {len(vs)} seeds, error {e.mean():.4f} +- {e.std(ddof=1):.4f} (min {e.min():.4f}, "
                      f"max {e.max():.4f}), min dense rank after t = 0 {min(v[3] for v in vs)}, min sampled rank "
                      f"{min(v[1] for v in vs)}")


def kdv(args: argparse.Namespace) -> None:
    be = tk.get_backend(args.backend)
    xp = be.xp
    pde = g.kdv()
    param, th0 = g.kdv_guess(be)
    xf = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype), (-1, 1))
    xg = xp.reshape(xp.linspace(-20.0, 40.0, 4096, endpoint=False, dtype=be.dtype), (-1, 1))
    se = max(1, round(args.t_final / 4 / args.dt))
    for training, scheme in (("otd", "rk4"), ("dto", "euler"), ("dto", "crank_nicolson")):
        t0 = time.time()
        try:
            res = g.solve(pde, param, th0, args.t_final, args.dt, sampler=g.GridSampler(-20.0, 40.0, 512),
                          fit_points=xf, fit_iters=500, ridge=1e-8, save_every=se, training=training,
                          scheme=scheme, backend=be)
        except FloatingPointError as exc:
            print(f"{training}-{scheme}: FAILED ({exc})", flush=True)
            continue
        est = np.asarray(be.to_numpy(res.error_estimate))
        accd = np.asarray(be.to_numpy(res.error_accumulated))
        bound = np.asarray(be.to_numpy(res.error_bound))
        print(f"{training}-{scheme}: error_method = {res.error_method!r}")
        for k, tt in enumerate(np.asarray(be.to_numpy(res.t)).tolist()):
            u = be.to_numpy(res.param.value(res.theta[k, :], xg))
            ue = be.to_numpy(pde.exact(tt, xg, xp))
            true = float(np.sqrt(np.mean((u - ue) ** 2)))
            print(f"{training}-{scheme}: t = {tt:5.2f} true RMS error {true:.3e}, error_estimate {est[k]:.3e} "
                  f"(ratio {est[k] / true:.4f}), error_accumulated {accd[k]:.3e} (ratio {accd[k] / true:.2f}), "
                  f"error_bound {bound[k]:.3e} (ratio {bound[k] / true:.2f})", flush=True)
        print(f"{training}-{scheme}: rank min {min(res.rank)} max {max(res.rank)} of {param.n_params} "
              f"({time.time() - t0:.0f}s)", flush=True)


def estimate(args: argparse.Namespace) -> None:
    be = tk.get_backend(args.backend)
    xp = be.xp
    pde = g.kdv()
    param, th0 = g.kdv_guess(be)
    xf = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype), (-1, 1))
    t0 = time.time()
    res = g.solve(pde, param, th0, args.t_final, args.dt, sampler=g.GridSampler(-20.0, 40.0, 512), fit_points=xf,
                  fit_iters=500, ridge=1e-8, save_every=1, training="otd", scheme="rk4", backend=be)
    th, ts = np.asarray(be.to_numpy(res.theta)), np.asarray(be.to_numpy(res.t))
    est = np.asarray(be.to_numpy(res.error_accumulated))
    P, _ = g.kdv_guess(tk.get_backend("numpy"))
    N, h = 512, ts[1] - ts[0]
    X = np.linspace(-20.0, 40.0, N, endpoint=False)[:, None]
    Xg = np.linspace(-20.0, 40.0, 4096, endpoint=False)[:, None]
    k = 2 * np.pi * np.fft.fftfreq(N, d=60.0 / N)
    flow = np.exp(1j * k**3 * h)  # exact flow of e_t = -e_xxx over one step

    def ddx(v):
        return np.real(np.fft.ifft(1j * k * np.fft.fft(v)))

    def rms(v):
        return float(np.sqrt(np.mean(v * v)))

    fl = P.evaluate(th[0], X, ("u", "grad", "dxxx"))
    e = fl["u"] - pde.u0(X, np)
    acc = e.copy()
    K = len(ts) - 1
    print(f"KdV, OtD-RK4, dt = {h:g} ({time.time() - t0:.0f} s); RMS errors; ratios to the true error on 4096 points")
    print("t     true(4096)  true(512)  error_accumulated   defects summed      defects propagated")
    for i in range(K):
        fn = P.evaluate(th[i + 1], X, ("u", "grad", "dxxx"))
        f0, f1 = pde.rhs(ts[i], X, fl, np), pde.rhs(ts[i + 1], X, fn, np)
        delta = fn["u"] - fl["u"] - 0.5 * h * (f0 + f1)
        acc = acc + delta
        ex = ddx(e)  # f(u) - f(u - e) = -6 (u e_x + e u_x - e e_x) - e_xxx
        nl = -6.0 * (fl["u"] * ex + e * fl["grad"][:, 0] - e * ex)
        e = np.real(np.fft.ifft(flow * np.fft.fft(e + h * nl))) + delta
        fl = fn
        if (i + 1) % max(1, K // 8) == 0:
            t = ts[i + 1]
            tg = rms(P.value(th[i + 1], Xg) - pde.exact(t, Xg, np))
            t5 = rms(fn["u"] - pde.exact(t, X, np))
            print(f"{t:.2f}  {tg:.3e}   {t5:.3e}  {est[i + 1]:.3e} ({est[i + 1] / tg:.2f})  {rms(acc):.3e} "
                  f"({rms(acc) / tg:.2f})  {rms(e):.3e} ({rms(e) / tg:.3f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("rank", "kdv", "estimate"))
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--t-final", type=float, default=None)
    ap.add_argument("--dt", type=float, nargs="+", default=None, help="rank: several allowed")
    ap.add_argument("--ridge", type=float, nargs="+", default=[0.0], help="rank: several allowed")
    ap.add_argument("--eps", type=float, default=0.05, help="rank: Allen-Cahn's diffusion")
    ap.add_argument("--n-samples", type=int, nargs="+", default=[12, 16])
    ap.add_argument("--units", type=int, default=6, help="rank: periodic Gaussian units (p = 3 units)")
    ap.add_argument("--adam", action="store_true", help="rank: add OtD on fresh points and DtO fitted by Adam")
    ap.add_argument("--iterations", type=int, default=50, help="rank --adam: Adam iterations per time step")
    ap.add_argument("--learning-rate", type=float, default=3e-4, help="rank --adam: Adam's step size")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="rank --adam: rng of the fresh points")
    args = ap.parse_args()
    args.t_final = args.t_final or {"rank": 1.0, "kdv": 1.0, "estimate": 4.0}[args.what]
    args.dt = args.dt or [1e-3]
    if args.what != "rank":
        args.dt = args.dt[0]
    {"rank": rank, "kdv": kdv, "estimate": estimate}[args.what](args)


if __name__ == "__main__":
    main()
