"""The chief's side of a parallel search: it serves the oracle to the workers over gRPC.

`kte launch` (see `launcher`) starts the user's script once as the chief and N times as a
worker, wired through Keras Tuner's environment variables. In the chief,
`EvolutionaryTuner.search` calls `serve` instead of Keras Tuner's own
`oracle_chief.start_server`, which

- checks whether the search is over only every 20 s once the first worker was told to stop,
  so the chief's script lingered up to 20 s after the last trial;
- serves one request at a time, so a worker's IDLE wait held up every other worker's report;
- never ends when a trial cannot be reported (for instance after too many consecutive failed
  trials), and leaves the chief's process to be killed mid-write on SIGTERM;
- waits forever for a worker that died for good (its trial stays running, its tuner id
  unanswered), and records a trial reported twice (a retried request) twice.

Leases: a worker that runs this package's client (`distribute.client`, installed by
`kte launch`) names itself in each request and sends a heartbeat while it trains. When such a
worker has sent nothing for `KTE_LEASE_SECONDS` (60 s), its trial goes back on the retry queue
for the next worker that asks, and the chief stops waiting for it. Workers running Keras
Tuner's own client never name themselves, and keep their trials as in Keras Tuner. A trial is
ended once: a second report of it (a retried request, or the first holder of a trial handed
on) is ignored, as are the metrics of a trial no longer running.

This module imports gRPC and Keras Tuner, so it is imported only when a chief starts serving
(Keras Tuner does the same with its protocol buffers, to avoid protobuf version clashes at
import time); `keras_tuner_evolution.distribute` loads it on first use.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from concurrent import futures
from typing import Any

import grpc
import keras_tuner

from keras_tuner_evolution import _keras_tuner
from keras_tuner_evolution.distribute.client import TUNER_METADATA
from keras_tuner_evolution.distribute.environment import (
    DEFAULT_LEASE,
    LEASE,
    chief_address,
    seconds,
)
from keras_tuner_evolution.distribute.signals import Signals
from keras_tuner_evolution.durability import synchronized
from keras_tuner_evolution.progress import OracleProgress, search_state

__all__ = [
    "POLL_SECONDS",
    "SERVER_THREADS",
    "STOP_GRACE_SECONDS",
    "SearchFailed",
    "serve",
    "snapshot",
]

logger = logging.getLogger("keras_tuner_evolution")

# How often the chief checks whether the search is over and refreshes its progress bar.
POLL_SECONDS = 0.2
# Request threads: enough that IDLE waits (which sleep outside the oracle's lock) never queue
# other workers' reports behind them; the oracle's lock still serialises the oracle itself.
SERVER_THREADS = 32
# Seconds in-flight requests may finish when the chief stops serving.
STOP_GRACE_SECONDS = 2.0


class SearchFailed(RuntimeError):
    """The chief's oracle could not take a worker's report (e.g. too many failed trials)."""


def snapshot(oracle: keras_tuner.Oracle) -> dict[str, Any]:
    """Counts of the search so far (`progress.search_state`), read under the oracle's lock.

    Returns:
        `{"finished": ..., "running": ..., "best": float or None, "max_trials": ...,
        "generation": int or None}`: finished trials are completed or failed ones.
    """
    return search_state(oracle)


snapshot = synchronized(snapshot)


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
        OSError: The chief cannot listen on its address.
    """
    oracle = tuner.oracle
    if verbose is not None:
        oracle.verbose = verbose
    tuner.save()
    lease = seconds(os.environ, LEASE, DEFAULT_LEASE)
    server, servicer = _start_server(oracle, chief_address(os.environ))
    servicer.lease = lease
    progress = OracleProgress(oracle, snapshot) if _progress_wanted() else None
    try:
        with Signals((signal.SIGTERM,)) as terminated:
            _serve_until_done(oracle, servicer, terminated, progress)
    finally:
        # Waits for the requests in flight, so the oracle's files are written whole.
        server.stop(STOP_GRACE_SECONDS).wait()
        if progress is not None:
            progress.close()
        if hasattr(oracle, "flush_history"):
            oracle.flush_history()  # the History workers and users read from disk


def _serve_until_done(
    oracle: keras_tuner.Oracle,
    servicer: Any,
    terminated: Signals,
    progress: OracleProgress | None,
) -> None:
    """Polls until the search is over; raises when it failed or the chief was terminated."""
    _, oracle_chief = _keras_tuner.grpc_modules()
    while True:
        time.sleep(POLL_SECONDS)
        if servicer.error is not None:
            raise SearchFailed(
                f"The search failed on the chief: {servicer.error}"
            ) from servicer.error
        if terminated.first is not None:
            raise SystemExit(terminated.exit_status())
        if progress is not None:
            progress.update()
        servicer.expire_leases()
        if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
            return


