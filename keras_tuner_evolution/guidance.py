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
from keras_tuner_evolution.checks import check_number
from keras_tuner_evolution.space import Genome

# Ordered genes are tabulated on this many bins of probability space.
BINS = 64
# The default weight of the uniform prior in the densities (pseudo-observations).
PRIOR = 1.0
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
    return _log_ratio_of_counts(
        collections.Counter(good), len(good), collections.Counter(other), len(other), prior
    )


def _log_ratio_of_counts(
    good_counts: Mapping[Any, int],
    n_good: int,
    other_counts: Mapping[Any, int],
    n_other: int,
    prior: float,
) -> dict[Any, float]:
    """`_categorical_log_ratio` from the counts of each value seen (zero counts left out)."""
    good_counts = {key: count for key, count in good_counts.items() if count}
    other_counts = {key: count for key, count in other_counts.items() if count}
    keys = set(good_counts) | set(other_counts)
    denominator_good = n_good + prior * (len(keys) + 1)
    denominator_other = n_other + prior * (len(keys) + 1)
    return {
        key: math.log((good_counts.get(key, 0) + prior) / denominator_good)
        - math.log((other_counts.get(key, 0) + prior) / denominator_other)
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


def _kernel_densities(points: np.ndarray, active: np.ndarray, prior: float) -> np.ndarray:
    """Per column of `points` (one ordered gene each, active where `active`), a Gaussian kernel
    density of its active values in [0, 1] on `BINS` bin centres, mixed with a uniform prior of
    weight `prior` (as TPE does). Returns one row of `BINS` densities per gene.

    All genes are counted per bin in one pass, so the cost is a few array operations plus a
    fixed matrix product per gene, whatever the number of points.
    """
    n_genes = points.shape[1]
    n_active = active.sum(axis=0)
    bins = np.minimum((np.where(active, points, 0.0) * BINS).astype(int), BINS - 1)
    flat = (bins + BINS * np.arange(n_genes))[active]
    counts = np.bincount(flat, minlength=n_genes * BINS).reshape(n_genes, BINS)
    densities = np.ones((n_genes, BINS))
    for gene, bandwidth in zip(np.flatnonzero(n_active), _bandwidths(points, active, n_active)):
        density = _kernel_matrix(bandwidth) @ counts[gene] * BINS
        densities[gene] = (density + prior) / (n_active[gene] + prior)
    return densities


def _bandwidths(points: np.ndarray, active: np.ndarray, n_active: np.ndarray) -> list[float]:
    """Scott's rule for each gene with an active value, kept in [0.05, 0.3] so that two or
    three points still spread, all genes at once (NaN marks inactive values)."""
    count = np.maximum(n_active, 1)
    mean = np.where(active, points, 0.0).sum(axis=0) / count
    deviation = np.where(active, points - mean, 0.0)
    std = np.sqrt((deviation * deviation).sum(axis=0) / count)
    scott = np.clip(1.06 * std * count**-0.2, 0.05, 0.3)
    # Rounded to a grid of 0.01 so that the kernel matrices are computed once and cached.
    return [round(float(value), 2) if n >= 2 else 0.3 for value, n in zip(scott, n_active) if n > 0]


class _OrderedGene:
    """Kernel densities of the two groups in probability space, tabulated on bins; an
    inactive gene is scored by the smoothed frequencies of "inactive" in the two groups.
    Fitted for all ordered genes at once by `_fit_ordered_genes`."""

    def __init__(self, log_ratio: np.ndarray, activity: dict[bool, float]):
        self.log_ratio = log_ratio
        self.activity = activity

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


def _fit_ordered_genes(
    names: list[str], good: list[Mapping[str, Any]], other: list[Mapping[str, Any]], prior: float
) -> dict[str, _OrderedGene]:
    """The `_OrderedGene` of each name, from the two groups' coordinates, fitted together."""
    tables = []
    for group in (good, other):
        points = np.array(
            [[point.get(name, math.nan) for name in names] for point in group], dtype=float
        ).reshape(len(group), len(names))
        inactive = np.isnan(points)
        tables.append((np.log(_kernel_densities(points, ~inactive, prior)), inactive))
    (good_log, good_inactive), (other_log, other_inactive) = tables
    good_off, other_off = good_inactive.sum(axis=0).tolist(), other_inactive.sum(axis=0).tolist()
    n_good, n_other = len(good), len(other)
    return {
        name: _OrderedGene(
            good_log[gene] - other_log[gene],
            # Active or not: the same smoothed frequencies as a categorical gene's.
            _log_ratio_of_counts(
                {True: good_off[gene], False: n_good - good_off[gene]},
                n_good,
                {True: other_off[gene], False: n_other - other_off[gene]},
                n_other,
                prior,
            ),
        )
        for gene, name in enumerate(names)
    }


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
    prior: float = PRIOR,
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
    ordered = []
    for name, declarations in space_lib.hyperparameters_by_name(space).items():
        if isinstance(declarations[0], hp_module.Fixed):
            continue
        if space_lib.is_ordered(declarations[0]):
            ordered.append(name)
            genes[name] = None  # fitted below, all ordered genes at once; keeps the order
        else:
            genes[name] = _CategoricalGene(
                [p.get(name, _INACTIVE) for p in good],
                [p.get(name, _INACTIVE) for p in other],
                prior,
            )
    genes.update(_fit_ordered_genes(ordered, good, other, prior))
    return DensityRatio(space, genes)


class DensityGuidance:
    """Breeds `candidates` children per slot and keeps the one the density ratio prefers.

    Args:
        candidates: Children made (by the evolution's own selection, crossover and mutation)
            for each child trained, >= 1; 1 is the plain evolution.
        good_fraction: Share of the scored configurations that count as good, in (0, 1).
        min_scored: The model is used once this many configurations are scored (>= 3);
            before that the first candidate is kept.
        prior: Weight of the uniform prior mixed into every density, in pseudo-observations,
            > 0: higher keeps the model closer to uniform while it has few results.
    """

    def __init__(
        self,
        candidates: int = 6,
        good_fraction: float = 0.1,
        min_scored: int = 4,
        prior: float = PRIOR,
    ):
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise ValueError(f"`candidates` must be an integer >= 1, got {candidates!r}.")
        if not 0.0 < good_fraction < 1.0:
            raise ValueError(f"`good_fraction` must be in (0, 1), got {good_fraction!r}.")
        if isinstance(min_scored, bool) or not isinstance(min_scored, int) or min_scored < 3:
            raise ValueError(f"`min_scored` must be an integer >= 3, got {min_scored!r}.")
        check_number(prior, "prior", minimum=0, strict=True)
        self.candidates = candidates
        self.good_fraction = good_fraction
        self.min_scored = min_scored
        self.prior = float(prior)
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
        return fit_density_ratio(space, points, scores, direction, self.good_fraction, self.prior)

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
            f"good_fraction={self.good_fraction}, min_scored={self.min_scored}, "
            f"prior={self.prior})"
        )


def choose(model: DensityRatio | None, candidates: Sequence[Genome]) -> int:
    """Index of the candidate the model prefers (the first one when there is no model)."""
    if model is None or len(candidates) == 1:
        return 0
    return int(np.argmax([model.score(candidate) for candidate in candidates]))
