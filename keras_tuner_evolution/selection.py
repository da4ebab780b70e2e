"""Selection: which members survive as elites and which breed.

Pure functions of the scores and a `numpy.random.Generator`, and two small strategy classes
with one method each, `RankSelection` and `TournamentSelection`, that the evolution engine calls
to draw breeders. Only the order of the scores matters everywhere here, so every strategy works
for maximised and minimised objectives and for any sign or scale of score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keras_tuner_evolution.scores import DIRECTIONS


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"`direction` must be 'min' or 'max', got {direction!r}.")


def ranks(scores: Sequence[float], direction: str) -> np.ndarray:
    """Ranks from 0 (worst) to n - 1 (best); ties share their mean rank."""
    values = np.asarray(scores, dtype=float)
    if direction == "min":
        values = -values
    order = values.argsort(kind="stable")
    ranked = np.empty(len(values), dtype=float)
    ranked[order] = np.arange(len(values), dtype=float)
    # Ties: each run of equal sorted values shares the mean of its positions (n log n, not n^2).
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
        ranked[order[start:end]] = (start + end - 1) / 2.0
    return ranked


def selection_weights(
    scores: Sequence[float], direction: str = "max", pressure: float = 2.0
) -> np.ndarray:
    """Probability of picking each member, rising with fitness.

    Rank-based exponential weights: member `i` gets `exp(pressure * r_i)` where `r_i` is its
    rank scaled to [0, 1] (0 the worst, 1 the best). `pressure=0` is uniform selection; with
    `pressure=p` the best member is `e**p` times likelier than the worst.

    Args:
        scores: One finite score per member.
        direction: "max" if higher scores are fitter, "min" if lower are.
        pressure: Selection pressure, >= 0.

    Returns:
        Probabilities summing to 1.
    """
    _check_direction(direction)
    n = len(scores)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    scaled = ranks(scores, direction) / (n - 1)
    weights = np.exp(pressure * (scaled - 1.0))  # shift keeps exp() <= 1: no overflow
    return weights / weights.sum()


def best_indices(scores: Sequence[float], count: int, direction: str = "max") -> list[int]:
    """Indices of the `count` fittest members, best first (ties keep their order)."""
    values = np.asarray(scores, dtype=float)
    keys = -values if direction == "max" else values
    return [int(i) for i in np.argsort(keys, kind="stable")[:count]]


def select_breeders(
    rng: np.random.Generator,
    scores: Sequence[float],
    count: int,
    direction: str = "max",
    pressure: float = 2.0,
) -> list[int]:
    """Draws `count` distinct members, each with probability rising with fitness (by rank).

    Returns:
        Indices into `scores`, in draw order; at most `len(scores)` of them.
    """
    count = min(count, len(scores))
    if count <= 0:
        return []
    weights = selection_weights(scores, direction, pressure)
    return [int(i) for i in rng.choice(len(scores), size=count, replace=False, p=weights)]


def tournament_select(
    rng: np.random.Generator,
    scores: Sequence[float],
    count: int,
    size: int = 3,
    direction: str = "max",
) -> list[int]:
    """Draws `count` distinct members by tournaments: each the fittest of `size` contenders.

    The contenders of each tournament are drawn uniformly, without replacement, from the members
    not picked yet (all of them when fewer than `size` are left). `size=1` is uniform selection
    and larger sizes select harder.

    Returns:
        Indices into `scores`, in draw order; at most `len(scores)` of them.
    """
    _check_direction(direction)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"`size` (tournament size) must be an integer >= 1, got {size!r}.")
    fitness = ranks(scores, direction)
    left = list(range(len(scores)))
    picked: list[int] = []
    for _ in range(min(count, len(scores))):
        contenders = rng.choice(len(left), size=min(size, len(left)), replace=False)
        winner = max(contenders, key=lambda i: (fitness[left[i]], -i))
        picked.append(left.pop(int(winner)))
    return picked


class RankSelection:
    """Breeders drawn without replacement with rank-based exponential weights.

    Args:
        pressure: How much fitter members are favoured, >= 0: the best member is `e**pressure`
            times likelier to breed than the worst; 0 is uniform.
    """

    def __init__(self, pressure: float = 5.0):
        self.pressure = float(pressure)

    def __call__(
        self, rng: np.random.Generator, scores: Sequence[float], count: int, direction: str
    ) -> list[int]:
        """Indices of `count` distinct breeders among `scores`, in draw order."""
        return select_breeders(rng, scores, count, direction, self.pressure)

    def __repr__(self) -> str:
        return f"RankSelection(pressure={self.pressure})"


class TournamentSelection:
    """Each breeder is the fittest of `size` members drawn at random (not picked yet).

    Args:
        size: Contenders per tournament, an integer >= 1 (1 is uniform selection).
    """

    def __init__(self, size: int = 3):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"`size` (tournament size) must be an integer >= 1, got {size!r}.")
        self.size = int(size)

    def __call__(
        self, rng: np.random.Generator, scores: Sequence[float], count: int, direction: str
    ) -> list[int]:
        """Indices of `count` distinct breeders among `scores`, in draw order."""
        return tournament_select(rng, scores, count, self.size, direction)

    def __repr__(self) -> str:
        return f"TournamentSelection(size={self.size})"
