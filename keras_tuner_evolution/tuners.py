"""The tuners: `EvolutionaryTuner` (drop-in for `keras_tuner.RandomSearch`) and `FunctionTuner`.

Both share `SearchHooks`, which connects the observers (progress bar, TensorBoard, History) to
Keras Tuner's search hooks and writes the tuner's file atomically. The evolution's arguments
are documented once, in `EvolutionConfig`, and passed through untouched.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Callable
from typing import Any

import keras_tuner
from keras_tuner import HyperParameters

from keras_tuner_evolution import _keras_tuner
from keras_tuner_evolution.checks import check_bool
from keras_tuner_evolution.config import EvolutionConfig
from keras_tuner_evolution.history import History
from keras_tuner_evolution.hyperband import EvolutionaryHyperbandOracle
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.progress import ProgressHooks
from keras_tuner_evolution.tensorboard import TensorBoardLogger
from keras_tuner_evolution.warm_start import check_initial_population

# Distinguishes "max_trials not given" from an explicit `max_trials=None` (unlimited).
_NOT_GIVEN: Any = object()
RANDOM_SEARCH_MAX_TRIALS = 10
logger = logging.getLogger("keras_tuner_evolution")


def trial_seed(seed: int, trial_id: str, attempt: int = 0) -> int:
    """The seed of a trial's training: a function of the search's seed and the trial's id only
    (and of the attempt, when a failed trial is retried: a retry that repeated the failed
    training exactly would fail alike).

    Why: Keras draws initial weights, dropout masks and shuffles from one global generator,
    and how far it has run when a trial starts depends on what ran before: other trials, and
    Keras Tuner's discovery of conditional scopes, which builds models with random values it
    does not seed. Seeded this way a trial trains alike whichever worker runs it, after a
    resume, and in a second search with the same seed.
    """
    retry = f":{attempt}" if attempt else ""
    return zlib.crc32(f"{seed}:{trial_id}{retry}".encode())


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


class TrainingHooks(SearchHooks):
    """Mixin for tuners that train models: the chief serves, `max_training_time`, `train_best`."""

    max_training_time: float | None = None
    seed: int | None = None
    seed_training: bool = True

    def _prepare(
        self,
        max_training_time: float | None,
        tensorboard_dir: str | None,
        seed_training: bool,
        kwargs: dict,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The setup both training tuners share, before their oracle is built.

        Checks and keeps `max_training_time`, `tensorboard_dir` and `seed_training`, attaches
        the observers and splits `kwargs` into the evolution's arguments and Keras Tuner's.
        Only the chief owns the project folder: a worker (re)started with overwrite=True would
        delete the trials the other workers have finished, so a worker's `overwrite` is
        switched off.
        """
        _check_training_time(max_training_time)
        self.max_training_time = max_training_time
        check_bool(seed_training, "seed_training")
        self.seed_training = seed_training
        self._attempts: dict[str, int] = {}  # trial id -> times it started training here
        self.tensorboard_dir = tensorboard_dir
        self._attach_observers()
        evolution, kwargs = EvolutionConfig.split(kwargs)
        if kwargs.get("overwrite") and _keras_tuner.is_worker():
            kwargs["overwrite"] = False
        return evolution, kwargs

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
        """Builds and fits the model of a trial (as `keras_tuner.Tuner`), within the time limit;
        with a `seed` (and `seed_training`), Keras is seeded first with `trial_seed`."""
        if self.seed is not None and self.seed_training:
            import keras

            attempt = self._attempts.get(trial.trial_id, 0)  # > 0: Keras Tuner retries it
            self._attempts[trial.trial_id] = attempt + 1
            keras.utils.set_random_seed(trial_seed(self.seed, trial.trial_id, attempt))
        if self.max_training_time is not None:
            from keras_tuner_evolution.callbacks import TimeLimit

            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = [*callbacks, TimeLimit(self.max_training_time)]
        return super().run_trial(trial, *args, **kwargs)

    def load_model(self, trial):
        """As `keras_tuner.Tuner.load_model`, with the trial's optimizer state loaded too, so
        that a model of `get_best_models` trains on from where it stopped
        (`_keras_tuner.load_optimizer_state`)."""
        model = _keras_tuner.without_optimizer_warning(super().load_model, trial)
        return _keras_tuner.load_optimizer_state(self, model, trial.trial_id)

    def train_best(self, x, y=None, **kwargs) -> float:
        """Trains the fittest configuration fully; see `keras_tuner_evolution.training`."""
        from keras_tuner_evolution.training import train_best

        return train_best(self, x, y, **kwargs)


