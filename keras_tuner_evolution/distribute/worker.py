"""How `kte launch` runs the user's script in a worker: with a client that survives faults.

    python -m keras_tuner_evolution.distribute.worker search.py --epochs 3
    python -m keras_tuner_evolution.distribute.worker -m package.search --epochs 3

Runs the script as ``python search.py`` would (same `sys.argv`, `sys.path[0]` and
``__name__ == "__main__"``), after one change: when Keras Tuner's worker client module is
first imported, its `OracleClient` becomes `_keras_tuner.retrying_client_class()` (see
`distribute.client`: bounded waits for a slow or restarting chief, retries with backoff,
heartbeats). Nothing is imported before the script runs, so the script still chooses its
Keras backend and devices first. A worker that gives up on the chief exits with
`EXIT_CHIEF_UNREACHABLE` and a one-line message instead of a traceback.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["CLIENT_MODULE", "EXIT_CHIEF_UNREACHABLE", "after_import", "main"]

# The module whose `OracleClient` a worker's tuner instantiates (keras-tuner 1.4.x).
CLIENT_MODULE = "keras_tuner.src.distribute.oracle_client"
# Exit status of a worker that gave up waiting for the chief (EX_TEMPFAIL).
EXIT_CHIEF_UNREACHABLE = 75


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a callback on a module right after its first import (a one-shot finder)."""

    def __init__(self, name: str, callback: Callable[[Any], None]):
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # let the other finders find it
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module
        callback = self.callback

        def exec_module(module: Any) -> None:
            execute(module)
            callback(module)

        spec.loader.exec_module = exec_module  # this module's own loader object
        return spec


def after_import(name: str, callback: Callable[[Any], None]) -> None:
    """Calls `callback(module)` once module `name` is imported (now, if it already is)."""
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


def _install_client(module: Any) -> None:
    from keras_tuner_evolution import _keras_tuner

    _keras_tuner.use_retrying_client(module)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs a search script (or ``-m module``) as a worker; returns its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[:1] == ["-m"] and len(args) < 2:
        print("usage: python -m keras_tuner_evolution.distribute.worker [-m] SCRIPT [ARGS]")
        return 2
    after_import(CLIENT_MODULE, _install_client)
    from keras_tuner_evolution.distribute.client import ChiefUnreachable

    try:
        if args[0] == "-m":
            sys.argv = [args[1], *args[2:]]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = args
            sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
            runpy.run_path(args[0], run_name="__main__")
    except ChiefUnreachable as error:
        print(f"kte worker: {error}", file=sys.stderr, flush=True)
        return EXIT_CHIEF_UNREACHABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
