"""Reactive trajectories on the 100 x 100 Müller–Brown grid (10^4 states): the claims of issue #21, checked on
the network too large for the unit tests.

Samples ``--paths`` reactive trajectories by Doob's h-transform (``tk.tpt.sample_reactive``) and checks

1. the flux through the isocommittor surface q+ = 1/2: per cut edge (i, j), the mean net number of crossings per
   path times F is the empirical flux; it must match f_ij - f_ji within 4 standard errors for every edge carrying
   at least 1 % of F, and the total through the cut is F exactly (every reactive path crosses net once);
2. the total flux from the paths' durations: F_hat = Z_AB / mean(duration) (the reactive-trajectory density
   normalization over the mean reactive time), against F within 4 SE (delta method: SE(F_hat) / F_hat =
   SE(mean duration) / mean duration);
3. no path revisits A after leaving it, none touches B before its end.

Sample size from the error formula: an edge with share p = 0.01 of F has per-path crossing variance ~ p, so
N = 5000 paths give SE ~ sqrt(p / N) = 1.4e-3, i.e. 14 % of its share, and the duration's coefficient of
variation ~ 1 gives SE(F_hat) / F ~ 1 / sqrt(N) = 1.4 %.

    python benchmarks/tpt_reactive_paths.py [--n 100] [--paths 5000] [--beta 0.1] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

import transportkit as tk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--paths", type=int, default=5000)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    Q, _xy, A, B = tk.tpt.mueller_brown(n=args.n, beta=args.beta)
    t0 = time.perf_counter()
    rf = tk.tpt.reactive_flux(Q, A, B)
    t1 = time.perf_counter()
    paths = rf.sample_reactive(args.paths, rng=args.seed, max_steps=10**7)
    t2 = time.perf_counter()
    F, Z = rf.total_flux, rf.probability_reactive
    print(f"Müller–Brown {args.n}x{args.n} ({args.n**2} states), beta={args.beta}: reactive_flux {t1 - t0:.2f} s, "
          f"{args.paths} paths {t2 - t1:.1f} s; F = {F:.6e}, Z_AB = {Z:.6e}, t_AB = Z/F = {Z / F:.6e}")
    lengths = np.array([len(s) for s in paths.states])
    print(f"  jumps per path: mean {lengths.mean():.0f}, max {lengths.max()}; truncated {int(paths.truncated.sum())}")

    # 3. reactive: start in A, end in B, never back in A, never in B before the end
    in_a, in_b = set(A.tolist()), set(B.tolist())
    ok = all(s[0] in in_a and s[-1] in in_b and not any(x in in_a for x in s[1:]) and not any(x in in_b for x in s[:-1])
             for s in paths.states)
    print(f"  every path leaves A once and ends at its first entrance into B: {ok}")

    # 1. flux through the isocommittor cut q+ = 1/2
    r, c = rf.edges
    f, q = rf.flux_values, rf.q_plus
    idx = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(r, c, strict=True))}
    cut = [(int(i), int(j)) for i, j in zip(r, c, strict=True) if q[i] < 0.5 <= q[j]]
    pos = {e: k for k, e in enumerate(cut)}
    counts = np.zeros((len(paths), len(cut)))
    for p, s in enumerate(paths.states):
        for a, b in itertools.pairwise(s):
            if (a, b) in pos:
                counts[p, pos[(a, b)]] += 1
            elif (b, a) in pos:
                counts[p, pos[(b, a)]] -= 1
    net = np.array([f[idx[e]] - f[idx[(e[1], e[0])]] for e in cut])
    mean, se = counts.mean(axis=0) * F, counts.std(axis=0, ddof=1) / math.sqrt(len(paths)) * F
    big = net >= 0.01 * F
    z = (mean - net)[big] / se[big]
    print(f"  isocommittor cut q+ = 1/2: {len(cut)} edges, {int(big.sum())} carry >= 1 % of F "
          f"({net[big].sum() / F:.3f} of F); empirical total through the cut = {counts.sum(axis=1).mean() * F:.6e} "
          f"(F = {F:.6e}; exactly one net crossing per path: {bool(np.all(counts.sum(axis=1) == 1))})")
    print(f"  per-edge empirical flux vs f_ij - f_ji: max |z| = {np.abs(z).max():.2f}, edges beyond 4 SE: "
          f"{int((np.abs(z) > 4).sum())} of {int(big.sum())}, beyond 2 SE: {int((np.abs(z) > 2).sum())} "
          f"(expected ~{0.0455 * big.sum():.1f})")

    # 2. F from the durations
    d = paths.durations
    md, sd = d.mean(), d.std(ddof=1) / math.sqrt(d.size)
    F_hat = Z / md
    se_F = F_hat * sd / md
    print(f"  mean duration {md:.6e} +- {sd:.2e} vs t_AB {Z / F:.6e}: z = {(md - Z / F) / sd:+.2f}")
    print(f"  F_hat = Z_AB / mean duration = {F_hat:.6e} +- {se_F:.2e} vs F = {F:.6e}: z = {(F_hat - F) / se_F:+.2f}")


if __name__ == "__main__":
    main()