class EvolutionaryTuner(TrainingHooks, keras_tuner.Tuner):
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
        seed: Int seed of the evolution (one worker + same seed = same trials), and of each
            trial's training (see `seed_training`).
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
        seed_training: With a `seed`, each trial seeds Keras (`keras.utils.set_random_seed`:
            Python, NumPy and the backend) with `trial_seed(seed, trial_id)` before it builds
            its model (default True), so a trial's training does not depend on what ran before
            it (other trials, Keras Tuner's discovery of conditional scopes, which draws
            unseeded values): the same seed gives the same search on one worker, as far as the
            hardware computes alike, and a trial trains alike whichever worker runs it and
            after a resume. False: Keras's generators are left as they are.
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
        seed_training: bool = True,
        **kwargs,
    ):
        if hypermodel is None and type(self).run_trial is EvolutionaryTuner.run_trial:
            raise ValueError(
                "Received `hypermodel=None`. It may only be omitted when `run_trial()` is "
                "overridden and defines the search space itself."
            )
        evolution, kwargs = self._prepare(max_training_time, tensorboard_dir, seed_training, kwargs)
        if max_trials is _NOT_GIVEN:
            no_generations = evolution.get("generations") is None
            max_trials = RANDOM_SEARCH_MAX_TRIALS if no_generations else None
        self.seed = seed
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
        # Keras Tuner's run_trial reports a trial's metrics once, at its end; an overridden one
        # might report intermediate values (a deprecated use), so it is not relied upon.
        oracle.results_reported_at_end = type(self).run_trial is EvolutionaryTuner.run_trial
        super().__init__(oracle, hypermodel, **kwargs)
        initial = evolution.get("initial_population")
        if isinstance(self.oracle, EvolutionaryOracle) and initial:
            # The hypermodel's space is known now: fail before any training, not after.
            check_initial_population(self.oracle.hyperparameters, initial)


