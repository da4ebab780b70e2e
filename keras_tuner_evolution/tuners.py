"""The tuners: `EvolutionaryTuner` (drop-in for `keras_tuner.RandomSearch`) and `FunctionTuner`.

Both share `SearchHooks`, which connects the observers (progress bar, TensorBoard, History) to
Keras Tuner's search hooks and writes the tuner's file atomically. The evolution's arguments
are documented once, in `EvolutionConfig`, and passed through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras_tuner
from keras_tuner import HyperParameters

from keras_tuner_evolution import _keras_tuner
from keras_tuner_evolution.config import EvolutionConfig
from keras_tuner_evolution.history import History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.progress import ProgressHooks
from keras_tuner_evolution.tensorboard import TensorBoardLogger
from keras_tuner_evolution.warm_start import check_initial_population

# Distinguishes "max_trials not given" from an explicit `max_trials=None` (unlimited).
_NOT_GIVEN: Any = object()
RANDOM_SEARCH_MAX_TRIALS = 10


def _check_training_time(seconds: Any) -> None:
    if seconds is not None and not (
        isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0
    ):
        raise ValueError(
            f"`max_training_time` must be a number of seconds > 0 or None, got {seconds!r}."
        )


class SearchHooks(_keras_tuner.DurableTunerState):
    """Mixin for a `keras_tuner.Tuner`: progress bar, TensorBoard and the History.

    The observers are created with the tuner and read it only when its hooks run, through its
    public attributes and the oracle's public snapshot.
    """

    tensorboard_dir: str | None = None

    def _attach_observers(self) -> None:
        self._tensorboard = TensorBoardLogger(self)
        self._progress = ProgressHooks(self)

    def on_search_begin(self):
        """Starts the progress bar and the TensorBoard logging."""
        super().on_search_begin()
        self._tensorboard.search_begin(self.tensorboard_dir)
        self._progress.search_begin()

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._tensorboard.trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self._tensorboard.trial_end(trial)
        self._progress.trial_end(trial)

    def on_search_end(self):
        super().on_search_end()
        if isinstance(self.oracle, EvolutionaryOracle):
            self.oracle.flush_history()
        self._tensorboard.search_end()
        self._progress.search_end()

    def configure_tensorboard(self, callbacks: list, trial, execution: int = 0) -> None:
        """Per-trial folders for `TensorBoard` callbacks, on every backend.

        Replaces Keras Tuner's version, which also adds a per-execution HParams callback on
        TensorFlow: sessions are written once per trial, with the lineage, by the logger.
        """
        self._tensorboard.configure_callbacks(callbacks, trial, execution)

    @property
    def history(self) -> History:
        """The evolution's `History`: per-generation scores, statistics and the fittest.

        On a worker of a distributed search, which cannot read the chief's oracle, it is read
        from the project folder instead.
        """
        if isinstance(self.oracle, EvolutionaryOracle):
            return self.oracle.history
        return History.load(self.directory, self.project_name)


class EvolutionaryTuner(SearchHooks, keras_tuner.Tuner):
    """Evolutionary hyperparameter search with RandomSearch's interface.

    Replacing `keras_tuner.RandomSearch(` with `EvolutionaryTuner(` in working code just works:
    every RandomSearch argument keeps its meaning and default. The evolution's own arguments
    (`population_size`, `generations`, `elites`, ...) are documented in `EvolutionConfig`.

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
        max_training_time: Seconds of training per trial (per execution); training stops
            between batches when the time is up and the trial reports its score. None: no limit.
        tensorboard_dir: Folder for TensorBoard: the HParams dashboard (every trial with its
            hyperparameters, lineage and metrics) and the evolution's scalars. A
            `keras.callbacks.TensorBoard` passed to `search` gets the same, in its `log_dir`.
        **kwargs: The evolution's arguments (see `EvolutionConfig`) and the keyword arguments
            of `keras_tuner.Tuner` (`directory`, `project_name`, `overwrite`,
            `executions_per_trial`, `distribution_strategy`, ...).
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
        max_training_time: float | None = None,
        tensorboard_dir: str | None = None,
        **kwargs,
    ):
        if hypermodel is None and type(self).run_trial is EvolutionaryTuner.run_trial:
            raise ValueError(
                "Received `hypermodel=None`. It may only be omitted when `run_trial()` is "
                "overridden and defines the search space itself."
            )
        _check_training_time(max_training_time)
        evolution, kwargs = EvolutionConfig.split(kwargs)
        if max_trials is _NOT_GIVEN:
            no_generations = evolution.get("generations") is None
            max_trials = RANDOM_SEARCH_MAX_TRIALS if no_generations else None
        self.seed = seed
        self.max_training_time = max_training_time
        self.tensorboard_dir = tensorboard_dir
        self._attach_observers()
        oracle = EvolutionaryOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **evolution,
        )
        if kwargs.get("overwrite") and _keras_tuner.is_worker():
            # Only the chief owns the project folder: a worker (re)started with
            # overwrite=True would delete the trials the other workers have finished.
            kwargs["overwrite"] = False
        # Keras Tuner's run_trial reports a trial's metrics once, at its end; an overridden one
        # might report intermediate values (a deprecated use), so it is not relied upon.
        oracle.results_reported_at_end = type(self).run_trial is EvolutionaryTuner.run_trial
        super().__init__(oracle, hypermodel, **kwargs)
        initial = evolution.get("initial_population")
        if isinstance(self.oracle, EvolutionaryOracle) and initial:
            # The hypermodel's space is known now: fail before any training, not after.
            check_initial_population(self.oracle.hyperparameters, initial)

    def search(self, *fit_args, **fit_kwargs) -> None:
        """As `keras_tuner.Tuner.search`; the chief of a parallel search serves the oracle.

        The chief (see `kte launch`) trains nothing: it answers the workers until the search
        is over, through `keras_tuner_evolution.distribute.serve`.
        """
        if _keras_tuner.is_chief_oracle():
            from keras_tuner_evolution.distribute import serve

            serve(self, verbose=fit_kwargs.get("verbose"))
            return
        super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        """Builds and fits the model of a trial (as `keras_tuner.Tuner`), within the time limit."""
        if self.max_training_time is not None:
            from keras_tuner_evolution.callbacks import TimeLimit

            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = [*callbacks, TimeLimit(self.max_training_time)]
        return super().run_trial(trial, *args, **kwargs)

    def train_best(self, x, y=None, **kwargs) -> float:
        """Trains the fittest configuration fully; see `keras_tuner_evolution.training`."""
        from keras_tuner_evolution.training import train_best

        return train_best(self, x, y, **kwargs)


