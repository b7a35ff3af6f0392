"""Exceptions and warnings raised by transportkit.

Errors: :class:`CapabilityError` (the backend lacks what an algorithm needs), :class:`BackendUnavailableError`.

Warnings: every warning that says "this number may not be trusted" derives from :class:`TransportkitWarning`, so
that ``warnings.simplefilter("error", tk.errors.TransportkitWarning)`` turns all of them into errors. The family
(what each means for the user is in docs/reliability.md):

- :class:`DegenerateWeightsWarning` -- importance weights collapsed (ESS/n below a threshold);
- :class:`OverlapWarning` -- two ensembles barely overlap (BAR/MBAR/EXP), the free energy is unreliable;
- :class:`UncertaintyWarning` -- the reported standard error itself cannot be trusted (one sample, islands that
  disagree more than the stderr allows);
- :class:`NonFiniteWarning` -- NaN or +inf met mid-run (target values, fields); the affected walkers are counted
  in the result's ``info``;
- :class:`ConvergenceWarning` -- an iterative solver or a learned object stopped short of its tolerance, or a
  learned object did worse than its fallback.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CapabilityError",
    "ConvergenceWarning",
    "DegenerateWeightsWarning",
    "NonFiniteWarning",
    "OverlapWarning",
    "TransportkitWarning",
    "UncertaintyWarning",
]


class CapabilityError(RuntimeError):
    """An algorithm needs a capability (autodiff, jit, sparse solves, ...) that the backend lacks.

    The message names the capability and the backends that provide it.
    """


class BackendUnavailableError(ImportError):
    """A known backend whose array library is not installed (or has no working device)."""


class TransportkitWarning(UserWarning):
    """Base of transportkit's warnings: a result was returned, but its own diagnostics say it may be wrong."""


class DegenerateWeightsWarning(TransportkitWarning):
    """Importance weights collapsed onto a few samples: the estimate (and its stderr) rests on them alone."""


class OverlapWarning(TransportkitWarning):
    """The ensembles of two states barely overlap: a free-energy difference between them is not determined."""


class UncertaintyWarning(TransportkitWarning):
    """The standard error is not trustworthy (too few samples, or independent replicas disagree with it)."""


class NonFiniteWarning(TransportkitWarning):
    """NaN or +inf values were met during a run; the walkers or samples concerned were handled as documented."""


class ConvergenceWarning(TransportkitWarning):
    """An iterative method stopped before its tolerance, or a learned object scored worse than its fallback."""
