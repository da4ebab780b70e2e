"""The one module that uses Keras Tuner internals.

Everything else in the package uses only Keras Tuner's public names (`keras_tuner.Oracle`,
`keras_tuner.Tuner`, `keras_tuner.synchronized`, `keras_tuner.engine.trial.TrialStatus`, ...).
Each function here says which private name it uses, why, and for which Keras Tuner version it
was checked (1.4.7 and 1.4.8, whose wheels keep their code under `keras_tuner.src`). Imports are
made inside the functions, so that importing this module does not import TensorFlow (the
launcher of `kte launch` must not take a GPU for itself).
"""

from __future__ import annotations

import os
import threading
from typing import Any

# Keras Tuner's distributed mode is switched on by these environment variables (1.4.x).
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
TUNER_ID = "KERASTUNER_TUNER_ID"


def has_chief_oracle() -> bool:
    """Whether this process takes part in a distributed search (chief or worker).

    Uses `keras_tuner.src.distribute.utils.has_chief_oracle` (1.4.x; not exported publicly),
    which also checks that the port and tuner id are set.
    """
    from keras_tuner.src.distribute import utils

    return utils.has_chief_oracle()


def is_chief_oracle() -> bool:
    """Whether this process is the chief of a distributed search (its tuner id has "chief")."""
    from keras_tuner.src.distribute import utils

    return utils.is_chief_oracle()


def is_worker() -> bool:
    """Whether this process is a worker of a distributed search (it trains, the chief plans)."""
    return has_chief_oracle() and not is_chief_oracle()


def grpc_modules() -> tuple[Any, Any]:
    """`(protos, oracle_chief)`: Keras Tuner's gRPC service definitions and chief servicer.

    The chief serves Keras Tuner's own protocol, so workers run unchanged Keras Tuner code
    (1.4.x: `keras_tuner.src.protos` and `keras_tuner.src.distribute.oracle_chief`).
    """
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    return protos, oracle_chief


def release_leaked_lock(oracle: Any) -> None:
    """Releases the oracle's lock if this thread still holds it after an exception.

    `keras_tuner.synchronized` keeps its locks in the module globals `LOCKS` and `THREADS` of
    `keras_tuner.src.engine.oracle` and has no try/finally (1.4.x): an exception inside a
    synchronized call leaves the lock held, and every later call would wait on it forever.
    """
    from keras_tuner.src.engine import oracle as oracle_module

    if oracle_module.THREADS[oracle] == threading.current_thread().name:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


def override_compile_args(tuner: Any, model: Any) -> None:
    """Applies a tuner's `optimizer`/`loss`/`metrics` overrides to a model it did not build.

    `Tuner._override_compile_args` (1.4.x) is what Keras Tuner applies to each trial's model;
    `train_best` rebuilds the fittest model outside a trial and must compile it the same way.
    """
    override = getattr(tuner, "_override_compile_args", None)
    if override is not None:
        override(model)


def write_remote_text(path: str, text: str) -> None:
    """Writes a file on a remote file system (gs://, ...) through Keras Tuner's `io.File`.

    `keras_tuner.src.backend.io` (1.4.x) wraps `tf.io.gfile`; local files never come here.
    """
    from keras_tuner.src import backend

    with backend.io.File(path, "w") as handle:
        handle.write(text)


def load_remote_json(path: str) -> Any:
    """Reads a JSON file on a remote file system through `keras_tuner.src.utils.load_json`."""
    from keras_tuner.src import utils

    return utils.load_json(path)


def glob(pattern: str) -> list[str]:
    """Paths matching `pattern`, local or remote (`keras_tuner.src.backend.io.glob`, 1.4.x)."""
    if "://" not in pattern:
        import glob as local_glob

        return local_glob.glob(pattern)
    from keras_tuner.src import backend

    return list(backend.io.glob(pattern))


def retry_queue(oracle: Any) -> list[str]:
    """Ids of the trials an oracle will run again (`Oracle._retry_queue`, 1.4.x)."""
    return list(getattr(oracle, "_retry_queue", []))


def environment_is_distributed(environ: dict[str, str] | None = None) -> bool:
    """Whether `environ` (default: `os.environ`) switches Keras Tuner's distributed mode on."""
    return ORACLE_IP in (os.environ if environ is None else environ)
