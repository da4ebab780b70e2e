"""Training the best configuration of a finished search to convergence."""

from __future__ import annotations

import gc
import os
from typing import Any

import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import _keras_tuner, scores


def train_best(
    tuner: keras_tuner.Tuner,
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float = 0.0,
    epochs: int = 100,
    patience: int = 5,
    file_name: str | os.PathLike | None = "best_model.keras",
    verbose: int | str = 1,
    **fit_kwargs: Any,
) -> float:
    """Trains the best configuration found so far with early stopping and saves it.

    The model is built from the best completed trial's hyperparameters with
    `tuner.hypermodel.build(hp)` and trained with `tuner.hypermodel.fit(hp, model, ...)`, so
    hyperparameters tuned in `fit` (such as `DenseHyperModel`'s batch size) apply.
    `keras.callbacks.EarlyStopping` watches the tuner's objective in its direction and restores
    the best weights before the model is saved. Works with any Keras Tuner `Tuner`.

    Args:
        tuner: A tuner with at least one completed trial.
        x: Training inputs.
        y: Training targets.
        validation_data: Validation data, as for `keras.Model.fit`.
        validation_split: Fraction of the training data to validate on when
            `validation_data` is not given.
        epochs: The most epochs to train.
        patience: Epochs without improvement of the objective before stopping.
        file_name: Where to save the model; must end in ``.keras``. None: do not save.
        verbose: Verbosity of `fit`.
        **fit_kwargs: More arguments for `fit`; `callbacks` are run alongside early stopping.

    Returns:
        The best value of the objective over the epochs (the value of the saved weights).

    Raises:
        ValueError: When the tuner has no completed trial, the objective is not a single
            metric, or a validation objective has no validation data.
    """
    monitor, mode = _monitored_objective(tuner, validation_data, validation_split)
    _check_arguments(epochs, patience, file_name)

    hp = _best_completed_hyperparameters(tuner)
    model = _build(tuner, hp)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=patience, restore_best_weights=True
    )
    callbacks = [*(fit_kwargs.pop("callbacks", None) or []), early_stopping]
    fit_kwargs.update(_validation(validation_data, validation_split))
    data = (x,) if y is None else (x, y)  # y=None: x is a dataset that yields targets
    results = tuner.hypermodel.fit(
        hp, model, *data, epochs=epochs, callbacks=callbacks, verbose=verbose, **fit_kwargs
    )
    best = _best_value(results, monitor, mode)
    if file_name is not None:
        _save(model, file_name)
    return best


def _monitored_objective(
    tuner: keras_tuner.Tuner, validation_data: Any, validation_split: float
) -> tuple[str, str]:
    """The objective's `(name, direction)`, checked to be one metric that can be measured."""
    objective = tuner.oracle.objective
    if not hasattr(objective, "direction") or hasattr(objective, "objectives"):
        raise ValueError(
            "train_best needs a single objective to monitor; the tuner has "
            f"{getattr(objective, 'name', objective)!r}."
        )
    monitor, mode = objective.name, objective.direction
    if monitor.startswith("val_") and validation_data is None and not validation_split:
        raise ValueError(
            f"the objective {monitor!r} is measured on validation data: pass validation_data= "
            "or validation_split= to train_best."
        )
    return monitor, mode


def _build(tuner: keras_tuner.Tuner, hp: keras_tuner.HyperParameters) -> keras.Model:
    """Builds the model of `hp` as the tuner's trials did: fresh session, compile overrides."""
    # As Keras Tuner does before each trial: free the graphs of earlier models.
    keras.backend.clear_session()
    gc.collect()
    model = tuner.hypermodel.build(hp)
    # Apply the tuner's optimizer/loss/metrics overrides, as its trials did.
    _keras_tuner.override_compile_args(tuner, model)
    return model


def _validation(validation_data: Any, validation_split: float) -> dict[str, Any]:
    """The `fit` arguments for validation: the data when given, else the split, if any."""
    if validation_data is not None:
        return {"validation_data": validation_data}
    if validation_split:
        return {"validation_split": validation_split}
    return {}


def _check_arguments(epochs: Any, patience: Any, file_name: Any) -> None:
    """Raises ValueError, naming the argument, when `epochs`, `patience` or `file_name` is bad."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer; got {epochs!r}.")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise ValueError(f"patience must be a non-negative integer; got {patience!r}.")
    if file_name is not None and not os.fspath(file_name).endswith(".keras"):
        raise ValueError(f"file_name must end in '.keras'; got {os.fspath(file_name)!r}.")


def _save(model: keras.Model, file_name: str | os.PathLike) -> None:
    """Saves `model` to `file_name`, creating its folder."""
    directory = os.path.dirname(os.fspath(file_name))
    if directory:
        os.makedirs(directory, exist_ok=True)
    model.save(file_name)


def _best_completed_hyperparameters(tuner: keras_tuner.Tuner) -> keras_tuner.HyperParameters:
    oracle = tuner.oracle
    completed = [
        trial
        for trial in oracle.trials.values()
        if trial.status == TrialStatus.COMPLETED and trial.score is not None
    ]
    if not completed:
        raise ValueError(
            "the tuner has no completed trial to train: run tuner.search() first "
            f"({len(oracle.trials)} trial(s) so far, none completed)."
        )
    # Oracle.get_best_trials pads its answer with trials that did not complete: sort here.
    sign = scores.sign(oracle.objective.direction)
    best = max(completed, key=lambda trial: sign * trial.score)
    return best.hyperparameters.copy()


def _best_value(results: Any, monitor: str, mode: str) -> float:
    if isinstance(results, keras.callbacks.History):
        values = results.history.get(monitor)
        if not values:
            raise ValueError(
                f"training logged no {monitor!r}; it logged {sorted(results.history)}."
            )
        best = scores.best(values, mode)  # non-finite values are skipped
        return float("nan") if best is None else best
    if isinstance(results, dict):
        return float(results[monitor])
    return float(results)
