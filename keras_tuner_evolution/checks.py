"""Argument checks: a ValueError that names the argument and what it accepts.

Shared by the configuration, the oracles and the guidance model (which `config` imports, so
these live apart from both).
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_int(value: Any, name: str, minimum: int, allow_none: bool = False) -> None:
    """Raises a ValueError naming `name` unless `value` is an integer >= `minimum`."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")


def check_number(
    value: Any,
    name: str,
    minimum: float | None = None,
    allow_none: bool = False,
    strict: bool = False,
) -> None:
    """Raises a ValueError naming `name` unless `value` is a finite number (above `minimum`)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        bound = "" if minimum is None else (f" > {minimum}" if strict else f" >= {minimum}")
        raise ValueError(f"`{name}` must be a finite number{bound}, got {value!r}.")


def check_fraction(
    value: Any, name: str, low: float, high: float, open_low: bool, open_high: bool = False
) -> None:
    """Raises a ValueError naming `name` unless `value` is in the interval from `low` to `high`,
    each end excluded when `open_low` / `open_high`."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if open_low else low <= value)
    ok = ok and (value < high if open_high else value <= high)
    if not ok:
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"`{name}` must be a number in {interval}, got {value!r}.")


def check_choice(value: Any, name: str, accepted: tuple[str, ...]) -> None:
    """Raises a ValueError naming `name` unless `value` is one of `accepted`."""
    if value not in accepted:
        options = ", ".join(repr(option) for option in accepted)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}.")


def check_bool(value: Any, name: str, also: tuple[str, ...] = ()) -> None:
    """Raises a ValueError naming `name` unless `value` is True or False (or one of `also`)."""
    if not isinstance(value, bool) and value not in also:
        accepted = ["True", "False", *(repr(option) for option in also)]
        options = ", ".join(accepted[:-1]) + f" or {accepted[-1]}"
        raise ValueError(f"`{name}` must be {options}, got {value!r}.")
