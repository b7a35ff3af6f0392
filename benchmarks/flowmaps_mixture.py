"""Learned flow maps on the 8-mode 2-D mixture: LSD, ESD, PSD and LMD side by side (run once, report).

For each backend and loss: train a two-time MLP flow map within a wall-time budget (``max_seconds``: the step size
decays and the |t - s| bound anneals over that time, including JAX's one compilation), then compare 1-, 2-, 4- and
8-step samples with the target and with the 100-step RK4 probability-flow ODE of the exact field: sliced W2 to
fresh target samples (same n, same projections) and the mode weights (each sample assigned to its most responsible
component; 4 standard errors sqrt(w(1-w)/n)). Writes a JSON report and, with --figure, the picture of the docs page.

    .venv/bin/python benchmarks/flowmaps_mixture.py --backends jax torch --losses lsd esd psd lmd --seconds 120 \
        --figure docs/_static/flowmaps_mixture.png
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("JAX_ENABLE_X64", "0")
# one thread per library: on a small shared CPU, torch's OpenMP and XLA's Eigen pools spin against each other and
# against other processes (measured here: a torch step 0.9 s with 2 threads vs 0.02 s with 1; JAX 17 ms vs 6 ms)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import numpy as np

import transportkit as tk


def mode_weights(T, x):
    r = tk.get_backend("numpy")
    resp = T.responsibilities(r.asarray(x))
    k = np.argmax(np.asarray(resp), axis=0)  # responsibilities are (K, n)
    return np.bincount(k, minlength=T.n_components) / len(x)


def evaluate(T, x, ref, n):
    w_true = np.asarray(T.weights)
    w = mode_weights(T, x)
    se = np.sqrt(w_true * (1 - w_true) / n)
    return {
        "sw2": tk.interpolants.sliced_w2(x, ref, n_projections=256, seed=0),
        "max_weight_z": float(np.max(np.abs(w - w_true) / se)),
        "weights": [round(float(v), 4) for v in w],
    }


def run(backend, loss, seconds, n_eval, hidden, batch_size, lr, seed):
    T = tk.interpolants.eight_mode_mixture()
    be = tk.get_backend(backend, dtype="float32")
    model = tk.flowmaps.mlp_flow_map("linear", 2, hidden=hidden, rng=seed, backend=be)
    t0 = time.perf_counter()  # the step size decays and the gap anneals over the wall-time budget (max_seconds)
    res = tk.flowmaps.train(model, "linear", T, loss=loss, steps=10**7, max_seconds=seconds, batch_size=batch_size,
                            lr=lr, rng=seed + 1)
    train_s = time.perf_counter() - t0
    ref = np.asarray(T.sample(n_eval, seed + 100))
    out = {"backend": backend, "loss": loss, "steps": res.info["steps"], "train_seconds": round(train_s, 1),
           "optimizer": res.info["optimizer"], "history": res.history}
    for K in (1, 2, 4, 8):
        x = tk.sample(res.model, n_eval, method="flow_map", steps=K, rng=seed + 7).to_numpy().x
        out[f"K={K}"] = evaluate(T, np.asarray(x, dtype=np.float64), ref, n_eval)
    return out, res.model


def ode_baseline(n_eval, seed):
    T = tk.interpolants.eight_mode_mixture()
    ref = np.asarray(T.sample(n_eval, seed + 100))
    x = tk.sample(tk.interpolants.exact_field("linear", T), n_eval, steps=100, seed=seed + 7).to_numpy().x
    exact = np.asarray(T.sample(n_eval, seed + 200))
    return {"ode100": evaluate(T, np.asarray(x), ref, n_eval), "exact_samples": evaluate(T, exact, ref, n_eval)}


def figure(path, models, T, n=3000):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(models.items())
    fig, axes = plt.subplots(len(rows), 6, figsize=(15, 2.6 * len(rows)), squeeze=False)
    ode = tk.sample(tk.interpolants.exact_field("linear", T), n, steps=100, seed=1).to_numpy().x
    for r, ((name, (model, hist)), ax) in enumerate(zip(rows, axes, strict=True)):
        for c, K in enumerate((1, 2, 4, 8)):
            x = tk.sample(model, n, method="flow_map", steps=K, rng=1).to_numpy().x
            ax[c].scatter(x[:, 0], x[:, 1], s=1, alpha=0.4)
            ax[c].set_title(f"{name}: {K} step{'s' * (K > 1)}", fontsize=9)
        ax[4].scatter(ode[:, 0], ode[:, 1], s=1, alpha=0.4, color="k")
        ax[4].set_title("exact field, 100-step RK4", fontsize=9)
        loss = np.asarray(hist["loss"])
        smooth = np.convolve(loss, np.ones(5) / 5, mode="valid")
        ax[5].plot(hist["step"], loss, color="0.7", lw=0.8)
        ax[5].plot(hist["step"][2:-2], smooth, color="C0")
        ax[5].set_yscale("log")
        ax[5].set_xlabel("step", fontsize=8)
        ax[5].set_title(f"{name}: objective (batch, 5-point mean)", fontsize=9)
        for a in ax[:5]:
            a.set_xlim(-6.5, 6.5)
            a.set_ylim(-6.5, 6.5)
            a.set_aspect("equal")
            a.set_xticks([])
            a.set_yticks([])
        del r
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", nargs="+", default=["jax", "torch"])
    p.add_argument("--losses", nargs="+", default=["lsd", "esd", "psd", "lmd"])
    p.add_argument("--seconds", type=float, default=60.0, help="training budget per (backend, loss)")
    p.add_argument("--n-eval", type=int, default=4000)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 64, 64])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="flowmaps_mixture.json")
    p.add_argument("--figure", default=None, help="PNG path for the samples/loss-curve picture")
    a = p.parse_args()
    report = {"config": vars(a), "baseline": ode_baseline(a.n_eval, a.seed), "runs": []}
    print(json.dumps(report["baseline"]))
    models = {}
    for be in a.backends:
        for loss in a.losses:
            out, model = run(be, loss, a.seconds, a.n_eval, tuple(a.hidden), a.batch_size, a.lr, a.seed)
            models[f"{loss} ({be})"] = (model, out["history"])
            report["runs"].append(out)
            brief = {k: v for k, v in out.items() if k != "history"}
            print(json.dumps(brief), flush=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    if a.figure:
        figure(a.figure, models, tk.interpolants.eight_mode_mixture())


if __name__ == "__main__":
    main()
