"""Stopping rules (goal, patience, time budget) and warm starts."""

import logging
import time

import keras_tuner as kt
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution import stopping
from keras_tuner_evolution.functions import FunctionTuner
from tests.helpers import CountingFunction, mixed_score, mixed_space, run_search


def test_goal_reached_in_generation_zero_stops_at_once(tmp_path, caplog):
    function = CountingFunction(mixed_score)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = run_search(
            function,
            tmp_path,
            mixed_space(),
            max_trials=50,
            seed=1,
            population_size=10,
            goal=-100.0,
        )
    assert len(function.calls) == 1
    assert oracle.history.stop_reason == "goal"
    assert "goal was reached" in caplog.text


@pytest.mark.parametrize("direction", ["max", "min"])
def test_goal_respects_the_direction(tmp_path, direction):
    sign = 1 if direction == "max" else -1
    goal = 1.5 * sign

    oracle = run_search(
        lambda hp: sign * mixed_score(hp),
        tmp_path,
        mixed_space(),
        objective=direction,
        max_trials=300,
        seed=2,
        goal=goal,
    )
    scores = [t.score for t in oracle.trials.values()]
    reached = [i for i, s in enumerate(scores) if (s >= goal if sign > 0 else s <= goal)]
    assert reached == [len(scores) - 1]  # the last trial, and only it, reached the goal
    assert oracle.history.stop_reason == "goal"


def test_patience_of_one_stops_after_a_generation_without_improvement(tmp_path):
    oracle = run_search(
        lambda hp: 1.0,
        tmp_path,
        mixed_space(),
        max_trials=100,
        seed=1,
        population_size=6,
        elites=1,
        patience=1,
    )
    assert len(oracle.trials) == 6 + 5  # generation 1 did not improve on generation 0
    assert oracle.history.stop_reason == "patience"


def test_min_delta_ignores_tiny_improvements(tmp_path):
    space = kt.HyperParameters()
    space.Int("x", 0, 1000)
    oracle = run_search(
        lambda hp: hp["x"] * 1e-6,
        tmp_path,
        space,
        max_trials=200,
        seed=1,
        population_size=5,
        patience=2,
        min_delta=0.01,
    )
    assert oracle.history.stop_reason == "patience"
    assert len(oracle.history.generations) == 3


def test_patience_rule_as_a_function():
    assert not stopping.patience_exhausted([1.0, 2.0], 1, 0.0, "max")
    assert stopping.patience_exhausted([1.0, 2.0, 2.0], 1, 0.0, "max")
    assert stopping.patience_exhausted([1.0, 1.05], 1, 0.1, "max")
    assert not stopping.patience_exhausted([3.0, 2.0], 1, 0.0, "min")
    assert stopping.patience_exhausted([3.0, 2.0, 2.5], 1, 0.0, "min")
    assert not stopping.patience_exhausted([1.0], None, 0.0, "max")
    # Generations without a score: none before the window waits, none in it has not improved.
    assert not stopping.patience_exhausted([None, 2.0], 1, 0.0, "max")
    assert stopping.patience_exhausted([1.0, None], 1, 0.0, "max")
    assert stopping.patience_exhausted([3.0, 2.95], 1, 0.1, "min")
    assert not stopping.patience_exhausted([3.0, 2.85], 1, 0.1, "min")


def test_goal_rule_as_a_function():
    assert not stopping.goal_reached([0.5, 0.9], None, "max")
    assert stopping.goal_reached([0.5, 0.9], 0.9, "max")
    assert not stopping.goal_reached([0.5, 0.9], 0.95, "max")
    assert stopping.goal_reached([0.5, 0.9], 0.5, "min")
    assert not stopping.goal_reached([0.5, 0.9], 0.4, "min")


def test_time_budget_shorter_than_one_trial_runs_one_trial(tmp_path):
    def slow(hp):
        time.sleep(0.3)
        return mixed_score(hp)

    start = time.monotonic()
    oracle = run_search(slow, tmp_path, mixed_space(), max_trials=50, seed=1, max_search_time=0.1)
    assert len(oracle.trials) == 1
    assert oracle.history.stop_reason == "time"
    assert time.monotonic() - start < 5


def test_resume_after_a_goal_continues_only_when_the_goal_is_raised(tmp_path):
    def search(goal):
        return run_search(
            mixed_score,
            tmp_path,
            mixed_space(),
            max_trials=200,
            seed=3,
            goal=goal,
            project_name="goal",
        )

    first = len(search(0.0).trials)
    assert len(search(0.0).trials) == first  # resumed (overwrite=False): already done
    raised = search(1.8)
    assert len(raised.trials) > first
    assert raised.history.stop_reason == "goal"