class EvolutionaryHyperband(TrainingHooks, keras_tuner.Hyperband):
    """The evolution with Hyperband's epochs: a drop-in replacement for `keras_tuner.Hyperband`.

    Every argument of `keras_tuner.Hyperband` keeps its meaning and default; the oracle is an
    `EvolutionaryHyperbandOracle` (see it for the algorithm and `docs/multi_fidelity.md`). New
    configurations are bred by the evolution and trained `min_epochs`..few epochs; the best of
    each rung continue their checkpoint to more epochs, up to `max_epochs`. The training side is
    `keras_tuner.Hyperband`'s own: each trial fits from `tuner/initial_epoch` to `tuner/epochs`,
    loading the checkpoint of `tuner/trial_id` when it continues an earlier trial.

    Args:
        hypermodel: As for `keras_tuner.Hyperband`.
        objective: As for `keras_tuner.Hyperband`.
        max_epochs: As for `keras_tuner.Hyperband` (defaults to 100).
        factor: As for `keras_tuner.Hyperband` (defaults to 3).
        hyperband_iterations: As for `keras_tuner.Hyperband`: sets the default budget.
        seed: Int seed of the evolution (one worker + same seed = same trials), and of each
            trial's training (see `seed_training`).
        hyperparameters: As for `keras_tuner.Hyperband`.
        tune_new_entries: As for `keras_tuner.Hyperband`.
        allow_new_entries: As for `keras_tuner.Hyperband`.
        max_retries_per_trial: As for `keras_tuner.Hyperband`.
        max_consecutive_failed_trials: As for `keras_tuner.Hyperband`.
        max_epochs_total: The budget in epochs over all trials; None: what
            `keras_tuner.Hyperband` with the same arguments trains.
        max_trials: Optional cap on the number of trials (promotions count).
        min_epochs: The fewest epochs a new configuration is trained, in `[1, max_epochs]`.
        brackets: How many of Hyperband's brackets new configurations start in (1, default:
            all start at the lowest rung; None: all brackets, in Hyperband's proportions).
            See the oracle.
        promote_by_family: True: promotions compare a configuration only with those of its
            own family (its values of the space's unordered choices that open conditional
            scopes, such as `arch`); False: within brackets only; "auto" (default): within
            families until the promotions show the families learn alike. See the oracle.
        max_training_time: Seconds of training per trial; see `EvolutionaryTuner`.
        tensorboard_dir: See `EvolutionaryTuner`.
        seed_training: Seed each trial's training from `seed` and its trial id (default
            True); see `EvolutionaryTuner`.
        **kwargs: The evolution's arguments (see `EvolutionConfig`) and the keyword arguments
            of `keras_tuner.Tuner` (`directory`, `project_name`, `overwrite`, ...).
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        hyperparameters=None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        max_epochs_total: int | None = None,
        max_trials: int | None = None,
        min_epochs: int = 1,
        brackets: int | None = 1,
        promote_by_family: bool | str = "auto",
        max_training_time: float | None = None,
        tensorboard_dir: str | None = None,
        seed_training: bool = True,
        **kwargs,
    ):
        evolution, kwargs = self._prepare(max_training_time, tensorboard_dir, seed_training, kwargs)
        self.seed = seed
        oracle = EvolutionaryHyperbandOracle(
            objective=objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            max_epochs_total=max_epochs_total,
            max_trials=max_trials,
            min_epochs=min_epochs,
            brackets=brackets,
            promote_by_family=promote_by_family,
            **evolution,
        )
        self.epochs_seen: dict[str, list[int]] = {}  # trial id -> epochs run (see on_trial_end)
        # keras_tuner.Hyperband.__init__ would build its own oracle: give ours to Tuner's.
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)

    def search(self, *fit_args, **fit_kwargs) -> None:
        """As `keras_tuner.Hyperband.search`; `epochs` is set per trial by the oracle."""
        if "epochs" in fit_kwargs:
            logger.warning(
                "EvolutionaryHyperband sets each trial's epochs (tuner/epochs, up to "
                "max_epochs): the `epochs=%s` given to search() is not used.",
                fit_kwargs.pop("epochs"),
            )
        super().search(*fit_args, **fit_kwargs)

    def _build_hypermodel(self, hp):
        """`keras_tuner.Hyperband`'s model, with the optimizer state of the trial it continues
        (`_keras_tuner.continued_model`)."""
        return _keras_tuner.continued_model(self, super()._build_hypermodel, hp)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        super().on_epoch_end(trial, model, epoch, logs)
        self.epochs_seen.setdefault(trial.trial_id, []).append(int(epoch))

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        check_epochs(trial, self.epochs_seen.pop(trial.trial_id, []))


def check_epochs(trial, epochs: list[int]) -> None:
    """Raises when a trial trained outside `[tuner/initial_epoch, tuner/epochs)`.

    A `run_trial` that ignores the Hyperband values would retrain promoted models from scratch
    or train every model fully: the budget would be spent without a word. Fewer epochs are fine
    (early stopping, `max_training_time`). Epochs are seen through `Tuner.on_epoch_end`, which
    Keras Tuner's fit path calls; a `run_trial` that fits by itself cannot be checked.
    """
    values = trial.hyperparameters.values
    if not epochs or "tuner/epochs" not in values:
        return
    first, last = values["tuner/initial_epoch"], values["tuner/epochs"]
    if min(epochs) != first or max(epochs) >= last:
        raise RuntimeError(
            f"Trial {trial.trial_id} trained epochs {min(epochs)}..{max(epochs)}, but the "
            f"oracle asked for epochs {first}..{last - 1} (`tuner/initial_epoch`={first}, "
            f"`tuner/epochs`={last}). A custom `run_trial` must fit with "
            "`initial_epoch=hp.values['tuner/initial_epoch']` and "
            "`epochs=hp.values['tuner/epochs']` (as keras_tuner.Hyperband's does), or the "
            "epoch budget is spent without the oracle knowing. The search state is saved: "
            "fix run_trial and resume with overwrite=False."
        )


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