def _start_server(oracle: keras_tuner.Oracle, address: str) -> tuple[grpc.Server, Any]:
    """Starts serving `oracle` on `address` (``host:port``); the server and its servicer."""
    protos, _ = _keras_tuner.grpc_modules()
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
    return server, servicer


def _make_servicer(oracle: keras_tuner.Oracle) -> Any:
    """Keras Tuner's servicer, with leases, trials ended once, and errors remembered."""
    _, oracle_chief = _keras_tuner.grpc_modules()

    class Servicer(oracle_chief.OracleServicer):
        def __init__(self, oracle: keras_tuner.Oracle):
            super().__init__(oracle)
            self.error: BaseException | None = None
            self.lease = DEFAULT_LEASE
            self.leases = Leases()

        def CreateTrial(self, request, context):  # noqa: N802 (gRPC method name)
            self.leases.renew(context)
            try:
                return super().CreateTrial(request, context)
            except Exception as error:
                self._failed(error)
                raise

        def EndTrial(self, request, context):  # noqa: N802
            self.leases.renew(context)
            end = super().EndTrial
            try:
                # Decided and ended under the lock; forced to disk after it is released.
                with self.oracle.syncing_after():
                    return _once(self.oracle, request.trial.trial_id, end, request, context)
            except Exception as error:
                self._failed(error)
                raise

        def UpdateTrial(self, request, context):  # noqa: N802
            self.leases.renew(context)
            update = super().UpdateTrial
            return _once(self.oracle, request.trial_id, update, request, context)

        def GetTrial(self, request, context):  # noqa: N802 (also the heartbeat)
            self.leases.renew(context)
            return super().GetTrial(request, context)

        def expire_leases(self) -> None:
            """Hands on the trials of the workers silent for a whole lease."""
            for tuner_id, trial_id in self.leases.expire(self.oracle, self.lease):
                logger.warning(
                    "%s sent nothing for %g s (%s): %s; the chief no longer waits for it.",
                    tuner_id,
                    self.lease,
                    LEASE,
                    f"its trial {trial_id} goes to the next worker"
                    if trial_id
                    else "it held no trial",
                )

        def _failed(self, error: BaseException) -> None:
            # The oracle's lock is free again (`durability.synchronized`): the serving loop
            # sees the error and stops.
            self.error = error

    return Servicer(oracle)


class Leases:
    """When each worker that names itself (`client.TUNER_METADATA`) was last heard from."""

    def __init__(self):
        self.seen: dict[str, float] = {}
        self._checked = time.monotonic()

    def renew(self, context: Any) -> None:
        """Records a request of a worker that names itself in its metadata."""
        for key, value in context.invocation_metadata() or ():
            if key == TUNER_METADATA:
                self.seen[value] = time.monotonic()

    def expire(self, oracle: keras_tuner.Oracle, lease: float) -> list[tuple[str, str | None]]:
        """Releases the workers silent for `lease` seconds: `(tuner id, trial id or None)`."""
        now = time.monotonic()
        if now - self._checked > lease / 3:
            # The chief itself stalled (suspended, swapping): its clock says nothing of the
            # workers, whose heartbeats could not be handled; every lease starts again.
            self.seen = dict.fromkeys(self.seen, now)
        self._checked = now
        silent = [tid for tid, last in list(self.seen.items()) if now - last > lease]
        return _release(oracle, silent, self.seen) if silent else []


@synchronized
def _release(
    oracle: keras_tuner.Oracle, tuner_ids: list[str], seen: dict[str, float]
) -> list[tuple[str, str | None]]:
    released = []
    for tuner_id in tuner_ids:
        seen.pop(tuner_id, None)
        if tuner_id in oracle.tuner_ids or tuner_id in oracle.ongoing_trials:
            released.append((tuner_id, _keras_tuner.release_trial(oracle, tuner_id)))
    return released


@synchronized
def _once(oracle: keras_tuner.Oracle, trial_id: str, method: Any, request: Any, context: Any):
    """Runs `method` (EndTrial or UpdateTrial) only while the trial is running, atomically."""
    if any(trial.trial_id == trial_id for trial in oracle.ongoing_trials.values()):
        return method(request, context)
    protos, _ = _keras_tuner.grpc_modules()
    if method.__name__ == "EndTrial":
        logger.warning(
            "Trial %s was reported again, or by a worker it was taken from: ignored.", trial_id
        )
        return protos.get_service().EndTrialResponse()
    trial = oracle.trials[trial_id]  # no longer running: its metrics stay as they were
    return protos.get_service().UpdateTrialResponse(trial=trial.to_proto())


def _progress_wanted() -> bool:
    """Whether to draw the chief's bar: only on a terminal (a log would fill with redraws)."""
    stream = sys.stderr
    return bool(getattr(stream, "isatty", None) and stream.isatty())
