"""KdV two-soliton with a Neural Galerkin scheme up to t = 4, per backend: relative L2 error and wall time.

The issue-7 criterion "relative L2 error below 5e-2 at t = 4" on every backend where the built-ins run
(10 periodic Gaussian units, Levenberg–Marquardt fit on 2048 points, RK4 dt = 1e-3 on a 512-point grid, ridge
1e-8; see :func:`transportkit.galerkin.run_kdv`). The time step is compiled once per run where the backend has
``jit`` (JAX); the wall time includes the fit and the compilation.

With ``--step-timing`` it instead times one KdV RK4 step (4 Jacobian evaluations and least-squares solves on
512 points, 30 parameters) per backend, compiled (``Backend.maybe_jit``) and uncompiled, interleaved over
rounds; the minimum over rounds is printed (robust to other load on the machine).

With ``--timing`` it times, per backend, the whole KdV run to ``--t-final`` twice in one process (fit,
compilation and error evaluation included; :func:`transportkit.galerkin.run_kdv` builds fresh problem objects,
so both runs compile on JAX), then its parts: the 500-iteration Levenberg–Marquardt fit and an RK4 solve of
min(1000, t_final/dt) steps on the same objects, first call (compilation included) and second call. It uses only
public names that predate the compiled runs, so the same command measures an older checkout
(``PYTHONPATH=<old tree>``, run from outside the worktree; with an editable install, put a ``sitecustomize.py`` on
``PYTHONPATH`` that inserts the old tree first in ``sys.path``). Run old and new alternately (A, B, A, B) on a shared
machine and compare CPU as well as wall times.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/galerkin_report.py [--t-final 4] [--backends numpy,jax,torch]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/galerkin_report.py --step-timing [--rounds 5]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/galerkin_report.py --timing --backends jax
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "1")  # float64 on JAX, in this process only


def step_timing(names: list[str], rounds: int, reps: int) -> None:
    """Min over ``rounds`` of the mean time of ``reps`` KdV RK4 steps, per backend, compiled and not."""
    import transportkit as tk
    from transportkit import galerkin as g
    from transportkit.galerkin.schemes import rk_step, velocity_arrays  # the (theta, X) step on the one RK stack

    pde = g.kdv()
    cases = {}
    for name in names:
        be = tk.get_backend(name)
        xp = be.xp
        P, th = g.kdv_guess(be)
        X = xp.reshape(xp.linspace(-20.0, 40.0, 512, endpoint=False, dtype=be.dtype, device=be.device), (-1, 1))

        def rhs(t, th_, XX, P=P):
            v, diag = velocity_arrays(pde, P, th_, XX, t, ridge=1e-8)
            return v, None, diag

        def step(t, th_, XX, h, rhs=rhs):
            return rk_step(rhs, t, th_, XX, h, "rk4")

        variants = {"uncompiled": step}
        if be.jit is not None:
            variants["compiled"] = be.jit(step)
        for label, fn in variants.items():
            t0 = time.perf_counter()
            float(fn(0.0, th, X, 1e-3)[0][0])  # warm-up (compilation), synchronized
            cases[name, label] = (fn, th, X, time.perf_counter() - t0, [])
    for _ in range(rounds):
        for (_name, _label), (fn, th, X, _, out) in cases.items():
            t0 = time.perf_counter()
            x = th
            for _k in range(reps):
                x = fn(0.0, x, X, 1e-3)[0]
            float(x[0])  # synchronize
            out.append((time.perf_counter() - t0) / reps)
    print(f"KdV RK4 step (512 points, 30 parameters), min over {rounds} rounds of {reps} steps")
    print(f"{'backend':>18} {'variant':>11} {'ms/step':>8} {'first call s':>12}")
    for (name, label), (_, _, _, first, out) in cases.items():
        print(f"{name:>18} {label:>11} {1e3 * min(out):8.2f} {first:12.2f}")


def _timed(label: str, f, *args, **kwargs):
    """Run ``f(*args, **kwargs)``, print its wall and CPU (process) time, return its result."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = f(*args, **kwargs)
    print(f"  {label:<44} wall {time.perf_counter() - t0:7.2f} s   cpu {time.process_time() - c0:7.2f} s", flush=True)
    return out


