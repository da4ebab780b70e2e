"""`maximize` and `minimize`: evolve the arguments of any Python function."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import keras_tuner
from keras_tuner import HyperParameters

from keras_tuner_evolution.history import History
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.tuners import FunctionTuner  # noqa: F401 (0.1.0 defined it here)

SCORE = "score"


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
        **evolution: `seed` and the evolution's arguments, documented in `EvolutionConfig`
            (`population_size`, `generations`, `elites`, `breeders`, `mutation_rate`, ...).

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
