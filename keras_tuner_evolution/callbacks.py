"""Keras callbacks used during the search."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

import keras


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
    count and the best score carry across trials.

    Args:
        objective: The logged metric to report, e.g. ``"val_accuracy"``.
        direction: ``"max"`` or ``"min"``: which values are better.
        stream: Where to print; defaults to standard output.
    """

    def __init__(self, objective: str, direction: str = "max", stream: TextIO | None = None):
        super().__init__()
        if direction not in ("max", "min"):
            raise ValueError(f"direction must be 'max' or 'min'; got {direction!r}.")
        self.objective = objective
        self.direction = direction
        self.stream = stream
        self.trials = 0
        self.best: float | None = None
        self._start = 0.0
        self._trial_best: float | None = None

    def __deepcopy__(self, memo: dict) -> Progress:
        return self

    def _better(self, value: float, than: float | None) -> bool:
        if than is None:
            return True
        return value > than if self.direction == "max" else value < than

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.monotonic()
        self._trial_best = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.objective)
        if value is not None and math.isfinite(value) and self._better(value, self._trial_best):
            self._trial_best = float(value)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.trials += 1
        score = self._trial_best
        if score is not None and self._better(score, self.best):
            self.best = score
        shown = "n/a" if score is None else f"{score:.4f}"
        best = "n/a" if self.best is None else f"{self.best:.4f}"
        print(
            f"model {self.trials:3d}: {self.objective} {shown}   best {best}   "
            f"{time.monotonic() - self._start:5.1f} s",
            file=self.stream or sys.stdout,
            flush=True,
        )
