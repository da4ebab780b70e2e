"""Keras callbacks used during the search: a training time limit, and per-model progress."""

from __future__ import annotations

import math
import time
from typing import Any, TextIO

import keras

from keras_tuner_evolution.progress import TrialLog


class TimeLimit(keras.callbacks.Callback):
    """Stops training once a wall-clock budget is spent.

    The clock starts at `on_train_begin`, so model building and data preparation before
    `fit()` are not counted. Training stops between batches (the batch in flight finishes),
    and the epoch is then closed normally: validation still runs and `History` still holds the
    epoch's metrics, so a tuner trial stopped this way reports a score rather than failing.

    A fresh budget starts with every `fit()`, so one instance can be reused (Keras Tuner
    deep-copies callbacks for each trial anyway).

    Args:
        seconds: The training time budget, a positive number of seconds.

    Attributes:
        seconds: The budget.
        timed_out: Whether the last `fit()` was stopped by this callback.
        stopped_epoch: The 0-based epoch during which it stopped, or None.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__()
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise ValueError(f"seconds must be a positive, finite number; got {seconds!r}.")
        self.seconds = float(seconds)
        self.timed_out = False
        self.stopped_epoch: int | None = None
        self._start = 0.0
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.monotonic()
        self.timed_out = False
        self.stopped_epoch = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._check()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Validation can take long too: do not start another epoch once the time is up.
        self._check()

    def _check(self) -> None:
        if not self.timed_out and time.monotonic() - self._start >= self.seconds:
            self.timed_out = True
            self.stopped_epoch = self._epoch
            self.model.stop_training = True


class Progress(keras.callbacks.Callback):
    """Prints one line per trained model: its objective, the best so far and its time.

    Meant for `Tuner.search(callbacks=[...])` with ``verbose=0``. Keras Tuner deep-copies the
    search callbacks for every trial; this one returns itself from `__deepcopy__`, so the
    count and the best score carry across trials. The lines are written by
    `keras_tuner_evolution.progress.TrialLog`: this class only forwards Keras' events.

    Args:
        objective: The logged metric to report, e.g. ``"val_accuracy"``.
        direction: ``"max"`` or ``"min"``: which values are better.
        stream: Where to print; defaults to standard output.

    Raises:
        ValueError: For a direction other than ``"max"`` or ``"min"``.
    """

    def __init__(self, objective: str, direction: str = "max", stream: TextIO | None = None):
        super().__init__()
        self.log = TrialLog(objective, direction, stream)

    def __deepcopy__(self, memo: dict) -> Progress:
        return self

    @property
    def objective(self) -> str:
        """The logged metric reported."""
        return self.log.objective

    @property
    def direction(self) -> str:
        """``"max"`` or ``"min"``."""
        return self.log.direction

    @property
    def stream(self) -> TextIO | None:
        """Where the lines go (None: standard output)."""
        return self.log.stream

    @stream.setter
    def stream(self, stream: TextIO | None) -> None:
        self.log.stream = stream

    @property
    def trials(self) -> int:
        """Models trained so far."""
        return self.log.trials

    @property
    def best(self) -> float | None:
        """The best value of the objective over every model so far."""
        return self.log.best

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.log.trial_begin()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.log.observe((logs or {}).get(self.objective))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.log.trial_end()
