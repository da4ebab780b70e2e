import json
import logging
import math
import os

import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine.trial import TrialStatus

import keras_tuner_evolution as kte
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.functions import FunctionTuner
from keras_tuner_evolution.oracle import EvolutionaryOracle
from tests.helpers import CountingFunction, genomes_in_order, mixed_score, mixed_space, run_search


def test_generations_carry_elites_without_retraining(tmp_path, count_duplicates):
    function = CountingFunction(mixed_score)
    oracle = run_search(
        function, tmp_path, mixed_space(), max_trials=40, population_size=10, elites=2, seed=1
    )
    history = oracle.history
    assert len(function.calls) == len(oracle.trials) == 40
    assert count_duplicates(oracle) == 0
    gen0, gen1 = history.generations[0], history.generations[1]
    assert gen0.elites == [] and len(gen0.members) == 10
    # Generation 1 starts with the two best of generation 0, with their scores, not retrained.
    best_two = sorted(zip(gen0.scores, gen0.members), reverse=True)[:2]
    assert gen1.elites == [tid for _, tid in best_two]
    assert gen1.members[:2] == gen1.elites
    assert gen1.scores[:2] == [score for score, _ in best_two]
    children = [tid for g in history.generations for tid in g.members if tid not in g.elites]
    assert len(children) == len(set(children)) == 40
    # 10 random, then 8 children + 2 elites per generation; the budget ends generation 4 early.
    assert [len(g.members) for g in history.generations] == [10, 10, 10, 10, 8]


def test_best_is_never_lost_between_generations(tmp_path):
    oracle = run_search(
        mixed_score, tmp_path, mixed_space(), max_trials=60, seed=3, population_size=10
    )
    best = oracle.history.best
    assert all(b2 >= b1 for b1, b2 in zip(best, best[1:]))


def test_children_come_from_parents_and_mutations(tmp_path):
    oracle = run_search(
        mixed_score,
        tmp_path,
        mixed_space(),
        max_trials=30,
        seed=2,
        population_size=10,
        mutation_rate=0.0,
    )
    genomes = oracle.history.genomes
    children = [tid for tid, r in oracle.history.lineage.items() if r["origin"] == "child"]
    assert children
    for tid in children:
        record = oracle.history.lineage[tid]
        assert record["generation"] >= 1 and len(record["parents"]) >= 1  # more: a gene pool's
        for name, value in genomes[tid].items():
            if name not in record["mutated"]:
                assert value in [genomes[p].get(name) for p in record["parents"]], name


@pytest.mark.parametrize("direction", ["max", "min"])
def test_breeders_favour_fitter_members_in_both_directions(tmp_path, direction):
    # Negative scores, including zero: fitness-proportional roulette would break here.
    def score(hp):
        return -abs(hp["x"] - 50) if direction == "max" else abs(hp["x"] - 50) - 25

    space = kt.HyperParameters()
    space.Int("x", 0, 100)
    oracle = run_search(
        score,
        tmp_path,
        space,
        objective=direction,
        max_trials=200,
        population_size=20,
        seed=4,
        selection_pressure=3.0,
    )
    better = 0
    for previous, generation in zip(oracle.generation_plans, oracle.generation_plans[1:]):
        pool = {
            tid: score
            for tid in previous["members"]
            if (score := oracle.trial_score(tid)) is not None
        }
        breeders = [pool[tid] for tid in generation["breeders"]]
        sign = 1 if direction == "max" else -1
        better += sign * np.mean(breeders) > sign * np.mean(list(pool.values()))
    assert better >= 0.8 * (len(oracle.generation_plans) - 1)
    assert oracle.history.fittest["genome"]["x"] in range(45, 56)


def test_two_booleans_stop_after_exactly_four_trials(tmp_path, caplog, count_duplicates):
    space = kt.HyperParameters()
    space.Boolean("a")
    space.Boolean("b")
    function = CountingFunction(lambda hp: hp["a"] + 2 * hp["b"])
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = run_search(function, tmp_path, space, max_trials=15, seed=1)
    assert len(oracle.trials) == 4 and len(function.calls) == 4
    assert count_duplicates(oracle) == 0
    assert oracle.history.stop_reason == "exhausted"
    assert "exhausted" in caplog.text
    assert oracle.history.fittest["genome"] == {"a": True, "b": True}


