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

A configuration is encoded once, as numbers: the probability-space coordinate of each ordered
gene (NaN when inactive) and an integer code per categorical gene's value ("inactive" is one
more). `DensityGuidance` keeps the encoding of every configuration it has seen, so a fit (the
engine refits when results arrive, see `breeding.REFIT_FRACTION`) is a few array operations per
group and the candidates are scored at once by table lookups. The model is a pure function of
the scored configurations.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import selection as selection_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.checks import check_fraction, check_int, check_number
from keras_tuner_evolution.encoding import Encoder, coordinate
from keras_tuner_evolution.space import Genome

# Ordered genes are tabulated on this many bins of probability space.
BINS = 64
# Searches of at most this many trials breed from the gene pool throughout (gene_pool_until=None).
SMALL_BUDGET = 50
# The default weight of the uniform prior in the densities (pseudo-observations).
PRIOR = 1.0
# Kernel bandwidths (Scott's rule) in probability space are kept in these bounds, so that two or
# three points still spread; a gene with one active value gets the widest.
MIN_BANDWIDTH, MAX_BANDWIDTH = 0.05, 0.3


def good_count(n: int, fraction: float) -> int:
    """How many of `n` scored configurations form the good group: at least 2, at most n - 1."""
    return int(min(n - 1, max(2, math.ceil(fraction * n))))


def _ratio_table(good: list, n_good: int, other: list, n_other: int, prior: float) -> list:
    """`log(good frequency / other frequency)` of each value, from its count in either group
    (`good[i]` and `other[i]` of value `i`), both frequencies smoothed by `prior` over the
    values seen; 0 for a value seen in neither group."""
    seen = sum(1 for g, o in zip(good, other) if g or o)
    good_total, other_total = n_good + prior * (seen + 1), n_other + prior * (seen + 1)
    return [
        math.log((g + prior) / good_total) - math.log((o + prior) / other_total) if g or o else 0.0
        for g, o in zip(good, other)
    ]


class _CategoricalGene(NamedTuple):
    """Smoothed frequencies of each value (and of "inactive") in the two groups: `table[i]` is
    the log ratio of `values[i]` (0 for a value seen in neither group, as for any unseen one)."""

    values: list[Any]
    table: list[float]


class _OrderedGene(NamedTuple):
    """Kernel densities of the two groups in probability space, tabulated on bins
    (`log_ratio`); an inactive gene is scored by the smoothed frequencies of "inactive" in the
    two groups (`activity`, keyed by whether the gene is inactive)."""

    log_ratio: np.ndarray
    activity: dict[bool, float]


