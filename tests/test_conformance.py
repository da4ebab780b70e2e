"""Keras Tuner's own oracle tests, run against `EvolutionaryOracle`.

Modelled on keras-team/keras-tuner's `engine/oracle_test.py`, `tuners/randomsearch_test.py` and
`tuners/bayesian_test.py`: the oracle is driven directly, as a tuner drives it
(`create_trial`, `update_trial`, `trial.status = ...`, `end_trial`), or through a small tuner
whose `run_trial` scores a function. Every test also checks that every trial's values are valid
for the space and that no configuration (canonical active values) was proposed twice.
"""

import logging
import math

import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine.trial import Trial, TrialStatus

from keras_tuner_evolution import EvolutionaryOracle, EvolutionaryTuner
from keras_tuner_evolution import space as space_lib

OBJECTIVE = kt.Objective("score", "max")


# Helpers ------------------------------------------------------------------------------------


def make_oracle(tmp_path, hyperparameters=None, project="p", **kwargs) -> EvolutionaryOracle:
    """An oracle in `tmp_path/project`, seeded and silent."""
    kwargs.setdefault("objective", OBJECTIVE)
    kwargs.setdefault("seed", 1)
    oracle = EvolutionaryOracle(hyperparameters=hyperparameters, **kwargs)
    oracle._set_project_dir(tmp_path, project)
    oracle.verbose = 0
    return oracle


def finish(oracle, trial, score=None, status=TrialStatus.COMPLETED, message=None):
    """Reports `score` (if any) and ends `trial` with `status`, as a tuner does."""
    if score is not None:
        oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = status
    trial.message = message
    oracle.end_trial(trial)


def value_score(values) -> float:
    """A deterministic score of a configuration (any value type)."""
    return float(int(space_lib.genome_hash(values)[:8], 16) % 1000)


def run_until_stopped(oracle, score=value_score, tuner_id="tuner0", limit=1000) -> list[Trial]:
    """Runs trials one at a time until the oracle answers STOPPED; returns those that ran."""
    ran = []
    for _ in range(limit):
        trial = oracle.create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            return ran
        assert trial.status == TrialStatus.RUNNING
        finish(oracle, trial, score(trial.hyperparameters.values))
        ran.append(trial)
    raise AssertionError(f"The oracle did not stop within {limit} trials.")


def trial_genomes(oracle) -> dict[str, dict]:
    """Canonical active values of every trial, by trial id."""
    space = oracle.get_space()
    return {
        trial_id: space_lib.repair(space, trial.hyperparameters.values)
        for trial_id, trial in oracle.trials.items()
    }


def assert_valid_and_unique(oracle) -> None:
    """Every trial's active values are valid, plain Python values; no two trials are equal."""
    space = oracle.get_space()
    by_name = space_lib.hyperparameters_by_name(space)
    genomes = trial_genomes(oracle)
    for trial_id, genome in genomes.items():
        values = oracle.trials[trial_id].hyperparameters.values
        for name, value in genome.items():
            if name not in values:
                continue  # registered after this trial ran: the model used the default
            hp = space_lib.active_hyperparameter(by_name, name, genome)
            assert space_lib.is_valid_value(hp, values[name]), (trial_id, name, values[name])
            assert type(values[name]) in (int, float, bool, str), (trial_id, name)
            assert values[name] == value, (trial_id, name, values[name], value)
    hashes = [space_lib.genome_hash(genome) for genome in genomes.values()]
    duplicates = len(hashes) - len(set(hashes))
    assert duplicates == 0, f"{duplicates} duplicate configurations in {genomes}"


class ScoreTuner(EvolutionaryTuner):
    """Trains nothing: a trial's score is `score_fn(hp)`, which may declare hyperparameters."""

    def __init__(self, score_fn, **kwargs):
        self.score_fn = score_fn
        kwargs.setdefault("objective", OBJECTIVE)
        kwargs.setdefault("seed", 1)
        super().__init__(**kwargs)

    def run_trial(self, trial, *args, **kwargs):
        return {"score": self.score_fn(trial.hyperparameters)}

    def save_model(self, trial_id, model, step=0):
        """No model to save."""


def boolean_space() -> kt.HyperParameters:
    hps = kt.HyperParameters()
    hps.Boolean("a")
    hps.Choice("b", [1, 2, 3])
    return hps