def timing(names: list[str], t_final: float, dt: float) -> None:
    """Whole KdV runs (twice) and their parts (fit; 1000-step solve), first and second call, per backend."""
    import transportkit as tk
    from transportkit import galerkin as g

    print(f"transportkit from {tk.__file__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}")
    for name in names:
        be = tk.get_backend(name)
        xp = be.xp
        be.to_numpy(xp.zeros(1))  # library start-up outside the timings
        print(f"{name}: KdV two-soliton, RK4 dt = {dt}, t = 0..{t_final}")
        for rep in range(2):
            res, errs = _timed(f"run_kdv, call {rep + 1}", g.run_kdv, t_final, dt, save_every=1000, backend=be)
        for rep in range(2):  # what the baseline computed: no error equation alongside
            _timed(f"run_kdv(error_equation=False), call {rep + 1}", g.run_kdv, t_final, dt, save_every=1000,
                   backend=be, error_equation=False)
        print(f"  relative L2 error at t = {t_final}: {errs[-1]:.4e}; min rank {min(res.rank)}")
        pde = g.kdv()
        P, th0 = g.kdv_guess(be)
        xf = xp.reshape(xp.linspace(-20.0, 40.0, 2048, endpoint=False, dtype=be.dtype, device=be.device), (-1, 1))
        for rep in range(2):
            th, _ = _timed(f"fit_initial (500 iterations), call {rep + 1}", g.fit_initial, P, pde.u0(xf, xp), th0,
                           xf, iters=500, jit=be.jit)
        samp = g.GridSampler(-20.0, 40.0, 512)
        n = min(1000, max(1, round(t_final / dt)))
        for rep in range(2):
            r = _timed(f"solve ({n} RK4 steps), call {rep + 1}", g.solve, pde, P, th, n * dt, dt, sampler=samp,
                       fit=False, ridge=1e-8, save_every=n, jit=True, backend=be)
            be.to_numpy(r.theta)


def main() -> None:
    import transportkit as tk
    from transportkit import galerkin as g

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-final", type=float, default=4.0)
    ap.add_argument("--dt", type=float, default=1e-3)
    ap.add_argument("--backends", default=",".join(b for b in tk.backends.available() if b != "cupy"))
    ap.add_argument("--step-timing", action="store_true", help="time one RK4 step per backend instead")
    ap.add_argument("--timing", action="store_true", help="time whole runs and their parts, first and second call")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    if args.timing:  # threads as the environment sets them (OMP_NUM_THREADS)
        timing([b for b in args.backends.split(",") if b in tk.backends.available()], args.t_final, args.dt)
        return
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    if args.step_timing:
        step_timing([b for b in args.backends.split(",") if b in tk.backends.available()], args.rounds, args.reps)
        return
    print(f"KdV two-soliton, Neural Galerkin (10 periodic Gaussian units, RK4 dt = {args.dt}, 512 grid points), "
          f"t = 0..{args.t_final}")
    print(f"{'backend':>18} {'err(t=1)':>10} {'err(final)':>11} {'min rank':>8} {'wall s':>8}")
    for name in args.backends.split(","):
        if name not in tk.backends.available():
            print(f"{name:>18}  unavailable")
            continue
        t0 = time.perf_counter()
        res, errs = g.run_kdv(args.t_final, args.dt, save_every=max(1, round(1.0 / args.dt)), backend=name)
        wall = time.perf_counter() - t0
        ts = res.backend.to_numpy(res.t).tolist()
        e1 = errs[min(range(len(ts)), key=lambda k: abs(ts[k] - 1.0))]
        ok = "OK" if errs[-1] < 5e-2 else "FAIL"
        print(f"{name:>18} {e1:10.3e} {errs[-1]:11.3e} {min(res.rank):8d} {wall:8.1f}  {ok} (bound 5e-2)",
              flush=True)


if __name__ == "__main__":
    main()
