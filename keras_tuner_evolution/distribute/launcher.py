"""The processes of `kte launch`: one chief and N workers, started, watched, restarted, stopped.

The launcher starts the user's unchanged script N + 1 times, wired through Keras Tuner's
distributed mode (see `environment`): the chief serves the oracle and trains nothing, each
worker asks it for trials and trains them on its device (see `devices`).

It restarts a worker that dies (with the same tuner id, so the chief hands it the trial it was
running), prefixes each worker's output with its id or writes it to one file per worker, stops
every child on Ctrl-C, SIGTERM or SIGHUP, and exits non-zero when the search failed.

This module never imports TensorFlow or Keras Tuner: the launcher must start at once and must
not take a GPU for itself.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from keras_tuner_evolution.distribute.devices import (
    Device,
    assign_devices,
    available_cpus,
    visible_gpus,
)
from keras_tuner_evolution.distribute.environment import (
    CHIEF_ID,
    chief_env,
    worker_env,
    worker_ids,
)
from keras_tuner_evolution.distribute.signals import Signals, signal_name

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_MAX_RESTARTS",
    "DEFAULT_RESTART_WINDOW",
    "MAX_RESTART_DELAY_SECONDS",
    "POLL_SECONDS",
    "RESTART_DELAY_SECONDS",
    "STOP_GRACE_SECONDS",
    "WORKER_EXIT_SECONDS",
    "Child",
    "Launcher",
    "exit_status",
    "free_port",
    "is_loopback",
    "port_is_free",
    "restart_delay",
    "script_command",
]

DEFAULT_ADDRESS = "127.0.0.1"
# A worker may be restarted `DEFAULT_MAX_RESTARTS` times within any `DEFAULT_RESTART_WINDOW`
# seconds (as process supervisors count); one more death in the window drops it.
DEFAULT_MAX_RESTARTS = 3
DEFAULT_RESTART_WINDOW = 300.0
# Seconds between SIGTERM and SIGKILL when stopping children.
STOP_GRACE_SECONDS = 10.0
# Seconds workers may take to exit once the chief has finished the search.
WORKER_EXIT_SECONDS = 30.0
# How often the launcher looks at its children.
POLL_SECONDS = 0.1
# A worker that died is restarted after this pause, doubled for each other restart within the
# window (at most `MAX_RESTART_DELAY_SECONDS`), so a script that fails at once does not spin.
RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 30.0
# Linux: the child receives this signal when the launcher dies, even by SIGKILL.
_PR_SET_PDEATHSIG = 1


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


def script_command(script: str, args: Sequence[str], module: bool = False) -> list[str]:
    """The command that runs the user's script (or ``-m module``) with this Python."""
    if module:
        return [sys.executable, "-u", "-m", script, *args]
    return [sys.executable, "-u", script, *args]


