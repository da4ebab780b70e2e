"""`maximize` and `minimize`: evolve the arguments of any Python function."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from typing import Any

import keras_tuner
from keras_tuner import HyperParameters

from keras_tuner_evolution.history import History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.progress import ProgressHooks
from keras_tuner_evolution.storage import AtomicTunerState

SCORE = "score"


class FunctionTuner(AtomicTunerState, keras_tuner.Tuner):
    """A tuner whose trial is one call of `function(hp) -> float`; no model is trained."""

    def __init__(self, function: Callable[[HyperParameters], float], oracle, **kwargs):
        self.function = function
        # A trial reports its value once, when the call returns (what `reload` relies on).
        oracle.results_reported_at_end = True
        self._progress = ProgressHooks(self)
        super().__init__(oracle, hypermodel=None, **kwargs)

    @property
    def history(self) -> History:
        """The `History` of the search (see `EvolutionaryOracle.history`)."""
        return self.oracle.history

    def run_trial(self, trial, *args, **kwargs) -> dict[str, float]:
        value = float(self.function(trial.hyperparameters))
        if math.isnan(value):
            # Keras Tuner marks a NaN objective INVALID, then FAILED after its retries.
            raise ValueError(f"The function returned NaN for {trial.hyperparameters.values}.")
        return {SCORE: value}

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: a function search trains no model."""

    def on_search_begin(self):
        super().on_search_begin()
        self._progress.search_begin()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self._progress.trial_end(trial)

    def on_search_end(self):
        super().on_search_end()
        self._progress.search_end()
        if hasattr(self.oracle, "flush_history"):
            self.oracle.flush_history()


def _optimize(
    function: Callable[[HyperParameters], float],
    hyperparameters: HyperParameters | None,
    direction: str,
    max_trials: int | None,
    directory: str | None,
    project_name: str,
    overwrite: bool,
    verbose: int,
    **evolution: Any,
) -> History:
    if not callable(function):
        raise ValueError(f"`function` must be callable, got {function!r}.")
    if max_trials is None and evolution.get("generations") is None:
        raise ValueError("Give `max_trials` or `generations` (an int >= 1); both are None.")

    def run(folder: str) -> History:
        oracle = EvolutionaryOracle(
            objective=keras_tuner.Objective(SCORE, direction),
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            **evolution,
        )
        tuner = FunctionTuner(
            function, oracle, directory=folder, project_name=project_name, overwrite=overwrite
        )
        tuner.search(verbose=verbose)
        return oracle.history

    if directory is not None:
        return run(directory)
    with tempfile.TemporaryDirectory(prefix="kte-") as folder:
        return run(folder)


def maximize(
    function: Callable[[HyperParameters], float],
    hyperparameters: HyperParameters | None = None,
    *,
    max_trials: int | None = 100,
    directory: str | None = None,
    project_name: str = "maximize",
    overwrite: bool = True,
    verbose: int = 0,
    **evolution: Any,
) -> History:
    """Evolves the hyperparameters of `function` towards its maximum.

    The original NaturalSelection's "look for maxima of any function", on Keras Tuner's search
    spaces: `function` receives a `HyperParameters` and may also declare hyperparameters itself
    (`hp.Int(...)`), which the first call discovers.

    Example:
        ```python
        hp = keras_tuner.HyperParameters()
        hp.Float("x", -5, 5)
        history = kte.maximize(lambda hp: -(hp["x"] - 1) ** 2, hp, max_trials=100, seed=1)
        history.fittest["genome"]  # {"x": 0.99...}
        ```

    Args:
        function: `f(hp) -> float`, the fitness of a configuration.
        hyperparameters: The search space (may be None when `function` declares it).
        max_trials: Number of evaluations; also bounded by `generations` when given.
        directory: Folder for the project's files; None uses a temporary folder.
        project_name: Project sub-folder name.
        overwrite: Start afresh (True) or resume an earlier search in `directory` (False).
        verbose: Keras Tuner's per-trial printing (0 silent, 1 verbose).
        **evolution: Arguments of `EvolutionaryOracle` (`population_size`, `generations`,
            `elites`, `breeders`, `mutation_rate`, `selection_pressure`, `seed`, ...).

    Returns:
        The `History` of the search; `history.fittest` holds the best genome and value.
    """
    return _optimize(
        function,
        hyperparameters,
        "max",
        max_trials,
        directory,
        project_name,
        overwrite,
        verbose,
        **evolution,
    )


def minimize(
    function: Callable[[HyperParameters], float],
    hyperparameters: HyperParameters | None = None,
    *,
    max_trials: int | None = 100,
    directory: str | None = None,
    project_name: str = "minimize",
    overwrite: bool = True,
    verbose: int = 0,
    **evolution: Any,
) -> History:
    """Evolves the hyperparameters of `function` towards its minimum; see `maximize`."""
    return _optimize(
        function,
        hyperparameters,
        "min",
        max_trials,
        directory,
        project_name,
        overwrite,
        verbose,
        **evolution,
    )
