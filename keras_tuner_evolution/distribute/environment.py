"""The environment of a parallel search: one set of variable names, and each child's variables.

Keras Tuner's distributed mode is switched on by three variables (`TUNER_ID`, `ORACLE_IP`,
`ORACLE_PORT`); `kte launch` adds the ones that pin a worker to its device. The launcher writes
them here, the chief's server reads them here: no other module of the package spells them.

Light on purpose: the launcher imports it and must not import TensorFlow, so it imports
nothing of Keras Tuner (nor `keras_tuner_evolution._keras_tuner`, which does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotations: devices imports this module
    from keras_tuner_evolution.distribute.devices import Device

__all__ = [
    "CHIEF_ID",
    "CHIEF_WAIT",
    "DEFAULT_CHIEF_WAIT",
    "DEFAULT_LEASE",
    "DEFAULT_REQUEST_TIMEOUT",
    "LEASE",
    "REQUEST_TIMEOUT",
    "CPU_ONLY",
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "ORACLE_IP",
    "ORACLE_PORT",
    "PYTHONUNBUFFERED",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_FORCE_GPU_ALLOW_GROWTH",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TUNER_ID",
    "chief_address",
    "chief_env",
    "child_env",
    "connect_address",
    "fault_tolerance_env",
    "node_name",
    "seconds",
    "worker_env",
    "worker_ids",
]

# Keras Tuner's distributed mode (1.4.x): a tuner id containing "chief" serves the oracle, the
# others dial it at ORACLE_IP:ORACLE_PORT.
TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
# Devices: which GPUs a process sees, and how many threads TensorFlow and OpenMP start.
CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
TF_FORCE_GPU_ALLOW_GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"
TF_NUM_INTRAOP_THREADS = "TF_NUM_INTRAOP_THREADS"
TF_NUM_INTEROP_THREADS = "TF_NUM_INTEROP_THREADS"
OMP_NUM_THREADS = "OMP_NUM_THREADS"
# Output: unbuffered, so that worker lines reach the launcher as they are printed; TensorFlow's
# C++ start-up messages, repeated by every child, are left out unless the user asks for them.
PYTHONUNBUFFERED = "PYTHONUNBUFFERED"
TF_CPP_MIN_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
# Fault tolerance (this package's own variables, read by the chief and the workers):
# - how long a worker waits for the chief (at start, or after its connection broke) before it
#   gives up, in seconds;
CHIEF_WAIT = "KTE_CHIEF_WAIT_SECONDS"
DEFAULT_CHIEF_WAIT = 600.0
# - the chief's lease on a trial handed to a worker: a worker sends a heartbeat every sixth of
#   it while it trains; a worker silent for a whole lease loses its trial to the next worker;
LEASE = "KTE_LEASE_SECONDS"
DEFAULT_LEASE = 60.0
# - the longest a worker waits for one reply before it asks again.
REQUEST_TIMEOUT = "KTE_REQUEST_TIMEOUT_SECONDS"
DEFAULT_REQUEST_TIMEOUT = 60.0

# The value of `CUDA_VISIBLE_DEVICES` that hides every GPU.
CPU_ONLY = "-1"

# The chief's tuner id: Keras Tuner takes any tuner id containing "chief" for the chief.
CHIEF_ID = "chief"


def worker_ids(workers: int, node: str | None = None) -> list[str]:
    """Keras Tuner ids of this machine's workers: ``worker0``.. or ``NODE-worker0``.."""
    prefix = f"{node}-" if node else ""
    return [f"{prefix}worker{i}" for i in range(workers)]


def node_name(text: str) -> str:
    """Checks a `--node` name: it goes into worker ids, which must not contain "chief".

    Raises:
        ValueError: When nothing usable is left, or the name contains "chief".
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
    if not name:
        raise ValueError(f"node name {text!r} has no usable character.")
    if CHIEF_ID in name.lower():
        # Keras Tuner treats any tuner id containing "chief" as the chief.
        raise ValueError(f"node name {text!r} must not contain 'chief'; pass another --node.")
    return name


def connect_address(address: str) -> str:
    """The address a local worker dials for a chief listening on `address`."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1"}.get(address, address)


def seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds read from the variable `name`, `default` when unset.

    Raises:
        ValueError: The variable is set to something other than a number > 0; the message
            names it and the accepted range.
    """
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a number of seconds > 0, got {text!r}.")
    return value


def fault_tolerance_env(chief_wait: float | None, lease: float | None) -> dict[str, str]:
    """The variables of `kte launch --chief-wait/--lease` (only the ones given)."""
    env = {}
    if chief_wait is not None:
        env[CHIEF_WAIT] = repr(float(chief_wait))
    if lease is not None:
        env[LEASE] = repr(float(lease))
    return env


def chief_address(environ: Mapping[str, str]) -> str:
    """``host:port`` where the chief listens, from the variables the launcher set."""
    return f"{environ[ORACLE_IP]}:{environ[ORACLE_PORT]}"


def child_env(
    base: Mapping[str, str], tuner_id: str, address: str, port: int, device: Device | None
) -> dict[str, str]:
    """The environment of one child: Keras Tuner's distributed mode plus its device.

    Args:
        base: The launcher's environment.
        tuner_id: ``"chief"`` or a worker id.
        address: The chief's address as this child uses it (to listen on, or to dial).
        port: The chief's port.
        device: The worker's device; None for the chief, which keeps the machine's devices
            for what the script does after the search, with GPU memory grown on demand so
            that it holds none of the workers' memory meanwhile.

    Returns:
        A copy of `base` with the variables of this child set.
    """
    env = dict(base)
    env.update(
        {TUNER_ID: tuner_id, ORACLE_IP: address, ORACLE_PORT: str(port), PYTHONUNBUFFERED: "1"}
    )
    env.setdefault(TF_CPP_MIN_LOG_LEVEL, "2")
    if device is None:
        env.setdefault(TF_FORCE_GPU_ALLOW_GROWTH, "true")
    else:
        env.update(device.env())
    return env


def chief_env(base: Mapping[str, str], address: str, port: int, cpu_only: bool) -> dict[str, str]:
    """The chief's environment: it listens on `address:port`.

    Args:
        base: The launcher's environment.
        address: Where the chief listens.
        port: The chief's port.
        cpu_only: Hide the GPUs from the chief too (``--devices cpu``).
    """
    env = child_env(base, CHIEF_ID, address, port, None)
    if cpu_only:
        env[CUDA_VISIBLE_DEVICES] = CPU_ONLY
    return env


def worker_env(
    base: Mapping[str, str], tuner_id: str, address: str, port: int, device: Device
) -> dict[str, str]:
    """A worker's environment: it dials the chief at `address:port` and sees only `device`."""
    return child_env(base, tuner_id, connect_address(address), port, device)
