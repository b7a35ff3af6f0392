"""The ``transportkit`` command: ``transportkit demo`` and ``transportkit backends``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Callable, Sequence

#: Demo sections, in order: (title, "module:function"). Each function prints its own showcase.
DEMOS: list[tuple[str, str]] = [
    ("Backends", "transportkit.cli:demo_backends"),
    ("Stochastic interpolants", "transportkit.sampling.transport_demo:demo"),
    ("Sampling", "transportkit.sampling.target_samplers:demo"),
    ("Free energy", "transportkit.free_energy:demo"),
    ("Galerkin", "transportkit.galerkin:demo"),
    ("Mean field", "transportkit.meanfield:demo"),
    ("TPT", "transportkit.tpt:demo"),
]


#: Names under which a demo function accepts the path of the picture it may write.
PICTURE_ARGS = ("png", "path", "picture", "plot_path")


def backend_table() -> str:
    """The table of the backends that work on this machine, their capabilities and flags, as aligned text.

    The declared tables of every backend and algorithm are in README.md (``python -m transportkit._support_table``).
    """
    from . import backends
    from ._adapter import ADAPTER_FLAGS, OPTIONAL_CAPABILITIES

    flags = list(ADAPTER_FLAGS)
    cols = ["backend", "available", "device", "float64", *OPTIONAL_CAPABILITIES, *flags]
    rows = []
    for r in backends.table():
        if r["available"]:
            adapter = backends.load(r["backend"])
            r = {**r, **{f: getattr(adapter, f) for f in flags}}
            rows.append([r["backend"], "yes", r["device"]] + ["yes" if r[c] else "-" for c in cols[3:]])
        else:
            rows.append([r["backend"], "no"] + [""] * (len(cols) - 2))
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True)).rstrip()  # noqa: E731
    missing = [f"{r['backend']}: {r['reason']}" for r in backends.table() if not r["available"]]
    notes = ["", "unavailable here: " + "; ".join(missing)] if missing else []
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in rows), *notes])


def demo_backends() -> None:
    """Print the backend table, then draw 10^5 normals and compute log-mean-exp on every backend."""
    from . import backends, numerics
    from ._backend import _dtype_name, get_backend

    print(backend_table())
    print()
    print("one small computation per backend: log E[exp(Z)] for Z ~ N(0,1), exact value 0.5, n = 100000")
    for name in backends.available():
        be = get_backend(name)
        t0 = time.perf_counter()
        z = be.rng(0).normal((100_000,))
        est = float(numerics.logmeanexp(z))
        dt = time.perf_counter() - t0
        print(f"  {name:18s} {_dtype_name(be.dtype):8s} estimate {est:.4f}   ({1e3 * dt:.1f} ms)")


def _run_demo(only: Sequence[str] | None = None, png_dir: str | None = None) -> int:
    """Run the demo sections; those whose function takes ``png`` write a picture into ``png_dir``."""
    for title, target in DEMOS:
        if only and title.lower() not in {o.lower() for o in only}:
            continue
        print(f"\n=== {title} ===", flush=True)
        mod, _, fn = target.partition(":")
        func: Callable[..., None] = getattr(importlib.import_module(mod), fn)
        kwargs = {}
        params = inspect.signature(func).parameters
        arg = next((a for a in PICTURE_ARGS if a in params), None)
        if arg is not None:
            kwargs[arg] = None
            if png_dir is not None and _has_matplotlib():
                os.makedirs(png_dir, exist_ok=True)
                kwargs[arg] = os.path.join(png_dir, title.lower().replace(" ", "_") + ".png")
        func(**kwargs)
    return 0


def _has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="transportkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the showcase of every algorithm family")
    demo.add_argument("sections", nargs="*", help=f"only these sections: {[t for t, _ in DEMOS]}")
    demo.add_argument("--png-dir", default=None, help="write the sections' pictures (PNG) into this folder")
    sub.add_parser("backends", help="print the table of backends and their capabilities")
    args = parser.parse_args(argv)
    if args.command == "backends":
        print(backend_table())
        return 0
    return _run_demo(args.sections, args.png_dir)


if __name__ == "__main__":
    sys.exit(main())