class DensityRatio:
    """A fitted model: `score(genome)` is higher for configurations likelier to be good.

    Args:
        space: The search space.
        genes: The fitted model of each gene of the space (its names but `Fixed` ones, in the
            space's order), as `fit_density_ratio` makes them.
        encoder: How configurations are encoded (the fit's; a new one of `space` when None).
    """

    def __init__(self, space: HyperParameters, genes: dict[str, Any], encoder: Any = None):
        self._encoder = Encoder(space) if encoder is None else encoder
        self._genes = genes
        models = list(genes.values())
        ordered = [model for model in models if isinstance(model, _OrderedGene)]
        self._ordered = np.array([isinstance(m, _OrderedGene) for m in models], dtype=bool)
        self._bin_ratio = np.array([m.log_ratio for m in ordered]).reshape(len(ordered), BINS)
        activity = [[m.activity.get(True, 0.0), m.activity.get(False, 0.0)] for m in ordered]
        self._inactive_ratio, self._active_ratio = np.array(activity).reshape(len(ordered), 2).T
        self._category_ratio, self._offsets, self._last = _code_tables(self._encoder, models)

    def score(self, genome: Mapping[str, Any]) -> float:
        """The sum over genes of `log(good density / other density)` at the genome's values."""
        return float(self.scores([genome])[0])

    def scores(self, genomes: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """`score` of each genome, all at once (the same numbers, bit for bit)."""
        coordinates, codes = self._encoder.matrices(genomes)
        terms = np.zeros((len(genomes), len(self._ordered) + 1))  # column 0: the sum's start
        inactive = np.isnan(coordinates)
        bins = np.minimum(np.where(inactive, 0.0, coordinates * BINS), BINS - 1).astype(int)
        on = self._active_ratio + self._bin_ratio[np.arange(len(self._bin_ratio)), bins]
        terms[:, 1:][:, self._ordered] = np.where(inactive, self._inactive_ratio, on)
        # A code the model never saw (new since the fit) reads the zero after the gene's table.
        codes = self._offsets + np.minimum(codes, self._last)
        terms[:, 1:][:, ~self._ordered] = self._category_ratio[codes]
        # Summed from 0 gene by gene in the genes' order (an accumulation is sequential, where a
        # sum may pair terms), as a sum per genome would: the same floats.
        return np.add.accumulate(terms, axis=1)[:, -1]


def _code_tables(encoder: Encoder, models: list[Any]) -> tuple[np.ndarray, ...]:
    """The categorical genes' log ratios by code, one table after the other with a zero after
    each (for values unseen at the fit), each table's offset, and its last code."""
    tables: list[float] = []
    offsets, last = [], []
    for gene in encoder.categorical:
        values, ratios = models[gene]
        by_code = {encoder.code(gene, value): ratio for value, ratio in zip(values, ratios)}
        offsets.append(len(tables))
        last.append(len(encoder.codes[gene]))
        tables += [by_code.get(code, 0.0) for code in range(last[-1] + 1)]
    return np.array(tables, dtype=float), np.array(offsets, dtype=int), np.array(last, dtype=int)


@functools.lru_cache(maxsize=64)
def _kernel_matrix(bandwidth: float) -> np.ndarray:
    """Weights of a Gaussian kernel between bin centres, reflected at both borders."""
    centres = (np.arange(BINS) + 0.5) / BINS
    kernel = sum(
        np.exp(-0.5 * ((centres[:, None] - image[None, :]) / bandwidth) ** 2)
        for image in (centres, -centres, 2.0 - centres)
    )
    return kernel / (bandwidth * math.sqrt(2 * math.pi) * BINS)


def _kernel_densities(
    points: np.ndarray, active: np.ndarray, n_active: np.ndarray, prior: float
) -> np.ndarray:
    """Per column of `points` (one ordered gene each, active where `active`, `n_active` times),
    a Gaussian kernel density of its active values in [0, 1] on `BINS` bin centres, mixed with
    a uniform prior of weight `prior` (as TPE does). Returns one row of `BINS` densities per gene.

    All genes are counted per bin in one pass and scaled together, so the cost is a few array
    operations plus a fixed matrix-vector product per gene, whatever the number of points (one
    product for all genes would round differently, and change the trials).
    """
    n_genes = points.shape[1]
    values = np.where(active, points, 0.0)
    bins = np.minimum((values * BINS).astype(int), BINS - 1)
    flat = (bins + BINS * np.arange(n_genes))[active]
    counts = np.bincount(flat, minlength=n_genes * BINS).reshape(n_genes, BINS).astype(float)
    fitted = np.flatnonzero(n_active)
    smoothed = np.empty((len(fitted), BINS))
    bandwidths = _bandwidths(values, points, active, n_active)
    for row, (gene, bandwidth) in enumerate(zip(fitted.tolist(), bandwidths)):
        smoothed[row] = _kernel_matrix(bandwidth).dot(counts[gene])  # as `@`, called faster
    scaled = (smoothed * BINS + prior) / (n_active[fitted, None] + prior)
    if len(fitted) == n_genes:
        return scaled
    densities = np.ones((n_genes, BINS))  # the uniform prior alone where no value is active
    densities[fitted] = scaled
    return densities


def _bandwidths(
    values: np.ndarray, points: np.ndarray, active: np.ndarray, n_active: np.ndarray
) -> list[float]:
    """Scott's rule for each gene with an active value, kept in [MIN_BANDWIDTH, MAX_BANDWIDTH],
    all genes at once (`values`: `points` with 0 where inactive)."""
    count = np.maximum(n_active, 1)
    mean = values.sum(axis=0) / count
    deviation = np.where(active, points - mean, 0.0)
    std = np.sqrt((deviation * deviation).sum(axis=0) / count)
    # np.clip, faster:
    scott = np.minimum(np.maximum(1.06 * std * count**-0.2, MIN_BANDWIDTH), MAX_BANDWIDTH)
    # Rounded to a grid of 0.01 so that the kernel matrices are computed once and cached.
    scott, n_active = scott.tolist(), n_active.tolist()
    return [round(value, 2) if n >= 2 else MAX_BANDWIDTH for value, n in zip(scott, n_active) if n]


def _log_densities(points: np.ndarray, prior: float) -> tuple[np.ndarray, list[int]]:
    """The log `_kernel_densities` of a group's coordinates (NaN where inactive), and in how
    many of its configurations each gene is inactive."""
    active = ~np.isnan(points)
    n_active = active.sum(axis=0)
    densities = _kernel_densities(points, active, n_active, prior)
    return np.log(densities), (len(points) - n_active).tolist()


@functools.lru_cache(maxsize=16)
def _cached_log_densities(data: bytes, shape: tuple, prior: float) -> tuple:
    """`_log_densities` of the coordinates whose bytes are `data` (read-only: shared)."""
    log_densities, inactive = _log_densities(np.frombuffer(data).reshape(shape).copy(), prior)
    log_densities.flags.writeable = False
    return log_densities, inactive


@functools.lru_cache(maxsize=1024)
def _activity(good_off: int, n_good: int, other_off: int, n_other: int, prior: float) -> dict:
    """An ordered gene's log ratio of being inactive (key True) or not: the same smoothed
    frequencies as a categorical gene's. Cached (most genes share their counts): shared."""
    inactive, active = _ratio_table(
        [good_off, n_good - good_off], n_good, [other_off, n_other - other_off], n_other, prior
    )
    return {True: inactive, False: active}


def _fit_ordered_genes(
    encoder: Encoder, good: np.ndarray, other: np.ndarray, prior: float
) -> dict[str, _OrderedGene]:
    """The `_OrderedGene` of each ordered gene, from the two groups' coordinates (rows in C order,
    as fits always read them: sums over configurations add, and round, in that order)."""
    # The good group (a tenth of the results) changes only when a result enters it: cached.
    good_log, good_off = _cached_log_densities(good.tobytes(), good.shape, prior)
    other_log, other_off = _log_densities(other, prior)
    log_ratio = good_log - other_log
    return {
        name: _OrderedGene(
            log_ratio[gene],
            _activity(good_off[gene], len(good), other_off[gene], len(other), prior),
        )
        for gene, name in enumerate(encoder.ordered_names)
    }


def _fit_categorical_genes(
    encoder: Encoder, codes: np.ndarray, good: np.ndarray, prior: float
) -> dict[str, _CategoricalGene]:
    """The `_CategoricalGene` of each categorical gene, from the configurations' codes and
    which of them are good: the codes of all genes counted in one pass."""
    genes = encoder.categorical
    starts = [0, *itertools.accumulate(len(encoder.codes[gene]) for gene in genes)]
    codes = codes + np.array(starts[:-1], dtype=int)  # each gene's codes in a range of their own
    good_counts = np.bincount(codes[good].ravel(), minlength=starts[-1])
    other_counts = (np.bincount(codes.ravel(), minlength=starts[-1]) - good_counts).tolist()
    good_counts, n_good, n_other = good_counts.tolist(), len(good), len(codes) - len(good)
    return {
        encoder.names[gene]: _CategoricalGene(
            list(encoder.codes[gene]),  # the values in the order of their codes
            _ratio_table(good_counts[start:end], n_good, other_counts[start:end], n_other, prior),
        )
        for gene, start, end in zip(genes, starts, starts[1:])
    }


def _best_first(scores: Sequence[float], direction: str) -> np.ndarray:
    """Indices of the scores from the best, ties in their order: as sorting by
    `selection.ranks`, which also ranks NaN above all (then used), without ranking."""
    values = np.asarray(scores, dtype=float)
    if np.isnan(values).any():
        return np.argsort(-selection_lib.ranks(scores, direction), kind="stable")
    return np.argsort(values if direction == "min" else -values, kind="stable")


def _fit(
    encoder: Encoder,
    encoded: tuple[np.ndarray, np.ndarray],
    scores: Sequence[float],
    direction: str,
    good_fraction: float,
    prior: float,
) -> DensityRatio:
    """`fit_density_ratio` from the configurations' coordinates and codes (`Encoder`)."""
    coordinates, codes = encoded
    order = _best_first(scores, direction)
    good, other = np.split(order, [good_count(len(order), good_fraction)])
    genes: dict[str, Any] = dict.fromkeys(encoder.names)  # filled below, in the space's order
    genes.update(_fit_ordered_genes(encoder, coordinates[good], coordinates[other], prior))
    genes.update(_fit_categorical_genes(encoder, codes, good, prior))
    return DensityRatio(encoder.space, genes, encoder)


def coordinates(
    by_name: Mapping[str, list[hp_module.HyperParameter]], genome: Mapping[str, Any]
) -> dict[str, Any]:
    """Where the genes' densities are evaluated: the probability-space coordinate of each
    ordered gene and the value of each categorical one (inactive genes are left out)."""
    point = {}
    for name, value in genome.items():
        if name in by_name:
            point[name] = coordinate(space_lib.active_hyperparameter(by_name, name, genome), value)
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
    encoder = Encoder(space)
    encoded = encoder.matrices(points, points=True)
    return _fit(encoder, encoded, scores, direction, good_fraction, prior)


class DensityGuidance:
    """Breeds `candidates` children per slot and keeps the one the density ratio prefers.

    Args:
        candidates: Children made (by the evolution's own selection, crossover and mutation)
            for each child trained, >= 1; 1 is the plain evolution.
        good_fraction: Share of the scored configurations that count as good, in (0, 1).
        min_scored: The model is used once this many configurations are scored (>= 3);
            before that the first candidate is kept.
        prior: Weight of the uniform prior mixed into every density, in pseudo-observations,
            > 0: higher keeps the model closer to uniform while it has few results. Also the
            weight of a random draw in the gene pool's children.
        gene_pool_until: While fewer results than this are in (and at least `min_scored`),
            the candidates are children of the whole good group by gene-pool recombination
            (`gene_pool.GenePool`) instead of two breeders' children, >= 0; 0 never. None
            (default): the budget decides, the whole search when `max_trials` is at most
            `SMALL_BUDGET` (50), never otherwise (it wins early and costs later: tuning.md §7).
        gene_pool_bandwidth: Multiplier of the gene pool's steps (each ordered gene's step
            follows the spread of the good group's values), > 0.
    """

    def __init__(
        self,
        candidates: int = 6,
        good_fraction: float = 0.1,
        min_scored: int = 4,
        prior: float = PRIOR,
        gene_pool_until: int | None = None,
        gene_pool_bandwidth: float = 1.0,
    ):
        check_int(candidates, "candidates", minimum=1)
        check_fraction(good_fraction, "good_fraction", 0, 1, open_low=True, open_high=True)
        check_int(min_scored, "min_scored", minimum=3)
        check_number(prior, "prior", minimum=0, strict=True)
        self.candidates = candidates
        self.good_fraction = good_fraction
        self.min_scored = min_scored
        self.prior = float(prior)
        check_int(gene_pool_until, "gene_pool_until", minimum=0, allow_none=True)
        check_number(gene_pool_bandwidth, "gene_pool_bandwidth", minimum=0, strict=True)
        self.gene_pool_until = None if gene_pool_until is None else int(gene_pool_until)
        self.gene_pool_bandwidth = float(gene_pool_bandwidth)
        self._encoders: dict[tuple[int, int], Encoder] = {}

    def gene_pool_results(self, max_trials: int | None) -> int:
        """How many first results of a search of `max_trials` breed from the gene pool:
        `gene_pool_until`, or when it is None, the whole search if `max_trials` is at most
        `SMALL_BUDGET`, none otherwise (a larger or open-ended budget)."""
        if self.gene_pool_until is not None:
            return self.gene_pool_until
        small = max_trials is not None and max_trials <= SMALL_BUDGET
        return max_trials if small else 0

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
        encoder = self._encoder(space)
        encoded = encoder.encode(genomes)
        return _fit(encoder, encoded, scores, direction, self.good_fraction, self.prior)

    def _encoder(self, space: HyperParameters) -> Encoder:
        """This space's encoder (it keeps its genomes' encodings); a new one if the space grew."""
        key = (id(space), len(space.space))  # the space the encoder holds keeps its id unique
        encoder = self._encoders.get(key)
        if encoder is None:
            if len(self._encoders) >= 8:
                self._encoders.clear()
            encoder = self._encoders[key] = Encoder(space)
        return encoder

    def __repr__(self) -> str:
        return (
            f"DensityGuidance(candidates={self.candidates}, "
            f"good_fraction={self.good_fraction}, min_scored={self.min_scored}, "
            f"prior={self.prior}, gene_pool_until={self.gene_pool_until}, "
            f"gene_pool_bandwidth={self.gene_pool_bandwidth})"
        )


def choose(model: DensityRatio | None, candidates: Sequence[Genome]) -> int:
    """Index of the candidate the model prefers (the first one when there is no model)."""
    if model is None or len(candidates) == 1:
        return 0
    if isinstance(model, DensityRatio):
        return int(np.argmax(model.scores(candidates)))
    return int(np.argmax([model.score(candidate) for candidate in candidates]))
