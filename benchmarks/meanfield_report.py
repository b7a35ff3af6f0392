"""Measurements for transportkit.meanfield (issue 8): run with the repository's Python, e.g.

    .venv/bin/python benchmarks/meanfield_report.py teacher-student
    .venv/bin/python benchmarks/meanfield_report.py birth-death      # ratio of steps over 10 seeds (3-spin)
    .venv/bin/python benchmarks/meanfield_report.py scaling          # exponent a of the long-time loss ~ n^-a
    .venv/bin/python benchmarks/meanfield_report.py fluctuations     # n Var f_n across seeds (dynamical CLT)
    .venv/bin/python benchmarks/meanfield_report.py timing --backend jax   # first call and warm wall/CPU time

``timing`` trains three problems (gradient flow, gradient flow + birth–death, SGD) three times each on the same
problem objects: the first call includes compilation (on JAX the whole run is one program), the others reuse it.
It uses only public names that predate the compiled runs, so ``PYTHONPATH=<old tree>`` measures an older checkout.

Each prints its numbers; ``--backend`` picks the backend (default numpy).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")

import numpy as np

import transportkit as tk
import transportkit.meanfield as mf


def teacher_student(args) -> None:
    be = tk.get_backend(args.backend)
    print(f"ReLU teacher-student, d=2, teacher width 2, student width 32, 200 data, dt={args.dt}, {args.steps} steps")
    for seed in range(args.seeds):
        P = mf.teacher_student(d=2, m_teacher=2, n_data=200, unit="relu", rng=seed, backend=be)
        t = time.perf_counter()
        tr = mf.gradient_flow(P, 32, dt=args.dt, steps=args.steps, rng=seed + 1, record_every=args.steps)
        loss = be.to_numpy(tr.loss)
        print(f"seed {seed}: loss {loss[0]:.3e} -> {loss[-1]:.3e}  reduction {loss[0] / loss[-1]:.2e}"
              f"  ({time.perf_counter() - t:.2f} s)")


def birth_death(args) -> None:
    be = tk.get_backend(args.backend)
    refs = args.ref_step
    steps = {r: ([], []) for r in refs}
    print(f"3-spin d={args.d}, n={args.n}, {args.n_data} data, dt={args.dt}, alpha={args.alpha}, {args.steps} steps;"
          f" level = the loss of gradient flow at step {', '.join(map(str, refs))}")
    for seed in range(args.seeds):
        P = mf.three_spin(d=args.d, n_data=args.n_data, rng=seed, backend=be)
        p0 = P.init_particles(args.n, rng=1000 + seed)
        gf = be.to_numpy(mf.gradient_flow(P, p0, dt=args.dt, steps=args.steps, rng=seed).loss)
        bd = be.to_numpy(mf.gradient_flow(P, p0, dt=args.dt, steps=args.steps, rng=seed,
                                          birth_death=args.alpha).loss)
        line = []
        for r in refs:
            level = gf[r]
            k_gf, k_bd = mf.steps_to_reach(gf, level), mf.steps_to_reach(bd, level)
            steps[r][0].append(k_gf)
            steps[r][1].append(k_bd)
            line.append(f"level {level:.4f}: GF {k_gf}, BD+GF {k_bd}")
        print(f"seed {seed}: " + "; ".join(line) + f"; final loss {gf[-1]:.4f} vs {bd[-1]:.4f}", flush=True)
    for r in refs:
        k_gf, k_bd = np.array(steps[r][0], float), np.array(steps[r][1], float)
        k_bd[k_bd < 0] = np.nan  # never reached within the run
        ratio = k_gf / k_bd
        ok = np.isfinite(ratio)
        se = np.std(ratio[ok], ddof=1) / np.sqrt(ok.sum())
        print(f"level = GF loss at step {r}: ratio GF/BD steps per seed {np.round(ratio, 2).tolist()};"
              f" mean {np.mean(ratio[ok]):.3f} +- {se:.3f} (seeds reaching: {ok.sum()}/{len(ratio)}),"
              f" BD faster on {np.sum(ratio[ok] > 1)} seeds")


def scaling(args) -> None:
    be = tk.get_backend(args.backend)
    P = mf.gaussian_teacher_student(d=args.d, m_teacher=args.m, tau=1.0, init="teacher", rng=0, backend=be)
    ns = [32, 64, 128, 256, 512, 1024]
    t = time.perf_counter()
    res = mf.scaling_exponent(P, ns, seeds=range(args.seeds), dt=args.dt, steps=args.steps).to_numpy()
    sem = res.errors.std(axis=0, ddof=1) / np.sqrt(args.seeds)
    print(f"Gaussian teacher-student d={args.d}, m*={args.m}, tau=1, T={args.dt * args.steps:g},"
          f" seeds={args.seeds} ({time.perf_counter() - t:.1f} s)")
    for n, e, s in zip(ns, res.mean_error, sem, strict=True):
        print(f"  n={n:5d}  loss(T) {e:.3e} +- {s:.1e}   n*loss {n * e:.4f}")
    print(f"fitted a = {res.fit.a:.3f} +- {res.fit.a_stderr:.3f}")


def fluctuations(args) -> None:
    be = tk.get_backend(args.backend)
    P = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", rng=0, backend=be)
    Xp = np.array([[0.0, 0.0], [0.5, -0.5], [-1.0, 0.3]])
    for n in (64, 256):
        fl = mf.fluctuations(P, n, Xp, seeds=range(args.seeds), dt=0.5, steps=200, record_every=50).to_numpy()
        print(f"n={n}: times {fl.times}")
        print(f"   n*Var f_n(x) (rows: times, cols: probes)\n{np.array2string(fl.n_var, precision=4)}")
        print(f"   n*mean loss {np.array2string(n * fl.loss_mean, precision=5)}")


def timing(args) -> None:
    be = tk.get_backend(args.backend)
    be.to_numpy(be.xp.zeros(1))  # library start-up outside the timings
    print(f"transportkit from {tk.__file__}; backend {be.name}; OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}")
    P1 = mf.teacher_student(d=2, m_teacher=2, n_data=200, unit="relu", rng=0, backend=be)
    P2 = mf.three_spin(d=6, n_data=1000, rng=0, backend=be)
    P3 = mf.teacher_student(d=3, m_teacher=2, n_data=1000, unit="tanh", rng=0, backend=be)
    cases = {
        "GF, ReLU teacher-student, n=32, 600 steps": lambda: mf.gradient_flow(P1, 32, dt=0.2, steps=600, rng=1,
                                                                              record_every=100),
        "GF + birth-death, 3-spin d=6, n=256, 150 steps": lambda: mf.gradient_flow(P2, 256, dt=0.5, steps=150,
                                                                                   rng=1, birth_death=1.0),
        "SGD, tanh d=3, n=64, batch 50, 500 steps": lambda: mf.sgd(P3, 64, batch_size=50, dt=0.2, steps=500,
                                                                   rng=3, record_every=50),
    }
    for name, run in cases.items():
        walls, cpus = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            loss = be.to_numpy(run().loss)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        print(f"{name}: first call wall {walls[0]:.3f} s (cpu {cpus[0]:.3f}); then wall {walls[1]:.3f},"
              f" {walls[2]:.3f} s (cpu {cpus[1]:.3f}, {cpus[2]:.3f}); loss {loss[0]:.4e} -> {loss[-1]:.4e}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["teacher-student", "birth-death", "scaling", "fluctuations", "timing"])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--d", type=int, default=None)
    ap.add_argument("--m", type=int, default=1)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--n-data", type=int, default=1000)
    ap.add_argument("--dt", type=float, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--ref-step", type=int, nargs="+", default=[30, 60, 100])
    a = ap.parse_args()
    defaults = {"teacher-student": (10, 2, 600, 0.2), "birth-death": (10, 6, 150, 0.5), "scaling": (4, 2, 1000, 0.5),
                "fluctuations": (16, 2, 200, 0.5), "timing": (1, 2, 1, 0.1)}[a.what]
    a.seeds = defaults[0] if a.seeds is None else a.seeds
    a.d = defaults[1] if a.d is None else a.d
    a.steps = defaults[2] if a.steps is None else a.steps
    a.dt = defaults[3] if a.dt is None else a.dt
    {"teacher-student": teacher_student, "birth-death": birth_death, "scaling": scaling,
     "fluctuations": fluctuations, "timing": timing}[a.what](a)


if __name__ == "__main__":
    main()
