"""The numerical claims of the mean-field papers (issue #21), run once and reported (numpy, CPU).

- ``linear``: "On feature learning in neural networks with global convergence guarantees" (Chen, Vanden-Eijnden &
  Bruna, arXiv:2204.10782): with input dimension d >= n_data the training loss of the mean-field network decays at a
  linear rate; reported as the slope and R^2 of log(loss) vs t once the loss is below 1 % of its start.
- ``fluct``: "A dynamical central limit theorem for shallow neural networks" (Chen, Rotskoff, Bruna &
  Vanden-Eijnden, NeurIPS 2020, arXiv:2008.09623): n Var f_n(x) at a fixed time T is the same for every width n;
  compared across n = 128..1024 with standard errors sqrt(2/(S-1)) * n Var (S independent runs), and the long-time
  loss l(T) = l_inf + C/n fitted with and without the 2-norm regularizer ``l2``.
- ``quad``: "Optimization and generalization of shallow neural networks with quadratic activation functions" (Sarao
  Mannelli, Vanden-Eijnden & Zdeborova, NeurIPS 2020, arXiv:2006.15459): probability over seeds that gradient flow
  recovers the teacher (relative population error < 1e-2) vs the number of samples n, for d = 8, m* = 2 and a student
  of width m = d; compared with n* = d m* - m*(m*-1)/2.

    .venv/bin/python benchmarks/meanfield_claims.py linear
    .venv/bin/python benchmarks/meanfield_claims.py fluct --seeds 40
    .venv/bin/python benchmarks/meanfield_claims.py quad --seeds 10 --backend jax
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

import transportkit as tk

mf = tk.meanfield


def log_linear_fit(t: np.ndarray, loss: np.ndarray) -> tuple[float, float]:
    """Slope and R^2 of log(loss) vs t where 1e-22 < loss < loss[0] / 100."""
    ok = (loss < 1e-2 * loss[0]) & (loss > 1e-22)
    x, y = t[ok], np.log(loss[ok])
    a = np.polyfit(x, y, 1)
    return float(a[0]), float(1 - np.sum((y - np.polyval(a, x)) ** 2) / np.sum((y - y.mean()) ** 2))


def linear(args: argparse.Namespace) -> None:
    for d, n_data in [(32, 8), (32, 16), (16, 16), (8, 32)]:
        for s in range(args.seeds):
            prob = mf.teacher_student(d=d, m_teacher=3, n_data=n_data, unit="tanh", rng=s, backend="numpy")
            for regime in ("feature", "lazy"):
                tr = mf.gradient_flow(prob, 256, dt=0.5, steps=300, rng=s + 10, record_every=5, regime=regime)
                slope, r2 = log_linear_fit(np.asarray(tr.times), np.asarray(tr.loss))
                print(f"d={d:3d} n_data={n_data:3d} seed={s} {regime:8s} loss(T)={float(tr.loss[-1]):.2e} "
                      f"slope={slope:+.4f} R2={r2:.5f}", flush=True)


def fluct(args: argparse.Namespace) -> None:
    prob = mf.gaussian_teacher_student(d=2, m_teacher=4, rng=0, backend="numpy")
    probes = np.random.default_rng(1).normal(size=(4, 2))
    ns = (128, 256, 512, 1024)
    for l2 in (0.0, args.l2):
        rows = []
        for n in ns:
            t0 = time.time()
            fl = mf.fluctuations(prob, n, probes, seeds=range(args.seeds), dt=0.2, steps=args.steps,
                                 record_every=args.steps, l2=l2)
            nv = np.asarray(fl.n_var)[-1]
            se = nv * np.sqrt(2.0 / (args.seeds - 1))
            lm = float(np.asarray(fl.loss_mean)[-1])
            lse = float(np.sqrt(np.asarray(fl.loss_var)[-1] / args.seeds))
            rows.append((n, lm, lse))
            print(f"l2={l2:g} n={n:5d} n*Var f_n(T) at probes = {np.array2string(nv, precision=4)} "
                  f"+- {np.array2string(se, precision=4)}; loss(T) = {lm:.3e} +- {lse:.1e} ({time.time() - t0:.0f}s)",
                  flush=True)
        n_arr, lm, lse = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
        A = np.stack([np.ones_like(n_arr), 1.0 / n_arr], axis=1) / lse[:, None]
        (l_inf, C), *_ = np.linalg.lstsq(A, lm / lse, rcond=None)
        print(f"l2={l2:g}: loss(T) = l_inf + C/n with l_inf = {l_inf:.3e}, C = {C:.3f}", flush=True)


def quad(args: argparse.Namespace) -> None:
    d, ms = 8, 2
    print(f"d={d} m*={ms} student m={d}; predicted threshold n* = d m* - m*(m*-1)/2 = {d * ms - ms * (ms - 1) // 2}")
    for n_data in (8, 12, 14, 16, 18, 20, 24, 32):
        ok = []
        for s in range(args.seeds):
            prob = mf.quadratic_teacher_student(d=d, m_teacher=ms, n_data=n_data, rng=s, backend=args.backend)
            w0 = prob.init_particles(d, rng=100 + s).w
            tr = mf.gradient_flow(prob, d, dt=0.03, steps=args.steps, rng=100 + s, record_every=args.steps)
            ok.append(float(prob.population_error(tr.particles.w)) < 1e-2 * float(prob.population_error(w0)))
        p = np.mean(ok)
        print(f"n={n_data:3d} P(recovery) = {p:.3f} +- {np.sqrt(p * (1 - p) / len(ok)):.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("linear", "fluct", "quad"))
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--l2", type=float, default=0.05)
    ap.add_argument("--backend", default="numpy", help="quad: the backend of the runs (jax compiles each run)")
    args = ap.parse_args()
    defaults = {"linear": (4, 300), "fluct": (40, 100), "quad": (10, 20000)}[args.what]
    args.seeds = args.seeds or defaults[0]
    args.steps = args.steps or defaults[1]
    {"linear": linear, "fluct": fluct, "quad": quad}[args.what](args)


if __name__ == "__main__":
    main()
