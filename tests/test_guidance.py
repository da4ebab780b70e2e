"""Generation 0's Latin hypercube, the density-ratio guidance and the budget-aware sizes."""

import collections

import keras_tuner as kt
import numpy as np
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution import guidance as guidance_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.config import EvolutionConfig
from keras_tuner_evolution.engine import RUN, Evolution
from tests.helpers import mixed_space, mlp_or_cnn_space

# Latin hypercube ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 5, 8, 13])
def test_each_gene_visits_every_stratum_once(size):
    for name in ["a", "units", "lr"]:
        probs = [space_lib.latin_prob(7, name, slot, size) for slot in range(size)]
        strata = sorted(int(p * size) for p in probs)
        assert strata == list(range(size))


def test_genes_have_their_own_permutations():
    a = [int(space_lib.latin_prob(3, "a", slot, 16) * 16) for slot in range(16)]
    b = [int(space_lib.latin_prob(3, "b", slot, 16) * 16) for slot in range(16)]
    assert a != b


def test_categorical_values_are_balanced_in_generation_zero():
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop", "nadam"])
    hp.Boolean("batchnorm")
    genomes = [space_lib.latin_genome(hp, 11, slot, 8) for slot in range(8)]
    assert collections.Counter(g["optimizer"] for g in genomes) == {
        "adam": 2,
        "sgd": 2,
        "rmsprop": 2,
        "nadam": 2,
    }
    assert collections.Counter(g["batchnorm"] for g in genomes) == {True: 4, False: 4}


def test_latin_genome_ignores_declaration_order():
    first, second = kt.HyperParameters(), kt.HyperParameters()
    first.Int("x", 0, 99)
    first.Float("y", 0.0, 1.0)
    second.Float("y", 0.0, 1.0)
    second.Int("x", 0, 99)
    for slot in range(6):
        assert space_lib.latin_genome(first, 5, slot, 6) == space_lib.latin_genome(
            second, 5, slot, 6
        )


def test_latin_genome_follows_conditional_scopes():
    space = mlp_or_cnn_space()
    for slot in range(10):
        genome = space_lib.latin_genome(space, 2, slot, 10)
        assert genome == space_lib.repair(space, genome)
        assert ("layers" in genome) == (genome["model"] == "mlp")


def test_oracle_generation_zero_is_a_latin_hypercube():
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop", "nadam"])
    hp.Float("x", 0.0, 1.0)
    engine = Evolution(EvolutionConfig(population_size=8), _shape(8, 20), "max", 0, hp)
    genomes = [engine.ask(str(i)).values for i in range(8)]
    assert sorted(int(g["x"] * 8) for g in genomes) == list(range(8))
    assert set(collections.Counter(g["optimizer"] for g in genomes).values()) == {2}


def test_random_initial_sampling_is_the_0_1_0_draw():
    hp = mixed_space()
    config = EvolutionConfig(population_size=6, initial_sampling="random", guidance=None)
    engine = Evolution(config, _shape(6, 20, config), "max", 3, hp)
    rng = np.random.default_rng(3)
    for i in range(6):
        assert engine.ask(str(i)).values == space_lib.random_genome(hp, rng)


# The density-ratio model ----------------------------------------------------------------------


def _fit(space, genomes, scores):
    by_name = space_lib.hyperparameters_by_name(space)
    points = [guidance_lib.coordinates(by_name, g) for g in genomes]
    return guidance_lib.fit_density_ratio(space, points, scores, "max", good_fraction=0.2)


def test_model_prefers_where_good_configurations_are_dense():
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Choice("c", ["a", "b", "c"])
    rng = np.random.default_rng(0)
    genomes = [{"x": float(x), "c": str(rng.choice(["a", "b", "c"]))} for x in rng.random(40)]
    # Good: x near 0.8 and c == "b".
    scores = [-abs(g["x"] - 0.8) + 0.5 * (g["c"] == "b") for g in genomes]
    model = _fit(hp, genomes, scores)
    assert model.score({"x": 0.8, "c": "b"}) > model.score({"x": 0.2, "c": "b"})
    assert model.score({"x": 0.8, "c": "b"}) > model.score({"x": 0.8, "c": "a"})