def test_a_space_of_one_configuration(tmp_path):
    space = kt.HyperParameters()
    space.Fixed("only", 3)
    oracle = run_search(lambda hp: hp["only"], tmp_path, space, max_trials=5, seed=1)
    assert len(oracle.trials) == 1
    assert oracle.history.fittest["fitness"] == 3


def test_conditional_space_is_exhausted_exactly(tmp_path, count_duplicates):
    space = kt.HyperParameters()
    space.Choice("model", ["linear", "mlp"])
    with space.conditional_scope("model", ["mlp"]):
        space.Int("layers", 1, 3)
    oracle = run_search(lambda hp: hp["layers"] or 0, tmp_path, space, max_trials=50, seed=1)
    assert len(oracle.trials) == 4  # linear + mlp with 1, 2 or 3 layers
    assert count_duplicates(oracle) == 0


def test_values_are_plain_types_inside_declared_ranges(tmp_path):
    oracle = run_search(mixed_score, tmp_path, mixed_space(), max_trials=60, seed=5)
    space = oracle.get_space()
    for trial in oracle.trials.values():
        for hp in space.space:
            value = trial.hyperparameters.values[hp.name]
            assert type(value) in (int, float, bool, str)
            assert space_lib.is_valid_value(hp, value), (hp.name, value)


def test_same_seed_gives_the_same_trials_and_other_seeds_do_not(tmp_path):
    runs = [
        genomes_in_order(
            run_search(
                mixed_score,
                tmp_path,
                mixed_space(),
                project_name=f"r{i}",
                max_trials=40,
                population_size=8,
                seed=seed,
            )
        )
        for i, seed in enumerate([7, 7, 8])
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_seed_zero_is_a_seed(tmp_path):
    a = genomes_in_order(
        run_search(mixed_score, tmp_path, mixed_space(), project_name="a", max_trials=12, seed=0)
    )
    b = genomes_in_order(
        run_search(mixed_score, tmp_path, mixed_space(), project_name="b", max_trials=12, seed=0)
    )
    assert a == b


def test_hyperparameters_registered_while_running_are_discovered(tmp_path, count_duplicates):
    def function(hp):
        x = hp.Int("x", 0, 20)
        mode = hp.Choice("mode", ["a", "b"])
        with hp.conditional_scope("mode", ["b"]):
            bonus = hp.Int("bonus", 0, 5) if mode == "b" else 0
        return x + bonus

    oracle = run_search(function, tmp_path, None, max_trials=30, seed=1)
    assert {hp.name for hp in oracle.get_space().space} == {"x", "mode", "bonus"}
    genomes = genomes_in_order(oracle)
    assert genomes[0] == {"x": 0, "mode": "a"}  # the first trial runs the defaults
    assert len({g["x"] for g in genomes[1:]}) > 5  # later ones explore the discovered space
    assert count_duplicates(oracle) == 0


def test_failed_configurations_never_breed_nor_return(tmp_path, count_duplicates):
    def function(hp):
        if hp["optimizer"] == "nadam":
            raise RuntimeError("nadam diverged")
        return mixed_score(hp)

    oracle = run_search(
        function,
        tmp_path,
        mixed_space(),
        max_trials=40,
        seed=6,
        population_size=10,
        max_consecutive_failed_trials=40,
    )
    failed = {tid for tid, t in oracle.trials.items() if t.status == TrialStatus.FAILED}
    assert failed
    for generation in oracle.generation_plans:
        assert not failed & set(generation["breeders"])
        assert not failed & set(generation["elites"])
    assert count_duplicates(oracle) == 0
    for trial_id in failed:
        assert oracle.history.generations[oracle.history.lineage[trial_id]["generation"]]


def test_nan_objective_fails_the_trial_and_is_excluded(tmp_path):
    oracle = run_search(
        lambda hp: math.nan if hp["batchnorm"] else mixed_score(hp),
        tmp_path,
        mixed_space(),
        max_trials=20,
        seed=1,
        max_consecutive_failed_trials=20,
    )
    history = oracle.history
    assert all(s is None or math.isfinite(s) for g in history.generations for s in g.scores)
    assert history.fittest["genome"]["batchnorm"] is False


def test_too_many_consecutive_failures_stop_with_the_last_error(tmp_path):
    def function(hp):
        raise ValueError("broken build")

    with pytest.raises(RuntimeError, match="broken build"):
        run_search(
            function,
            tmp_path,
            mixed_space(),
            max_trials=10,
            seed=1,
            max_consecutive_failed_trials=3,
        )


def test_generations_argument_sets_the_budget(tmp_path):
    oracle = run_search(
        mixed_score, tmp_path, mixed_space(), population_size=6, generations=3, elites=1, seed=1
    )
    assert len(oracle.trials) == 6 + 5 + 5
    assert len(oracle.history.generations) == 3
    both = run_search(
        mixed_score,
        tmp_path,
        mixed_space(),
        project_name="both",
        max_trials=8,
        population_size=6,
        generations=3,
        seed=1,
    )
    assert len(both.trials) == 8  # the first limit reached wins


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"population_size": 1}, "population_size` must be an integer >= 2"),
        ({"population_size": 10, "elites": 10}, r"elites` must be in \[0, population_size\)"),
        ({"elites": 1.5}, r"elites` as a fraction must be in \[0, 1\)"),
        ({"elites": -1}, "elites"),
        ({"breeders": 0.0}, r"breeders` must be a number in \(0.0, 1.0\]"),
        ({"breeders": 1.2}, "breeders"),
        ({"mutation_rate": -0.1}, r"mutation_rate` must be a number in \[0.0, 1.0\]"),
        ({"mutation_scale": 0}, "mutation_scale"),
        ({"selection_pressure": -1}, "selection_pressure"),
        ({"generations": 0}, "generations` must be an integer >= 1"),
        ({"max_trials": 0}, "max_trials` must be an integer >= 1"),
        ({"seed": -3}, "seed"),
        ({"population_size": 2.5}, "population_size"),
    ],
)
def test_bad_arguments_name_the_argument_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kte.EvolutionaryOracle(objective="score", **kwargs)


