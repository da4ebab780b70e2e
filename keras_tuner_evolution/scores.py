"""Scores and objective directions: what "better" means, written once.

Every part of the package that compares scores (selection, stop rules, History, progress,
callbacks, the chief's snapshot) uses these functions, so that "max" and "min" objectives and
non-finite scores are treated alike everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

DIRECTIONS = ("max", "min")


def usable(score: Any) -> float | None:
    """`score` as a float, or None when it is missing or not finite (NaN, inf)."""
    if score is None or isinstance(score, bool):
        return None
    try:
        value = float(score)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def better(a: float, b: float, direction: str) -> bool:
    """Whether score `a` is strictly better than `b` for an objective of `direction`."""
    return a > b if direction == "max" else a < b


def at_least(a: float, b: float, direction: str) -> bool:
    """Whether `a` is as good as `b` or better (`>=` when maximising, `<=` when minimising)."""
    return a >= b if direction == "max" else a <= b


def best(scores: Iterable[Any], direction: str) -> float | None:
    """The best usable score of `scores` (None when there is none)."""
    values = [value for value in map(usable, scores) if value is not None]
    if not values:
        return None
    return max(values) if direction == "max" else min(values)


def sign(direction: str) -> float:
    """+1 for a maximised objective, -1 for a minimised one (`sign * score` is maximised)."""
    return 1.0 if direction == "max" else -1.0
