"""Input validation shared by the estimate functions: clear ValueErrors, never silent nonsense."""

from __future__ import annotations

import math


def positive(name: str, value: float) -> float:
    """``value`` as a float, or ValueError if it is not a finite number > 0."""
    number = _finite(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    return number


def non_negative(name: str, value: float) -> float:
    number = _finite(name, value)
    if number < 0:
        raise ValueError(f"{name} must be 0 or more, got {value!r}")
    return number


def fraction(name: str, value: float, allow_zero: bool = False) -> float:
    """A number in (0, 1] (or [0, 1] with ``allow_zero``)."""
    number = _finite(name, value)
    low_ok = number >= 0 if allow_zero else number > 0
    if not (low_ok and number <= 1):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        hint = " (give a fraction, e.g. 0.4 for 40%)" if 1 < number <= 100 else ""
        raise ValueError(f"{name} must be in {bound}, got {value!r}{hint}")
    return number


def count(name: str, value: int, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (GPUs, layers, stages...)."""
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return number


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number
