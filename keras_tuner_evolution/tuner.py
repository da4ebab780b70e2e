"""`EvolutionaryTuner`: a drop-in replacement for `keras_tuner.RandomSearch`."""

from __future__ import annotations

from typing import Any

import keras_tuner
from keras_tuner.src.distribute import utils as dist_utils

from keras_tuner_evolution.history import History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.progress import ProgressHooks
from keras_tuner_evolution.storage import AtomicTunerState
from keras_tuner_evolution.tensorboard_logging import TensorBoardLogger
from keras_tuner_evolution.warm_start import check_initial_population

# Distinguishes "max_trials not given" from an explicit `max_trials=None` (unlimited).
_NOT_GIVEN: Any = object()
RANDOM_SEARCH_MAX_TRIALS = 10


class EvolutionaryTuner(AtomicTunerState, keras_tuner.Tuner):
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
        selection: See `EvolutionaryOracle` ("rank" or "tournament").
        tournament_size: See `EvolutionaryOracle`.
        parent_pool: See `EvolutionaryOracle` ("generation" or "best").
        adaptive_mutation: See `EvolutionaryOracle`.
        goal: See `EvolutionaryOracle`.
        patience: See `EvolutionaryOracle`.
        min_delta: See `EvolutionaryOracle`.
        max_search_time: See `EvolutionaryOracle`.
        initial_population: See `EvolutionaryOracle`.
        warm_start_from: See `EvolutionaryOracle`.
        max_training_time: Seconds of training per trial (per execution); training stops
            between batches when the time is up and the trial reports its score. None: no limit.
        tensorboard_dir: Folder for TensorBoard: the HParams dashboard (every trial with its
            hyperparameters, lineage and metrics) and the evolution's scalars. A
            `keras.callbacks.TensorBoard` passed to `search` gets the same, in its `log_dir`.
        asynchronous: See `EvolutionaryOracle` (parallel workers never wait for a
            generation's slowest trial when True).
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
        elites: int | float = 0.3,
        breeders: float = 0.3,
        mutation_rate: float = 0.1,
        mutation_scale: float = 0.2,
        selection_pressure: float = 5.0,
        selection: str = "rank",
        tournament_size: int = 3,
        parent_pool: str = "generation",
        adaptive_mutation: bool = False,
        goal: float | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        max_search_time: float | None = None,
        initial_population: list[dict[str, Any]] | None = None,
        warm_start_from: tuple[str, str] | None = None,
        max_training_time: float | None = None,
        tensorboard_dir: str | None = None,
        asynchronous: bool = True,
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
        self.tensorboard_dir = tensorboard_dir
        self._tensorboard = TensorBoardLogger(self)
        self._progress = ProgressHooks(self)
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
            selection=selection,
            tournament_size=tournament_size,
            parent_pool=parent_pool,
            adaptive_mutation=adaptive_mutation,
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
            asynchronous=asynchronous,
        )
        if kwargs.get("overwrite") and dist_utils.has_chief_oracle():
            if not dist_utils.is_chief_oracle():
                # Only the chief owns the project folder: a worker (re)started with
                # overwrite=True would delete the trials the other workers have finished.
                kwargs["overwrite"] = False
        # Keras Tuner's run_trial reports a trial's metrics once, at its end; an overridden one
        # might report intermediate values (a deprecated use), so it is not relied upon.
        oracle.results_reported_at_end = type(self).run_trial is EvolutionaryTuner.run_trial
        super().__init__(oracle, hypermodel, **kwargs)
        if isinstance(self.oracle, EvolutionaryOracle) and initial_population:
            # The hypermodel's space is known now: fail before any training, not after.
            check_initial_population(self.oracle.hyperparameters, initial_population)

    def search(self, *fit_args, **fit_kwargs) -> None:
        """As `keras_tuner.Tuner.search`; the chief of a parallel search serves the oracle.

        The chief (see `kte launch`) trains nothing: it answers the workers until the search
        is over, through `keras_tuner_evolution.distribute.serve`.
        """
        if dist_utils.is_chief_oracle():
            from keras_tuner_evolution import distribute

            distribute.serve(self, verbose=fit_kwargs.get("verbose"))
            return
        super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        """Builds and fits the model of a trial (as `keras_tuner.Tuner`), within the time limit."""
        if self.max_training_time is not None:
            from keras_tuner_evolution.callbacks import TimeLimit

            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = [*callbacks, TimeLimit(self.max_training_time)]
        return super().run_trial(trial, *args, **kwargs)

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

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
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

    def train_best(self, x, y=None, **kwargs) -> float:
        """Trains the fittest configuration fully; see `keras_tuner_evolution.training`."""
        from keras_tuner_evolution.training import train_best

        return train_best(self, x, y, **kwargs)
