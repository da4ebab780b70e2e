"""Stopping rules as pure functions of the scores seen so far."""

from __future__ import annotations

from collections.abc import Sequence

from keras_tuner_evolution import scores as scores_lib

STOP_MESSAGES = {
    "max_trials": "The search reached max_trials.",
    "generations": "The search reached its number of generations.",
    "exhausted": "Search space exhausted: every distinct configuration has been tried.",
    "goal": "The goal was reached.",
    "patience": "The best score stopped improving (patience).",
    "time": "The search reached max_search_time.",
    "budget": "The search spent its epoch budget (max_epochs_total).",
}


def goal_reached(scores: Sequence[float], goal: float | None, direction: str) -> bool:
    """Whether any completed score reaches `goal` (>= for "max", <= for "min")."""
    if goal is None:
        return False
    return any(scores_lib.at_least(score, goal, direction) for score in scores)


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
    # `best` skips generations without a (finite) score.
    best_before = scores_lib.best(best_per_generation[:-patience], direction)
    if best_before is None:  # nothing scored before the window: nothing to improve on
        return False
    best_recent = scores_lib.best(best_per_generation[-patience:], direction)
    if best_recent is None:
        return True
    # An improvement must beat the earlier best by more than min_delta, in its direction.
    shifted = best_before + scores_lib.sign(direction) * min_delta
    return not scores_lib.better(best_recent, shifted, direction)
