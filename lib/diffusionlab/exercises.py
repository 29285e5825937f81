"""Checkers for the exercises: run a learner's answer against the reference and say what is wrong.

Offers ``check(fn, reference, cases, name=...)`` for functions and ``check_value(answer, expected,
name=...)`` for numbers. An untouched stub (returns ``None`` or raises ``NotImplementedError``) is
reported as "not attempted yet", never as an error, so a notebook runs top to bottom unfilled.
Both return True only when the answer is right; solution cells ``assert`` that, so CI checks them.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["NOT_ATTEMPTED", "check", "check_value"]

NOT_ATTEMPTED = "not attempted yet"


def _as_array(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _compare(got, expected, atol: float, rtol: float) -> str | None:
    """Return why ``got`` differs from ``expected``, or None if they agree."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a tuple of {len(expected)} values, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = _compare(g, e, atol, rtol)
            if why:
                return f"item {i}: {why}"
        return None
    try:
        g, e = _as_array(got), _as_array(expected)
    except (TypeError, ValueError):
        return f"expected a number or array, got {type(got).__name__}"
    if g.shape != e.shape:
        return f"shape {g.shape}, expected {e.shape}"
    if not np.all(np.isfinite(g)):
        return "the result contains NaN or inf"
    if not np.allclose(g, e, atol=atol, rtol=rtol):
        diff = np.abs(g - e)
        k = int(np.argmax(diff))
        return (f"values differ: max |difference| {diff.max():.3g} (got {g.flat[k]:.6g}, "
                f"expected {e.flat[k]:.6g})")
    return None


def _report(name: str, ok: bool, message: str) -> bool:
    mark = "PASS" if ok else ("TODO" if message == NOT_ATTEMPTED else "FAIL")
    print(f"[{mark}] {name}: {message}")
    return ok


def check(fn, reference, cases, *, name: str, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Call ``fn`` and ``reference`` on every case and compare the results.

    ``cases`` is a list of argument tuples or keyword dicts. Prints one line (PASS / TODO / FAIL
    with the first failing case and how it differs) and returns True only if all cases agree.
    """
    if not callable(fn) or not callable(reference):
        raise TypeError("fn and reference must be callables")
    cases = list(cases)
    if not cases:
        raise ValueError("cases must not be empty")
    for i, case in enumerate(cases):
        args, kwargs = ((), case) if isinstance(case, dict) else (tuple(case), {})
        try:
            got = fn(*args, **kwargs)
        except NotImplementedError:
            return _report(name, False, NOT_ATTEMPTED)
        except Exception as err:  # noqa: BLE001  (the learner's bug: show it, do not crash the notebook)
            return _report(name, False, f"case {i} raised {type(err).__name__}: {err}")
        if got is None:
            return _report(name, False, NOT_ATTEMPTED)
        why = _compare(got, reference(*args, **kwargs), atol, rtol)
        if why:
            return _report(name, False, f"case {i} ({_describe(args, kwargs)}): {why}")
    return _report(name, True, f"correct on all {len(cases)} cases")


def check_value(answer, expected, *, name: str, rtol: float = 1e-3, atol: float = 0.0) -> bool:
    """Check a numeric answer (``None`` means not attempted) against ``expected``."""
    if answer is None or answer is Ellipsis:
        return _report(name, False, NOT_ATTEMPTED)
    why = _compare(answer, expected, atol, rtol)
    return _report(name, why is None, why or "correct")


def _describe(args, kwargs) -> str:
    def short(v):
        if hasattr(v, "shape") and getattr(v, "ndim", 0) > 0:
            return f"array{tuple(v.shape)}"
        if isinstance(v, float) and math.isfinite(v):
            return f"{v:.4g}"
        return repr(v) if len(repr(v)) < 40 else type(v).__name__
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)
