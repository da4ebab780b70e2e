"""`kte launch`: runs a search script as one chief and N workers, in the spirit of torchrun.

    kte launch --workers 2 search.py --epochs 3

starts the unchanged script N + 1 times, wired through Keras Tuner's distributed mode
(`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`, `KERASTUNER_ORACLE_PORT`): the chief serves the
oracle and trains nothing, each worker asks it for trials and trains them. Each worker is
pinned to its device: its GPU(s), round robin over the visible ones, or an equal share of the
CPU cores (affinity and thread counts) when there is no GPU.

The launcher restarts a worker that dies (with the same tuner id, so the chief hands it the
trial it was running), prefixes each worker's output with its id or writes it to one file per
worker, stops every child on Ctrl-C or SIGTERM, and exits non-zero when the search failed.

This module never imports TensorFlow or Keras Tuner: the launcher must start at once and must
not take a GPU for itself.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from keras_tuner_evolution.argtypes import int_at_least

CHIEF_ID = "chief"
DEFAULT_ADDRESS = "127.0.0.1"
DEFAULT_MAX_RESTARTS = 3
# Seconds between SIGTERM and SIGKILL when stopping children.
STOP_GRACE_SECONDS = 10.0
# Seconds workers may take to exit once the chief has finished the search.
WORKER_EXIT_SECONDS = 30.0
# How often the launcher looks at its children.
POLL_SECONDS = 0.1
# A worker that died is restarted after this pause, so a script that fails at once does not
# spin.
RESTART_DELAY_SECONDS = 1.0
# Linux: the child receives this signal when the launcher dies, even by SIGKILL.
_PR_SET_PDEATHSIG = 1
_TERMINATING = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}


# Devices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """What one worker may use.

    Attributes:
        gpus: GPU ids for `CUDA_VISIBLE_DEVICES`; empty for a CPU worker (all GPUs hidden).
        cpus: CPU cores the worker is pinned to (its affinity); empty: not pinned.
        shared_gpu: Whether another worker uses the same GPU (memory then grows on demand).
    """

    gpus: tuple[str, ...] = ()
    cpus: tuple[int, ...] = ()
    shared_gpu: bool = False

    def env(self) -> dict[str, str]:
        """The environment variables that pin a process to this device."""
        if self.gpus:
            env = {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}
            if self.shared_gpu:
                # TensorFlow takes a whole GPU's memory by default: two workers on one GPU
                # would run out of memory.
                env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
            return env
        env = {"CUDA_VISIBLE_DEVICES": "-1"}
        if self.cpus:
            threads = str(len(self.cpus))
            env.update(
                TF_NUM_INTRAOP_THREADS=threads,
                TF_NUM_INTEROP_THREADS=threads,
                OMP_NUM_THREADS=threads,
            )
        return env

    def describe(self) -> str:
        if self.gpus:
            shared = ", shared" if self.shared_gpu else ""
            return f"GPU {','.join(self.gpus)}{shared}"
        if self.cpus:
            return f"CPU cores {','.join(map(str, self.cpus))}"
        return "CPU"


def parse_devices(text: str) -> str | tuple[str, ...]:
    """Parses `--devices`: ``auto``, ``cpu`` or a comma-separated list of GPU ids.

    Raises:
        argparse.ArgumentTypeError: For an empty id list or an id with odd characters.
    """
    text = text.strip()
    if text.lower() in ("auto", "cpu"):
        return text.lower()
    ids = tuple(part.strip() for part in text.split(","))
    if not ids or any(not re.fullmatch(r"[A-Za-z0-9_-]+", gpu) for gpu in ids):
        raise argparse.ArgumentTypeError(f"expected auto, cpu or GPU ids like 0,1,3; got {text!r}")
    return ids


def visible_gpus(
    environ: Mapping[str, str] | None = None, nvidia_smi: str | None = "auto"
) -> list[str]:
    """The GPU ids this machine offers, without importing TensorFlow.

    `CUDA_VISIBLE_DEVICES` wins when set (an empty value or ``-1`` means none); otherwise
    ``nvidia-smi`` is asked, when it is installed.

    Args:
        environ: The environment to read; defaults to `os.environ`.
        nvidia_smi: Path of ``nvidia-smi``; ``"auto"`` looks it up on the PATH, None skips it.
    """
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = [part.strip() for part in listed.split(",") if part.strip()]
        # CUDA stops at the first invalid id, and -1 is the usual way to hide every GPU.
        valid = []
        for gpu in ids:
            if gpu.startswith("-"):
                break
            valid.append(gpu)
        return valid
    if nvidia_smi == "auto":
        nvidia_smi = shutil.which("nvidia-smi")
    if not nvidia_smi:
        return []
    try:
        result = subprocess.run(
            [nvidia_smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip().isdigit()]


def assign_devices(
    devices: str | Sequence[str],
    workers: int,
    gpus: Sequence[str],
    cpus: Sequence[int],
    gpus_per_worker: int = 1,
) -> list[Device]:
    """Gives each worker its device.

    Args:
        devices: ``"auto"`` (GPUs when there are any, else CPU), ``"cpu"``, or GPU ids.
        workers: Number of workers.
        gpus: The visible GPU ids (used by ``"auto"``).
        cpus: The CPU cores this process may use.
        gpus_per_worker: GPUs per worker, for a `distribution_strategy` inside each worker.

    Returns:
        One `Device` per worker: GPUs round robin (consecutive groups of `gpus_per_worker`),
        or disjoint equal shares of `cpus` (one core each, round robin, when there are more
        workers than cores).
    """
    if workers < 0 or gpus_per_worker < 1:
        raise ValueError("workers must be >= 0 and gpus_per_worker >= 1.")
    if devices == "auto":
        devices = tuple(gpus) if gpus else "cpu"
    if devices == "cpu":
        cpus = sorted(cpus)
        share = max(1, len(cpus) // workers) if workers else 1
        if workers * share <= len(cpus):
            return [Device(cpus=tuple(cpus[i * share : (i + 1) * share])) for i in range(workers)]
        return [Device(cpus=(cpus[i % len(cpus)],)) for i in range(workers)]
    pool = list(devices)
    if gpus_per_worker > len(pool):
        raise ValueError(
            f"{gpus_per_worker} GPUs per worker requested, but only {len(pool)} available."
        )
    groups = [
        tuple(pool[(i * gpus_per_worker + k) % len(pool)] for k in range(gpus_per_worker))
        for i in range(workers)
    ]
    shared = workers * gpus_per_worker > len(pool)
    return [Device(gpus=group, shared_gpu=shared) for group in groups]


def available_cpus() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


# Processes -----------------------------------------------------------------------------------


def worker_ids(workers: int, node: str | None = None) -> list[str]:
    """Keras Tuner ids of this machine's workers: ``worker0``.. or ``NODE-worker0``.."""
    prefix = f"{node}-" if node else ""
    return [f"{prefix}worker{i}" for i in range(workers)]


