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

import errno
import itertools
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger("keras_tuner_evolution")

# Suffix of a state file that could not be read, kept aside (never deleted nor overwritten).
UNREADABLE_SUFFIX = ".unreadable"

# How far a write is forced to disk:
# - "all": the file and the folder holding it: the new file survives a power cut;
# - "data": the file only: after a power cut the path holds the old or the new file, whole;
# - "none": neither: whole as long as the machine stays up (a killed process included).
SYNC_LEVELS = ("all", "data", "none")
# Names of the temporary files of `atomic_write_text` (and of the orphans a kill leaves).
TEMP_PREFIX, TEMP_SUFFIX = ".tmp-", ".json"


class StateFileError(RuntimeError):
    """A state file of a search cannot be read (truncated, corrupt, missing)."""


class StateWriteError(StateFileError, OSError):
    """A state file of a search cannot be written (disk full, folder not writable).

    Also an `OSError`, with the `errno` of the failure and the file as `filename`. The file
    already on disk, if any, is unchanged.
    """

    def __str__(self) -> str:
        return str(self.args[0])  # the message, not OSError's "[Errno N] ..."


_WRITE_HINTS = {
    errno.ENOSPC: "the disk is full: free some space",
    errno.EDQUOT: "the disk quota is exceeded: free some space",
    errno.EACCES: "the folder is not writable: check its permissions",
    errno.EPERM: "the folder is not writable: check its permissions",
    errno.EROFS: "the file system is read-only",
}


def _write_error(path: str, error: OSError) -> StateWriteError:
    """The error raised when writing `path` failed with `error`, naming the file and a cure."""
    hint = _WRITE_HINTS.get(error.errno, "")
    failed = StateWriteError(
        f"Cannot write the search state file {path}: {type(error).__name__}: {error}"
        + (f" ({hint})" if hint else "")
        + ". The file on disk is unchanged and nothing saved before is lost: fix the cause, "
        "then resume the search (overwrite=False)."
    )
    failed.errno = error.errno
    failed.filename = path
    return failed


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

    Raises:
        StateWriteError: The write failed (disk full, folder not writable, ...); the message
            names the file, which is left as it was, and no temporary file is left behind.
    """
    if sync not in SYNC_LEVELS:
        raise ValueError(f"`sync` must be one of {SYNC_LEVELS}, got {sync!r}.")
    try:
        _replace_with(path, text, sync)
    except OSError as error:
        raise _write_error(path, error) from error


def _replace_with(path: str, text: str, sync: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
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


# A temporary file older than this is an orphan of a write that was killed (a write takes
# milliseconds); younger ones may belong to a write in progress in another process.
ORPHAN_AGE_SECONDS = 60.0


def remove_orphaned_temporaries(folder: str, older_than: float = ORPHAN_AGE_SECONDS) -> list[str]:
    """Deletes the temporary files that killed writes left in `folder` and its subfolders.

    `atomic_write_text` writes `.tmp-*.json` next to its target and renames it; a process killed
    in between leaves the temporary file behind. Nothing reads these files, so removing them
    only tidies the project. Files younger than `older_than` seconds are kept.

    Returns:
        The paths removed.
    """
    if not _is_local(folder) or not os.path.isdir(folder):
        return []
    removed = []
    deadline = time.time() - older_than
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
                try:
                    if os.path.getmtime(path) < deadline:
                        os.unlink(path)
                        removed.append(path)
                except OSError:
                    continue  # renamed or removed meanwhile: not an orphan after all
    return removed


def sync_to_disk(path: str) -> None:
    """Forces a file written with `sync="none"` to disk, and its folder (so its rename is too).

    Raises:
        StateWriteError: The file could not be forced to disk; the message names it.
    """
    if not _is_local(path):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise _write_error(path, error) from error
    _fsync_folder(os.path.dirname(os.path.abspath(path)))


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
        from keras_tuner_evolution import _keras_tuner  # TensorFlow: only for remote paths

        _keras_tuner.write_remote_text(path, text)


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
        from keras_tuner_evolution import _keras_tuner  # TensorFlow: only for remote paths

        return _keras_tuner.load_remote_json(path)
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


def json_object(encoded: Mapping[str, str]) -> str:
    """A JSON object's text from its keys and their values' already encoded JSON text.

    Lets a large state file reuse the encoding of the parts that no longer change (the
    finished generations of an evolution, its lineage) instead of encoding them on every write.
    """
    return "{" + ", ".join(f"{json.dumps(key)}: {text}" for key, text in encoded.items()) + "}"


def _same(value: Any) -> Any:
    return value


class GrowingJSON:
    """The JSON text of a list or dict that only grows, encoding each new entry once.

    `list_text(items, frozen)` encodes a list whose first `frozen` items never change again;
    `dict_text(mapping)` a dict whose entries, once added, never change.
    """

    def __init__(self):
        self._parts: list[str] = []

    def list_text(self, items: list[Any], frozen: int) -> str:
        """`json.dumps(items)`, reusing the encoding of the first `frozen` items."""
        for item in items[len(self._parts) : frozen]:
            self._parts.append(json.dumps(item))
        live = [json.dumps(item) for item in items[len(self._parts) :]]
        return "[" + ", ".join(self._parts + live) + "]"

    def dict_text(self, mapping: Mapping[str, Any], row: Callable[[Any], Any] = _same) -> str:
        """`json.dumps({key: row(value)})` for a dict to which entries are only ever added.

        Only the entries added since the last call are read, converted by `row` and encoded.
        """
        if len(mapping) > len(self._parts):
            new = itertools.islice(mapping.items(), len(self._parts), None)
            self._parts += [f"{json.dumps(key)}: {json.dumps(row(value))}" for key, value in new]
        return "{" + ", ".join(self._parts) + "}"
