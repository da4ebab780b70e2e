"""The chief's side of a parallel search: it serves the oracle to the workers over gRPC.

`kte launch` (see `launch.py`) starts the user's script once as the chief and N times as a
worker, wired through Keras Tuner's environment variables. In the chief, `EvolutionaryTuner.search`
calls `serve` instead of Keras Tuner's own `oracle_chief.start_server`, which

- checks whether the search is over only every 20 s once the first worker was told to stop,
  so the chief's script lingered up to 20 s after the last trial;
- serves one request at a time, so a worker's IDLE wait held up every other worker's report;
- never ends when a trial cannot be reported (for instance after too many consecutive failed
  trials), and leaves the chief's process to be killed mid-write on SIGTERM.

This module imports gRPC and Keras Tuner's protocol buffers, so it is imported only when a chief
starts serving (Keras Tuner does the same, to avoid protobuf version clashes at import time).
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from concurrent import futures
from typing import Any

import grpc
import keras_tuner
from keras_tuner.src import protos
from keras_tuner.src.distribute import oracle_chief
from keras_tuner.src.engine import oracle as oracle_module
from keras_tuner.src.engine.trial import TrialStatus

logger = logging.getLogger("keras_tuner_evolution")

ENV_TUNER_ID = "KERASTUNER_TUNER_ID"
ENV_ORACLE_IP = "KERASTUNER_ORACLE_IP"
ENV_ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
# How often the chief checks whether the search is over and refreshes its progress bar.
POLL_SECONDS = 0.2
# Request threads: enough that IDLE waits (which sleep outside the oracle's lock) never queue
# other workers' reports behind them; the oracle's lock still serialises the oracle itself.
SERVER_THREADS = 32
# Seconds in-flight requests may finish when the chief stops serving.
STOP_GRACE_SECONDS = 2.0


class SearchFailed(RuntimeError):
    """The chief's oracle could not take a worker's report (e.g. too many failed trials)."""


def serve(tuner: keras_tuner.Tuner, verbose: Any = None) -> None:
    """Serves `tuner.oracle` to the workers until every worker has been told to stop.

    Called by the chief's `search()`. Returns once no trial is running and every worker that
    asked for a trial has been answered STOPPED, like Keras Tuner's own server, but checks
    every `POLL_SECONDS`. Shows one progress bar for the whole search when standard error is a
    terminal (Keras Tuner's per-trial display is silenced meanwhile, as it would break the bar).

    Args:
        tuner: The chief's tuner (its oracle is a real `keras_tuner.Oracle`).
        verbose: The `verbose` passed to `search()`, or None when not given.

    Raises:
        SearchFailed: The oracle raised while ending a trial; the chief's script fails with it,
            as an undistributed search would.
        SystemExit: On SIGTERM (exit status 143): the server stops after the requests in flight,
            so every file the oracle writes is whole.
    """
    oracle = tuner.oracle
    if verbose is not None:
        oracle.verbose = verbose
    tuner.save()

    address = f"{os.environ[ENV_ORACLE_IP]}:{os.environ[ENV_ORACLE_PORT]}"
    servicer = _make_servicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=SERVER_THREADS))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:  # newer grpcio raises, older ones return 0
        raise OSError(f"The chief could not listen on {address}: {error}") from error
    if not bound:
        raise OSError(f"The chief could not listen on {address} (port in use?).")
    server.start()
    logger.info("Chief serving the oracle on %s.", address)

    progress = _ProgressBar(oracle) if _progress_wanted() else None
    terminated = _TerminationFlag()
    try:
        while True:
            time.sleep(POLL_SECONDS)
            if servicer.error is not None:
                raise SearchFailed(
                    f"The search failed on the chief: {servicer.error}"
                ) from servicer.error
            if terminated.signum is not None:
                raise SystemExit(128 + terminated.signum)
            if progress is not None:
                progress.update()
            if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
                break
    finally:
        terminated.restore()
        # Waits for the requests in flight, so the oracle's files are written whole.
        server.stop(STOP_GRACE_SECONDS).wait()
        if progress is not None:
            progress.close()
        if hasattr(oracle, "flush_history"):
            oracle.flush_history()  # the History workers and users read from disk


def _make_servicer(oracle: keras_tuner.Oracle) -> Any:
    """Keras Tuner's servicer, remembering an error raised while creating or ending a trial."""

    class Servicer(oracle_chief.OracleServicer):
        def __init__(self, oracle):
            super().__init__(oracle)
            self.error: BaseException | None = None

        def CreateTrial(self, request, context):  # noqa: N802 (gRPC method name)
            try:
                return super().CreateTrial(request, context)
            except Exception as error:
                self._failed(error)
                raise

        def EndTrial(self, request, context):  # noqa: N802
            try:
                return super().EndTrial(request, context)
            except Exception as error:
                self._failed(error)
                raise

        def _failed(self, error: BaseException) -> None:
            self.error = error
            _release_leaked_lock(self.oracle)

    return Servicer(oracle)


def _release_leaked_lock(oracle: keras_tuner.Oracle) -> None:
    """Releases the oracle's lock if this thread still holds it after an exception.

    `keras_tuner.synchronized` has no try/finally: an exception inside a synchronized call
    leaves the lock held, and the chief's serving loop would then wait on it forever.
    """
    if oracle_module.THREADS[oracle] == threading.current_thread().name:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()


def _progress_wanted() -> bool:
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())


@keras_tuner.synchronized
def snapshot(oracle: keras_tuner.Oracle) -> dict[str, Any]:
    """Counts of the search so far, read under the oracle's lock.

    Returns:
        `{"finished": ..., "running": ..., "best": float or None, "max_trials": ...,
        "generation": int or None}`: finished trials are completed or failed ones.
    """
    completed = [
        trial.score
        for trial in oracle.trials.values()
        if trial.status == TrialStatus.COMPLETED
        and trial.score is not None
        and math.isfinite(trial.score)
    ]
    best = None
    if completed:
        best = max(completed) if oracle.objective.direction == "max" else min(completed)
    generations = getattr(oracle, "_generations", None)
    return {
        "finished": len(oracle.end_order),
        "running": len(oracle.ongoing_trials),
        "best": best,
        "max_trials": oracle.max_trials,
        "generation": len(generations) - 1 if generations else None,
    }


class _ProgressBar:
    """One tqdm bar for the whole search, fed by `snapshot`."""

    def __init__(self, oracle: keras_tuner.Oracle):
        from tqdm.auto import tqdm

        self.oracle = oracle
        self._verbose = oracle.verbose
        oracle.verbose = 0
        state = snapshot(oracle)
        self.bar = tqdm(
            total=state["max_trials"], initial=state["finished"], unit="trial", desc="search"
        )

    def update(self) -> None:
        state = snapshot(self.oracle)
        postfix = {"running": state["running"]}
        if state["generation"] is not None:
            postfix["generation"] = state["generation"]
        if state["best"] is not None:
            postfix["best"] = f"{state['best']:.4g}"
        self.bar.n = state["finished"]
        self.bar.set_postfix(postfix, refresh=False)
        # Redrawn every poll: worker lines printed by the launcher erase the bar's line.
        self.bar.refresh()

    def close(self) -> None:
        self.update()
        self.bar.close()
        self.oracle.verbose = self._verbose


class _TerminationFlag:
    """Turns SIGTERM into a flag the serving loop checks (main thread only)."""

    def __init__(self):
        self.signum: int | None = None
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame) -> None:
        self.signum = signum

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
