"""The density model's encoded fit and vectorised scoring give the numbers of the model computed
configuration by configuration, bit for bit: the guided trials (and the benchmark tables made
with them) depend on every one of them, ties of the arg-max included.

The `reference_*` functions are the per-configuration formulas the vectorised code replaced.
"""

import collections
import math

import keras_tuner as kt
import numpy as np
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution import encoding
from keras_tuner_evolution import guidance as guidance_lib
from keras_tuner_evolution import selection as selection_lib
from keras_tuner_evolution import space as space_lib

BINS = guidance_lib.BINS


def scoped_space() -> kt.HyperParameters:
    """Conditional scopes, a name declared under two scopes, every kind of gene, a Fixed one."""
    hp = kt.HyperParameters()
    hp.Choice("model", ["mlp", "cnn", "rnn"])
    hp.Boolean("batchnorm")
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("layers", 1, 4)
        hp.Int("units", 8, 512, sampling="log")
    with hp.conditional_scope("model", ["cnn"]):
        hp.Float("dropout", 0.0, 0.5)
        hp.Int("units", 4, 64, step=4)
        hp.Choice("pooling", ["max", "avg"])
    with hp.conditional_scope("model", ["rnn"]):
        hp.Choice("width", [16, 32, 64], ordered=False)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Float("decay", 1e-6, 1e-2, sampling="reverse_log")
    hp.Choice("batch_size", [16, 32, 64, 128])
    hp.Fixed("epochs", 3)
    return hp


def random_genomes(space, count, seed):
    rng = np.random.default_rng(seed)
    return [space_lib.random_genome(space, rng) for _ in range(count)]


def reference_score(model, space, genome) -> float:
    """The model's score of one genome: a sum from 0 over the genes, in their order."""
    point = guidance_lib.coordinates(space_lib.hyperparameters_by_name(space), genome)
    total = 0
    for name, gene in model._genes.items():
        if isinstance(gene, guidance_lib._OrderedGene):
            prob = point.get(name)
            active = gene.activity.get(prob is None, 0.0)
            if prob is not None:
                active += float(gene.log_ratio[min(int(prob * BINS), BINS - 1)])
            total += active
        else:
            value = point.get(name, encoding.INACTIVE)
            total += dict(zip(gene.values, gene.table)).get(value, 0.0)
    return total


def reference_log_ratio(good, other, prior):
    """Log frequency ratio of each value seen, from `Counter`s of the values themselves."""
    good_counts, other_counts = collections.Counter(good), collections.Counter(other)
    keys = set(good_counts) | set(other_counts)
    good_total = len(good) + prior * (len(keys) + 1)
    other_total = len(other) + prior * (len(keys) + 1)
    return {
        key: math.log((good_counts.get(key, 0) + prior) / good_total)
        - math.log((other_counts.get(key, 0) + prior) / other_total)
        for key in keys
    }


def reference_kernel_densities(points, active, prior):
    """A gene at a time, on integer counts, with `np.clip`."""
    n_genes = points.shape[1]
    n_active = active.sum(axis=0)
    bins = np.minimum((np.where(active, points, 0.0) * BINS).astype(int), BINS - 1)
    flat = (bins + BINS * np.arange(n_genes))[active]
    counts = np.bincount(flat, minlength=n_genes * BINS).reshape(n_genes, BINS)
    count = np.maximum(n_active, 1)
    mean = np.where(active, points, 0.0).sum(axis=0) / count
    deviation = np.where(active, points - mean, 0.0)
    std = np.sqrt((deviation * deviation).sum(axis=0) / count)
    scott = np.clip(1.06 * std * count**-0.2, 0.05, 0.3)
    densities = np.ones((n_genes, BINS))
    for gene in np.flatnonzero(n_active):
        bandwidth = round(float(scott[gene]), 2) if n_active[gene] >= 2 else 0.3
        density = guidance_lib._kernel_matrix(bandwidth) @ counts[gene] * BINS
        densities[gene] = (density + prior) / (n_active[gene] + prior)
    return densities


def bits(values) -> list[str]:
    return [float(value).hex() for value in values]


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_scores_are_the_per_genome_sums(seed):
    space = scoped_space()
    genomes = random_genomes(space, 60, seed)
    rng = np.random.default_rng(100 + seed)
    model = kte.DensityGuidance().fit(space, genomes, rng.random(60).tolist(), "max")
    candidates = random_genomes(space, 40, 200 + seed) + genomes[:5]
    expected = [reference_score(model, space, genome) for genome in candidates]
    assert bits(model.scores(candidates)) == bits(expected)
    assert bits(model.score(genome) for genome in candidates) == bits(expected)


