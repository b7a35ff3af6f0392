"""Peer benchmark: fixed-step RK4 (100 steps, float64) through the exact field of a Gaussian mixture, transportkit
against the loop a user would write by hand on the same backend, and against torchdiffeq.

Two parts, each timed interleaved (every repeat runs every variant back to back; the best time of each is kept):

- ``legacy`` (the 8-mode mixture of the docs, full 2x2 covariances, n = 10^5): (a) transportkit on NumPy, (b) a
  hand-written NumPy loop, (b2) the same with ``vecdot`` reductions, (c) transportkit on PyTorch, (d) torchdiffeq's
  ``odeint(method="rk4")`` (its 3/8 rule, also four evaluations per step) with the same field.
- ``compiled`` on numpy, torch and jax: ``iso`` (8 modes, isotropic covariances, d = 2, n = 10^5; the hand loops use
  the isotropic formula) and ``full`` (8 modes, full covariances, d = 64, n = 10^4; the hand loops use Cholesky
  factors). The hand JAX loop is ``jax.jit`` of ``lax.fori_loop``; transportkit's first call (which compiles on
  JAX) is reported separately from the steady state.

Run ``python benchmarks/peers/rk4_mixture.py`` (default threads) and ``OMP_NUM_THREADS=1 python ...`` (one thread:
the script then also pins torch and XLA to one thread). ``--part legacy|compiled|all``, ``--repeat``, ``--scale``
(multiplies both n, for quick checks).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

if os.environ.get("OMP_NUM_THREADS") == "1":  # before jax is imported
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np

import transportkit as tk

STEPS = 100


# ------------------------------------------------------------------------------------------------- legacy part
def hand_field(mix: tk.targets.GaussianMixture, fused: bool = False) -> Callable:
    """The exact velocity of the one-sided linear interpolant to ``mix``, written directly in NumPy; ``fused``
    uses ``np.linalg.vecdot`` for the two reductions instead of ``(u * v).sum(axis)``."""
    w, m, C = mix._host["w"], mix._host["means"], mix._host["covs"]
    eye = np.eye(m.shape[-1])

    def field(t, x):
        a, b, aad, bbd = 1 - t, t, t - 1, t
        L = np.linalg.cholesky(a * a * eye + b * b * C)
        W = np.linalg.inv(L)
        y = (x[None] - b * m[:, None, :]) @ W.transpose(0, 2, 1)
        g = y @ W
        yy = np.linalg.vecdot(y, y) if fused else (y * y).sum(-1)
        lc = np.log(w)[:, None] - 0.5 * yy - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)[:, None]
        r = np.exp(lc - lc.max(0))
        r /= r.sum(0)
        fk = m[:, None, :] + g @ (aad * eye + bbd * C).transpose(0, 2, 1)
        return np.linalg.vecdot(r[:, :, None], fk, axis=0) if fused else (r[:, :, None] * fk).sum(0)

    return field


def hand_rk4(field: Callable, z: np.ndarray, steps: int = STEPS) -> np.ndarray:
    x, h = z.copy(), 1.0 / steps
    for i in range(steps):
        t = i * h
        k1 = field(t, x)
        k2 = field(t + h / 2, x + h / 2 * k1)
        k3 = field(t + h / 2, x + h / 2 * k2)
        k4 = field(t + h, x + h * k3)
        x = x + h / 6 * (k1 + 2 * (k2 + k3) + k4)
    return x


def _timed(fn: Callable) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _interleaved(jobs: dict[str, Callable], repeat: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    best = {k: float("inf") for k in jobs}
    out: dict[str, np.ndarray] = {}
    for _ in range(repeat):
        for k, fn in jobs.items():
            dt, res = _timed(fn)
            best[k] = min(best[k], dt)
            out[k] = np.asarray(res)
    return best, out


def run(n: int = 100_000, repeat: int = 3, seed: int = 0) -> dict[str, float]:
    """The legacy part: best times, ratios and max differences of (a), (b), (b2), (c), (d)."""
    mix = tk.interpolants.eight_mode_mixture()
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), mix)
    z = np.random.default_rng(seed).normal(size=(n, 2))
    bn = f.bind(tk.get_backend("numpy"))
    field, fused = hand_field(mix), hand_field(mix, fused=True)
    jobs: dict[str, Callable] = {
        "a": lambda: tk.integrate.odeint(bn.velocity, z, steps=STEPS, solver="rk4"),
        "b": lambda: hand_rk4(field, z),
        "b2": lambda: hand_rk4(fused, z),
    }
    try:
        import torch

        bt = f.bind(tk.get_backend("torch"))
        zt = torch.as_tensor(z)
        jobs["c"] = lambda: tk.integrate.odeint(bt.velocity, zt, steps=STEPS, solver="rk4")
        try:
            from torchdiffeq import odeint

            grid = torch.linspace(0.0, 1.0, STEPS + 1, dtype=torch.float64)
            jobs["d"] = lambda: odeint(bt.velocity, zt, grid, method="rk4")[-1]
        except ImportError:
            print("(d) torchdiffeq is not installed: skipped (pip install torchdiffeq)")
    except ImportError:
        print("(c), (d): torch is not installed: skipped")
    best, out = _interleaved(jobs, repeat)
    res = dict(best)
    res["max_abs_a_b"] = float(np.abs(out["a"] - out["b"]).max())
    res["ratio_a_b"] = best["a"] / best["b"]
    res["ratio_a_b2"] = best["a"] / best["b2"]
    if "c" in best:
        res["max_abs_a_c"] = float(np.abs(out["a"] - out["c"]).max())
    if "d" in best:
        res["max_abs_c_d"] = float(np.abs(out["c"] - out["d"]).max())
        res["ratio_c_d"] = best["c"] / best["d"]
    return res


# ------------------------------------------------------------------------------------------------- compiled part
def mixture(case: str, seed: int = 0) -> tk.targets.GaussianMixture:
    """``"iso"``: 8 modes on a circle of radius 4 in 2-D, variances in [0.1, 0.3]; ``"full"``: 8 modes in 64-D with
    random full covariances (eigenvalues in [0.1, 1])."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, 8)
    if case == "iso":
        ang = np.arange(8) * (2 * np.pi / 8)
        means = 4.0 * np.stack([np.cos(ang), np.sin(ang)], 1)
        return tk.targets.GaussianMixture(w / w.sum(), means, rng.uniform(0.1, 0.3, 8))
    d = 64
    q = np.linalg.qr(rng.normal(size=(8, d, d)))[0]
    cov = q @ (rng.uniform(0.1, 1.0, (8, d))[:, :, None] * np.swapaxes(q, 1, 2))
    return tk.targets.GaussianMixture(w / w.sum(), 2.0 * rng.normal(size=(8, d)), cov)


