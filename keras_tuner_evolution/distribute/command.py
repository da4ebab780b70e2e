"""The `kte launch` command line: its arguments, and the `Launcher` they build.

    kte launch --workers 2 search.py --epochs 3

Light on purpose: `kte --help` and `kte launch` must start without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

from keras_tuner_evolution.argtypes import int_at_least
from keras_tuner_evolution.distribute.devices import parse_devices
from keras_tuner_evolution.distribute.environment import (
    CHIEF_WAIT,
    DEFAULT_CHIEF_WAIT,
    DEFAULT_LEASE,
    LEASE,
    fault_tolerance_env,
    node_name,
)
from keras_tuner_evolution.distribute.launcher import (
    DEFAULT_ADDRESS,
    DEFAULT_MAX_RESTARTS,
    DEFAULT_RESTART_WINDOW,
    Launcher,
    is_loopback,
    script_command,
)

__all__ = [
    "WORKER_MODULE",
    "add_arguments",
    "add_launch_command",
    "build_parser",
    "main",
    "positive_seconds",
    "run_launch",
    "unauthenticated_warning",
]

# Workers run the script through this module (see `distribute.worker`).
WORKER_MODULE = "keras_tuner_evolution.distribute.worker"

_DESCRIPTION = """\
Run a search script as one chief and N workers on Keras Tuner's distributed protocol.

The chief serves the oracle and trains nothing; each worker runs the same, unchanged script
and trains the trials the chief hands it, one GPU each (round robin) or an equal share of the
CPU cores. A worker that dies is restarted with the same id and runs its trial again (with
backoff; one that dies too often is dropped while the others carry on); workers wait for a
chief that is slow to start or restarting; Ctrl-C stops every process. The script must call
search() on a tuner whose project folder (directory, project_name) the processes share."""

_EPILOG = """\
examples:
  kte launch --workers 2 search.py --epochs 3
  kte launch --workers 4 --devices 0,1 --log-dir logs search.py
many machines (the same script everywhere; shared folder for the project recommended):
  host A:  kte launch --workers 2 --address 10.0.0.1 --port 50051 search.py
  host B:  kte launch --workers 4 --workers-only --address 10.0.0.1 --port 50051 search.py"""


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the `launch` arguments to `parser` and returns it."""
    parser.add_argument(
        "--workers",
        type=int_at_least(0),
        required=True,
        metavar="N",
        help="workers to start on this machine (0: the chief only)",
    )
    parser.add_argument(
        "--devices",
        type=parse_devices,
        default="auto",
        metavar="auto|cpu|0,1,...",
        help="auto: one GPU per worker round robin over the visible GPUs, or an equal share "
        "of the CPU cores when there is none; cpu: CPU shares only; a list: these GPU ids",
    )
    parser.add_argument(
        "--gpus-per-worker",
        type=int_at_least(1),
        default=1,
        metavar="K",
        help="GPUs per worker, for a distribution_strategy inside each worker",
    )
    parser.add_argument(
        "--address",
        default=DEFAULT_ADDRESS,
        metavar="HOST",
        help="address the chief listens on and workers dial; loopback unless given "
        "(the protocol has no authentication: expose it on trusted networks only)",
    )
    parser.add_argument(
        "--port",
        type=int_at_least(1),
        default=None,
        metavar="P",
        help="the chief's port (default: a free one; required with --workers-only)",
    )
    parser.add_argument(
        "--workers-only",
        action="store_true",
        help="start no chief here: join the chief at --address:--port on another machine",
    )
    parser.add_argument(
        "--node",
        default=None,
        metavar="NAME",
        help="this machine's name in worker ids (default: the host name with --workers-only)",
    )
    parser.add_argument(
        "--log-dir",
        default=None,
        metavar="DIR",
        help="write each worker's output to DIR/<worker id>.log instead of prefixing it",
    )
    parser.add_argument(
        "--max-restarts",
        type=int_at_least(0),
        default=DEFAULT_MAX_RESTARTS,
        metavar="R",
        help="restarts of a dead worker allowed within --restart-window seconds; at its next "
        "death the worker is dropped (the search fails only when no worker is left)",
    )
    parser.add_argument(
        "--restart-window",
        type=positive_seconds("--restart-window"),
        default=DEFAULT_RESTART_WINDOW,
        metavar="S",
        help="the window of --max-restarts, in seconds: a worker restarted R times within S "
        "seconds is dropped at its next death, and the others carry on",
    )
    parser.add_argument(
        "--chief-wait",
        type=positive_seconds("--chief-wait"),
        default=None,
        metavar="S",
        help=f"seconds a worker waits for a chief that is slow to start or unreachable "
        f"before it gives up (default {DEFAULT_CHIEF_WAIT:g}; sets {CHIEF_WAIT})",
    )
    parser.add_argument(
        "--lease",
        type=positive_seconds("--lease"),
        default=None,
        metavar="S",
        help=f"seconds of silence after which the chief hands a worker's trial to another "
        f"worker; workers send a heartbeat every S/6 s while training (default "
        f"{DEFAULT_LEASE:g}; sets {LEASE})",
    )
    parser.add_argument(
        "-m",
        "--module",
        action="store_true",
        help="the script is a module name, run as `python -m`",
    )
    parser.add_argument("script", help="the search script, unchanged")
    parser.add_argument(
        "script_args", nargs=argparse.REMAINDER, metavar="...", help="the script's arguments"
    )
    return parser


