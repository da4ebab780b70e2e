"""`kte launch` moved to `keras_tuner_evolution.distribute`; this module re-exports its names.

The processes live in `distribute.launcher`, devices in `distribute.devices`, environment
variables and tuner ids in `distribute.environment`, the command line in `distribute.command`.
`from keras_tuner_evolution import launch` and ``python -m keras_tuner_evolution.launch`` keep
working. Importing it does not import TensorFlow.
"""

from __future__ import annotations

from keras_tuner_evolution.distribute.command import (
    add_arguments,
    add_launch_command,
    build_parser,
    main,
    run_launch,
)
from keras_tuner_evolution.distribute.devices import (
    Device,
    assign_devices,
    available_cpus,
    parse_devices,
    visible_gpus,
)
from keras_tuner_evolution.distribute.environment import (
    CHIEF_ID,
    child_env,
    connect_address,
    node_name,
    worker_ids,
)
from keras_tuner_evolution.distribute.launcher import (
    DEFAULT_ADDRESS,
    DEFAULT_MAX_RESTARTS,
    POLL_SECONDS,
    RESTART_DELAY_SECONDS,
    STOP_GRACE_SECONDS,
    WORKER_EXIT_SECONDS,
    Child,
    Launcher,
    exit_status,
    free_port,
    port_is_free,
    script_command,
)

__all__ = [
    "CHIEF_ID",
    "DEFAULT_ADDRESS",
    "DEFAULT_MAX_RESTARTS",
    "POLL_SECONDS",
    "RESTART_DELAY_SECONDS",
    "STOP_GRACE_SECONDS",
    "WORKER_EXIT_SECONDS",
    "Child",
    "Device",
    "Launcher",
    "add_arguments",
    "add_launch_command",
    "assign_devices",
    "available_cpus",
    "build_parser",
    "child_env",
    "connect_address",
    "exit_status",
    "free_port",
    "main",
    "node_name",
    "parse_devices",
    "port_is_free",
    "run_launch",
    "script_command",
    "visible_gpus",
    "worker_ids",
]

if __name__ == "__main__":
    raise SystemExit(main())
