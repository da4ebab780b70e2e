"""Finding a project folder and reading its files, read-only, during or after a search.

A search rewrites its files while `kte show` reads them. This package's files are replaced
atomically (a reader sees the old or the new file, whole); Keras Tuner's own tuners write theirs
in place, so a read can meet a half-written file: every read is retried a few times before the
file is reported. Only JSON is read; nothing is unpickled, nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

ORACLE_FILE = "oracle.json"
HISTORY_FILE = "history.json"
TRIAL_FILE = "trial.json"
TRIAL_PREFIX = "trial_"
# A file being rewritten in place is retried this often, this far apart, before it is reported.
READ_TRIES = 5
READ_PAUSE_SECONDS = 0.1


class ProjectError(RuntimeError):
    """A project folder cannot be found or read; the message says which and why."""


@dataclass
class Trial:
    """What `kte show` needs of one `trial.json`."""

    trial_id: str
    status: str
    score: float | None
    values: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    best_step: int | None = None


@dataclass
class ProjectFiles:
    """The raw contents of a project folder.

    Attributes:
        folder: The project folder.
        oracle: oracle.json's content ({} when absent).
        history: history.json's content (None when absent: not a search of this package, or
            one that has not saved it yet).
        trials: Every readable `trial_*/trial.json`, by trial id.
        unreadable: Trial files that could not be read (being written, or damaged).
        last_update: The newest modification time (seconds since the epoch) among the files.
    """

    folder: str
    oracle: dict[str, Any]
    history: dict[str, Any] | None
    trials: dict[str, Trial]
    unreadable: list[str]
    last_update: float | None


def is_project(folder: str) -> bool:
    """Whether `folder` holds a Keras Tuner project (oracle.json, history.json or trials)."""
    if not os.path.isdir(folder):
        return False
    names = os.listdir(folder)
    if ORACLE_FILE in names or HISTORY_FILE in names:
        return True
    return any(
        name.startswith(TRIAL_PREFIX) and os.path.isfile(os.path.join(folder, name, TRIAL_FILE))
        for name in names
    )


def resolve(path: str | None, project: str | None = None) -> str:
    """The project folder named by `path` (and `project`, a folder inside it).

    `path` may be the project folder itself, the tuner's `directory` together with
    `project`, or a folder holding exactly one project (such as `kte demo`'s output).

    Raises:
        ProjectError: When the folder does not exist, holds no project, or holds several and
            `project` does not say which.
    """
    folder = path if project is None else os.path.join(path or ".", project)
    folder = os.path.abspath(folder)
    if not os.path.isdir(folder):
        raise ProjectError(f"no such folder: {folder}")
    if is_project(folder):
        return folder
    inside = sorted(name for name in os.listdir(folder) if is_project(os.path.join(folder, name)))
    if len(inside) == 1:
        return os.path.join(folder, inside[0])
    if not inside:
        raise ProjectError(
            f"{folder} is not a Keras Tuner project folder (no {ORACLE_FILE}, {HISTORY_FILE} "
            f"or {TRIAL_PREFIX}*/{TRIAL_FILE}, nor a folder holding one)"
        )
    raise ProjectError(
        f"{folder} holds {len(inside)} projects ({', '.join(inside)}): name one with "
        f"--project NAME or give its folder"
    )


def read_json(path: str) -> Any:
    """The JSON content of `path`, retried while the file is being rewritten.

    Raises:
        ProjectError: When the file still cannot be read after `READ_TRIES` attempts.
    """
    error: Exception | None = None
    for attempt in range(READ_TRIES):
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as caught:  # ValueError: JSON and Unicode decoding
            error = caught
            if attempt + 1 < READ_TRIES:
                time.sleep(READ_PAUSE_SECONDS)
    raise ProjectError(f"cannot read {path}: {type(error).__name__}: {error}")


def _read_optional(path: str) -> Any:
    return read_json(path) if os.path.exists(path) else None


def _trial(data: dict[str, Any], fallback_id: str) -> Trial:
    hyperparameters = data.get("hyperparameters") or {}
    metrics = (data.get("metrics") or {}).get("metrics") or {}
    return Trial(
        trial_id=str(data.get("trial_id") or fallback_id),
        status=str(data.get("status") or "UNKNOWN"),
        score=data.get("score"),
        values=dict(hyperparameters.get("values") or {}),
        metrics=metrics,
        best_step=data.get("best_step"),
    )


def read_trials(folder: str) -> tuple[dict[str, Trial], list[str], list[float]]:
    """The readable trials of `folder`, the unreadable trial files, and their mtimes."""
    trials: dict[str, Trial] = {}
    unreadable: list[str] = []
    mtimes: list[float] = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name, TRIAL_FILE)
        if not name.startswith(TRIAL_PREFIX) or not os.path.isfile(path):
            continue
        try:
            data = read_json(path)
            mtimes.append(os.path.getmtime(path))
        except (ProjectError, OSError):
            unreadable.append(os.path.join(name, TRIAL_FILE))
            continue
        if isinstance(data, dict):
            trial = _trial(data, name[len(TRIAL_PREFIX) :])
            trials[trial.trial_id] = trial
        else:
            unreadable.append(os.path.join(name, TRIAL_FILE))
    return trials, unreadable, mtimes


def read_project(folder: str) -> ProjectFiles:
    """Reads a project folder (see `resolve`) without changing anything in it.

    Raises:
        ProjectError: When oracle.json or history.json exists but cannot be read.
    """
    oracle = _read_optional(os.path.join(folder, ORACLE_FILE)) or {}
    history = _read_optional(os.path.join(folder, HISTORY_FILE))
    trials, unreadable, mtimes = read_trials(folder)
    for name in (ORACLE_FILE, HISTORY_FILE):
        try:
            mtimes.append(os.path.getmtime(os.path.join(folder, name)))
        except OSError:
            pass
    if not isinstance(oracle, dict) or (history is not None and not isinstance(history, dict)):
        raise ProjectError(f"{folder}: {ORACLE_FILE} or {HISTORY_FILE} is not a JSON object")
    return ProjectFiles(
        folder=folder,
        oracle=oracle,
        history=history,
        trials=trials,
        unreadable=unreadable,
        last_update=max(mtimes, default=None),
    )
