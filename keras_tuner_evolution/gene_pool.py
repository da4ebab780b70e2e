"""Gene-pool recombination: children of many parents, each gene moved by a step of its own.

Uniform crossover mixes two parents and mutation moves a few genes by a fixed step, which is
what a long search needs but is slow to start: with a handful of results, the next good
configuration is usually near several good ones at once, in every gene. `GenePool` makes a
child of a whole pool of parents (the best configurations so far), gene by gene:

- the gene's value comes from a parent drawn at random among those that have it
  (Mühlenbein and Voigt's gene-pool recombination);
- an ordered gene (Int, Float, ordered Choice) then takes a Gaussian step in probability space
  whose width follows the spread of the pool's values of that gene (Scott's rule, narrowed by
  `bandwidth`), so the steps shrink as the good configurations agree: a self-adapted mutation;
- with probability `prior / (parents + prior)` the gene is drawn at random instead.

In distribution this is a draw from the density of good configurations that TPE samples its
candidates from (Bergstra et al., 2011); the guidance model then chooses among such children.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters

from keras_tuner_evolution import guidance
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.checks import check_number
from keras_tuner_evolution.space import Genome

# The step width of an ordered gene before `bandwidth`: Scott's rule on the pool's
# probability-space values, kept in the density model's bandwidth bounds (one parent alone gets
# the widest), so that its steps spread as the model's kernels do.
MIN_WIDTH, MAX_WIDTH = guidance.MIN_BANDWIDTH, guidance.MAX_BANDWIDTH


def step_width(probs: Sequence[float]) -> float:
    """Scott's rule for the spread of `probs`, kept in [MIN_WIDTH, MAX_WIDTH]."""
    if len(probs) < 2:
        return MAX_WIDTH
    width = 1.06 * float(np.std(probs)) * len(probs) ** -0.2
    return float(min(MAX_WIDTH, max(MIN_WIDTH, width)))


class GenePool:
    """The genes of a pool of parents, ready to make children from.

    Args:
        space: The search space.
        parents: Valid genomes of `space`, the pool (at least one).
        bandwidth: Multiplier of each ordered gene's step width, > 0.
        prior: Weight of a random draw against the parents' values, in pseudo-parents, >= 0.
    """

    def __init__(
        self,
        space: HyperParameters,
        parents: Sequence[Mapping[str, Any]],
        bandwidth: float = 0.5,
        prior: float = 1.0,
    ):
        if not parents:
            raise ValueError("`parents` must hold at least one genome.")
        check_number(bandwidth, "bandwidth", minimum=0, strict=True)
        check_number(prior, "prior", minimum=0)
        self.space = space
        self.parents = list(parents)
        self.bandwidth = float(bandwidth)
        self.redraw = float(prior) / (len(self.parents) + float(prior))
        by_name = space_lib.hyperparameters_by_name(space)
        # Per gene: the parents that have it, with the declaration active in each of them.
        self._holders: dict[str, list[tuple[int, Any]]] = {}
        for index, parent in enumerate(self.parents):
            for name in parent:
                if name in by_name:
                    hp = space_lib.active_hyperparameter(by_name, name, parent)
                    self._holders.setdefault(name, []).append((index, hp))
        self._widths = {name: self._widths_of(name) for name in self._holders}

    def _widths_of(self, name: str) -> dict[int, float]:
        """The step width per declaration (by id) of an ordered gene, from its holders."""
        probs: dict[int, list[float]] = {}
        for index, hp in self._holders[name]:
            if space_lib.is_ordered(hp):
                value = space_lib.value_to_prob(hp, self.parents[index][name])
                probs.setdefault(id(hp), []).append(value)
        return {key: self.bandwidth * step_width(values) for key, values in probs.items()}

    def child(self, rng: np.random.Generator) -> tuple[Genome, list[int], list[str]]:
        """A new child of the pool.

        Returns:
            The valid child genome, the indices of the parents it took genes from, and the
            names of its genes that differ from the parent's value they started from (moved
            or drawn at random).
        """
        names = list(self._holders)
        # Three draws per gene, made at once: kept or redrawn, which holder, the step.
        kept = rng.random(len(names)) >= self.redraw
        picks = rng.random(len(names))
        steps = rng.normal(0.0, 1.0, len(names))
        values: Genome = {}
        sources: dict[str, int] = {}
        for gene in np.flatnonzero(kept):
            name = names[gene]
            holders = self._holders[name]
            index, hp = holders[int(picks[gene] * len(holders))]
            value = self.parents[index][name]
            width = self._widths[name].get(id(hp))
            if width is not None:
                prob = space_lib.value_to_prob(hp, value) + width * steps[gene]
                value = space_lib.prob_to_value(hp, space_lib.reflect_prob(prob))
            values[name], sources[name] = value, index
        child = space_lib.repair(self.space, values, rng)
        used = sorted({sources[name] for name in child if name in sources})
        moved = [
            name
            for name, value in child.items()
            if name not in sources or self.parents[sources[name]].get(name) != value
        ]
        return child, used, moved
