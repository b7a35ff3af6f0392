"""array_api_strict backend: the conformance referee. Minimal by design; no optional capabilities."""

from __future__ import annotations

import sys
from typing import Any

from .._adapter import Adapter


class StrictAdapter(Adapter):
    name = "array_api_strict"
    library = "array_api_strict"
    extra = "strict"
    devices_note = "its virtual devices"
    notes = "conformance referee; random numbers drawn by NumPy on the host"
    fancy_setitem = False

    def load(self) -> None:
        import array_api_strict  # noqa: F401

    def owns(self, x: Any) -> bool:
        return "array_api_strict" in sys.modules and type(x).__module__.startswith("array_api_strict")

    def namespace(self) -> Any:
        import array_api_strict

        return array_api_strict

    def devices(self) -> list[Any]:
        import array_api_strict

        return list(array_api_strict.__array_namespace_info__().devices())

    def default_device(self) -> Any:
        import array_api_strict

        return array_api_strict.__array_namespace_info__().default_device()

    def resolve_device(self, device: Any) -> Any:
        if isinstance(device, str) and device == "cpu":
            device = None
        return super().resolve_device(device)

    def supports_float64(self, device: Any) -> bool:
        return str(device) not in ("array_api_strict.Device('no_float64')",)

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import array_api_strict as xp

        if self.owns(x):
            return (
                xp.asarray(x, dtype=dtype, device=device)
                if dtype is not None
                else xp.asarray(x, device=device)
            )
        import numpy as np

        a = np.asarray(x)
        if (
            dtype is None
            and a.dtype.kind == "f"
            and a.dtype.itemsize == 8
            and not self.supports_float64(device)
        ):
            dtype = xp.float32
        return xp.asarray(a, dtype=dtype, device=device)

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        return np.array(x._array) if self.owns(x) else np.asarray(x)

    def random_source(self, seed: Any, device: Any) -> Any:
        import array_api_strict as xp

        from ._seeds import NumpySource

        return NumpySource(seed, lambda a: xp.asarray(a, device=device))