def test_initial_population_comes_first_and_is_completed(tmp_path):
    function = CountingFunction(mixed_score)
    initial = [
        {"optimizer": "adamax", "units": 128, "dropout": 0.2, "lr": 0.01, "batchnorm": True},
        {"optimizer": "nadam"},  # partial: the rest comes from the seeded generator
    ]
    oracle = run_search(
        function,
        tmp_path,
        mixed_space(),
        max_trials=12,
        seed=1,
        population_size=6,
        initial_population=initial,
    )
    assert function.calls[0] == initial[0]
    assert function.calls[1]["optimizer"] == "nadam" and len(function.calls[1]) == 5
    assert [oracle.history.lineage[t]["origin"] for t in oracle.start_order[:3]] == [
        "initial",
        "initial",
        "random",
    ]
    assert oracle.history.fittest["genome"] == initial[0]


@pytest.mark.parametrize(
    ("population", "message"),
    [
        ([{"units": 17}], r"value 17 of 'units' is outside its domain"),
        ([{"optimizer": "sgd"}], r"value 'sgd' of 'optimizer'"),
        ([{"layers": 3}], r"names 'layers', which is not in the search space"),
        ({"units": 16}, "must be a list of"),
        ([["units", 16]], r"initial_population\[0\]` must be a dict"),
    ],
)
def test_bad_initial_population_names_the_value(population, message):
    with pytest.raises(ValueError, match=message):
        kte.EvolutionaryOracle(
            objective="val_loss", hyperparameters=mixed_space(), initial_population=population
        )


def test_initial_population_is_checked_against_a_hypermodel_space_before_training(tmp_path):
    def build(hp):  # declares its space while building, as most build functions do
        hp.Int("units", 8, 32, step=8)
        return None

    with pytest.raises(ValueError, match="value 12 of 'units'"):
        kte.EvolutionaryTuner(
            build, objective="val_loss", initial_population=[{"units": 12}], directory=str(tmp_path)
        )


def random_search_project(tmp_path, space, trials=30):
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "max"), max_trials=trials, hyperparameters=space, seed=5
    )
    FunctionTuner(mixed_score, oracle, directory=str(tmp_path), project_name="random").search(
        verbose=0
    )
    return oracle


def test_warm_start_from_a_random_search_reuses_scores_without_retraining(tmp_path, caplog):
    random_oracle = random_search_project(tmp_path, mixed_space())
    best = random_oracle.get_best_trials(1)[0]
    function = CountingFunction(mixed_score)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = run_search(
            function,
            tmp_path,
            mixed_space(),
            project_name="warm",
            max_trials=20,
            seed=1,
            population_size=8,
            warm_start_from=(str(tmp_path), "random"),
        )
    assert "reused 8 trials without retraining" in caplog.text
    history = oracle.history
    imported = history.generations[0].elites
    assert len(imported) == 8 and f"warm:random/{best.trial_id}" in imported
    assert history.generations[0].scores[0] == best.score
    assert len(function.calls) == len(oracle.trials) == 20  # imported ones cost nothing
    reused = [history.genomes[t] for t in imported]
    assert all(call not in reused for call in function.calls)
    assert history.fittest["fitness"] >= best.score


def test_warm_start_from_another_space_retrains(tmp_path, caplog):
    other = mixed_space()
    other.Int("extra", 0, 3)
    random_search_project(tmp_path, other, trials=10)
    function = CountingFunction(mixed_score)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = run_search(
            function,
            tmp_path,
            mixed_space(),
            project_name="warm",
            max_trials=12,
            seed=1,
            population_size=4,
            warm_start_from=(str(tmp_path), "random"),
        )
    assert "reused 0 trials" in caplog.text and "4 to retrain" in caplog.text
    assert [oracle.history.lineage[t]["origin"] for t in oracle.start_order[:4]] == ["initial"] * 4


def test_warm_start_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="warm_start_from` must be a"):
        kte.EvolutionaryOracle(objective="val_loss", warm_start_from="runs/project")
    with pytest.raises(FileNotFoundError, match="no Keras Tuner trials"):
        run_search(
            mixed_score,
            tmp_path,
            mixed_space(),
            max_trials=3,
            warm_start_from=(str(tmp_path), "missing"),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal": float("nan")}, "goal` must be a finite number"),
        ({"patience": 0}, "patience` must be an integer >= 1"),
        ({"min_delta": -0.1}, r"min_delta` must be a finite number >= 0"),
        ({"max_search_time": 0}, r"max_search_time` must be a finite number > 0"),
    ],
)
def test_bad_stopping_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kte.EvolutionaryOracle(objective="val_loss", **kwargs)
