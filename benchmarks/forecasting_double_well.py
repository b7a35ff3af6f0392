"""Probabilistic forecasting of a 2-D double-well SDE with a Föllmer process (Chen et al. 2024, arXiv:2403.13724).

System: dX = -grad V(X) dt + sqrt(2 eps) dW, V(x, y) = (x^2 - 1)^2 + y^2, eps = 0.3 (library convention). Data: pairs
(X_t, X_{t+tau}), tau = 0.5, from 400 parallel chains (Euler–Maruyama, dt = 1e-3, after a burn-in). The drift
b(s, x; x0) is fitted by least squares (tensor features: Legendre in s times random Fourier features of [x, x0]).
For a few starting states x0 the Föllmer ensemble (diffusion = "optimal") is compared with the true conditional law
from direct simulation of the SDE from x0 (20 000 paths): means, standard deviations, the weight of the right well
P(x > 0), and the sliced W2 distance next to its value between two independent reference ensembles. Then a
4-lag trajectory forecast by repeated conditional sampling against direct simulation to 4 tau.

    python benchmarks/forecasting_double_well.py                 # NumPy, about a minute on one core
    python benchmarks/forecasting_double_well.py --backend jax   # compiled SDE loops
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

if "jax" in sys.argv:
    os.environ.setdefault("JAX_ENABLE_X64", "1")
import transportkit as tk
from transportkit.interpolants import TensorFeatures, sliced_w2
from transportkit.interpolants import forecasting as fc

EPS, TAU, DT = 0.3, 0.5, 1e-3


def grad_v(x: np.ndarray) -> np.ndarray:
    return np.stack([4 * x[:, 0] * (x[:, 0] ** 2 - 1), 2 * x[:, 1]], axis=1)


def simulate(x: np.ndarray, t: float, rng: np.random.Generator) -> np.ndarray:
    """Euler–Maruyama of the double-well SDE over time t with step DT."""
    for _ in range(round(t / DT)):
        x = x - DT * grad_v(x) + np.sqrt(2 * EPS * DT) * rng.normal(size=x.shape)
    return x


def summary(x: np.ndarray) -> str:
    return (f"mean ({x[:, 0].mean():+.3f}, {x[:, 1].mean():+.3f})  std ({x[:, 0].std():.3f}, {x[:, 1].std():.3f})  "
            f"P(x>0) {np.mean(x[:, 0] > 0):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--chains", type=int, default=400)
    ap.add_argument("--lags", type=int, default=100)
    ap.add_argument("--fourier", type=int, default=192)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--steps", type=int, default=200)
    a = ap.parse_args()
    be = tk.get_backend(a.backend, dtype="float64")
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    x = simulate(rng.normal(size=(a.chains, 2)) * 0.5, 10 * TAU, rng)  # burn-in
    traj = [x]
    for _ in range(a.lags):
        x = simulate(x, TAU, rng)
        traj.append(x)
    traj = np.stack(traj)  # (lags + 1, chains, 2)
    x0s, x1s = traj[:-1].reshape(-1, 2), traj[1:].reshape(-1, 2)
    print(f"data: {x0s.shape[0]} pairs (tau = {TAU}) in {time.perf_counter() - t0:.1f} s; "
          f"fraction of lags that switch wells {np.mean(np.sign(x0s[:, 0]) != np.sign(x1s[:, 0])):.3f}")

    t0 = time.perf_counter()
    feats = TensorFeatures(4, time_degree=5, n_fourier=a.fourier, bandwidth=(1.5, 0.5), rng=1)
    model = fc.fit_drift(fc.FollmerInterpolant("quadratic"), be.asarray(x0s), be.asarray(x1s), features=feats,
                         repeats=a.repeats, chunk_size=10_000, ridge=1e-6, rng=2)
    print(f"fit: {model.info['n_features']} features, {model.info['n_samples']} draws, "
          f"{time.perf_counter() - t0:.1f} s")

    for start in ([-1.0, 0.0], [0.0, 0.0], [0.4, 0.5]):
        x0 = np.array(start)
        t0 = time.perf_counter()
        ens = be.to_numpy(fc.sample(model, be.asarray(x0), a.n, steps=a.steps, diffusion="optimal", rng=3))
        t_s = time.perf_counter() - t0
        ref = simulate(np.tile(x0, (a.n, 1)), TAU, np.random.default_rng(4))
        ref2 = simulate(np.tile(x0, (a.n, 1)), TAU, np.random.default_rng(5))
        print(f"\nx0 = {start}  (Föllmer sampling {t_s:.2f} s)")
        print(f"  Föllmer  {summary(ens)}")
        print(f"  truth    {summary(ref)}")
        print(f"  SW2(Föllmer, truth) = {sliced_w2(ens, ref, rng=0):.4f}; "
              f"SW2(truth, truth') = {sliced_w2(ref2, ref, rng=0):.4f}")

    x0 = np.array([-1.0, 0.0])
    t0 = time.perf_counter()
    path = be.to_numpy(fc.forecast(model, be.asarray(x0), 4, a.n, steps=a.steps, diffusion="optimal", rng=6))
    print(f"\n4-lag forecast from {x0.tolist()} ({time.perf_counter() - t0:.1f} s)")
    ref = np.tile(x0, (a.n, 1))
    ref_rng = np.random.default_rng(7)
    for k in range(1, 5):
        ref = simulate(ref, TAU, ref_rng)
        print(f"  lag {k}: Föllmer {summary(path[k])}")
        print(f"         truth   {summary(ref)}   SW2 {sliced_w2(path[k], ref, rng=0):.4f}")


if __name__ == "__main__":
    main()
