"""Termination signals turned into a flag: the one handler of the launcher and the chief.

Both must finish what they are doing before they exit: the launcher stops its children, the
chief lets the requests in flight end so that the oracle's files are written whole. Python's
default handlers would raise (SIGINT) or kill the process (SIGTERM, SIGHUP) mid-way instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any

__all__ = ["TERMINATING", "Signals", "signal_name"]

# The signals that ask a process to end: Ctrl-C, `kill`, a closed terminal.
TERMINATING: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15, and so on; the number itself for an unknown signal."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class Signals:
    """Records termination signals instead of dying, while installed (a context manager).

    Handlers can only be installed from the main thread; elsewhere (a test calling the server
    from a thread) the process keeps its handlers and nothing is recorded.

    Args:
        signums: The signals to record; every terminating one by default.

    Attributes:
        received: The signals received while installed, in order.
    """

    def __init__(self, signums: Iterable[int] = TERMINATING):
        self.signums = tuple(signums)
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    @property
    def first(self) -> int | None:
        """The first signal received, None while there is none."""
        return self.received[0] if self.received else None

    def exit_status(self) -> int:
        """The shell's status for a process ended by the first signal (128 + its number)."""
        return 128 + int(self.received[0])

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signums:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
