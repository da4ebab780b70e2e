"""Atomic, JSON-only storage of a search's state files.

Keras Tuner writes `oracle.json`, every `trial_*/trial.json` and the tuner's own file by opening
the file for writing and writing into it: a process killed at that moment leaves an empty or
truncated file, and every resume after that fails with a `JSONDecodeError`. Every state file of
this package goes through `atomic_write_text` instead (temporary file in the same folder, flush,
rename), and is read back with `load_json`, which names the file it cannot read. Nothing is ever
unpickled: state files are JSON.

The rename alone protects against a killed process. Against a power cut the data must also be
forced to disk (fsync), which costs about a millisecond per file here, and Keras Tuner rewrites
its files five times per trial: `sync` says how much of that a write needs (see `SYNC_LEVELS`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from typing import Any

logger = logging.getLogger("keras_tuner_evolution")

# Suffix of a state file that could not be read, kept aside (never deleted nor overwritten).
UNREADABLE_SUFFIX = ".unreadable"

# How far a write is forced to disk:
# - "all": the file and the folder holding it: the new file survives a power cut;
# - "data": the file only: after a power cut the path holds the old or the new file, whole;
# - "none": neither: whole as long as the machine stays up (a killed process included).
SYNC_LEVELS = ("all", "data", "none")


class StateFileError(RuntimeError):
    """A state file of a search cannot be read (truncated, corrupt, missing)."""


def _is_local(path: str) -> bool:
    return "://" not in str(path)


def atomic_write_text(path: str, text: str, sync: str = "all") -> None:
    """Writes a file so that a reader (or a killed process) never sees it half written.

    The text goes to a temporary file in the same folder, is flushed, then renamed over `path`
    (an atomic step on POSIX and Windows).

    Args:
        path: The file to write.
        text: Its new content.
        sync: One of `SYNC_LEVELS`: "all" fsyncs the file before the rename and the folder
            after it (where the system allows), "data" the file only, "none" neither.
    """
    if sync not in SYNC_LEVELS:
        raise ValueError(f"`sync` must be one of {SYNC_LEVELS}, got {sync!r}.")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if sync != "none":
                os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    if sync == "all":
        _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    if not hasattr(os, "O_DIRECTORY"):  # Windows: folders cannot be opened
        return
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_json(path: str, obj: Any, sync: str = "all") -> str:
    """Writes `obj` as JSON to `path` atomically; returns the JSON text.

    Remote paths (`gs://...`) go through Keras Tuner's own writer: object stores replace a
    file whole on close, and have no rename. `sync` is `atomic_write_text`'s.
    """
    text = json.dumps(obj)
    save_json_text(path, text, sync)
    return text


def save_json_text(path: str, text: str, sync: str = "all") -> None:
    """Writes already encoded JSON `text` to `path`, as `save_json` does."""
    if _is_local(path):
        atomic_write_text(path, text, sync)
    else:
        from keras_tuner.src import backend as kt_backend

        with kt_backend.io.File(path, "w") as handle:
            handle.write(text)


def load_json(path: str) -> Any:
    """Reads a JSON state file.

    Raises:
        StateFileError: The file is missing, unreadable or not valid JSON; the message names
            the file. The file is left as it is.
    """
    try:
        if _is_local(path):
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            return json.loads(text)
        from keras_tuner.src import utils as kt_utils

        return kt_utils.load_json(path)
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError included
        raise StateFileError(
            f"Cannot read the search state file {path}: {type(error).__name__}: {error}"
        ) from error


def set_aside(path: str) -> str:
    """Renames an unreadable state file to `<path>.unreadable` (or `.unreadable-2`, ...).

    The bytes are kept for inspection, and the search can write a fresh file in its place
    without overwriting them. Returns the new path.
    """
    target = path + UNREADABLE_SUFFIX
    number = 1
    while os.path.exists(target):
        number += 1
        target = f"{path}{UNREADABLE_SUFFIX}-{number}"
    os.rename(path, target)
    return target


class AtomicTunerState:
    """Mixin for `keras_tuner.Tuner` subclasses: the tuner's own file written atomically.

    Also resumes a search whose process was killed before the tuner first wrote its own file
    (Keras Tuner resumes only when that file exists, and would otherwise start over in the
    project folder, running again the trials the oracle had already recorded).
    """

    def save(self) -> None:
        if not self._is_worker():
            self.oracle.save()
        save_json(self._get_tuner_fname(), self.get_state())

    def reload(self) -> None:
        if not self._is_worker():
            self.oracle.reload()
        path = self._get_tuner_fname()
        if not os.path.exists(path):
            return
        try:
            state = load_json(path)
        except StateFileError as error:
            kept = set_aside(path)
            logger.warning("%s; kept as %s, the tuner's state is rebuilt.", error, kept)
            state = {}
        self.set_state(state)

    def _populate_initial_space(self) -> None:
        oracle_file = getattr(self.oracle, "_get_oracle_fname", None)
        if oracle_file is not None and not self._is_worker() and os.path.exists(oracle_file()):
            # `overwrite=True` would have removed the project folder: this is a resume.
            print(f"Reloading Oracle from {oracle_file()}")
            self.reload()
            return
        super()._populate_initial_space()
