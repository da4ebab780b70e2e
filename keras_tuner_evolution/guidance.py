"""Model-guided breeding: of several candidate children, keep the one a cheap model prefers.

The evolution's operators (selection, crossover, mutation) still make every candidate; the
model only chooses among them. It is the density ratio of TPE (Bergstra et al., 2011): the
scored configurations are split into the good ones (the best fraction) and the others, each
gene gets one density per group, and a candidate scores the sum over its genes of
`log(good density / other density)`: high where good configurations are dense and others are
not.

Each gene is modelled on its own, so the model costs a few vector operations per gene:

- categorical genes (unordered `Choice`, `Boolean`) and inactive genes: smoothed counts per
  value, "inactive" being one more value, so that conditional scopes are modelled through
  their parents and a gene's absence is informative too;
- ordered genes (`Int`, `Float`, ordered `Choice`): a Gaussian kernel density in probability
  space (log sampling and steps honoured as everywhere else), tabulated on a fixed grid of
  bins when the model is fitted, so scoring a candidate is a lookup.

Fitting reads each scored configuration once (microseconds each; the engine refits when results
arrive, see `breeding.REFIT_FRACTION`); scoring is a lookup per gene. Both are pure functions
of their inputs.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import selection as selection_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.space import Genome

# Ordered genes are tabulated on this many bins of probability space.
BINS = 64
# The value of a categorical gene that is not active in a configuration.
_INACTIVE = "__kte_inactive__"


def good_count(n: int, fraction: float) -> int:
    """How many of `n` scored configurations form the good group: at least 2, at most n - 1."""
    return int(min(n - 1, max(2, math.ceil(fraction * n))))


def _categorical_log_ratio(good: list[Any], other: list[Any], prior: float) -> dict[Any, float]:
    """`log(good frequency / other frequency)` of each value, both smoothed by `prior`.

    The values of one gene share one type (a Choice's values, or booleans), so they are
    counted as they are.
    """
    good_counts = collections.Counter(good)
    other_counts = collections.Counter(other)
    keys = set(good_counts) | set(other_counts)
    denominator_good = len(good) + prior * (len(keys) + 1)
    denominator_other = len(other) + prior * (len(keys) + 1)
    return {
        key: math.log((good_counts[key] + prior) / denominator_good)
        - math.log((other_counts[key] + prior) / denominator_other)
        for key in keys
    }


class _CategoricalGene:
    """Smoothed frequencies of each value (and of "inactive") in the two groups."""

    def __init__(self, good: list[Any], other: list[Any], prior: float):
        self.log_ratio = _categorical_log_ratio(good, other, prior)

    def score(self, value: Any) -> float:
        return self.log_ratio.get(value, 0.0)


@functools.lru_cache(maxsize=64)
def _kernel_matrix(bandwidth: float) -> np.ndarray:
    """Weights of a Gaussian kernel between bin centres, reflected at both borders."""
    centres = (np.arange(BINS) + 0.5) / BINS
    kernel = sum(
        np.exp(-0.5 * ((centres[:, None] - image[None, :]) / bandwidth) ** 2)
        for image in (centres, -centres, 2.0 - centres)
    )
    return kernel / (bandwidth * math.sqrt(2 * math.pi) * BINS)


def _kernel_density(points: np.ndarray, bandwidth: float, prior: float) -> np.ndarray:
    """A Gaussian kernel density of `points` in [0, 1] on `BINS` bin centres, mixed with a
    uniform prior of weight `prior` (as TPE does).

    The points are counted per bin first, so the cost is one pass over the points plus a
    fixed matrix product, whatever their number.
    """
    if len(points) == 0:
        return np.ones(BINS)
    counts = np.bincount(np.minimum((points * BINS).astype(int), BINS - 1), minlength=BINS)
    density = _kernel_matrix(bandwidth) @ counts * BINS
    return (density + prior) / (len(points) + prior)


def _bandwidth(points: np.ndarray) -> float:
    """Scott's rule, kept in [0.05, 0.3] so that two or three points still spread."""
    if len(points) < 2:
        return 0.3
    # Rounded to a grid of 0.01 so that the kernel matrices are computed once and cached.
    return round(float(np.clip(1.06 * points.std() * len(points) ** -0.2, 0.05, 0.3)), 2)


class _OrderedGene:
    """Kernel densities of the two groups in probability space, tabulated on bins; an
    inactive gene is scored by the smoothed frequencies of "inactive" in the two groups."""

    def __init__(self, good: list[float | None], other: list[float | None], prior: float):
        good_points = np.array([p for p in good if p is not None], dtype=float)
        other_points = np.array([p for p in other if p is not None], dtype=float)
        self.log_ratio = np.log(
            _kernel_density(good_points, _bandwidth(good_points), prior)
        ) - np.log(_kernel_density(other_points, _bandwidth(other_points), prior))
        # Active or not: the same smoothed frequencies as a categorical gene's.
        self.activity = _categorical_log_ratio(
            [p is None for p in good], [p is None for p in other], prior
        )

    def score(self, prob: float | None) -> float:
        active = self.activity.get(prob is None, 0.0)
        if prob is None:
            return active
        return active + float(self.log_ratio[min(int(prob * BINS), BINS - 1)])


class DensityRatio:
    """A fitted model: `score(genome)` is higher for configurations likelier to be good."""

    def __init__(self, space: HyperParameters, genes: dict[str, Any]):
        self._by_name = space_lib.hyperparameters_by_name(space)
        self._genes = genes

    def score(self, genome: Mapping[str, Any]) -> float:
        """The sum over genes of `log(good density / other density)` at the genome's values."""
        point = coordinates(self._by_name, genome)
        return sum(gene.score(point.get(name, _absent(gene))) for name, gene in self._genes.items())


def _absent(gene: Any) -> Any:
    return None if isinstance(gene, _OrderedGene) else _INACTIVE


def coordinates(
    by_name: Mapping[str, list[hp_module.HyperParameter]], genome: Mapping[str, Any]
) -> dict[str, Any]:
    """Where the genes' densities are evaluated: the probability-space coordinate of each
    ordered gene and the value of each categorical one (inactive genes are left out)."""
    point = {}
    for name, value in genome.items():
        if name in by_name:
            hp = space_lib.active_hyperparameter(by_name, name, genome)
            point[name] = space_lib.value_to_prob(hp, value) if space_lib.is_ordered(hp) else value
    return point


def fit_density_ratio(
    space: HyperParameters,
    points: Sequence[Mapping[str, Any]],
    scores: Sequence[float],
    direction: str,
    good_fraction: float = 0.25,
    prior: float = 1.0,
) -> DensityRatio:
    """Fits the density-ratio model to scored configurations.

    Args:
        space: The search space.
        points: The scored configurations' `coordinates` (at least 3).
        scores: Their scores.
        direction: "max" or "min".
        good_fraction: Share of the configurations in the good group (at least 2 of them,
            and at least one left in the other group).
        prior: Weight of the uniform prior mixed into every density.
    """
    ranked = selection_lib.ranks(scores, direction)
    order = np.argsort(-ranked, kind="stable")
    n_good = good_count(len(points), good_fraction)
    good = [points[i] for i in order[:n_good]]
    other = [points[i] for i in order[n_good:]]
    genes: dict[str, Any] = {}
    for name, declarations in space_lib.hyperparameters_by_name(space).items():
        if isinstance(declarations[0], hp_module.Fixed):
            continue
        gene = _OrderedGene if space_lib.is_ordered(declarations[0]) else _CategoricalGene
        absent = None if gene is _OrderedGene else _INACTIVE
        genes[name] = gene(
            [p.get(name, absent) for p in good], [p.get(name, absent) for p in other], prior
        )
    return DensityRatio(space, genes)


class DensityGuidance:
    """Breeds `candidates` children per slot and keeps the one the density ratio prefers.

    Args:
        candidates: Children made (by the evolution's own selection, crossover and mutation)
            for each child trained, >= 1; 1 is the plain evolution.
        good_fraction: Share of the scored configurations that count as good, in (0, 1).
        min_scored: The model is used once this many configurations are scored (>= 3);
            before that the first candidate is kept.
    """

    def __init__(self, candidates: int = 6, good_fraction: float = 0.1, min_scored: int = 4):
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise ValueError(f"`candidates` must be an integer >= 1, got {candidates!r}.")
        if not 0.0 < good_fraction < 1.0:
            raise ValueError(f"`good_fraction` must be in (0, 1), got {good_fraction!r}.")
        if isinstance(min_scored, bool) or not isinstance(min_scored, int) or min_scored < 3:
            raise ValueError(f"`min_scored` must be an integer >= 3, got {min_scored!r}.")
        self.candidates = candidates
        self.good_fraction = good_fraction
        self.min_scored = min_scored
        self._cache: dict[tuple[int, int], tuple[Mapping[str, Any], dict[str, Any]]] = {}

    def fit(
        self,
        space: HyperParameters,
        genomes: Sequence[Mapping[str, Any]],
        scores: Sequence[float],
        direction: str,
    ) -> DensityRatio | None:
        """The model of these results, or None while fewer than `min_scored` are scored."""
        if len(genomes) < self.min_scored:
            return None
        points = [self._coordinates(space, genome) for genome in genomes]
        return fit_density_ratio(space, points, scores, direction, self.good_fraction)

    def _coordinates(self, space: HyperParameters, genome: Mapping[str, Any]) -> dict[str, Any]:
        """`coordinates(genome)`, computed once per genome object and space size: the engine
        keeps its genomes, so each is encoded once instead of at every fit."""
        key = (id(genome), len(space.space))
        cached = self._cache.get(key)
        if cached is None or cached[0] is not genome:  # the reference held keeps the id unique
            if len(self._cache) > 100_000:
                self._cache.clear()
            by_name = space_lib.hyperparameters_by_name(space)
            cached = self._cache[key] = (genome, coordinates(by_name, genome))
        return cached[1]

    def __repr__(self) -> str:
        return (
            f"DensityGuidance(candidates={self.candidates}, "
            f"good_fraction={self.good_fraction}, min_scored={self.min_scored})"
        )


def choose(model: DensityRatio | None, candidates: Sequence[Genome]) -> int:
    """Index of the candidate the model prefers (the first one when there is no model)."""
    if model is None or len(candidates) == 1:
        return 0
    return int(np.argmax([model.score(candidate) for candidate in candidates]))
