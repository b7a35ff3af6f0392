"""Drawing random numbers on every backend."""

from __future__ import annotations

from ._common import BACKENDS, backend_or_skip, block


class Normals:
    params = (BACKENDS, [10**4, 10**6])
    param_names = ["backend", "n"]

    def setup(self, backend, n):
        self.gen = backend_or_skip(backend).rng(0)
        block(self.gen.normal((n,)))  # warm-up: compile/allocate once

    def time_normal(self, backend, n):
        block(self.gen.normal((n,)))

    def peakmem_normal(self, backend, n):
        block(self.gen.normal((n,)))


class Categorical:
    params = (BACKENDS, [10**4, 10**6])
    param_names = ["backend", "n"]

    def setup(self, backend, n):
        be = backend_or_skip(backend)
        self.gen = be.rng(0)
        self.log_w = self.gen.normal((n,))

    def time_resample(self, backend, n):
        block(self.gen.categorical(self.log_w, (n,)))
