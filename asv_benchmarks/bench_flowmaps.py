"""Flow maps: seconds per training step (per objective, torch and jax), seconds per sampling jump (exact and MLP
maps, every backend), and the 1-step sliced W2 of a learned map on the 8-mode mixture (track_)."""

from __future__ import annotations

import numpy as np

import transportkit as tk

from ._common import BACKENDS, backend_or_skip, block

AUTODIFF = [b for b in BACKENDS if b in ("torch", "jax")]


def _gaussian(d: int = 4):
    rng = np.random.default_rng(3)
    A = rng.normal(size=(d, d))
    return tk.targets.Gaussian(rng.normal(size=d), A @ A.T / d + 0.3 * np.eye(d))


class FlowMapTrainingStep:
    """Seconds per Adam step once compiled (from the training history's wall times), batch 256, MLP 64x3, 2-D."""

    params = (AUTODIFF, ["diagonal", "lsd", "esd", "psd", "lmd", "fmm"])
    param_names = ["backend", "loss"]
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, backend, loss):
        self.be = backend_or_skip(backend, dtype="float32")
        self.T = tk.interpolants.eight_mode_mixture()

    def track_seconds_per_step(self, backend, loss):
        m = tk.flowmaps.mlp_flow_map("linear", 2, rng=0, backend=self.be)
        h = tk.flowmaps.train(m, "linear", self.T, loss=loss, steps=41, batch_size=256, log_every=10, rng=0).history
        return (h["seconds"][-1] - h["seconds"][1]) / (h["step"][-1] - h["step"][1])

    track_seconds_per_step.unit = "s"


class FlowMapSamplingStep:
    """One jump X_{s,t} on n points: the closed-form Gaussian map (d = 4) and an MLP map (d = 2, 64x3)."""

    params = (BACKENDS, [10**3, 10**5])
    param_names = ["backend", "n"]
    timeout = 300

    def setup(self, backend, n):
        self.be = backend_or_skip(backend)
        self.exact = tk.flowmaps.exact_flow_map("linear", _gaussian())
        self.mlp = tk.flowmaps.mlp_flow_map("linear", 2, rng=0, backend=self.be)
        block(tk.sample(self.exact, n, method="flow_map", steps=1, rng=0, backend=self.be).x)
        block(tk.sample(self.mlp, n, method="flow_map", steps=1, rng=0, backend=self.be).x)

    def time_exact_gaussian_8_steps(self, backend, n):
        block(tk.sample(self.exact, n, method="flow_map", steps=8, rng=0, backend=self.be).x)

    def time_mlp_1_step(self, backend, n):
        block(tk.sample(self.mlp, n, method="flow_map", steps=1, rng=0, backend=self.be).x)

    def time_mlp_4_steps(self, backend, n):
        block(tk.sample(self.mlp, n, method="flow_map", steps=4, rng=0, backend=self.be).x)


class FlowMapOneStepQuality:
    """Sliced W2 (n = 4000) of 1-step samples of an LSD-trained map (jax, 1500 steps, batch 512, MLP 96x3) to
    fresh target samples; the 100-step exact-field RK4 ODE gives about 0.10-0.14 at this n (benchmarks/)."""

    params = ([b for b in AUTODIFF if b == "jax"],)
    param_names = ["backend"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, backend):
        self.be = backend_or_skip(backend, dtype="float32")

    def track_sliced_w2_one_step(self, backend):
        T = tk.interpolants.eight_mode_mixture()
        m = tk.flowmaps.mlp_flow_map("linear", 2, hidden=(96, 96, 96), rng=0, backend=self.be)
        res = tk.flowmaps.train(m, "linear", T, loss="lsd", steps=1500, batch_size=512, lr=3e-3, rng=1)
        x = tk.sample(res.model, 4000, method="flow_map", steps=1, rng=7).to_numpy().x
        return tk.interpolants.sliced_w2(np.asarray(x, dtype=np.float64), np.asarray(T.sample(4000, 100)))

    track_sliced_w2_one_step.unit = "sliced W2"
