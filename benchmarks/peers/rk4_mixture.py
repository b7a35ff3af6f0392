"""Peer benchmark: the same fixed-step RK4 workload (exact 8-mode mixture field, n = 10^5, d = 2, 100 steps) as

(a) transportkit on NumPy, (b) a hand-written NumPy loop (and (b2) the same loop with the two reductions written
as ``np.linalg.vecdot``, as transportkit does them), (c) transportkit on PyTorch, (d) torchdiffeq's ``odeint``
(``method="rk4"``, torchdiffeq's 3/8-rule RK4: four field evaluations per step, like ours) with the same field.
Each repeat times (a), (b), (c), (d) back to back, so the ratios compare runs under the same machine load; the
best time of each over the repeats is reported. (c), (d) are skipped with a message when torch / torchdiffeq are
missing. Run: ``python benchmarks/peers/rk4_mixture.py [--n 100000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import transportkit as tk

STEPS = 100


def hand_field(mix: tk.targets.GaussianMixture, fused: bool = False) -> Callable:
    """The exact velocity of the one-sided linear interpolant to ``mix``, written directly in NumPy; ``fused``
    uses ``np.linalg.vecdot`` for the two reductions (what transportkit does) instead of ``(u * v).sum(axis)``."""
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


def run(n: int = 100_000, repeat: int = 3, seed: int = 0) -> dict[str, float]:
    """Time the four variants (interleaved ``repeat`` times); returns best times, ratios and max differences."""
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
    best = {k: float("inf") for k in jobs}
    out: dict[str, np.ndarray] = {}
    for _ in range(repeat):
        for k, fn in jobs.items():
            dt, res = _timed(fn)
            best[k] = min(best[k], dt)
            out[k] = np.asarray(res)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    r = run(args.n, args.repeat)
    labels = {
        "a": "transportkit numpy",
        "b": "hand-written numpy",
        "b2": "hand-written, vecdot",
        "c": "transportkit torch",
        "d": "torchdiffeq rk4",
    }
    for k, label in labels.items():
        if k in r:
            print(f"({k}) {label:22s} {r[k]:8.3f} s")
    print(f"max |a - b| = {r['max_abs_a_b']:.1e}" + (f",  max |a - c| = {r['max_abs_a_c']:.1e}" if "c" in r else ""))
    print(f"ratio (a)/(b) = {r['ratio_a_b']:.3f}   (target <= 1.10);  (a)/(b2) = {r['ratio_a_b2']:.3f}")
    if "ratio_c_d" in r:
        print(f"ratio (c)/(d) = {r['ratio_c_d']:.3f}   (target <= 1.0; max |c - d| = {r['max_abs_c_d']:.1e}, 3/8 rule)")


if __name__ == "__main__":
    main()
