"""Gene-pool recombination and the guided breeding that uses it for the first results."""

import keras_tuner as kt
import numpy as np
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution import gene_pool as gene_pool_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.config import EvolutionConfig
from keras_tuner_evolution.engine import Evolution
from keras_tuner_evolution.gene_pool import GenePool
from tests.helpers import mixed_score, mixed_space, mlp_or_cnn_space


def _parents(space, count, seed=0):
    rng = np.random.default_rng(seed)
    return [space_lib.random_genome(space, rng) for _ in range(count)]


# The operator ---------------------------------------------------------------------------------


def test_children_are_valid_and_reproducible_for_a_seed():
    space = mlp_or_cnn_space()
    pool = GenePool(space, _parents(space, 5))
    first = [pool.child(np.random.default_rng(3))[0] for _ in range(2)]
    assert first[0] == first[1]
    rng = np.random.default_rng(4)
    for _ in range(200):
        child, _, _ = pool.child(rng)
        assert space_lib.repair(space, child) == child  # valid: repair changes nothing


def test_without_prior_categorical_genes_come_from_the_parents():
    space = mixed_space()
    parents = [
        {"optimizer": "adam", "units": 64, "dropout": 0.1, "lr": 1e-3, "batchnorm": True},
        {"optimizer": "nadam", "units": 64, "dropout": 0.1, "lr": 1e-3, "batchnorm": True},
    ]
    pool = GenePool(space, parents, prior=0.0)
    rng = np.random.default_rng(0)
    optimizers = {pool.child(rng)[0]["optimizer"] for _ in range(100)}
    assert optimizers == {"adam", "nadam"}  # both parents give genes, nothing else appears


def test_a_heavy_prior_redraws_genes_at_random():
    space = mixed_space()
    parent = {"optimizer": "adam", "units": 64, "dropout": 0.1, "lr": 1e-3, "batchnorm": True}
    rng = np.random.default_rng(0)
    light = GenePool(space, [parent], prior=0.0)
    heavy = GenePool(space, [parent], prior=100.0)
    assert all(light.child(rng)[0]["optimizer"] == "adam" for _ in range(50))
    assert sum(heavy.child(rng)[0]["optimizer"] != "adam" for _ in range(50)) > 20


def test_steps_shrink_as_the_parents_agree():
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    rng = np.random.default_rng(0)

    def spread(xs):
        pool = GenePool(space, [{"x": x} for x in xs], prior=0.0)
        children = [pool.child(rng)[0]["x"] for _ in range(400)]
        return np.std(children)

    agreeing = spread([0.5, 0.5, 0.5, 0.5])
    scattered = spread([0.1, 0.4, 0.6, 0.9])
    assert agreeing < 0.06 < scattered
    assert gene_pool_lib.step_width([0.5]) == gene_pool_lib.MAX_WIDTH
    assert gene_pool_lib.step_width([0.5, 0.5]) == gene_pool_lib.MIN_WIDTH


def test_bandwidth_scales_the_steps():
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    parents = [{"x": 0.3}, {"x": 0.7}]

    def spread(bandwidth):
        pool = GenePool(space, parents, bandwidth=bandwidth, prior=0.0)
        rng = np.random.default_rng(1)
        return np.std([pool.child(rng)[0]["x"] - 0.5 for _ in range(300)])

    assert spread(0.2) < spread(1.0)


def test_the_child_reports_its_parents_and_its_moved_genes():
    space = mixed_space()
    parents = _parents(space, 4, seed=2)
    pool = GenePool(space, parents, prior=1.0)
    child, used, moved = pool.child(np.random.default_rng(5))
    assert used and all(0 <= i < len(parents) for i in used)
    for name, value in child.items():
        if name not in moved:
            assert any(parents[i].get(name) == value for i in used)


def test_steps_are_reflected_into_the_unit_interval():
    assert space_lib.reflect_prob(-0.2) == pytest.approx(0.2)
    assert space_lib.reflect_prob(1.3) == pytest.approx(0.7)
    assert space_lib.reflect_prob(0.4) == 0.4


@pytest.mark.parametrize(
    "kwargs, name",
    [({"bandwidth": 0}, "bandwidth"), ({"bandwidth": -1}, "bandwidth"), ({"prior": -1}, "prior")],
)
def test_gene_pool_rejects_bad_arguments(kwargs, name):
    space = mixed_space()
    with pytest.raises(ValueError, match=f"`{name}`"):
        GenePool(space, _parents(space, 2), **kwargs)
    with pytest.raises(ValueError, match="`parents`"):
        GenePool(space, [])


# Guided breeding with the gene pool -----------------------------------------------------------


def _lineage(guidance, trials=60, space=None, score=mixed_score):
    space = space or mixed_space()
    config = EvolutionConfig(population_size=8, guidance=guidance)
    engine = Evolution(config, config.shape(trials), "max", 0, space)
    for i in range(trials):
        decision = engine.ask(str(i))
        engine.tell(str(i), score(decision.values))
    return engine


