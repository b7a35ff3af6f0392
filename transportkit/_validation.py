"""The one validation layer of the public entries: small checkers that run before any work.

Each checker names the argument and says what it must be; each returns the value in the form the algorithm uses
(a Python ``int``/``float``, an array of the backend). Rules (docs/reliability.md):

- counts are integers (Python or NumPy, or integral 0-d arrays); ``bool`` is never a number; ``2.5`` is not a count;
- reals are finite unless the checker says otherwise; NaN is never accepted as a parameter;
- arrays of points are real floating (complex, object, string and bool arrays are refused), non-empty, of the
  stated rank and trailing dimension, and finite unless ``finite=False``;
- choices are strings from a fixed list; a near miss is named in the error ("did you mean ...");
- user callables are probed once, and the shape of what they return is checked against what the algorithm needs.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "as_bool",
    "as_choice",
    "as_count",
    "as_points",
    "as_probability",
    "as_real",
    "check_callable",
    "check_options",
    "check_returned_shape",
    "close_matches",
    "refuse_lazy",
]


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool) or type(v).__name__ in ("bool_", "bool")


def as_count(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]``: Python/NumPy integers and integral 0-d arrays; bools, floats
    (even ``5.0``) and strings refused with a ``TypeError``, out-of-range values with a ``ValueError``."""
    if _is_bool(value) or isinstance(value, (float, complex, str, bytes)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from None
    if v < low or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bound}, got {v}")
    return int(v)


def as_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a Python float, in the interval given by ``low``/``high`` (open ends with ``*_open``).

    Python/NumPy reals and real 0-d arrays are accepted; bools, complex numbers and strings are a ``TypeError``;
    NaN, infinities (unless ``finite=False``) and out-of-range values a ``ValueError``."""
    if _is_bool(value) or isinstance(value, (complex, str, bytes)):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not isinstance(value, numbers.Real):
        kind = str(getattr(value, "dtype", ""))
        if getattr(value, "ndim", None) != 0 or "complex" in kind or "bool" in kind:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}") from None
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{name} must be a finite number, got {v}")
    lo_bad = low is not None and (v <= low if low_open else v < low)
    hi_bad = high is not None and (v >= high if high_open else v > high)
    if lo_bad or hi_bad:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}, "
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        if low is not None and high is not None:
            what = f"in {lo}{hi}"
        elif low is not None:
            what = f"{'>' if low_open else '>='} {low}"
        else:
            what = f"{'<' if high_open else '<='} {high}"
        raise ValueError(f"{name} must be {what}, got {v}")
    return v


def as_probability(name: str, value: Any) -> float:
    """``value`` as a float in the open interval (0, 1)."""
    return as_real(name, value, low=0.0, high=1.0, low_open=True, high_open=True)


def as_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (Python or NumPy bools only: ``0``/``1``/``"yes"`` are refused)."""
    if not _is_bool(value):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def close_matches(word: str, options: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the nearest option, or ``""``."""
    near = difflib.get_close_matches(str(word), list(options), n=2, cutoff=0.6)
    if not near:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in near) + "?)"


def as_choice(name: str, value: Any, options: Sequence[str]) -> str:
    """``value`` if it is one of ``options`` (strings), else a ``ValueError`` listing them and the nearest."""
    if not isinstance(value, str) or value not in options:
        hint = close_matches(value, options) if isinstance(value, str) else ""
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}{hint}")
    return value


def check_options(where: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """``TypeError`` naming ``where`` (e.g. ``"tk.sample(method='smc')"``) for each unknown keyword, with the
    nearest allowed name; the message lists what is accepted."""
    allowed = sorted(set(allowed))
    unknown = [k for k in given if k not in allowed]
    if unknown:
        parts = [f"{k!r}{close_matches(k, allowed)}" for k in unknown]
        raise TypeError(
            f"{where} got unknown option{'s' if len(unknown) > 1 else ''} {', '.join(parts)}; "
            f"accepted: {', '.join(allowed)}"
        )


def check_callable(name: str, f: Any) -> Callable:
    """``f`` if callable, else a ``TypeError`` naming ``name``."""
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")
    return f


def refuse_lazy(name: str, x: Any) -> None:
    """``TypeError`` for lazy arrays (dask) that a computation would silently materialize on the host."""
    mod = type(x).__module__ or ""
    if mod.startswith("dask"):
        raise TypeError(
            f"{name} is a dask array; transportkit does not compute on dask arrays lazily: call "
            f"{name}.compute() first (or map the computation over chunks with dask yourself)"
        )


def as_points(
    name: str,
    x: Any,
    be: Any,
    *,
    dim: int | None = None,
    ndim: int | tuple[int, ...] = 2,
    finite: bool = True,
    dtype: Any = None,
) -> Any:
    """``x`` as a real floating array of backend ``be``: rank ``ndim`` (an int or allowed ranks), trailing axis
    ``dim`` when given, non-empty, and finite unless ``finite=False``. Integer input is promoted to the backend's
    floating dtype; complex, bool, object and string input is a ``TypeError``."""
    refuse_lazy(name, x)
    kind = str(getattr(x, "dtype", ""))
    if _is_bool(x) or "bool" in kind:
        raise TypeError(f"{name} must be a real floating array, got booleans")
    if isinstance(x, (complex, str, bytes)) or "complex" in kind or kind in ("object", "O") or kind.startswith("<U"):
        raise TypeError(f"{name} must be a real floating array, got {kind or type(x).__name__}")
    try:
        a = be.asarray(x, be.dtype if dtype is None else dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a real floating array: {err}") from err
    ranks = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if a.ndim not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{name} must be a {want}-D array, got shape {tuple(a.shape)}")
    if any(s == 0 for s in a.shape):
        raise ValueError(f"{name} is empty (shape {tuple(a.shape)})")
    if dim is not None and a.ndim >= 1 and a.shape[-1] != dim:
        raise ValueError(f"{name} must have {dim} coordinates on its last axis, got shape {tuple(a.shape)}")
    if finite:
        xp = be.xp
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name} contains NaN or infinite values")
    return a


def check_returned_shape(name: str, out: Any, shape: tuple[int, ...], call: str = "") -> Any:
    """``out`` (what a user callable returned on a probe) if its shape is ``shape``, else a ``ValueError`` naming
    the callable, what it returned and what was expected (no silent broadcasting of an (n, 1) into (n, d))."""
    got = tuple(getattr(out, "shape", ()))
    if got != tuple(shape):
        how = f" {call}" if call else ""
        raise ValueError(f"{name}{how} returned shape {got}; expected {tuple(shape)}")
    kind = str(getattr(out, "dtype", ""))
    if "complex" in kind:
        raise TypeError(f"{name}{(' ' + call) if call else ''} returned complex values; expected real")
    return out
