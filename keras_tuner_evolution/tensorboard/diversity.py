"""The diversity of a population: how far apart its members are, in `[0, 1]`."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import space as space_lib


def population_diversity(space: Any, genomes: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean distance between two members of a population, in `[0, 1]`.

    The distance of two genomes is the mean, over the hyperparameters active in either, of a
    per-gene distance: for ordered ones (Int, Float, ordered Choice) the gap of their
    probability-space coordinates; for categorical ones (unordered Choice, Boolean) 0 if equal
    else 1; 1 when the gene is active in one genome only. 0: all members alike.

    Args:
        space: The `keras_tuner.HyperParameters` search space.
        genomes: The members' values.

    Returns:
        The mean pairwise distance, or None for fewer than two members.
    """
    if len(genomes) < 2:
        return None
    by_name = space_lib.hyperparameters_by_name(space)
    total, pairs = 0.0, 0
    for a, b in itertools.combinations(genomes, 2):
        names = set(a) | set(b)
        distance = 0.0
        for name in names:
            if name not in a or name not in b:
                distance += 1.0
            elif name not in by_name:
                distance += float(a[name] != b[name])
            else:
                hp = space_lib.active_hyperparameter(by_name, name, a)
                distance += _gene_distance(hp, a[name], b[name])
        total += distance / len(names) if names else 0.0
        pairs += 1
    return total / pairs


def _gene_distance(hp: Any, a: Any, b: Any) -> float:
    """Distance of two values of one hyperparameter, in `[0, 1]`."""
    if a == b:
        return 0.0
    categorical = isinstance(hp, hp_module.Boolean) or (
        isinstance(hp, hp_module.Choice) and not hp.ordered
    )
    if categorical or isinstance(hp, hp_module.Fixed):
        return 1.0
    try:
        return abs(space_lib.value_to_prob(hp, a) - space_lib.value_to_prob(hp, b))
    except (TypeError, ValueError):  # a value outside the space (a changed space on resume)
        return 1.0