def node_name(text: str) -> str:
    """Checks a `--node` name: it goes into worker ids, which must not contain "chief"."""
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


def free_port(address: str = DEFAULT_ADDRESS) -> int:
    """A TCP port free on `address` now (the chief binds it a few seconds later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def port_is_free(address: str, port: int) -> bool:
    """Whether the chief could listen on `address:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


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
    """
    env = dict(base)
    env.update(
        KERASTUNER_TUNER_ID=tuner_id,
        KERASTUNER_ORACLE_IP=address,
        KERASTUNER_ORACLE_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device is None:
        env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    else:
        env.update(device.env())
    return env


def script_command(script: str, args: Sequence[str], module: bool = False) -> list[str]:
    """The command that runs the user's script (or ``-m module``) with this Python."""
    if module:
        return [sys.executable, "-u", "-m", script, *args]
    return [sys.executable, "-u", script, *args]


def exit_status(returncode: int) -> int:
    """A shell-style exit status: a child killed by signal N gives 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _child_setup(cpus: tuple[int, ...]):
    """Runs in the child between fork and exec: affinity, and death with the launcher."""

    def setup() -> None:
        if _PRCTL is not None:
            # Without it a SIGKILLed launcher would leave its children running.
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)

    return setup


@dataclass
class Child:
    """One process of the search: the chief or a worker, with its restarts."""

    tuner_id: str
    env: dict[str, str]
    device: Device | None = None
    process: subprocess.Popen | None = None
    restarts: int = 0
    finished: bool = False
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def is_chief(self) -> bool:
        return self.tuner_id == CHIEF_ID

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class _Signals:
    """Records SIGINT, SIGTERM and SIGHUP instead of dying, while installed (main thread)."""

    def __init__(self):
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in _TERMINATING:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        self.received.append(signum)


class Launcher:
    """Starts, watches, restarts and stops the chief and the workers of one machine.

    Args:
        command: The command every child runs (the user's script with its arguments).
        workers: Number of workers on this machine (0: the chief only).
        devices: `--devices`: ``"auto"``, ``"cpu"`` or GPU ids.
        address: Where the chief listens (and the workers dial).
        port: The chief's port; None picks a free one (only with a local chief).
        chief: Whether this machine runs the chief (False: join a chief elsewhere).
        node: Name of this machine in worker ids (needed when several machines run workers).
        log_dir: Folder for one log file per worker; None prefixes their output instead.
        max_restarts: Times each worker is restarted after dying before the launch fails.
        gpus_per_worker: GPUs given to each worker.
        environ: Base environment of the children; defaults to `os.environ`.
        stream: Where prefixed worker output goes; defaults to standard output.
        gpus: Visible GPU ids; None detects them (`visible_gpus`).
        stop_grace: Seconds between SIGTERM and SIGKILL when stopping children.
    """

    def __init__(
        self,
        command: Sequence[str],
        workers: int,
        devices: str | Sequence[str] = "auto",
        address: str = DEFAULT_ADDRESS,
        port: int | None = None,
        chief: bool = True,
        node: str | None = None,
        log_dir: str | None = None,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        gpus_per_worker: int = 1,
        environ: Mapping[str, str] | None = None,
        stream: IO[str] | None = None,
        gpus: Sequence[str] | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
    ):
        if workers < (0 if chief else 1):
            raise ValueError("--workers must be >= 1 (>= 0 on the chief's machine).")
        if not chief and port is None:
            raise ValueError("--port is required to join a chief on another machine.")
        if max_restarts < 0:
            raise ValueError("--max-restarts must be >= 0.")
        self.command = list(command)
        self.address = address
        self.port = port if port is not None else free_port(address)
        self.log_dir = log_dir
        self.max_restarts = max_restarts
        self.stop_grace = stop_grace
        self.stream = stream
        environ = dict(os.environ if environ is None else environ)
        gpus = visible_gpus(environ) if gpus is None else list(gpus)
        self.devices = assign_devices(devices, workers, gpus, available_cpus(), gpus_per_worker)
        dial = connect_address(address)
        self.children: list[Child] = []
        if chief:
            env = child_env(environ, CHIEF_ID, address, self.port, None)
            if devices == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = "-1"
            self.children.append(Child(CHIEF_ID, env))
        for tuner_id, device in zip(worker_ids(workers, node), self.devices):
            env = child_env(environ, tuner_id, dial, self.port, device)
            self.children.append(Child(tuner_id, env, device))
        self._lock = threading.Lock()

    @property
    def chief(self) -> Child | None:
        return next((child for child in self.children if child.is_chief), None)

    @property
    def workers(self) -> list[Child]:
        return [child for child in self.children if not child.is_chief]

    def pids(self) -> dict[str, int]:
        """Process ids of the children alive now, by tuner id."""
        return {c.tuner_id: c.process.pid for c in self.children if c.alive()}

    # Running --------------------------------------------------------------------------------

    def run(self) -> int:
        """Runs the search to its end; returns the exit status (0: the search succeeded)."""
        chief = self.chief
        if chief is not None and not port_is_free(self.address, self.port):
            self.say(f"cannot listen on {self.address}:{self.port} (in use?).")
            return 1
        if self.log_dir:
            os.makedirs(self.log_dir, exist_ok=True)
        with _Signals() as signals:
            try:
                for child in self.children:
                    self._spawn(child)
                where = f"{self.address}:{self.port}"
                self.say(
                    (f"chief on {where}" if chief else f"joining the chief on {where}")
                    + "; "
                    + ", ".join(f"{w.tuner_id} on {w.device.describe()}" for w in self.workers)
                )
                return self._watch(signals)
            finally:
                self.stop(signals)
                for child in self.children:
                    for reader in child.readers:
                        reader.join(timeout=5)

    def _watch(self, signals: _Signals) -> int:
        chief = self.chief
        workers_deadline = None
        while True:
            if signals.received:
                name = _TERMINATING.get(signals.received[0], str(signals.received[0]))
                self.say(f"{name} received: stopping every process.")
                return 128 + int(signals.received[0])
            if chief is not None and not chief.alive():
                code = chief.process.returncode
                if code != 0:
                    self.say(f"the chief failed (exit status {exit_status(code)}).")
                    return exit_status(code) or 1
                # The search is over: workers are on their way out; do not restart any.
                workers_deadline = workers_deadline or time.monotonic() + WORKER_EXIT_SECONDS
                if not any(w.alive() for w in self.workers):
                    self.say("the search finished.")
                    return 0
                if time.monotonic() > workers_deadline:
                    self.say("the chief finished; stopping the workers still running.")
                    return 0
            else:
                failed = self._check_workers()
                if failed is not None:
                    return failed
                if chief is None and all(w.finished for w in self.workers):
                    self.say("all workers finished.")
                    return 0
            time.sleep(POLL_SECONDS)

    def _check_workers(self) -> int | None:
        """Marks finished workers and restarts dead ones; an exit status when giving up."""
        for worker in self.workers:
            if worker.finished or worker.alive():
                continue
            code = worker.process.returncode
            if code == 0:
                worker.finished = True
                continue
            status = exit_status(code)
            if worker.restarts >= self.max_restarts:
                self.say(
                    f"{worker.tuner_id} failed (exit status {status}) after "
                    f"{worker.restarts} restart(s): the search failed."
                )
                return 1
            worker.restarts += 1
            self.say(
                f"{worker.tuner_id} died (exit status {status}); restarting it with the same "
                f"id, which gets back the trial it was running ({worker.restarts}/"
                f"{self.max_restarts})."
            )
            time.sleep(RESTART_DELAY_SECONDS)
            self._spawn(worker)
        return None

    def stop(self, signals: _Signals | None = None) -> None:
        """Stops every child still alive: SIGTERM to its process group, then SIGKILL."""
        alive = [child for child in self.children if child.alive()]
        if not alive:
            return
        already = len(signals.received) if signals else 0
        for child in alive:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while any(child.alive() for child in alive) and time.monotonic() < deadline:
            if signals and len(signals.received) > already:
                break  # a second Ctrl-C: no more waiting
            time.sleep(0.05)
        for child in alive:
            if child.alive():
                self.say(f"{child.tuner_id} did not stop in time: killing it.")
                _signal_group(child.process, signal.SIGKILL)
            child.process.wait()

    # Children -------------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        output: Any = None  # the chief keeps the terminal: its progress bar and results
        log = None
        if not child.is_chief:
            if self.log_dir:
                log = open(os.path.join(self.log_dir, f"{child.tuner_id}.log"), "ab")
                header = f"=== kte launch: {child.tuner_id}, start {child.restarts + 1} ===\n"
                log.write(header.encode())
                log.flush()
                output = log
            else:
                output = subprocess.PIPE
        cpus = child.device.cpus if child.device else ()
        child.process = subprocess.Popen(
            self.command,
            env=child.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,  # Ctrl-C reaches the launcher only, which stops them all
            preexec_fn=_child_setup(cpus),
        )
        if log is not None:
            log.close()
        if output is subprocess.PIPE:
            reader = threading.Thread(
                target=self._relay,
                args=(child.process.stdout, child.tuner_id),
                name=f"kte-relay-{child.tuner_id}",
                daemon=True,
            )
            reader.start()
            child.readers.append(reader)

    def _relay(self, pipe: IO[bytes], tuner_id: str) -> None:
        """Copies a worker's output line by line, prefixed with its id."""
        stream = self.stream or sys.stdout
        # On a terminal, clear the line first: it may hold the chief's progress bar, which the
        # chief redraws below.
        clear = "\r\x1b[K" if getattr(stream, "isatty", lambda: False)() else ""
        with pipe:
            for raw in iter(pipe.readline, b""):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                # Keep what a terminal would show of a line redrawn with carriage returns.
                text = next((part for part in reversed(text.split("\r")) if part), "")
                with self._lock:
                    stream.write(f"{clear}[{tuner_id}] {text}\n")
                    stream.flush()

    def say(self, message: str) -> None:
        """Prints a launcher message on standard error."""
        with self._lock:
            print(f"kte launch: {message}", file=sys.stderr, flush=True)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signals a child's whole process group (its own subprocesses too)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


# Command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the `launch` arguments to `parser`."""
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
        help="restarts of a worker that dies before the launch fails",
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


def run_launch(args: argparse.Namespace) -> int:
    """Runs `kte launch` with parsed arguments; returns the exit status."""
    script_args = list(args.script_args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    try:
        node = args.node
        if node is None and args.workers_only:
            node = socket.gethostname()
        launcher = Launcher(
            script_command(args.script, script_args, module=args.module),
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
    except (ValueError, OSError) as error:
        print(f"kte launch: error: {error}", file=sys.stderr)
        return 2
    if not args.module and not os.path.exists(args.script):
        print(f"kte launch: error: no such script: {args.script}", file=sys.stderr)
        return 2
    if args.address not in ("127.0.0.1", "localhost") and not args.workers_only:
        launcher.say(
            f"the oracle listens on {args.address}:{launcher.port} without authentication; "
            "expose it on trusted networks only."
        )
    return launcher.run()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `kte launch`; `argv` excludes the program name (None reads `sys.argv`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 2
    return run_launch(args)


_DESCRIPTION = """\
Run a search script as one chief and N workers on Keras Tuner's distributed protocol.

The chief serves the oracle and trains nothing; each worker runs the same, unchanged script
and trains the trials the chief hands it, one GPU each (round robin) or an equal share of the
CPU cores. A worker that dies is restarted with the same id and runs its trial again; Ctrl-C
stops every process. The script must call search() on a tuner whose project folder
(directory, project_name) the processes share."""

_EPILOG = """\
examples:
  kte launch --workers 2 search.py --epochs 3
  kte launch --workers 4 --devices 0,1 --log-dir logs search.py
many machines (the same script everywhere; shared folder for the project recommended):
  host A:  kte launch --workers 2 --address 10.0.0.1 --port 50051 search.py
  host B:  kte launch --workers 4 --workers-only --address 10.0.0.1 --port 50051 search.py"""


if __name__ == "__main__":
    raise SystemExit(main())