def test_a_value_unseen_at_the_fit_scores_zero_for_its_gene():
    space = scoped_space()
    genomes = [g for g in random_genomes(space, 200, 5) if g["model"] != "rnn"][:40]
    model = guidance_lib.DensityGuidance().fit(space, genomes, list(range(40)), "min")
    rnn = [g for g in random_genomes(space, 100, 6) if g["model"] == "rnn"]
    expected = [reference_score(model, space, genome) for genome in rnn]
    assert bits(model.scores(rnn)) == bits(expected)


@pytest.mark.parametrize("direction", ["max", "min"])
def test_the_cached_encodings_fit_the_model_of_the_coordinates(direction):
    """Fit after fit as the engine does (each genome encoded once, the good group's densities
    cached), the model is the one `fit_density_ratio` fits from `coordinates`."""
    space = scoped_space()
    by_name = space_lib.hyperparameters_by_name(space)
    genomes = random_genomes(space, 80, 7)
    scores = np.round(np.random.default_rng(8).random(80), 1).tolist()  # with ties
    guidance = kte.DensityGuidance(good_fraction=0.2)
    candidates = random_genomes(space, 20, 9)
    for n in range(4, 80, 3):
        model = guidance.fit(space, genomes[:n], scores[:n], direction)
        points = [guidance_lib.coordinates(by_name, genome) for genome in genomes[:n]]
        fitted = guidance_lib.fit_density_ratio(space, points, scores[:n], direction, 0.2)
        assert bits(model.scores(candidates)) == bits(fitted.scores(candidates))


def test_encoded_genomes_are_the_encoded_coordinates():
    space = scoped_space()
    encoder = encoding.Encoder(space)
    genomes = random_genomes(space, 50, 10) + [{"model": "cnn", "units": 8, "extra": 1}]
    points = [guidance_lib.coordinates(encoder.by_name, genome) for genome in genomes]
    from_genomes = encoder.encode(genomes)
    for left, right in zip(from_genomes, encoder.matrices(points, points=True)):
        np.testing.assert_array_equal(left, right)
    again = encoder.encode(genomes[::-1])  # kept, not encoded again: the same codes
    np.testing.assert_array_equal(again[0], from_genomes[0][::-1])
    np.testing.assert_array_equal(again[1], from_genomes[1][::-1])


def test_a_fit_encodes_only_the_genomes_it_has_not_seen(monkeypatch):
    """The engine refits after every result with all results so far: only the new ones are
    encoded (a pass over every genome made each fit cost more as the search went on), and
    the rows are those of one encoding of all of them, new genomes in the middle included."""
    space = scoped_space()
    genomes = random_genomes(space, 60, 12)
    encoder = encoding.Encoder(space)
    encoder.encode(genomes[:40])
    encoded = []
    original = encoding.Encoder._position
    monkeypatch.setattr(
        encoding.Encoder,
        "_position",
        lambda self, genome: encoded.append(id(genome)) or original(self, genome),
    )
    mixed = genomes[:20] + genomes[40:50] + genomes[20:40] + genomes[50:] + genomes[45:47]
    rows = encoder.encode(mixed)
    assert set(encoded) == {id(genome) for genome in genomes[40:]}
    assert len(encoder._kept) == 60  # each genome encoded once
    for left, right in zip(rows, encoding.Encoder(space).matrices(mixed)):
        np.testing.assert_array_equal(left, right)


def test_counted_codes_give_the_log_ratios_of_the_values():
    rng = np.random.default_rng(11)
    for prior in (0.5, 1.0, 3.0):
        good = rng.integers(0, 5, 7).tolist()
        other = rng.integers(1, 6, 30).tolist()
        counts = [[group.count(value) for value in range(7)] for group in (good, other)]
        table = guidance_lib._ratio_table(counts[0], len(good), counts[1], len(other), prior)
        expected = reference_log_ratio(good, other, prior)
        assert bits(table) == bits(expected.get(value, 0.0) for value in range(7))


def test_kernel_densities_round_as_a_gene_at_a_time():
    rng = np.random.default_rng(12)
    for n in (2, 3, 17, 150):
        points = rng.random((n, 6))
        points[rng.random((n, 6)) < 0.3] = np.nan
        points[:, 5] = np.nan  # a gene never active
        active = ~np.isnan(points)
        densities = guidance_lib._kernel_densities(points, active, active.sum(axis=0), 1.0)
        expected = reference_kernel_densities(points, active, 1.0)
        assert bits(densities.ravel()) == bits(expected.ravel())


def test_best_first_is_the_order_of_the_ranks():
    rng = np.random.default_rng(13)
    for _ in range(50):
        scores = np.round(rng.normal(size=30), 1)
        scores[rng.random(30) < 0.1] = np.nan
        for direction in ("max", "min"):
            expected = np.argsort(-selection_lib.ranks(scores, direction), kind="stable")
            order = guidance_lib._best_first(scores.tolist(), direction)
            np.testing.assert_array_equal(order, expected)
