"""`EvolutionaryTuner`: a drop-in replacement for `keras_tuner.RandomSearch`."""

from __future__ import annotations

from typing import Any

import keras_tuner

from keras_tuner_evolution.history import History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.warm_start import check_initial_population

# Distinguishes "max_trials not given" from an explicit `max_trials=None` (unlimited).
_NOT_GIVEN: Any = object()
RANDOM_SEARCH_MAX_TRIALS = 10


class EvolutionaryTuner(keras_tuner.Tuner):
    """Evolutionary hyperparameter search with RandomSearch's interface.

    Replacing `keras_tuner.RandomSearch(` with `EvolutionaryTuner(` in working code just works:
    every RandomSearch argument keeps its meaning and default. The evolution's own arguments
    are those of `EvolutionaryOracle`.

    Args:
        hypermodel: A `keras_tuner.HyperModel` or a function `build(hp) -> keras.Model`.
            Optional when `run_trial()` is overridden and does not use it.
        objective: As for `keras_tuner.RandomSearch`.
        max_trials: Maximum number of trials (configurations trained). Defaults to 10, like
            RandomSearch, unless `generations` is given, in which case the budget follows from
            the generations. When both are given, both are limits and the first reached stops
            the search. `None` explicitly: unlimited (until the space is exhausted).
        seed: Int seed of the evolution (one worker + same seed = same trials).
        hyperparameters: As for `keras_tuner.RandomSearch`.
        tune_new_entries: As for `keras_tuner.RandomSearch`.
        allow_new_entries: As for `keras_tuner.RandomSearch`.
        max_retries_per_trial: As for `keras_tuner.RandomSearch`.
        max_consecutive_failed_trials: As for `keras_tuner.RandomSearch`.
        population_size: See `EvolutionaryOracle`.
        generations: See `EvolutionaryOracle`.
        elites: See `EvolutionaryOracle`.
        breeders: See `EvolutionaryOracle`.
        mutation_rate: See `EvolutionaryOracle`.
        mutation_scale: See `EvolutionaryOracle`.
        selection_pressure: See `EvolutionaryOracle`.
        goal: See `EvolutionaryOracle`.
        patience: See `EvolutionaryOracle`.
        min_delta: See `EvolutionaryOracle`.
        max_search_time: See `EvolutionaryOracle`.
        initial_population: See `EvolutionaryOracle`.
        warm_start_from: See `EvolutionaryOracle`.
        max_training_time: Seconds of training per trial (per execution); training stops
            between batches when the time is up and the trial reports its score. None: no limit.
        **kwargs: Keyword arguments of `keras_tuner.Tuner` (`directory`, `project_name`,
            `overwrite`, `executions_per_trial`, `distribution_strategy`, ...).
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials: int | None = _NOT_GIVEN,
        seed: int | None = None,
        hyperparameters=None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        population_size: int | None = None,
        generations: int | None = None,
        elites: int | float = 0.1,
        breeders: float = 0.5,
        mutation_rate: float = 0.1,
        mutation_scale: float = 0.2,
        selection_pressure: float = 2.0,
        goal: float | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        max_search_time: float | None = None,
        initial_population: list[dict[str, Any]] | None = None,
        warm_start_from: tuple[str, str] | None = None,
        max_training_time: float | None = None,
        **kwargs,
    ):
        if hypermodel is None and type(self).run_trial is EvolutionaryTuner.run_trial:
            raise ValueError(
                "Received `hypermodel=None`. It may only be omitted when `run_trial()` is "
                "overridden and defines the search space itself."
            )
        if max_training_time is not None and not (
            isinstance(max_training_time, (int, float))
            and not isinstance(max_training_time, bool)
            and max_training_time > 0
        ):
            raise ValueError(
                "`max_training_time` must be a number of seconds > 0 or None, "
                f"got {max_training_time!r}."
            )
        if max_trials is _NOT_GIVEN:
            max_trials = None if generations is not None else RANDOM_SEARCH_MAX_TRIALS
        self.seed = seed
        self.max_training_time = max_training_time
        oracle = EvolutionaryOracle(
            objective=objective,
            max_trials=max_trials,
            population_size=population_size,
            generations=generations,
            elites=elites,
            breeders=breeders,
            mutation_rate=mutation_rate,
            mutation_scale=mutation_scale,
            selection_pressure=selection_pressure,
            goal=goal,
            patience=patience,
            min_delta=min_delta,
            max_search_time=max_search_time,
            initial_population=initial_population,
            warm_start_from=warm_start_from,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle, hypermodel, **kwargs)
        if isinstance(self.oracle, EvolutionaryOracle) and initial_population:
            # The hypermodel's space is known now: fail before any training, not after.
            check_initial_population(self.oracle.hyperparameters, initial_population)

    def run_trial(self, trial, *args, **kwargs):
        """Builds and fits the model of a trial (as `keras_tuner.Tuner`), within the time limit."""
        if self.max_training_time is not None:
            from keras_tuner_evolution.callbacks import TimeLimit

            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = [*callbacks, TimeLimit(self.max_training_time)]
        return super().run_trial(trial, *args, **kwargs)

    @property
    def history(self) -> History:
        """The evolution's `History`: per-generation scores, statistics and the fittest.

        On a worker of a distributed search, which cannot read the chief's oracle, it is read
        from the project folder instead.
        """
        if isinstance(self.oracle, EvolutionaryOracle):
            return self.oracle.history
        return History.load(self.directory, self.project_name)

    def train_best(self, x, y=None, **kwargs) -> float:
        """Trains the fittest configuration fully; see `keras_tuner_evolution.training`."""
        from keras_tuner_evolution.training import train_best

        return train_best(self, x, y, **kwargs)
