"""Small search problems shared by the tests."""

from __future__ import annotations

import keras_tuner as kt

from keras_tuner_evolution import genome as genome_lib
from keras_tuner_evolution.functions import FunctionTuner
from keras_tuner_evolution.oracle import EvolutionaryOracle


def mixed_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "adamax", "nadam"])
    hp.Int("units", 16, 256, step=16)
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Boolean("batchnorm")
    return hp


def mixed_score(hp) -> float:
    """A fitness with one optimum: adamax, 128 units, dropout 0.2, lr 1e-2, batchnorm."""
    import math

    score = -abs(hp["units"] - 128) / 64 - abs(hp["dropout"] - 0.2) * 4
    score -= abs(math.log10(hp["lr"]) + 2)
    score += (hp["optimizer"] == "adamax") + hp["batchnorm"]
    return score


class CountingFunction:
    """Wraps a fitness function and records every configuration it was called with."""

    def __init__(self, function):
        self.function = function
        self.calls: list[dict] = []

    def __call__(self, hp):
        self.calls.append(dict(hp.values))
        return self.function(hp)


def run_search(function, tmp_path, space=None, project_name="p", objective="max", **kwargs):
    """Runs an evolutionary function search and returns its oracle."""
    oracle = EvolutionaryOracle(
        objective=kt.Objective("score", objective), hyperparameters=space, **kwargs
    )
    tuner = FunctionTuner(function, oracle, directory=str(tmp_path), project_name=project_name)
    tuner.search(verbose=0)
    return oracle


def genomes_in_order(oracle) -> list[dict]:
    space = oracle.get_space()
    return [
        genome_lib.repair(space, oracle.trials[tid].hyperparameters.values)
        for tid in oracle.start_order
    ]
