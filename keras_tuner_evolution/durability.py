"""The oracle's lock: results forced to disk after it is released, and freed by an exception.

Keras Tuner serialises every request of every worker on one lock per oracle. A finished
trial's files must be on disk before its worker hears back (so a power cut loses no result),
but nothing requires the other workers to wait for that disk: the writes stay under the lock,
the fsyncs run after it, still before `end_trial` returns (`DeferredSync`). Every method of
the package that takes the lock, readers of the search included, takes it with `synchronized`,
which frees it when the method raises.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any

import keras_tuner

from keras_tuner_evolution import persistence


def synchronized(method: Callable) -> Callable:
    """`keras_tuner.synchronized`, with the lock released before an exception is raised.

    Keras Tuner's decorator has no try/finally (1.4.x): a request that raises under it (a
    metric missing from `update_trial`, "too many consecutive failures" from `end_trial`, a
    failing `populate_space`) keeps the lock, and the next call from any other thread (a
    worker's request, a progress bar reading `history`) waits forever. Here the exception is
    caught inside the lock and raised again once the lock is released; a call nested in
    another synchronized call of the same thread leaves the outer call's lock held, as Keras
    Tuner's does. Unlike the bare decorator this keeps the method's name and docstring.
    """

    def caught(oracle: Any, *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
        try:
            return method(oracle, *args, **kwargs), None
        except BaseException as error:  # raised again below, outside the lock
            return None, error

    locked = keras_tuner.synchronized(caught)

    @functools.wraps(method)
    def call(oracle: Any, *args: Any, **kwargs: Any) -> Any:
        value, error = locked(oracle, *args, **kwargs)
        if error is not None:
            raise error
        return value

    return call


class DeferredSync:
    """A mixin for a `keras_tuner.Oracle` (before it in the bases) whose state writes go
    through `_write_state(path, text, sync)`."""

    # True while `end_trial` runs under the lock: its fsyncs wait until the lock is released.
    _deferring_sync = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deferred_paths: set[str] = set()
        self._deferred_lock = threading.Lock()  # guards the set
        self._disk_lock = threading.Lock()  # one ender syncs at a time: the next waits for it
        self._outer = threading.local()  # depth of `syncing_after` blocks in this thread

    def end_trial(self, trial) -> None:
        """Keras Tuner's `end_trial`, under the oracle's lock; then, with the lock released,
        the files it wrote are forced to disk before this returns.

        So a result is on disk when its worker hears back, as before, but the other workers'
        requests no longer wait for the disk: on a loopback load test with 16 workers, the
        fsyncs were 7 of the 13 ms that each trial held the lock.
        """
        try:
            self._end_trial_under_lock(trial)
        finally:  # what it wrote before it raised is on disk too
            if not getattr(self._outer, "depth", 0):
                self._sync_deferred()

    @contextlib.contextmanager
    def syncing_after(self):
        """Within this block `end_trial` leaves its fsyncs pending; they run when it exits.

        For a caller that ends a trial inside a lock of its own (the chief's EndTrial checks
        and ends under the oracle's lock, so that the first report wins): the files are still
        on disk before the caller answers, but not while it holds the lock.
        """
        self._outer.depth = getattr(self._outer, "depth", 0) + 1
        try:
            yield
        finally:
            self._outer.depth -= 1
            if not self._outer.depth:
                self._sync_deferred()

    @synchronized
    def _end_trial_under_lock(self, trial) -> None:
        self._deferring_sync = True
        try:
            super().end_trial(trial)
        finally:
            self._deferring_sync = False

    def _write_state(self, path: str, text: str, sync: str) -> None:
        """Writes a state file; a forced write inside `end_trial` is forced after the lock."""
        if sync == "all" and self._deferring_sync:
            persistence.save_json_text(path, text, "none")
            with self._deferred_lock:
                self._deferred_paths.add(path)
        else:
            persistence.save_json_text(path, text, sync)

    def _sync_deferred(self) -> None:
        with self._disk_lock:
            with self._deferred_lock:
                paths, self._deferred_paths = self._deferred_paths, set()
            for path in sorted(paths):
                persistence.sync_to_disk(path)
