"""Stopping rules as pure functions of the scores seen so far."""

from __future__ import annotations

from collections.abc import Sequence

STOP_MESSAGES = {
    "max_trials": "The search reached max_trials.",
    "generations": "The search reached its number of generations.",
    "exhausted": "Search space exhausted: every distinct configuration has been tried.",
    "goal": "The goal was reached.",
    "patience": "The best score stopped improving (patience).",
    "time": "The search reached max_search_time.",
}


def _better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "max" else a < b


def goal_reached(scores: Sequence[float], goal: float | None, direction: str) -> bool:
    """Whether any completed score reaches `goal` (>= for "max", <= for "min")."""
    if goal is None:
        return False
    if direction == "max":
        return any(score >= goal for score in scores)
    return any(score <= goal for score in scores)


def patience_exhausted(
    best_per_generation: Sequence[float | None],
    patience: int | None,
    min_delta: float,
    direction: str,
) -> bool:
    """Whether the last `patience` generations failed to beat the earlier best by > `min_delta`.

    Args:
        best_per_generation: Best completed score of each generation (None when it has none),
            oldest first. Elites count in their generation, so the best never goes backwards.
        patience: Generations allowed without improvement; None disables the rule.
        min_delta: Smallest change that counts as an improvement, >= 0.
        direction: "max" or "min".
    """
    if patience is None or len(best_per_generation) <= patience:
        return False
    earlier = [b for b in best_per_generation[:-patience] if b is not None]
    recent = [b for b in best_per_generation[-patience:] if b is not None]
    if not earlier:
        return False
    best_before = max(earlier) if direction == "max" else min(earlier)
    if not recent:
        return True
    best_recent = max(recent) if direction == "max" else min(recent)
    shifted = best_before + min_delta if direction == "max" else best_before - min_delta
    return not _better(best_recent, shifted, direction)
