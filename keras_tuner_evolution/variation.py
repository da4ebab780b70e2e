"""Variation: how children are made from their parents.

`UniformCrossover` and `Mutation` are small callables with one job each; they take a
`numpy.random.Generator` and return new genomes, keep no state between calls and know nothing
of trials. Mutation works in probability space (`space.value_to_prob`, a step,
`space.prob_to_value`), so Int, Float, Choice, Boolean and log sampling are treated alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.space import Genome


def pick_parents(rng: np.random.Generator, breeders: Sequence[Any]) -> tuple[Any, Any]:
    """Two distinct breeders chosen uniformly (the same one twice if it is the only one).

    The draws are those of `rng.choice(len(breeders), 2, replace=False)` (Floyd's algorithm,
    then a shuffle of the pair), made directly: that call cost more than the crossover it
    feeds. `tests/test_operators.py` checks that both pick the same pairs.
    """
    n = len(breeders)
    if n == 1:
        return breeders[0], breeders[0]
    first = int(rng.integers(n - 1))
    second = int(rng.integers(n))
    if second == first:
        second = n - 1
    if rng.integers(2) == 0:
        first, second = second, first
    return breeders[first], breeders[second]


def uniform_crossover(
    rng: np.random.Generator, mother: Mapping[str, Any], father: Mapping[str, Any]
) -> tuple[Genome, dict[str, str]]:
    """Each gene taken from either parent with probability 1/2, independent of gene order.

    A gene only one parent has (it is active in that parent alone) is inherited with
    probability 1/2 too; whether the child needs it is settled by `space.repair`, which
    follows the conditions of the genes the child did inherit.

    Returns:
        The child's values and, per gene, which parent it came from ("mother"/"father").
    """
    child: Genome = {}
    origin: dict[str, str] = {}
    names = list(mother) + [name for name in father if name not in mother]
    # One draw per gene, all at once: the same numbers as a draw per gene in turn.
    coins = rng.random(len(names)).tolist()
    for name, coin in zip(names, coins):
        source, label = (mother, "mother") if coin < 0.5 else (father, "father")
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
        others = [v for v in space_lib.finite_domain(hp) if v != value]
        return others[int(rng.integers(len(others)))] if others else value
    prob = space_lib.value_to_prob(hp, value)
    for attempt in range(8):
        step = rng.normal(0.0, scale * 2**attempt)
        new_value = space_lib.prob_to_value(hp, space_lib.reflect_prob(prob + step))
        if new_value != value:
            return new_value
    domain = space_lib.finite_domain(hp)
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
    facts = space_lib.space_facts(space)
    by_name = facts.by_name
    fixed, redeclared = facts.fixed, facts.redeclared
    mutable = [
        name
        for name in genome
        if name in by_name
        and name not in fixed
        and (
            name not in redeclared
            or not isinstance(
                space_lib.active_hyperparameter(by_name, name, genome), hp_module.Fixed
            )
        )
    ]
    # One draw per gene, all at once: the same numbers as a draw per gene in turn.
    chosen = [name for name, draw in zip(mutable, rng.random(len(mutable)).tolist()) if draw < rate]
    if at_least_one and not chosen and mutable:
        chosen = [mutable[int(rng.integers(len(mutable)))]]
    values = dict(genome)
    for name in chosen:
        hp = space_lib.active_hyperparameter(by_name, name, genome)
        values[name] = mutate_value(rng, hp, values[name], scale)
    if facts.condition_parents.isdisjoint(chosen):
        # No gene that conditions others changed: the active set is the same and the new
        # values are canonical, so `repair` would return `values` unchanged (and draw nothing).
        return values, chosen
    return space_lib.repair(space, values, rng), chosen


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


def blend_value(
    rng: np.random.Generator,
    hp: hp_module.HyperParameter,
    first: Any,
    second: Any,
    alpha: float,
) -> Any:
    """A value of an ordered `hp` between two parents' values (BLX-alpha in probability space).

    The coordinate is drawn uniformly from the parents' interval widened by `alpha` times its
    length on each side (reflected at the borders), so children of two parents can take values
    neither parent has: what a real-valued gene needs for a few parents to reach the values
    in between and around them.
    """
    low, high = sorted((space_lib.value_to_prob(hp, first), space_lib.value_to_prob(hp, second)))
    width = high - low
    prob = rng.uniform(low - alpha * width, high + alpha * width)
    return space_lib.prob_to_value(hp, space_lib.reflect_prob(prob))


class UniformCrossover:
    """Each gene from either parent with probability 1/2; the child is repaired for the space.

    Conditional scopes are respected: the child's active set follows the parent values it
    inherited; missing active values are drawn from the generator, inactive ones dropped.

    Args:
        blend: None (default): every gene is copied from one parent. A number `alpha >= 0`:
            an ordered gene (Int, Float, ordered Choice) that both parents have is drawn
            between their values instead (`blend_value`, BLX-alpha), so real-valued genes
            are not limited to the values the first population happened to draw.
    """

    def __init__(self, blend: float | None = None):
        if blend is not None and not (
            isinstance(blend, (int, float)) and not isinstance(blend, bool) and 0 <= blend <= 2
        ):
            raise ValueError(f"`blend` must be None or a number in [0, 2], got {blend!r}.")
        self.blend = blend

    def __call__(
        self,
        rng: np.random.Generator,
        space: HyperParameters,
        mother: Mapping[str, Any],
        father: Mapping[str, Any],
    ) -> Genome:
        """A valid child genome of `mother` and `father`."""
        child, _ = uniform_crossover(rng, mother, father)
        if self.blend is None and _complete_and_unconditional(space, child):
            # Every gene came from a valid parent and none depends on another: the child is
            # valid as it is, in the space's order (the mother's), and `repair` would only
            # copy it (a tenth of a guided search's breeding time).
            return child
        if self.blend is not None:
            by_name = space_lib.space_facts(space).by_name
            for name in child:
                if name not in mother or name not in father or name not in by_name:
                    continue
                hp = space_lib.active_hyperparameter(by_name, name, mother)
                same = hp is space_lib.active_hyperparameter(by_name, name, father)
                if same and space_lib.is_ordered(hp) and mother[name] != father[name]:
                    child[name] = blend_value(rng, hp, mother[name], father[name], self.blend)
        return space_lib.repair(space, child, rng)

    def __repr__(self) -> str:
        return (
            "UniformCrossover()" if self.blend is None else f"UniformCrossover(blend={self.blend})"
        )


def _complete_and_unconditional(space: HyperParameters, genome: Mapping[str, Any]) -> bool:
    """Whether `genome` has a value for every hyperparameter of a space without conditions
    (spaces only grow, so a genome of the right size has every name)."""
    return len(genome) == len(space.space) and not space_lib.space_facts(space).condition_parents


class Mutation:
    """Mutates each active gene with probability `rate`, by a probability-space step.

    Args:
        rate: Per-gene mutation probability, in [0, 1].
        scale: Standard deviation of the step for ordered genes (Int, Float, ordered Choice),
            in (0, 1]. Categorical genes jump to another value.
    """

    def __init__(self, rate: float = 0.1, scale: float = 0.2):
        self.rate = float(rate)
        self.scale = float(scale)

    def __call__(
        self,
        rng: np.random.Generator,
        space: HyperParameters,
        genome: Mapping[str, Any],
        at_least_one: bool = False,
    ) -> tuple[Genome, list[str]]:
        """The mutated, repaired genome and the names of the mutated genes."""
        return mutate(rng, space, genome, self.rate, self.scale, at_least_one)

    def scaled(self, factor: float) -> Mutation:
        """This mutation with rate and scale multiplied by `factor` (each capped at 1)."""
        return Mutation(min(1.0, self.rate * factor), min(1.0, self.scale * factor))

    def __repr__(self) -> str:
        return f"Mutation(rate={self.rate}, scale={self.scale})"