def positive_seconds(flag: str) -> Any:
    """An argparse type: a number of seconds > 0; the error names `flag` and the range."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value > 0 and value != float("inf")):
            raise argparse.ArgumentTypeError(
                f"{flag} must be a number of seconds > 0, got {text!r}"
            )
        return value

    return parse


def add_launch_command(commands: Any) -> argparse.ArgumentParser:
    """Adds `launch` to the `kte` subcommands (an `add_subparsers()` object)."""
    parser = commands.add_parser(
        "launch",
        help="run a search script as one chief and N parallel workers",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_launch)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m keras_tuner_evolution.launch`."""
    parser = argparse.ArgumentParser(
        prog="kte launch",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_arguments(parser)


def _make_launcher(args: argparse.Namespace) -> Launcher:
    """The `Launcher` that parsed arguments describe."""
    script_args = list(args.script_args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    node = args.node
    if node is None and args.workers_only:
        # Workers of several machines need distinct ids: the host name tells them apart.
        node = socket.gethostname()
    command = script_command(args.script, script_args, module=args.module)
    return Launcher(
        command,
        worker_command=[*command[:2], "-m", WORKER_MODULE, *command[2:]],
        worker_environ=fault_tolerance_env(args.chief_wait, args.lease),
        restart_window=args.restart_window,
        workers=args.workers,
        devices=args.devices,
        address=args.address,
        port=args.port,
        chief=not args.workers_only,
        node=node_name(node) if node else None,
        log_dir=args.log_dir,
        max_restarts=args.max_restarts,
        gpus_per_worker=args.gpus_per_worker,
    )


def run_launch(args: argparse.Namespace) -> int:
    """Runs `kte launch` with parsed arguments; returns the exit status."""
    try:
        launcher = _make_launcher(args)
    except (ValueError, OSError) as error:
        print(f"kte launch: error: {error}", file=sys.stderr)
        return 2
    if not args.module and not os.path.exists(args.script):
        print(f"kte launch: error: no such script: {args.script}", file=sys.stderr)
        return 2
    if not is_loopback(args.address) and not args.workers_only:
        launcher.say(unauthenticated_warning(args.address, launcher.port))
    return launcher.run()


def unauthenticated_warning(address: str, port: int) -> str:
    """The warning printed when the chief listens on an address other machines can reach."""
    return (
        f"warning: the chief listens on {address}:{port}, reachable from other machines. "
        "Keras Tuner's protocol is unauthenticated and unencrypted: anyone who can connect can "
        "read the search and report trials. Expose it on a trusted network only, or keep the "
        "chief on loopback and tunnel the workers' connections over SSH "
        f"(on each worker machine: ssh -N -L {port}:127.0.0.1:{port} USER@CHIEF_HOST, then "
        f"kte launch --workers-only --address 127.0.0.1 --port {port} ...); see "
        "docs/parallel.md."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `kte launch`; `argv` excludes the program name (None reads `sys.argv`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    return run_launch(args)


if __name__ == "__main__":
    raise SystemExit(main())