def test_model_direction_min_prefers_low_scores():
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    genomes = [{"x": x} for x in np.linspace(0.0, 0.99, 30)]
    by_name = space_lib.hyperparameters_by_name(hp)
    points = [guidance_lib.coordinates(by_name, g) for g in genomes]
    model = guidance_lib.fit_density_ratio(hp, points, [g["x"] for g in genomes], "min")
    assert model.score({"x": 0.05}) > model.score({"x": 0.95})


def test_model_learns_from_which_branch_is_active():
    space = mlp_or_cnn_space()
    rng = np.random.default_rng(1)
    genomes = [space_lib.random_genome(space, rng) for _ in range(40)]
    scores = [1.0 if g["model"] == "cnn" else 0.0 for g in genomes]
    model = _fit(space, genomes, scores)
    cnn = {"model": "cnn", "dropout": 0.2, "lr": 0.01}
    mlp = {"model": "mlp", "layers": 2, "lr": 0.01}
    assert model.score(cnn) > model.score(mlp)


def test_log_sampling_is_modelled_in_probability_space():
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-5, 1e-1, sampling="log")
    genomes = [{"lr": float(v)} for v in np.logspace(-5, -1.01, 30)]
    scores = [-abs(np.log10(g["lr"]) + 3) for g in genomes]  # best at 1e-3
    model = _fit(hp, genomes, scores)
    assert model.score({"lr": 1e-3}) > model.score({"lr": 5e-2})
    assert model.score({"lr": 1e-3}) > model.score({"lr": 2e-5})


def test_good_group_keeps_two_and_leaves_one():
    assert guidance_lib.good_count(4, 0.1) == 2
    assert guidance_lib.good_count(3, 0.9) == 2
    assert guidance_lib.good_count(100, 0.1) == 10


