"""Event files of ours: writing, replacing and reading back the steps already written.

Our event files carry a suffix (`.kte-*`), so that a file of ours can be replaced when it must
change while the files of `keras.callbacks.TensorBoard` in the same folders are left alone.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from typing import Any

logger = logging.getLogger("keras_tuner_evolution")


def _own_files(folder: str, suffix: str) -> list[str]:
    """Our event files with `suffix` directly in `folder`."""
    return glob.glob(os.path.join(glob.escape(folder), f"events.out.tfevents.*{suffix}"))


class EventWriter:
    """Appends summaries to one new event file of a run folder (our suffix marks it ours).

    Args:
        folder: The run folder (created if missing).
        suffix: The suffix of the event file's name.
    """

    def __init__(self, folder: str, suffix: str):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.folder = folder
        self._writer = EventFileWriter(folder, filename_suffix=suffix)

    def write(self, summary: Any, step: int = 0) -> None:
        """Appends `summary` as an event at `step`."""
        from tensorboard.compat.proto import event_pb2

        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def flush(self) -> None:
        """Writes the pending events to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the file."""
        self._writer.close()


def remove_own_files(folder: str, suffix: str) -> None:
    """Deletes the event files of ours with `suffix` directly in `folder`."""
    for path in _own_files(folder, suffix):
        try:
            os.remove(path)
        except OSError:  # pragma: no cover - a file already gone
            pass


def written_steps(folder: str, suffix: str, tag: str) -> set[int]:
    """Steps at which our event files in `folder` hold `tag` (to resume without duplicates)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps: set[int] = set()
    for path in _own_files(folder, suffix):
        try:
            for event in EventFileLoader(path).Load():
                if any(value.tag == tag for value in event.summary.value):
                    steps.add(int(event.step))
        except Exception:  # noqa: BLE001 - a truncated file: rewrite what it lacks
            logger.debug("Could not read %s", path, exc_info=True)
    return steps