def _lib(lib: str) -> tuple[Any, Callable, Callable]:
    """(namespace, max over axis keeping it, batched diagonal) of numpy, torch or jax.numpy."""
    if lib == "torch":
        import torch

        return torch, lambda v, ax: torch.amax(v, ax, keepdim=True), lambda M: torch.diagonal(M, dim1=1, dim2=2)
    if lib == "jax":
        import jax.numpy as L
    else:
        L = np
    return L, lambda v, ax: v.max(ax, keepdims=True), lambda M: L.diagonal(M, axis1=1, axis2=2)


def hand_iso(lib: str, w: Any, m: Any, v: Any) -> Callable:
    """The velocity as a user writes it for isotropic modes N(m_k, v_k I), linear interpolant, in ``lib``."""
    L, amax, _ = _lib(lib)
    logw = L.log(w)

    def field(t, x):
        a, b = 1 - t, t
        s2 = a * a + b * b * v  # (K,)
        diff = x[:, None, :] - b * m[None]  # (n, K, d)
        lc = logw - 0.5 * (diff * diff).sum(-1) / s2 - 0.5 * x.shape[-1] * L.log(s2)
        r = L.exp(lc - amax(lc, -1))
        r = r / r.sum(-1, keepdims=True) if lib != "torch" else r / r.sum(-1, keepdim=True)
        gain = ((t - 1) + t * v) / s2  # (a a' + b b' v) / s2
        return (r[:, :, None] * (m[None] + gain[None, :, None] * diff)).sum(1)

    return field