# Exhausted space ----------------------------------------------------------------------------


def test_exhausted_space_stops_cleanly(tmp_path, caplog):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=50, population_size=4)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        ran = run_until_stopped(oracle)
    assert len(ran) == len(oracle.trials) == 6
    assert oracle.history.stop_reason == "exhausted"
    assert "exhausted" in caplog.text
    # Asking again still answers STOPPED and creates nothing.
    assert oracle.create_trial("tuner1").status == TrialStatus.STOPPED
    assert len(oracle.trials) == 6
    assert_valid_and_unique(oracle)


def test_exhausted_space_registered_during_trials(tmp_path):
    # bayesian_test.test_exhausted_search_space: two Booleans, so four trials.
    def score(hp):
        hp.Boolean("boolean")
        hp.Boolean("boolean2")
        return float(np.random.rand())

    tuner = ScoreTuner(score, max_trials=15, directory=tmp_path)
    tuner.search(verbose=0)
    assert len(tuner.oracle.trials) == 4
    assert tuner.oracle.history.stop_reason == "exhausted"
    assert_valid_and_unique(tuner.oracle)


def test_one_name_under_two_scopes(tmp_path):
    # Keras Tuner's ensure_active_values() drops such a value (RandomSearch crashes with
    # KeyError here); the oracle's _record_values keeps it.
    hps = kt.HyperParameters()
    hps.Choice("model", ["a", "b"])
    with hps.conditional_scope("model", "a"):
        hps.Int("units", 1, 4)
    with hps.conditional_scope("model", "b"):
        hps.Choice("units", [8, 16])
    used = []

    def score(hp):
        model = hp["model"]
        with hp.conditional_scope("model", "a"):
            units_a = hp.Int("units", 1, 4)
        with hp.conditional_scope("model", "b"):
            units_b = hp.Choice("units", [8, 16])
        used.append((model, units_a if model == "a" else units_b))
        return float(used[-1][1])

    tuner = ScoreTuner(score, hyperparameters=hps, max_trials=40, directory=tmp_path)
    tuner.search(verbose=0)
    # The six configurations, each trained once.
    assert sorted(used) == [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 8), ("b", 16)]
    assert_valid_and_unique(tuner.oracle)


# Update of the space ------------------------------------------------------------------------


def test_update_space_from_trials(tmp_path):
    # randomsearch_test.test_update_space: units_i appear only once `layers` reaches them.
    hps = kt.HyperParameters()
    hps.Int("layers", 0, 2)

    def score(hp):
        return float(sum(hp.Int(f"units_{i}", 2, 4, step=2) for i in range(hp["layers"])))

    tuner = ScoreTuner(score, hyperparameters=hps, max_trials=30, directory=tmp_path)
    assert {hp.name for hp in tuner.oracle.get_space().space} == {"layers"}
    tuner.search(verbose=0)
    names = {hp.name for hp in tuner.oracle.get_space().space}
    assert names == {"layers", "units_0", "units_1"}
    # 3 layer counts x 2 x 2 units: the whole space, then a clean stop.
    assert len(tuner.oracle.trials) == 12
    assert tuner.oracle.history.stop_reason == "exhausted"
    assert_valid_and_unique(tuner.oracle)


def test_update_space_adds_hyperparameters_to_new_trials(tmp_path):
    # bayesian_test.test_hyperparameters_added
    hps = kt.HyperParameters()
    hps.Choice("a", [1, 2])
    oracle = make_oracle(tmp_path, hps, max_trials=None, population_size=4)
    for _ in range(2):
        trial = oracle.create_trial("tuner0")
        finish(oracle, trial, 1.0)

    new_hps = kt.HyperParameters()
    new_hps.Float("b", 3.2, 6.4, step=0.2, default=3.6)
    new_hps.Boolean("c", default=True)
    oracle.update_space(new_hps)

    trial = oracle.create_trial("tuner0")
    assert trial.status == TrialStatus.RUNNING
    assert {"a", "b", "c"} <= set(trial.hyperparameters.values)
    finish(oracle, trial, 2.0)
    # The first two trials now count with b and c at their defaults: 2 x 17 x 2 configurations.
    run_until_stopped(oracle)
    assert len(oracle.trials) == 68
    grid = {round(3.2 + 0.2 * i, 10) for i in range(17)}
    assert {g["b"] for g in trial_genomes(oracle).values()} == grid
    assert_valid_and_unique(oracle)