def test_first_results_breed_children_of_the_good_group():
    engine = _lineage(kte.DensityGuidance(gene_pool_until=40))
    before = [engine.lineage[str(i)] for i in range(8, 40)]
    after = [engine.lineage[str(i)] for i in range(45, 60)]
    # Several parents before `gene_pool_until` results, two at most after.
    assert max(len(record["parents"]) for record in before) > 2
    assert max(len(record["parents"]) for record in after) <= 2
    assert {record["origin"] for record in before + after} == {"child"}
    for record in before:  # parents of earlier generations, as two breeders would be
        assert all(
            engine.lineage[p]["generation"] < record["generation"] for p in record["parents"]
        )


def test_gene_pool_until_zero_breeds_from_two_parents_only():
    engine = _lineage(kte.DensityGuidance(gene_pool_until=0))
    assert max(len(record["parents"]) for record in engine.lineage.values()) <= 2


def test_guidance_without_the_attribute_breeds_as_before():
    class Custom:  # a user's guidance object: `candidates`, `fit` and a model with `score`
        candidates = 3

        def fit(self, space, genomes, scores, direction):
            return self

        def score(self, genome):
            return genome["units"]

    engine = _lineage(Custom(), trials=30)
    assert max(len(record["parents"]) for record in engine.lineage.values()) <= 2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"gene_pool_until": -1}, "gene_pool_until"),
        ({"gene_pool_until": 2.5}, "gene_pool_until"),
        ({"gene_pool_bandwidth": 0}, "gene_pool_bandwidth"),
        ({"gene_pool_bandwidth": float("nan")}, "gene_pool_bandwidth"),
    ],
)
def test_density_guidance_checks_the_gene_pool_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        kte.DensityGuidance(**kwargs)


def _max_parents(max_trials, guidance, trials=40):
    space = mixed_space()
    config = EvolutionConfig(population_size=8, guidance=guidance)
    engine = Evolution(config, config.shape(max_trials), "max", 0, space)
    for i in range(trials):
        engine.tell(str(i), mixed_score(engine.ask(str(i)).values))
    return max(len(record["parents"]) for record in engine.lineage.values())


def test_by_default_the_budget_decides_when_the_gene_pool_breeds():
    # Up to SMALL_BUDGET trials: the gene pool throughout; larger or unknown budgets: never.
    assert kte.DensityGuidance().gene_pool_until is None
    assert _max_parents(40, kte.DensityGuidance()) > 2
    assert _max_parents(200, kte.DensityGuidance()) <= 2
    assert _max_parents(None, kte.DensityGuidance()) <= 2
    assert _max_parents(200, kte.DensityGuidance(gene_pool_until=30)) > 2
    assert _max_parents(40, kte.DensityGuidance(gene_pool_until=0)) <= 2


def test_a_child_with_every_gene_redrawn_is_recorded_as_random():
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    guidance = kte.DensityGuidance(prior=1000.0, gene_pool_until=40)
    engine = _lineage(guidance, trials=30, space=space, score=lambda values: -values["x"])
    later = [engine.lineage[str(i)] for i in range(8, 30)]
    redrawn = [record for record in later if not record["parents"]]
    assert redrawn and all(record["origin"] == "random" for record in redrawn)
    assert all(record["origin"] == "child" for record in later if record["parents"])


def test_a_name_declared_under_two_scopes_stays_valid():
    space = kt.HyperParameters()
    space.Choice("model", ["mlp", "cnn"])
    with space.conditional_scope("model", ["mlp"]):
        space.Int("width", 8, 64)
    with space.conditional_scope("model", ["cnn"]):
        space.Choice("width", [3, 5, 7])
    space.Float("lr", 1e-4, 1e-1, sampling="log")
    parents = [
        {"model": "mlp", "width": 60, "lr": 1e-2},
        {"model": "cnn", "width": 7, "lr": 1e-3},
        {"model": "mlp", "width": 10, "lr": 1e-4},
    ]
    pool = GenePool(space, parents, prior=0.0)
    rng = np.random.default_rng(0)
    widths = {"mlp": set(), "cnn": set()}
    for _ in range(300):
        child, _, _ = pool.child(rng)
        assert space_lib.repair(space, child) == child
        widths[child["model"]].add(child["width"])
    assert widths["cnn"] <= {3, 5, 7} and all(8 <= w <= 64 for w in widths["mlp"])
    assert len(widths["mlp"]) > 3  # the Int width moves by its own steps


def test_gene_pool_results_follow_the_budget_unless_given():
    assert kte.DensityGuidance().gene_pool_results(50) == 50
    assert kte.DensityGuidance().gene_pool_results(51) == 0
    assert kte.DensityGuidance().gene_pool_results(None) == 0
    assert kte.DensityGuidance(gene_pool_until=30).gene_pool_results(200) == 30
    assert kte.DensityGuidance(gene_pool_until=0).gene_pool_results(20) == 0
