"""The genetic operators, as pure functions.

Each operator takes a `numpy.random.Generator` and returns new values; none keeps state or
knows about Keras Tuner trials. The oracle composes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import genome as genome_lib
from keras_tuner_evolution.genome import Genome


def _ranks(scores: Sequence[float], direction: str) -> np.ndarray:
    """Ranks from 0 (worst) to n - 1 (best); ties share their mean rank."""
    values = np.asarray(scores, dtype=float)
    if direction == "min":
        values = -values
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def selection_weights(
    scores: Sequence[float], direction: str = "max", pressure: float = 2.0
) -> np.ndarray:
    """Probability of picking each member, rising with fitness.

    Rank-based exponential weights: member `i` gets `exp(pressure * r_i)` where `r_i` is its
    rank scaled to [0, 1] (0 the worst, 1 the best). Only the order of the scores matters, so
    the weights are right for minimised and maximised objectives and for any sign or scale of
    score (negative, zero, losses). `pressure=0` is uniform selection; with `pressure=p` the best
    member is `e**p` times likelier than the worst (about 7.4x at the default 2).

    Args:
        scores: One finite score per member.
        direction: "max" if higher scores are fitter, "min" if lower are.
        pressure: Selection pressure, >= 0.

    Returns:
        Probabilities summing to 1.
    """
    if direction not in ("min", "max"):
        raise ValueError(f"`direction` must be 'min' or 'max', got {direction!r}.")
    n = len(scores)
    if n == 0:
        return np.zeros(0)
    if n == 1:
        return np.ones(1)
    scaled = _ranks(scores, direction) / (n - 1)
    weights = np.exp(pressure * (scaled - 1.0))  # shift keeps exp() <= 1: no overflow
    return weights / weights.sum()


def select_elites(scores: Sequence[float], count: int, direction: str = "max") -> list[int]:
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
    """Draws `count` distinct members, each with probability rising with fitness.

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
    not picked yet (all of them when fewer than `size` are left). Only the order of the scores
    matters; `size=1` is uniform selection and larger sizes select harder.

    Returns:
        Indices into `scores`, in draw order; at most `len(scores)` of them.
    """
    if direction not in ("min", "max"):
        raise ValueError(f"`direction` must be 'min' or 'max', got {direction!r}.")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"`size` (tournament size) must be an integer >= 1, got {size!r}.")
    fitness = _ranks(scores, direction)
    left = list(range(len(scores)))
    picked: list[int] = []
    for _ in range(min(count, len(scores))):
        contenders = rng.choice(len(left), size=min(size, len(left)), replace=False)
        winner = max(contenders, key=lambda i: (fitness[left[i]], -i))
        picked.append(left.pop(int(winner)))
    return picked


def success_rule(factor: float, success_rate: float, target: float = 0.2) -> float:
    """Rechenberg's 1/5 success rule for the mutation strength, kept in `[0.25, 4]`.

    Args:
        factor: The current multiplier of the mutation rate and scale.
        success_rate: Fraction of the last generation's children that beat both parents.
        target: The success rate at which the strength stays put.

    Returns:
        `factor * 1.5` when more children than `target` succeeded, `factor / 1.5**(1/4)`
        otherwise (so that at the target rate the strength is stable on average).
    """
    if success_rate > target:
        factor *= 1.5
    else:
        factor /= 1.5**0.25
    return float(min(4.0, max(0.25, factor)))


def pick_parents(rng: np.random.Generator, breeders: Sequence[Any]) -> tuple[Any, Any]:
    """Two distinct breeders chosen uniformly (the same one twice if it is the only one)."""
    if len(breeders) == 1:
        return breeders[0], breeders[0]
    first, second = rng.choice(len(breeders), size=2, replace=False)
    return breeders[int(first)], breeders[int(second)]


def uniform_crossover(
    rng: np.random.Generator, mother: Mapping[str, Any], father: Mapping[str, Any]
) -> tuple[Genome, dict[str, str]]:
    """Each gene taken from either parent with probability 1/2, independent of gene order.

    A gene only one parent has (it is active in that parent alone) is inherited with
    probability 1/2 too; whether the child needs it is settled by `genome.repair`, which
    follows the conditions of the genes the child did inherit.

    Returns:
        The child's values and, per gene, which parent it came from ("mother"/"father").
    """
    child: Genome = {}
    origin: dict[str, str] = {}
    names = list(mother) + [name for name in father if name not in mother]
    for name in names:
        from_mother = rng.random() < 0.5
        source, label = (mother, "mother") if from_mother else (father, "father")
        if name in source:
            child[name], origin[name] = source[name], label
    return child, origin


def _is_categorical(hp: hp_module.HyperParameter) -> bool:
    return isinstance(hp, hp_module.Boolean) or (
        isinstance(hp, hp_module.Choice) and not hp.ordered
    )


def mutate_value(
    rng: np.random.Generator, hp: hp_module.HyperParameter, value: Any, scale: float = 0.2
) -> Any:
    """Returns a different value of `hp` near `value` (or `value` itself if `hp` has one value).

    Categorical hyperparameters (unordered `Choice`, `Boolean`) jump to another value chosen
    uniformly. Ordered ones (`Int`, `Float`, ordered `Choice`) take a Gaussian step of standard
    deviation `scale` in probability space, so log sampling and steps are honoured alike; a
    step too small to change a discrete value is redrawn with a doubled scale.
    """
    if isinstance(hp, hp_module.Fixed):
        return value
    if _is_categorical(hp):
        others = [v for v in genome_lib.finite_domain(hp) if v != value]
        return others[int(rng.integers(len(others)))] if others else value
    prob = genome_lib.value_to_prob(hp, value)
    for attempt in range(8):
        step = rng.normal(0.0, scale * 2**attempt)
        # Reflect at the borders so that edge values can still move inwards.
        new_prob = abs(prob + step)
        new_prob = 2.0 - new_prob if new_prob > 1.0 else new_prob
        new_value = genome_lib.prob_to_value(hp, new_prob)
        if new_value != value:
            return new_value
    domain = genome_lib.finite_domain(hp)
    others = [v for v in domain if v != value] if domain is not None else []
    return others[int(rng.integers(len(others)))] if others else value


def mutate(
    rng: np.random.Generator,
    space: HyperParameters,
    genome: Mapping[str, Any],
    rate: float,
    scale: float = 0.2,
    at_least_one: bool = False,
) -> tuple[Genome, list[str]]:
    """Mutates each active gene with probability `rate`, then repairs the conditions.

    A mutated condition parent can switch child genes on (they are drawn from `rng`) or off
    (they are dropped), exactly as for a fresh sample.

    Args:
        rng: Random generator.
        space: The search space.
        genome: A valid genome for `space`.
        rate: Per-gene mutation probability in [0, 1].
        scale: Standard deviation of the probability-space step for ordered genes.
        at_least_one: Mutate one randomly chosen mutable gene when `rate` picked none.

    Returns:
        The new genome and the names of the genes that were mutated.
    """
    by_name = genome_lib.hyperparameters_by_name(space)
    mutable = [
        name
        for name in genome
        if name in by_name
        and not isinstance(genome_lib.active_hyperparameter(by_name, name, genome), hp_module.Fixed)
    ]
    chosen = [name for name in mutable if rng.random() < rate]
    if at_least_one and not chosen and mutable:
        chosen = [mutable[int(rng.integers(len(mutable)))]]
    values = dict(genome)
    for name in chosen:
        hp = genome_lib.active_hyperparameter(by_name, name, genome)
        values[name] = mutate_value(rng, hp, values[name], scale)
    return genome_lib.repair(space, values, rng), chosen
