"""Peer benchmark: the same fixed-step RK4 workload (exact 8-mode mixture field, n = 10^5, d = 2, 100 steps) as

(a) transportkit on NumPy, (b) a hand-written NumPy loop, (c) transportkit on PyTorch, (d) torchdiffeq's odeint
with the same field (skipped with a message when torchdiffeq is not installed). Prints times and the ratios
(a)/(b) and (c)/(d). Run: ``python benchmarks/peers/rk4_mixture.py [n]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import transportkit as tk

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
STEPS = 100


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    T = tk.interpolants.eight_mode_mixture()
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), T)
    z = np.random.default_rng(0).normal(size=(N, 2))
    w, m, C = T._host["w"], T._host["means"], T._host["covs"]

    def field_np(t, x):  # the same closed form written directly in NumPy (one-sided linear interpolant)
        a, b, aad, bbd = 1 - t, t, t - 1, t
        S = a * a * np.eye(2) + b * b * C
        L = np.linalg.cholesky(S)
        W = np.linalg.inv(L)
        diff = x[None] - b * m[:, None, :]
        y = diff @ W.transpose(0, 2, 1)
        g = y @ W
        logn = -0.5 * (y * y).sum(-1) - np.log(np.diagonal(L, axis1=1, axis2=2)).sum(-1)[:, None]
        lc = np.log(w)[:, None] + logn
        r = np.exp(lc - lc.max(0))
        r /= r.sum(0)
        N_ = aad * np.eye(2) + bbd * C
        fk = m[:, None, :] + g @ N_.transpose(0, 2, 1)
        return (r[:, :, None] * fk).sum(0)

    def hand_rk4():
        x, h = z.copy(), 1.0 / STEPS
        for i in range(STEPS):
            t = i * h
            k1 = field_np(t, x)
            k2 = field_np(t + h / 2, x + h / 2 * k1)
            k3 = field_np(t + h / 2, x + h / 2 * k2)
            k4 = field_np(t + h, x + h * k3)
            x = x + h / 6 * (k1 + 2 * (k2 + k3) + k4)
        return x

    bn = f.bind(tk.get_backend("numpy"))
    a = best(lambda: tk.integrate.odeint(bn.velocity, z, steps=STEPS, solver="rk4"))
    b = best(hand_rk4)
    diff = np.abs(tk.integrate.odeint(bn.velocity, z, steps=STEPS, solver="rk4") - hand_rk4()).max()
    print(f"(a) transportkit numpy   {a:8.3f} s")
    print(f"(b) hand-written numpy   {b:8.3f} s   (max |a - b| = {diff:.1e})")
    print(f"    ratio (a)/(b) = {a / b:.3f}   (target <= 1.10)")
    try:
        import torch
    except ImportError:
        print("(c), (d): torch not installed; skipped")
        return
    be = tk.get_backend("torch")
    bt = f.bind(be)
    zt = torch.as_tensor(z)
    c = best(lambda: tk.integrate.odeint(bt.velocity, zt, steps=STEPS, solver="rk4"))
    print(f"(c) transportkit torch   {c:8.3f} s")
    try:
        from torchdiffeq import odeint
    except ImportError:
        print("(d) torchdiffeq is not installed: skipped (pip install torchdiffeq to compare)")
        return
    grid = torch.linspace(0.0, 1.0, STEPS + 1, dtype=torch.float64)
    d = best(lambda: odeint(lambda t, x: bt.velocity(t, x), zt, grid, method="rk4"))
    print(f"(d) torchdiffeq rk4      {d:8.3f} s")
    print(f"    ratio (c)/(d) = {c / d:.3f}   (target <= 1.0)")


if __name__ == "__main__":
    main()
