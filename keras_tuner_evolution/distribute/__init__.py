"""Parallel search: the chief serves the oracle, `kte launch` runs the chief and the workers.

Modules, one job each:

- `server`: the chief's gRPC server (`serve`, `SearchFailed`, `snapshot`); imports gRPC and
  Keras Tuner, so it is loaded only when one of its names is first used;
- `launcher`: the processes of `kte launch` (`Launcher`): start, watch, restart, stop;
- `command`: the `kte launch` command line;
- `devices`: which GPUs or CPU cores each worker gets;
- `environment`: the environment variables of Keras Tuner's distributed mode and of devices,
  named once, and each child's environment;
- `signals`: SIGINT/SIGTERM/SIGHUP turned into a flag, for the launcher and the chief alike.

Importing this package, the launcher or the command line does not import TensorFlow: the
launcher starts at once and takes no GPU for itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from keras_tuner_evolution.distribute.environment import ORACLE_IP, ORACLE_PORT, TUNER_ID

# The names of Keras Tuner's variables, as `keras_tuner_evolution.distribute` 0.1.0 had them.
ENV_TUNER_ID = TUNER_ID
ENV_ORACLE_IP = ORACLE_IP
ENV_ORACLE_PORT = ORACLE_PORT

# Public name -> the module that defines it, imported on first use.
_LAZY = {
    "POLL_SECONDS": "keras_tuner_evolution.distribute.server",
    "SERVER_THREADS": "keras_tuner_evolution.distribute.server",
    "STOP_GRACE_SECONDS": "keras_tuner_evolution.distribute.server",
    "SearchFailed": "keras_tuner_evolution.distribute.server",
    "serve": "keras_tuner_evolution.distribute.server",
    "snapshot": "keras_tuner_evolution.distribute.server",
    "Launcher": "keras_tuner_evolution.distribute.launcher",
}

__all__ = [
    "ENV_ORACLE_IP",
    "ENV_ORACLE_PORT",
    "ENV_TUNER_ID",
    "POLL_SECONDS",
    "SERVER_THREADS",
    "STOP_GRACE_SECONDS",
    "Launcher",
    "SearchFailed",
    "serve",
    "snapshot",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time see __getattr__
    from keras_tuner_evolution.distribute.launcher import Launcher
    from keras_tuner_evolution.distribute.server import (
        POLL_SECONDS,
        SERVER_THREADS,
        STOP_GRACE_SECONDS,
        SearchFailed,
        serve,
        snapshot,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