def hand_full(lib: str, w: Any, m: Any, C: Any) -> Callable:
    """The velocity with full covariances through Cholesky factors and their inverses, in ``lib`` (numpy, torch or
    jax), the way the legacy NumPy loop (:func:`hand_field`) writes it."""
    L, amax, diag = _lib(lib)
    eye = L.eye(m.shape[-1], dtype=m.dtype)
    logw = L.log(w)

    def field(t, x):
        a, b = 1 - t, t
        Lc = L.linalg.cholesky(a * a * eye + b * b * C)  # (K, d, d)
        W = L.linalg.inv(Lc)
        y = (x[None] - b * m[:, None, :]) @ L.swapaxes(W, 1, 2)  # (K, n, d): L^{-1}(x - mu)
        g = y @ W  # Sigma^{-1}(x - mu)
        lc = logw[:, None] - 0.5 * (y * y).sum(-1) - L.log(diag(Lc)).sum(-1)[:, None]
        r = L.exp(lc - amax(lc, 0))
        r = r / r.sum(0)
        N = (t - 1) * eye + t * C
        return (r[:, :, None] * (m[:, None, :] + g @ L.swapaxes(N, 1, 2))).sum(0)

    return field


def _rk4_step(field: Callable, t, x, h):
    k1 = field(t, x)
    k2 = field(t + h / 2, x + h / 2 * k1)
    k3 = field(t + h / 2, x + h / 2 * k2)
    k4 = field(t + h, x + h * k3)
    return x + h / 6 * (k1 + 2 * (k2 + k3) + k4)


def _hand_jobs(case: str, mix: tk.targets.GaussianMixture, z: np.ndarray) -> dict[str, Callable]:
    w, m, C = mix._host["w"], mix._host["means"], mix._host["covs"]
    jobs: dict[str, Callable] = {}
    h = 1.0 / STEPS
    v = np.diagonal(C, axis1=1, axis2=2)[:, 0] if case == "iso" else None

    def loop(field, x):
        for i in range(STEPS):
            x = _rk4_step(field, i * h, x, h)
        return x

    fn = hand_iso("numpy", w, m, v) if case == "iso" else hand_full("numpy", w, m, C)
    jobs["numpy"] = lambda: loop(fn, z)
    try:
        import torch

        tw, tm, tC, tz = (torch.as_tensor(np.array(a)) for a in (w, m, C, z))
        tv = torch.as_tensor(np.array(v)) if case == "iso" else None
        tf = hand_iso("torch", tw, tm, tv) if case == "iso" else hand_full("torch", tw, tm, tC)
        jobs["torch"] = lambda: loop(tf, tz)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp

        jw, jm, jC, jz = (jnp.asarray(a) for a in (w, m, C, z))
        jf = hand_iso("jax", jw, jm, jnp.asarray(v)) if case == "iso" else hand_full("jax", jw, jm, jC)
        run_jax = jax.jit(lambda x: jax.lax.fori_loop(0, STEPS, lambda i, x: _rk4_step(jf, i * h, x, h), x))
        jobs["jax"] = lambda: run_jax(jz).block_until_ready()
    except ImportError:
        pass
    return jobs


def run_compiled(case: str, n: int, repeat: int = 3, seed: int = 0) -> dict[str, dict[str, float]]:
    """For each backend: transportkit's and the hand loop's best time, their ratio, first-call times and the max
    difference of the results."""
    mix = mixture(case, seed)
    field = tk.interpolants.exact_field(tk.Interpolant("linear"), mix)
    z = np.random.default_rng(seed).normal(size=(n, mix.dim))
    hand = _hand_jobs(case, mix, z)
    jobs: dict[str, Callable] = {}
    first: dict[str, float] = {}
    for name in hand:
        be = tk.get_backend(name)
        bf, zb = field.bind(be), be.asarray(z)

        def tk_job(bf=bf, zb=zb, name=name):
            x = tk.integrate.odeint(bf.velocity, zb, steps=STEPS, solver="rk4")
            return x.block_until_ready() if name == "jax" else x

        first[f"tk-{name}"], _ = _timed(tk_job)
        first[f"hand-{name}"], _ = _timed(hand[name])
        jobs[f"tk-{name}"], jobs[f"hand-{name}"] = tk_job, hand[name]
    best, out = _interleaved(jobs, repeat)
    res: dict[str, dict[str, float]] = {}
    for name in hand:
        res[name] = {
            "tk": best[f"tk-{name}"],
            "hand": best[f"hand-{name}"],
            "ratio": best[f"tk-{name}"] / best[f"hand-{name}"],
            "tk_first": first[f"tk-{name}"],
            "hand_first": first[f"hand-{name}"],
            "max_abs": float(np.abs(out[f"tk-{name}"] - out[f"hand-{name}"]).max()),
        }
    return res


