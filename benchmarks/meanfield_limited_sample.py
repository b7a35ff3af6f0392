"""Generation from n samples with the empirical-data velocity: the squared mean error against n (claim: Theta(1/n),
Cui, Krzakala, Vanden-Eijnden & Zdeborová, arXiv:2310.03575). Prints the error per n against sigma^2/n and the
fitted exponent.

    .venv/bin/python benchmarks/meanfield_limited_sample.py [--d 64 --seeds 12 --ns 8 16 32 64 128 256]
"""

from __future__ import annotations

import argparse
import time

import transportkit.meanfield as mf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--ns", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    ap.add_argument("--n-gen", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--backend", default="numpy")
    a = ap.parse_args()
    t0 = time.perf_counter()
    r = mf.limited_sample_error(a.ns, d=a.d, seeds=a.seeds, n_gen=a.n_gen, steps=a.steps, rng=0, backend=a.backend)
    print(f"d = {a.d}, {a.seeds} seeds, n_gen = {a.n_gen}, {a.steps} RK4 steps ({time.perf_counter() - t0:.0f} s)")
    print("n      |mean error|^2/d      sigma^2/n   ratio")
    for n, e, s, p in zip(r.ns, r.error, r.se, r.predicted, strict=True):
        print(f"{n:<6} {e:.5f} ± {s:.5f}     {p:.5f}     {e / p:.3f} ± {s / p:.3f}")
    print(f"exponent a = {r.fit.a:.4f} ± {r.fit.a_stderr:.4f} (fit residuals)")


if __name__ == "__main__":
    main()