def test_choose_without_a_model_keeps_the_first_candidate():
    assert guidance_lib.choose(None, [{"x": 1}, {"x": 2}]) == 0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"candidates": 0}, "candidates"),
        ({"candidates": 2.5}, "candidates"),
        ({"good_fraction": 1.0}, "good_fraction"),
        ({"good_fraction": 0}, "good_fraction"),
        ({"good_fraction": "0.1"}, "good_fraction"),
        ({"good_fraction": float("nan")}, "good_fraction"),
        ({"min_scored": 3.0}, "min_scored"),
        ({"min_scored": 2}, "min_scored"),
        ({"prior": 0}, "prior"),
        ({"prior": True}, "prior"),
        ({"prior": float("inf")}, "prior"),
    ],
)
def test_density_guidance_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`") as error:
        kte.DensityGuidance(**kwargs)
    assert repr(next(iter(kwargs.values()))) in str(error.value)  # says what it got


# The engine with guidance ---------------------------------------------------------------------


class PreferLargeX:
    """A guidance whose model prefers large `x`; it records what it was asked to score."""

    def __init__(self, candidates=5):
        self.candidates = candidates
        self.fits = 0
        self.scored: list[list[dict]] = []

    def fit(self, space, genomes, scores, direction):
        self.fits += 1
        return self

    def score(self, genome):
        return genome["x"]


def _shape(population, max_trials, config=None):
    return (config or EvolutionConfig(population_size=population)).shape(max_trials)


def test_engine_trains_the_candidate_the_model_prefers():
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Float("y", 0.0, 1.0)
    guide = PreferLargeX(candidates=6)
    plain = _run_engine(hp, None)
    guided = _run_engine(hp, guide)
    # The objective ignores x: only the model's preference pushes it up.
    assert np.mean([g["x"] for g in guided[8:]]) > np.mean([g["x"] for g in plain[8:]]) + 0.2
    assert len({space_lib.genome_hash(g) for g in guided}) == len(guided)


def _run_engine(hp, guide, trials=40):
    config = EvolutionConfig(population_size=8, guidance=guide)
    engine = Evolution(config, config.shape(trials), "max", 0, hp)
    proposed = []
    for i in range(trials):
        decision = engine.ask(str(i))
        assert decision.action == RUN
        proposed.append(decision.values)
        engine.tell(str(i), -abs(decision.values["y"] - 0.5))
    return proposed


def test_model_refits_on_a_schedule_that_keeps_the_cost_flat():
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Float("y", 0.0, 1.0)
    guide = PreferLargeX(candidates=2)
    config = EvolutionConfig(population_size=10, guidance=guide)
    engine = Evolution(config, config.shape(600), "max", 0, hp)
    fits_at = {}
    for i in range(600):
        engine.ask(str(i))
        engine.tell(str(i), float(i % 7))
        fits_at[i] = guide.fits
    # Until 100 results: a refit per result; from 500 on: one per 5 new results at most.
    assert fits_at[99] - fits_at[50] >= 45
    assert fits_at[599] - fits_at[499] <= 25


def test_guided_search_is_deterministic_and_resumes_exactly():
    hp = mixed_space()
    config = EvolutionConfig()

    def run(split):
        engine = Evolution(config, config.shape(40), "max", 4, hp)
        values = []
        for i in range(40):
            if i == split:
                state = engine.to_dict()
                scores = dict(engine.results)
                engine = Evolution(config, config.shape(40), "max", 4, hp)
                engine.load_dict(state)
                engine.remember({tid: values[int(tid)] for tid in map(str, range(i))}, scores)
            decision = engine.ask(str(i))
            values.append(decision.values)
            engine.tell(str(i), float(len(str(decision.values))))
        return values

    assert run(split=None) == run(split=17)


# Budget-aware sizes ---------------------------------------------------------------------------


def test_small_budgets_start_with_a_larger_generation_zero():
    shape = EvolutionConfig().shape(25)
    assert (shape.population_size, shape.initial_size) == (4, 8)
    assert EvolutionConfig().shape(500).initial_size == 20


def test_a_given_population_size_sizes_generation_zero_too():
    assert EvolutionConfig(population_size=6).shape(25).initial_size == 6
    shape = EvolutionConfig(population_size=6, initial_population_size=10).shape(None)
    assert shape.initial_size == 10


def test_generations_count_the_larger_generation_zero():
    config = EvolutionConfig(population_size=4, initial_population_size=10, generations=3)
    shape = config.shape(None)
    assert shape.max_trials == 10 + 2 * (4 - shape.elites)


def test_generation_zero_has_the_initial_size_in_a_search():
    hp = mixed_space()
    config = EvolutionConfig()
    engine = Evolution(config, config.shape(25), "max", 0, hp)
    for i in range(12):
        engine.ask(str(i))
        engine.tell(str(i), float(i))
    assert len(engine.plans[0]["members"]) == 8
    assert engine.plans[1]["n_children"] + len(engine.plans[1]["elites"]) == 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"initial_sampling": "sobol"}, "initial_sampling"),
        ({"initial_population_size": 1}, "initial_population_size"),
        ({"guidance": "tpe"}, "guidance"),
        ({"guidance": 3}, "guidance"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        EvolutionConfig(**kwargs)


def test_oracle_takes_the_new_arguments():
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"),
        max_trials=10,
        initial_sampling="random",
        initial_population_size=5,
        guidance=kte.DensityGuidance(candidates=2),
    )
    assert oracle.initial_sampling == "random"
    assert oracle.guidance.candidates == 2


def test_a_heavier_prior_keeps_the_model_closer_to_uniform():
    space = kt.HyperParameters()
    space.Float("x", 0.0, 1.0)
    genomes = [{"x": x} for x in (0.05, 0.1, 0.9, 0.95, 0.5, 0.6)]
    scores = [1.0, 0.9, 0.1, 0.0, 0.3, 0.2]
    gaps = []
    for prior in (1.0, 10.0):
        model = kte.DensityGuidance(prior=prior).fit(space, genomes, scores, "max")
        gaps.append(model.score({"x": 0.07}) - model.score({"x": 0.92}))
    assert gaps[0] > gaps[1] > 0  # both prefer the good end, the heavier prior less so
