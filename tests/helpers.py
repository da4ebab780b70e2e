"""Small search problems shared by the tests."""

from __future__ import annotations

import importlib.util
import os
import sys

import keras_tuner as kt

from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.functions import FunctionTuner
from keras_tuner_evolution.oracle import EvolutionaryOracle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(folder: str, name: str, module_name: str | None = None):
    """Imports the script `ROOT/folder/name.py` (examples and benchmarks are not a package).

    With `module_name`, the module is also registered in `sys.modules` under that name, which
    a process pool needs to pickle the script's functions.
    """
    path = os.path.join(ROOT, folder, f"{name}.py")
    spec = importlib.util.spec_from_file_location(module_name or f"{folder}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    if module_name:
        sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def mlp_or_cnn_space() -> kt.HyperParameters:
    """A conditional space: `layers` only for an mlp, `dropout` only for a cnn."""
    hp = kt.HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("layers", 1, 4)
    with hp.conditional_scope("model", ["cnn"]):
        hp.Float("dropout", 0.0, 0.5)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    return hp


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
        space_lib.repair(space, oracle.trials[tid].hyperparameters.values)
        for tid in oracle.start_order
    ]