def test_default_population_scales_with_the_budget():
    assert kte.EvolutionaryOracle(objective="val_loss", max_trials=10).population_size == 4
    assert kte.EvolutionaryOracle(objective="val_loss", max_trials=60).population_size == 4
    assert kte.EvolutionaryOracle(objective="val_loss", max_trials=200).population_size == 8
    assert kte.EvolutionaryOracle(objective="val_loss", max_trials=1000).population_size == 20
    assert kte.EvolutionaryOracle(objective="val_loss", generations=5).population_size == 20


def test_parallel_requests_never_duplicate_running_trials(tmp_path):
    # Several tuners ask before any trial ends: all running configurations must differ.
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"),
        max_trials=30,
        population_size=6,
        hyperparameters=mixed_space(),
        seed=1,
    )
    oracle._set_project_dir(str(tmp_path), "parallel")
    finished = 0
    while True:
        trials = [oracle.create_trial(f"tuner{i}") for i in range(4)]
        running = [t for t in trials if t.status == TrialStatus.RUNNING]
        if not running:
            break
        for trial in running:
            oracle.update_trial(trial.trial_id, {"score": mixed_score(trial.hyperparameters)})
            trial.status = TrialStatus.COMPLETED
            oracle.end_trial(trial)
            finished += 1
    assert finished == 30
    hashes = [space_lib.genome_hash(g) for g in genomes_in_order(oracle)]
    assert len(set(hashes)) == 30