class FunctionTuner(SearchHooks, keras_tuner.Tuner):
    """A tuner whose trial is one call of `function(hp) -> float`; no model is trained.

    Args:
        function: `f(hp) -> float`, the value of a configuration (reported as "score").
        oracle: The oracle (an `EvolutionaryOracle`, or any Keras Tuner oracle).
        tensorboard_dir: Optional folder for TensorBoard's HParams dashboard.
        **kwargs: Keyword arguments of `keras_tuner.Tuner` (`directory`, `project_name`, ...).
    """

    def __init__(
        self,
        function: Callable[[HyperParameters], float],
        oracle,
        tensorboard_dir: str | None = None,
        **kwargs,
    ):
        self.function = function
        self.tensorboard_dir = tensorboard_dir
        # A trial reports its value once, when the call returns (what `reload` relies on).
        oracle.results_reported_at_end = True
        self._attach_observers()
        super().__init__(oracle, hypermodel=None, **kwargs)

    def run_trial(self, trial, *args, **kwargs) -> dict[str, float]:
        value = float(self.function(trial.hyperparameters))
        if math.isnan(value):
            # Keras Tuner marks a NaN objective INVALID, then FAILED after its retries.
            raise ValueError(f"The function returned NaN for {trial.hyperparameters.values}.")
        return {"score": value}

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: a function search trains no model."""
