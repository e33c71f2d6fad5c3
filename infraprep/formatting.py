"""Numbers as people write them: thousands separators, a few significant figures, no ``e+03``.

>>> [fmt(x) for x in (1234567.0, 31.5123, 0.0123456, 2e3, 120.000000, 7)]
['1,234,567', '31.51', '0.01235', '2,000', '120', '7']
>>> fmt(2024, grouping=False), fmt(float("nan"))
('2024', '–')
"""

from __future__ import annotations

import math
from numbers import Integral, Real

__all__ = ["fmt"]


def fmt(value, grouping: bool = True, digits: int = 4) -> str:
    """``value`` written for a reader: integers in full (with separators unless ``grouping`` is off, as
    for years), other numbers to ``digits`` significant figures but never fewer than their integer
    digits, trailing zeros dropped; NaN as a dash; anything else as text."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return "–" if value is None else str(value)
    number = float(value)
    if math.isnan(number):
        return "–"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    sep = "," if grouping else ""
    if isinstance(value, Integral) or (number == int(number) and abs(number) < 1e15):
        return f"{int(number):{sep}}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(number))))) if number else 0
    text = f"{number:{sep}.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
