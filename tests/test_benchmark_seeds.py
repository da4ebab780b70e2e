"""Benchmark seeds give Keras Tuner's oracles independent searches."""

from __future__ import annotations

import keras_tuner as kt
from keras_tuner.engine.trial import TrialStatus

from tests.helpers import load_script


def drawn_values(seed: int, trials: int = 20) -> list[float]:
    """The values Keras Tuner's RandomSearch draws, in order, for a space of three floats."""
    space = kt.HyperParameters()
    for name in "abc":
        space.Float(name, 0.0, 1.0)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "max"), hyperparameters=space, max_trials=trials, seed=seed
    )
    values = []
    for trial_id in range(trials):
        answer = oracle.populate_space(str(trial_id))
        assert answer["status"] == TrialStatus.RUNNING
        values += [answer["values"][name] for name in "abc"]
    return values


def test_consecutive_keras_tuner_seeds_share_draws_and_spaced_ones_do_not():
    seeds = load_script("benchmarks", "seeds")
    # The premise: Keras Tuner's seed 2 replays seed 1's random numbers, one value later.
    assert drawn_values(2)[:-1] == drawn_values(1)[1:]
    spaced = [set(drawn_values(seeds.keras_tuner_seed(seed))) for seed in range(10)]
    every = set().union(*spaced)
    assert len(every) == sum(len(values) for values in spaced)  # no value drawn twice
    assert 0 not in {seeds.keras_tuner_seed(seed) for seed in range(10)}  # 0 means "no seed"
