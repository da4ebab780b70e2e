"""Moved to `keras_tuner_evolution.tuners` (0.2.0); keeps 0.1.0 imports working."""

from keras_tuner_evolution.tuners import (  # noqa: F401
    RANDOM_SEARCH_MAX_TRIALS,
    EvolutionaryTuner,
)