def is_loopback(address: str) -> bool:
    """Whether `address` is reachable from this machine only (``127.x``, ``::1``, localhost)."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def restart_delay(recent_restarts: int) -> float:
    """Seconds before a restart, after `recent_restarts` others within the window (backoff)."""
    return min(RESTART_DELAY_SECONDS * 2.0**recent_restarts, MAX_RESTART_DELAY_SECONDS)


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


def _child_setup(cpus: tuple[int, ...]) -> Callable[[], None]:
    """What runs in a child between fork and exec: affinity, and death with the launcher."""

    def setup() -> None:
        if _PRCTL is not None:
            # Without it a SIGKILLed launcher would leave its children running.
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, cpus)

    return setup


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    """Signals a child's whole process group (its own subprocesses too)."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Child:
    """One process of the search: the chief or a worker, with its restarts."""

    tuner_id: str
    env: dict[str, str]
    device: Device | None = None
    process: subprocess.Popen | None = None
    restarts: int = 0
    finished: bool = False
    # Dropped after too many deaths within the restart window: never restarted again.
    dropped: bool = False
    # When a scheduled restart is due (time.monotonic()), None when none is scheduled.
    restart_at: float | None = None
    # time.monotonic() of each restart, the ones older than the window forgotten.
    restart_times: deque = field(default_factory=deque)
    readers: list[threading.Thread] = field(default_factory=list)

    @property
    def is_chief(self) -> bool:
        """Whether this is the chief (it serves the oracle and trains nothing)."""
        return self.tuner_id == CHIEF_ID

    def alive(self) -> bool:
        """Whether its process was started and has not ended."""
        return self.process is not None and self.process.poll() is None

    def left(self) -> bool:
        """Whether it still takes part: running, or dead with a restart scheduled."""
        return not self.finished and not self.dropped


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
        max_restarts: Restarts of a worker within `restart_window` seconds; one more death in
            the window drops it (the others carry on; the launch fails when none is left).
        restart_window: The window of `max_restarts`, in seconds.
        gpus_per_worker: GPUs given to each worker.
        environ: Base environment of the children; defaults to `os.environ`.
        stream: Where prefixed worker output goes; defaults to standard output.
        gpus: Visible GPU ids; None detects them (`visible_gpus`).
        stop_grace: Seconds between SIGTERM and SIGKILL when stopping children.
        worker_command: What the workers run; defaults to `command` (`kte launch` runs the
            script through `distribute.worker`, which makes its requests to the chief retry).
        worker_environ: Variables added to every child's environment (`environment.
            fault_tolerance_env`: the chief's lease, how long workers wait for the chief).

    Raises:
        ValueError: For a worker count, port or restart count that cannot work.
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
        restart_window: float = DEFAULT_RESTART_WINDOW,
        gpus_per_worker: int = 1,
        environ: Mapping[str, str] | None = None,
        stream: IO[str] | None = None,
        gpus: Sequence[str] | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
        worker_command: Sequence[str] | None = None,
        worker_environ: Mapping[str, str] | None = None,
    ):
        if workers < (0 if chief else 1):
            raise ValueError("--workers must be >= 1 (>= 0 on the chief's machine).")
        if not chief and port is None:
            raise ValueError("--port is required to join a chief on another machine.")
        if max_restarts < 0:
            raise ValueError(f"--max-restarts must be >= 0, got {max_restarts}.")
        if not restart_window > 0:
            raise ValueError(f"--restart-window must be > 0 seconds, got {restart_window}.")
        self.command = list(command)
        self.worker_command = list(worker_command) if worker_command else self.command
        self.restart_window = float(restart_window)
        self.address = address
        self.port = port if port is not None else free_port(address)
        self.log_dir = log_dir
        self.max_restarts = max_restarts
        self.stop_grace = stop_grace
        self.stream = stream
        environ = dict(os.environ if environ is None else environ)
        environ.update(worker_environ or {})
        gpus = visible_gpus(environ) if gpus is None else list(gpus)
        self.devices = assign_devices(devices, workers, gpus, available_cpus(), gpus_per_worker)
        self.children: list[Child] = []
        if chief:
            env = chief_env(environ, address, self.port, cpu_only=devices == "cpu")
            self.children.append(Child(CHIEF_ID, env))
        for tuner_id, device in zip(worker_ids(workers, node), self.devices):
            env = worker_env(environ, tuner_id, address, self.port, device)
            self.children.append(Child(tuner_id, env, device))
        # When workers still running after the chief's end are stopped (set at its end).
        self._workers_deadline: float | None = None
        # One writer at a time: worker lines and launcher messages must not interleave.
        self._lock = threading.Lock()

    @property
    def chief(self) -> Child | None:
        """The chief, None when this machine only runs workers."""
        return next((child for child in self.children if child.is_chief), None)

    @property
    def workers(self) -> list[Child]:
        """This machine's workers."""
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
        self._workers_deadline = None
        with Signals() as signals:
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

    def _watch(self, signals: Signals) -> int:
        """Waits for the end of the search; its exit status."""
        while True:
            if signals.first is not None:
                self.say(f"{signal_name(signals.first)} received: stopping every process.")
                return signals.exit_status()
            status = self._check_chief() if self.chief is not None else self._check_workers()
            if status is not None:
                return status
            time.sleep(POLL_SECONDS)

    def _check_chief(self) -> int | None:
        """Restarts dead workers while the chief runs; an exit status once it has ended."""
        chief = self.chief
        if chief.alive():
            return self._check_workers()
        code = chief.process.returncode
        if code != 0:
            self.say(
                f"the chief failed (exit status {exit_status(code)}). Its state is saved: run "
                "the same command again, with a tuner created with overwrite=False, to resume."
            )
            return exit_status(code) or 1
        # The search is over: workers are on their way out; do not restart any.
        if self._workers_deadline is None:
            self._workers_deadline = time.monotonic() + WORKER_EXIT_SECONDS
        if not any(w.alive() for w in self.workers):
            self.say("the search finished.")
            return 0
        if time.monotonic() > self._workers_deadline:
            self.say("the chief finished; stopping the workers still running.")
            return 0
        return None

    def _check_workers(self) -> int | None:
        """Restarts dead workers (or drops them); an exit status when done or none is left."""
        now = time.monotonic()
        for worker in self.workers:
            if not worker.left() or worker.alive():
                continue
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    worker.restart_at = None
                    self._spawn(worker)
                continue
            code = worker.process.returncode
            if code == 0:
                worker.finished = True
            else:
                self._worker_died(worker, exit_status(code), now)
        if not self.workers or any(worker.left() for worker in self.workers):
            return None  # (no worker here: they run on other machines)
        if not any(worker.finished for worker in self.workers):
            self.say(
                "no worker is left: the search failed. The chief's state is saved: once the "
                "cause is fixed (see the workers' output above), run the same command again "
                "with a tuner created with overwrite=False to resume the search."
            )
            return 1
        if self.chief is None:
            self.say("all workers finished.")
            return 0
        return None  # the workers finished: the chief ends the search

    def _worker_died(self, worker: Child, status: int, now: float) -> None:
        """Schedules a dead worker's restart, with backoff, or drops it when over budget."""
        recent = worker.restart_times
        while recent and now - recent[0] > self.restart_window:
            recent.popleft()
        if len(recent) >= self.max_restarts:
            worker.dropped = True
            others = sum(w.left() for w in self.workers)
            self.say(
                f"warning: {worker.tuner_id} died (exit status {status}) after {len(recent)} "
                f"restart(s) within {self.restart_window:g} s (--max-restarts "
                f"{self.max_restarts} per --restart-window): dropped; {others} other "
                "worker(s) carry on, and the chief hands its trial to another worker once its "
                "lease expires."
            )
            return
        delay = restart_delay(len(recent))
        recent.append(now)
        worker.restarts += 1
        worker.restart_at = now + delay
        self.say(
            f"{worker.tuner_id} died (exit status {status}); restarting it in {delay:g} s with "
            f"the same id, which gets back the trial it was running ({len(recent)}/"
            f"{self.max_restarts} within {self.restart_window:g} s)."
        )

    def stop(self, signals: Signals | None = None) -> None:
        """Stops every child still alive: SIGTERM to its process group, then SIGKILL.

        Args:
            signals: The signals recorded by `run`; a new one (a second Ctrl-C) cuts the
                grace period short.
        """
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

    def _open_log(self, child: Child) -> IO[bytes]:
        """The worker's log file, opened for appending, with a header for this start."""
        log = open(os.path.join(self.log_dir, f"{child.tuner_id}.log"), "ab")
        log.write(f"=== kte launch: {child.tuner_id}, start {child.restarts + 1} ===\n".encode())
        log.flush()
        return log

    def _spawn(self, child: Child) -> None:
        """Starts (or restarts) `child`, with its output relayed or logged."""
        output: Any = None  # the chief keeps the terminal: its progress bar and results
        log = None
        if not child.is_chief:
            log = self._open_log(child) if self.log_dir else None
            output = log if log is not None else subprocess.PIPE
        cpus = child.device.cpus if child.device else ()
        child.process = subprocess.Popen(
            self.command if child.is_chief else self.worker_command,
            env=child.env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,  # Ctrl-C reaches the launcher only, which stops them all
            preexec_fn=_child_setup(cpus),
        )
        if log is not None:
            log.close()  # the child has its own copy of the file
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
