"""Evolutionary hyperparameter search for Keras Tuner.

Public names:
    EvolutionaryOracle: a `keras_tuner.Oracle` that evolves a population of configurations.
    EvolutionaryTuner: a drop-in replacement for `keras_tuner.RandomSearch`.
    EvolutionaryHyperband: a drop-in replacement for `keras_tuner.Hyperband` (multi-fidelity).
    EvolutionaryHyperbandOracle: its oracle (Keras Tuner's Hyperband trial protocol).
    EvolutionConfig: the evolution's arguments, their defaults and checks (documented once).
    RankSelection, TournamentSelection: breeder selection strategies (`selection=`).
    DensityGuidance: model-guided breeding (`guidance=`).
    GenePool: children of a whole pool of parents (the guidance's small-budget breeding).
    UniformCrossover, Mutation: variation operators (`crossover=`, `mutation=`).
    FunctionTuner: a tuner whose trial is one call of a Python function.
    DenseHyperModel: a ready-made dense-network hypermodel (15 hyperparameters).
    History: per-generation statistics, the fittest genome, JSON round trip and plots.
    maximize, minimize: evolve the arguments of any Python function.
    train_best: fully train the fittest configuration of a search.
    TimeLimit: a Keras callback that ends training after a number of seconds.

The names are imported on first use: `kte launch` and `kte --help` start at once, without
importing TensorFlow (the launcher must not take a GPU for itself).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "EvolutionaryOracle": "keras_tuner_evolution.oracle",
    "EvolutionaryTuner": "keras_tuner_evolution.tuners",
    "FunctionTuner": "keras_tuner_evolution.tuners",
    "EvolutionaryHyperband": "keras_tuner_evolution.tuners",
    "EvolutionaryHyperbandOracle": "keras_tuner_evolution.hyperband",
    "EvolutionConfig": "keras_tuner_evolution.config",
    "RankSelection": "keras_tuner_evolution.selection",
    "TournamentSelection": "keras_tuner_evolution.selection",
    "DensityGuidance": "keras_tuner_evolution.guidance",
    "GenePool": "keras_tuner_evolution.gene_pool",
    "UniformCrossover": "keras_tuner_evolution.variation",
    "Mutation": "keras_tuner_evolution.variation",
    "DenseHyperModel": "keras_tuner_evolution.hypermodels",
    "Generation": "keras_tuner_evolution.history",
    "History": "keras_tuner_evolution.history",
    "maximize": "keras_tuner_evolution.functions",
    "minimize": "keras_tuner_evolution.functions",
    "train_best": "keras_tuner_evolution.training",
    "TimeLimit": "keras_tuner_evolution.callbacks",
}

__all__ = [
    "DenseHyperModel",
    "EvolutionaryHyperband",
    "EvolutionaryHyperbandOracle",
    "EvolutionConfig",
    "FunctionTuner",
    "Mutation",
    "RankSelection",
    "TournamentSelection",
    "DensityGuidance",
    "GenePool",
    "UniformCrossover",
    "EvolutionaryOracle",
    "EvolutionaryTuner",
    "Generation",
    "History",
    "TimeLimit",
    "maximize",
    "minimize",
    "train_best",
    "__version__",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time see __getattr__
    from keras_tuner_evolution.callbacks import TimeLimit
    from keras_tuner_evolution.config import EvolutionConfig
    from keras_tuner_evolution.functions import maximize, minimize
    from keras_tuner_evolution.gene_pool import GenePool
    from keras_tuner_evolution.guidance import DensityGuidance
    from keras_tuner_evolution.history import Generation, History
    from keras_tuner_evolution.hyperband import EvolutionaryHyperbandOracle
    from keras_tuner_evolution.hypermodels import DenseHyperModel
    from keras_tuner_evolution.oracle import EvolutionaryOracle
    from keras_tuner_evolution.selection import RankSelection, TournamentSelection
    from keras_tuner_evolution.training import train_best
    from keras_tuner_evolution.tuners import (
        EvolutionaryHyperband,
        EvolutionaryTuner,
        FunctionTuner,
    )
    from keras_tuner_evolution.variation import Mutation, UniformCrossover


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_tuner_evolution' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
