"""Evolutionary hyperparameter search for Keras Tuner.

Public names:
    EvolutionaryOracle: a `keras_tuner.Oracle` that evolves a population of configurations.
    EvolutionaryTuner: a drop-in replacement for `keras_tuner.RandomSearch`.
    DenseHyperModel: a ready-made dense-network hypermodel (15 hyperparameters).
    History: per-generation statistics, the fittest genome, JSON round trip and plots.
    maximize, minimize: evolve the arguments of any Python function.
"""

from keras_tuner_evolution.functions import maximize, minimize
from keras_tuner_evolution.history import Generation, History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.tuner import EvolutionaryTuner

__version__ = "0.1.0"

__all__ = [
    "EvolutionaryOracle",
    "EvolutionaryTuner",
    "Generation",
    "History",
    "maximize",
    "minimize",
    "__version__",
]

try:  # the hypermodel module is optional while it is being written
    from keras_tuner_evolution.hypermodels import DenseHyperModel  # noqa: F401

    __all__.append("DenseHyperModel")
except ImportError:  # pragma: no cover
    pass