def per_evaluation(case: str, n: int, repeat: int = 5, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Best time of one velocity evaluation at t = 0.4, transportkit's bound field vs the hand field (both jitted on
    JAX), per backend: the cost that 400 of make up a run, without the loop."""
    mix = mixture(case, seed)
    field = tk.interpolants.exact_field(tk.Interpolant("linear"), mix)
    w, m, C = mix._host["w"], mix._host["means"], mix._host["covs"]
    z = np.random.default_rng(seed).normal(size=(n, mix.dim))
    out = {}
    for name in ("numpy", "torch", "jax"):
        try:
            be = tk.get_backend(name)
        except Exception:
            continue
        bf, x, t = field.bind(be), be.asarray(z), be.asarray(0.4)
        args = [be.asarray(np.array(a)) for a in (w, m, C)]
        if case == "iso":
            hf = hand_iso(name, args[0], args[1], be.asarray(np.array(np.diagonal(C, axis1=1, axis2=2)[:, 0])))
        else:
            hf = hand_full(name, *args)
        tkf, hof = bf.velocity, hf
        if name == "jax":
            import jax

            tkf, hof = jax.jit(bf.velocity), jax.jit(hf)
        jobs = {"tk": lambda tkf=tkf, x=x, t=t: tkf(t, x), "hand": lambda hof=hof, x=x: hof(0.4, x)}
        best = {k: float("inf") for k in jobs}
        for _ in range(repeat):
            for k, fn in jobs.items():
                np.asarray(fn())
                t0 = time.perf_counter()
                np.asarray(fn())
                best[k] = min(best[k], time.perf_counter() - t0)
        out[name] = (best["tk"], best["hand"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("legacy", "compiled", "all"), default="all")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the number of points")
    ap.add_argument("--cases", default="iso,full", help="compiled-part cases to run: iso, full or both")
    ap.add_argument("--per-eval", action="store_true", help="time one field evaluation per backend instead of runs")
    args = ap.parse_args()
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
    except ImportError:
        pass
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'default')}")
    if args.per_eval:
        for case, n in (("iso", 100_000), ("full", 10_000)):
            if case in args.cases.split(","):
                n = max(100, int(n * args.scale))
                for name, (a, b) in per_evaluation(case, n, args.repeat).items():
                    print(f"[{case}] n = {n}: one evaluation, {name:6s} tk {a * 1e3:8.2f} ms, hand {b * 1e3:8.2f} ms, "
                          f"ratio {a / b:.2f}")
        return
    if args.part in ("compiled", "all"):
        goal = {"numpy": 1.05, "torch": 1.2, "jax": 1.3}
        for case, n in (("iso", 100_000), ("full", 10_000)):
            if case not in args.cases.split(","):
                continue
            n = max(100, int(n * args.scale))
            d = 2 if case == "iso" else 64
            print(f"\n[{case}] n = {n}, d = {d}, {STEPS} RK4 steps, float64")
            print(f"{'backend':8s} {'tk (s)':>8s} {'hand (s)':>9s} {'ratio':>6s} {'goal':>5s} "
                  f"{'tk 1st':>7s} {'hand 1st':>8s} {'max|diff|':>9s}")
            for name, r in run_compiled(case, n, args.repeat).items():
                print(f"{name:8s} {r['tk']:8.3f} {r['hand']:9.3f} {r['ratio']:6.2f} {goal[name]:5.2f} "
                      f"{r['tk_first']:7.2f} {r['hand_first']:8.2f} {r['max_abs']:9.1e}")
    if args.part in ("legacy", "all"):
        r = run(max(100, int(100_000 * args.scale)), args.repeat)
        labels = {"a": "transportkit numpy", "b": "hand-written numpy", "b2": "hand-written, vecdot",
                  "c": "transportkit torch", "d": "torchdiffeq rk4"}
        print("\n[legacy] 8-mode mixture, full 2x2 covariances")
        for k, label in labels.items():
            if k in r:
                print(f"({k}) {label:22s} {r[k]:8.3f} s")
        ac = f",  max |a - c| = {r['max_abs_a_c']:.1e}" if "c" in r else ""
        print(f"max |a - b| = {r['max_abs_a_b']:.1e}{ac}")
        print(f"ratio (a)/(b) = {r['ratio_a_b']:.3f};  (a)/(b2) = {r['ratio_a_b2']:.3f}")
        if "ratio_c_d" in r:
            print(f"ratio (c)/(d) = {r['ratio_c_d']:.3f}   (max |c - d| = {r['max_abs_c_d']:.1e}, 3/8 rule)")


if __name__ == "__main__":
    main()