@pytest.mark.parametrize("size", [1, 3, 8])
def test_tournament_selection_breeds_without_duplicates(tmp_path, count_duplicates, size):
    oracle = run_search(
        mixed_score,
        tmp_path,
        mixed_space(),
        max_trials=40,
        population_size=8,
        selection="tournament",
        tournament_size=size,
        seed=2,
    )
    assert len(oracle.trials) == 40 and count_duplicates(oracle) == 0
    plans = oracle.generation_plans
    for previous, plan in zip(plans, plans[1:]):
        assert set(plan["breeders"]) <= set(previous["members"])
        if size == 8:  # a tournament over the whole generation picks its fittest first
            scores = {tid: oracle.trial_score(tid) for tid in previous["members"]}
            assert scores[plan["breeders"][0]] == max(scores.values())


def test_parent_pool_best_breeds_from_the_fittest_found_so_far(tmp_path, count_duplicates):
    oracle = run_search(
        mixed_score,
        tmp_path,
        mixed_space(),
        max_trials=40,
        population_size=8,
        parent_pool="best",
        seed=3,
    )
    assert count_duplicates(oracle) == 0
    plans = oracle.generation_plans
    for index in range(1, len(plans)):
        before = [tid for plan in plans[:index] for tid in plan["members"]]
        scores = sorted({oracle.trial_score(tid) for tid in before}, reverse=True)
        cutoff = scores[min(7, len(scores) - 1)]
        assert all(oracle.trial_score(tid) >= cutoff for tid in plans[index]["breeders"])


def test_adaptive_mutation_follows_the_success_rule_and_is_reproducible(tmp_path):
    def run(name):
        return run_search(
            mixed_score,
            tmp_path,
            mixed_space(),
            project_name=name,
            max_trials=48,
            population_size=8,
            adaptive_mutation=True,
            seed=4,
        )

    first, second = run("a"), run("b")
    factors = [plan.get("mutation_factor") for plan in first.generation_plans]
    assert factors[0] is None and all(0.25 <= f <= 4.0 for f in factors[1:])
    assert len(set(factors[1:])) > 1  # it adapts
    assert factors == [plan.get("mutation_factor") for plan in second.generation_plans]
    assert genomes_in_order(first) == genomes_in_order(second)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selection": "roulette"}, "`selection` must be one of 'rank', 'tournament'"),
        ({"tournament_size": 0}, "`tournament_size` must be an integer >= 1"),
        ({"tournament_size": 2.0}, "`tournament_size` must be an integer >= 1"),
        ({"parent_pool": "all"}, "`parent_pool` must be one of 'generation', 'best'"),
        ({"adaptive_mutation": 1}, "`adaptive_mutation` must be True or False"),
    ],
)
def test_bad_algorithm_options_name_the_argument_and_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kte.EvolutionaryOracle(objective="score", **kwargs)


def test_oracle_json_holds_exactly_get_state_also_after_a_resume(tmp_path):
    """oracle.json is written from text with the finished generations and the lineage spliced
    in: it must equal get_state."""

    def on_disk(oracle):
        with open(os.path.join(str(tmp_path), "p", "oracle.json")) as handle:
            state = json.load(handle)
        state["evolution"].pop("search_seconds")  # a clock: later calls differ
        return state

    def in_memory(oracle):
        state = json.loads(json.dumps(oracle.get_state()))
        state["evolution"].pop("search_seconds")
        return state

    first = run_search(mixed_score, tmp_path, space=mixed_space(), max_trials=12, seed=4)
    first.save()
    assert on_disk(first) == in_memory(first)
    assert len(on_disk(first)["evolution"]["lineage"]) == 12
    assert len(on_disk(first)["evolution"]["generations"]) >= 3  # finished ones are spliced

    resumed = EvolutionaryOracle(
        objective=kt.Objective("score", "max"), max_trials=20, seed=4, hyperparameters=None
    )
    tuner = FunctionTuner(
        mixed_score, resumed, directory=str(tmp_path), project_name="p", overwrite=False
    )
    tuner.search(verbose=0)
    resumed.save()
    state = on_disk(resumed)
    assert state == in_memory(resumed)
    assert sorted(state["evolution"]["lineage"]) == sorted(resumed.trials)