# Retries --------------------------------------------------------------------------------------


def test_default_no_retry(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10)
    trial_1 = oracle.create_trial("a")
    finish(oracle, trial_1, status=TrialStatus.INVALID, message="error1")
    assert oracle.trials[trial_1.trial_id].status == TrialStatus.FAILED
    trial_2 = oracle.create_trial("a")
    assert trial_1.trial_id != trial_2.trial_id
    assert_valid_and_unique(oracle)


def test_retry_invalid_trial_with_the_same_values(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10, max_retries_per_trial=1)
    trial_1 = oracle.create_trial("a")
    values = dict(trial_1.hyperparameters.values)
    finish(oracle, trial_1, status=TrialStatus.INVALID, message="error1")

    # This is the retry of the trial.
    trial_2 = oracle.create_trial("a")
    assert trial_2.trial_id == trial_1.trial_id
    assert trial_2.hyperparameters.values == values
    finish(oracle, trial_2, status=TrialStatus.INVALID, message="error2")
    assert oracle.trials[trial_1.trial_id].status == TrialStatus.FAILED

    # Retried once: a new trial, with other values.
    trial_3 = oracle.create_trial("b")
    assert trial_3.trial_id != trial_1.trial_id
    assert trial_3.hyperparameters.values != values
    assert_valid_and_unique(oracle)


def test_no_retry_for_failed_trial(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10, max_retries_per_trial=1)
    trial_1 = oracle.create_trial("a")
    finish(oracle, trial_1, status=TrialStatus.FAILED, message="error1")
    trial_2 = oracle.create_trial("a")
    assert trial_1.trial_id != trial_2.trial_id
    assert_valid_and_unique(oracle)


def test_failed_configurations_are_not_proposed_again(tmp_path):
    oracle = make_oracle(
        tmp_path,
        boolean_space(),
        max_trials=50,
        population_size=4,
        max_consecutive_failed_trials=10,
    )
    for _ in range(3):
        finish(oracle, oracle.create_trial("a"), status=TrialStatus.FAILED)
    run_until_stopped(oracle)
    assert len(oracle.trials) == 6
    assert_valid_and_unique(oracle)


# NaN objective ------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:All-NaN axis")
def test_nan_objective_marks_trial_invalid_then_failed(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10, max_retries_per_trial=1)
    trial = oracle.create_trial("a")
    finish(oracle, trial, float("nan"))
    assert oracle.trials[trial.trial_id].status == TrialStatus.INVALID
    retry = oracle.create_trial("a")
    assert retry.trial_id == trial.trial_id
    finish(oracle, retry, float("nan"))
    assert oracle.trials[trial.trial_id].status == TrialStatus.FAILED
    assert oracle.history.fittest is None
    assert_valid_and_unique(oracle)


@pytest.mark.filterwarnings("ignore:All-NaN axis")
def test_nan_scores_never_breed_nor_survive(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("x", 0, 50)
    hps.Choice("y", ["p", "q", "r"])
    oracle = make_oracle(tmp_path, hps, max_trials=40, population_size=5, elites=1)
    count = 0

    def score(values):
        nonlocal count
        count += 1
        return float("nan") if count % 3 == 0 else float(values["x"])

    run_until_stopped(oracle, score)
    history = oracle.history
    failed = {tid for tid, t in oracle.trials.items() if t.status == TrialStatus.FAILED}
    assert len(failed) == 13
    assert all(math.isfinite(s) for s in history.scores.values())
    assert not failed & set(history.scores)
    for generation in history.generations:
        assert not failed & set(generation.elites)
    for trial_id, record in history.lineage.items():
        assert not failed & set(record["parents"]), trial_id
    assert math.isfinite(history.fittest["fitness"])
    assert_valid_and_unique(oracle)


# Consecutive failures ------------------------------------------------------------------------


def test_consecutive_failures_in_limit(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10, max_retries_per_trial=2)
    # (1 run + 2 retries) x 2 trials = 6 invalid runs, then 3 completed trials.
    for _ in range(6):
        finish(oracle, oracle.create_trial("a"), status=TrialStatus.INVALID, message="error1")
    for _ in range(3):
        finish(oracle, oracle.create_trial("a"), 0.5)
    statuses = [oracle.trials[tid].status for tid in oracle.end_order]
    assert statuses == [TrialStatus.FAILED] * 2 + [TrialStatus.COMPLETED] * 3
    assert_valid_and_unique(oracle)


def test_too_many_consecutive_failures(tmp_path):
    oracle = make_oracle(tmp_path, boolean_space(), max_trials=10, max_retries_per_trial=2)
    for _ in range(2):
        finish(oracle, oracle.create_trial("a"), status=TrialStatus.FAILED)
    with pytest.raises(RuntimeError, match="Number of consecutive") as error:
        trial = oracle.create_trial("a")
        finish(oracle, trial, status=TrialStatus.FAILED, message="custom_error_info")
    assert "custom_error_info" in str(error.value)
    assert_valid_and_unique(oracle)


def test_tuner_skips_a_failed_trial(tmp_path):
    # bayesian_test.test_skip_failed_trials
    def score(hp):
        for i in range(4):
            hp.Boolean(f"boolean{i}")
        if len(tuner.oracle.start_order) == 1:
            raise kt.errors.FailedTrialError()
        return float(np.random.rand())

    tuner = ScoreTuner(score, max_trials=15, directory=tmp_path)
    tuner.search(verbose=0)
    statuses = [t.status for t in tuner.oracle.trials.values()]
    assert statuses.count(TrialStatus.FAILED) == 1
    assert len(statuses) == 15
    assert_valid_and_unique(tuner.oracle)


def test_tuner_stops_after_consecutive_errors(tmp_path):
    def score(hp):
        hp.Int("x", 0, 100)
        raise ValueError("broken model")

    tuner = ScoreTuner(score, max_trials=15, directory=tmp_path, max_retries_per_trial=1)
    with pytest.raises(RuntimeError, match="Number of consecutive"):
        tuner.search(verbose=0)
    # 3 trials, each run twice.
    assert len(tuner.oracle.trials) == 3
    assert_valid_and_unique(tuner.oracle)


# Reload and resume --------------------------------------------------------------------------


def test_reload_retries_ongoing_trials_with_their_values(tmp_path):
    hps = boolean_space()
    hps.Int("c", 0, 9)
    oracle = make_oracle(tmp_path, hps, max_trials=12, population_size=4)
    trial_a = oracle.create_trial("a")
    trial_b = oracle.create_trial("b")
    finish(oracle, trial_a, 1.0)
    oracle.save()

    reloaded = make_oracle(tmp_path, hps, max_trials=12, population_size=4)
    reloaded.reload()
    assert reloaded.retry_queue == [trial_b.trial_id]
    retried = reloaded.create_trial("c")
    assert retried.trial_id == trial_b.trial_id
    assert retried.hyperparameters.values == trial_b.hyperparameters.values
    finish(reloaded, retried, 2.0)
    run_until_stopped(reloaded)
    assert len(reloaded.trials) == 12
    assert_valid_and_unique(reloaded)


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("x", 0, 30)
    hps.Float("lr", 1e-4, 1e-1, sampling="log")
    hps.Choice("act", ["relu", "tanh", "gelu"])

    def score(values):
        return -abs(values["x"] - 17) - abs(math.log10(values["lr"]) + 2)

    straight = make_oracle(tmp_path, hps, project="straight", max_trials=20, population_size=4)
    run_until_stopped(straight, score)

    first = make_oracle(tmp_path, hps, project="resumed", max_trials=9, population_size=4)
    run_until_stopped(first, score)
    # The saved evolution wins over the new constructor's population arguments.
    second = make_oracle(tmp_path, hps, project="resumed", max_trials=20, population_size=7)
    second.reload()
    assert second.population_size == 4
    run_until_stopped(second, score)

    expected = [straight.trials[tid].hyperparameters.values for tid in straight.start_order]
    actual = [second.trials[tid].hyperparameters.values for tid in second.start_order]
    assert actual == expected
    assert_valid_and_unique(second)


def test_resume_with_overwrite_false(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("x", 0, 20)
    hps.Choice("y", [0.5, 1.5, 2.5])

    def score(hp):
        return -((hp["x"] - 12) ** 2) * hp["y"]

    first = ScoreTuner(score, hyperparameters=hps, max_trials=6, directory=tmp_path)
    first.search(verbose=0)
    before = {tid: dict(t.hyperparameters.values) for tid, t in first.oracle.trials.items()}

    second = ScoreTuner(
        score, hyperparameters=hps, max_trials=14, directory=tmp_path, overwrite=False
    )
    second.search(verbose=0)
    trials = second.oracle.trials
    assert len(trials) == 14
    assert {tid: trials[tid].hyperparameters.values for tid in before} == before
    assert all(t.status == TrialStatus.COMPLETED for t in trials.values())
    assert sum(len(g.members) - len(g.elites) for g in second.history.generations) == 14
    assert_valid_and_unique(second.oracle)


def test_resume_of_an_exhausted_search_starts_nothing(tmp_path):
    def score(hp):
        return float(hp.Choice("c", [1, 2, 3]))

    ScoreTuner(score, max_trials=10, directory=tmp_path).search(verbose=0)
    again = ScoreTuner(score, max_trials=20, directory=tmp_path, overwrite=False)
    again.search(verbose=0)
    assert len(again.oracle.trials) == 3
    assert again.history.stop_reason == "exhausted"
    assert_valid_and_unique(again.oracle)


# Dynamic space ------------------------------------------------------------------------------


def test_space_declared_only_inside_trials(tmp_path):
    def score(hp):
        x = hp.Int("x", 0, 9)
        if hp.Choice("y", ["a", "b"]) == "b":
            with hp.conditional_scope("y", "b"):
                return float(x + hp.Float("z", 0.0, 1.0, step=0.25))
        return float(x)

    tuner = ScoreTuner(score, max_trials=25, directory=tmp_path)
    tuner.search(verbose=0)
    oracle = tuner.oracle
    assert {hp.name for hp in oracle.get_space().space} == {"x", "y", "z"}
    assert len(oracle.trials) == 25
    for genome in trial_genomes(oracle).values():
        assert ("z" in genome) == (genome["y"] == "b")
    assert_valid_and_unique(oracle)


def test_dynamic_space_grown_in_place(tmp_path):
    # bayesian_test.test_bayesian_dynamic_space: populate_space alone, space grown in place.
    hps = kt.HyperParameters()
    hps.Choice("a", [1, 2], default=1)
    oracle = make_oracle(tmp_path, max_trials=20)
    oracle.hyperparameters = hps
    proposals = [oracle.populate_space(str(i))["values"] for i in range(2)]
    hps.Int("b", 3, 10, default=3)
    proposals.append(oracle.populate_space("1_0")["values"])
    assert "b" in proposals[-1]
    hps.Float("c", 0, 1, 0.1, default=0)
    proposals.append(oracle.populate_space("1_1")["values"])
    assert "c" in proposals[-1]
    hps.Fixed("d", 7)
    proposals.append(oracle.populate_space("1_2")["values"])
    assert proposals[-1]["d"] == 7
    hps.Choice("e", [9, 0], default=9)
    proposals.append(oracle.populate_space("1_3")["values"])
    assert "e" in proposals[-1]
    assert len({space_lib.genome_hash(space_lib.repair(hps, p)) for p in proposals}) == 6
    assert_valid_and_unique(oracle)


# Step and sampling --------------------------------------------------------------------------


def test_step_respected_with_seeded_trials(tmp_path):
    # bayesian_test.test_step_respected, with its injected trial; the space has 4 values.
    hps = kt.HyperParameters()
    hps.Float("c", 0, 10, step=3)
    oracle = make_oracle(tmp_path, hps, max_trials=20, population_size=2)
    seeded = Trial(hyperparameters=hps.copy())
    seeded.hyperparameters.values["c"] = 3.0
    seeded.score = 1.0
    seeded.status = TrialStatus.COMPLETED
    oracle.trials[seeded.trial_id] = seeded

    ran = run_until_stopped(oracle)
    assert {t.hyperparameters.values["c"] for t in ran} == {0, 6, 9}
    assert_valid_and_unique(oracle)


def test_steps_and_end_points_of_int_and_float_grids(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("i", 0, 20, step=5)
    hps.Float("f", 0.0, 1.0, step=0.3)
    hps.Float("g", 0.1, 0.5, step=0.1)
    oracle = make_oracle(tmp_path, hps, max_trials=None, population_size=10)
    run_until_stopped(oracle)
    genomes = list(trial_genomes(oracle).values())
    assert len(genomes) == 5 * 4 * 5
    assert {g["i"] for g in genomes} == {0, 5, 10, 15, 20}
    assert {g["f"] for g in genomes} == {0.0, 0.3, 0.6, 0.9}
    # Exact grid values: 0.5 is reached and 0.30000000000000004 never appears.
    assert {g["g"] for g in genomes} == {0.1, 0.2, 0.3, 0.4, 0.5}
    assert_valid_and_unique(oracle)


def test_log_sampling_of_int_and_float(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("i", 1, 1000, sampling="log")
    hps.Float("f", 1e-5, 1e-1, sampling="log")
    # One generation: all members are random draws.
    oracle = make_oracle(tmp_path, hps, max_trials=80, population_size=80)
    run_until_stopped(oracle)
    genomes = list(trial_genomes(oracle).values())
    assert len(genomes) == 80
    assert all(1 <= g["i"] <= 1000 and 1e-5 <= g["f"] <= 1e-1 for g in genomes)
    # Log-uniform: about half below the geometric midpoints (linear sampling: 3% and 1%).
    assert 0.3 < np.mean([g["i"] <= 31 for g in genomes]) < 0.7
    assert 0.3 < np.mean([g["f"] < 1e-3 for g in genomes]) < 0.7
    assert_valid_and_unique(oracle)


def test_log_sampling_with_step(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("s", 1, 64, step=2, sampling="log")
    hps.Float("g", 1e-4, 1e-1, step=10, sampling="log")
    oracle = make_oracle(tmp_path, hps, max_trials=None, population_size=6)
    run_until_stopped(oracle)
    genomes = list(trial_genomes(oracle).values())
    assert len(genomes) == 7 * 4
    assert {g["s"] for g in genomes} == {1, 2, 4, 8, 16, 32, 64}
    assert {g["g"] for g in genomes} == {1e-4, 1e-3, 1e-2, 1e-1}
    assert_valid_and_unique(oracle)


def test_reverse_log_grids_are_keras_tuners(tmp_path):
    hps = kt.HyperParameters()
    hps.Int("r", 1, 50, step=3, sampling="reverse_log")
    hps.Float("q", 1e-3, 1.0, step=10, sampling="reverse_log")
    oracle = make_oracle(tmp_path, hps, max_trials=None, population_size=4)
    run_until_stopped(oracle)
    genomes = list(trial_genomes(oracle).values())
    assert len(genomes) == 4 * 4
    assert {g["r"] for g in genomes} == set(hps.space[0].values) == {50, 48, 42, 24}
    assert {round(g["q"], 9) for g in genomes} == {round(v, 9) for v in hps.space[1].values}
    assert_valid_and_unique(oracle)


# conditional_scope --------------------------------------------------------------------------


def test_conditional_scope_keeps_active_values_only(tmp_path):
    hps = kt.HyperParameters()
    hps.Choice("model", ["linear", "mlp"])
    with hps.conditional_scope("model", ["mlp"]):
        hps.Int("units", 8, 64, step=8)
        hps.Boolean("deep")
        with hps.conditional_scope("deep", [True]):
            hps.Choice("depth", [2, 3, 4])
    hps.Float("lr", 1e-4, 1e-1, sampling="log")

    def score(values):
        return values.get("units", 0) * values.get("depth", 1) - 100 * math.log10(values["lr"])

    oracle = make_oracle(tmp_path, hps, max_trials=40, population_size=8)
    run_until_stopped(oracle, score)
    assert len(oracle.trials) == 40
    for trial in oracle.trials.values():
        values = trial.hyperparameters.values
        mlp = values["model"] == "mlp"
        assert ("units" in values) == mlp and ("deep" in values) == mlp
        assert ("depth" in values) == (mlp and values["deep"])
    assert_valid_and_unique(oracle)


# Seeding ------------------------------------------------------------------------------------


def test_same_seed_same_trials_other_seed_other_trials(tmp_path):
    hps = boolean_space()
    hps.Float("f", 0.0, 1.0)

    def values_of(project, seed):
        oracle = make_oracle(tmp_path, hps, project=project, seed=seed, max_trials=12)
        run_until_stopped(oracle)
        assert_valid_and_unique(oracle)
        return [oracle.trials[tid].hyperparameters.values for tid in oracle.start_order]

    assert values_of("a", 0) == values_of("b", 0)
    assert values_of("c", 0) != values_of("d", 1)
