"""A worker's requests to the chief, made to survive a slow start and broken connections.

Keras Tuner's worker client (`OracleClient`) sends every request with `wait_for_ready=True`
and a one-hour deadline: a worker whose chief is slow to start, restarting, or gone waits
silently for up to an hour per request, and a reply that never comes costs the same hour.
`_keras_tuner.retrying_client_class` gives the client a `RetryingStub` instead, which

- tries each request with a deadline of `KTE_REQUEST_TIMEOUT_SECONDS` (60 s);
- when the chief cannot be reached or the reply does not come, says so once, then asks again
  with backoff (0.25 s doubling to 5 s) for at most `KTE_CHIEF_WAIT_SECONDS` (600 s) since
  the first failure, says when it got through, and otherwise raises `ChiefUnreachable`;
- sends a heartbeat (a `GetTrial` request for its trial) every sixth of the chief's lease
  (`KTE_LEASE_SECONDS`, 60 s) while the worker holds a trial, and names its tuner in the
  request metadata (`TUNER_METADATA`): the chief hands the trial of a worker silent for a
  whole lease to another worker (see `server`).

Retrying is safe: the chief answers a repeated `CreateTrial` with the trial it already gave
that worker (Keras Tuner's own rule), and ignores a second report of an ended trial.

Imports gRPC but neither TensorFlow nor Keras Tuner.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from keras_tuner_evolution.distribute.environment import (
    CHIEF_WAIT,
    DEFAULT_CHIEF_WAIT,
    DEFAULT_LEASE,
    DEFAULT_REQUEST_TIMEOUT,
    LEASE,
    REQUEST_TIMEOUT,
    seconds,
)

__all__ = [
    "CHANNEL_OPTIONS",
    "RETRIED_CODES",
    "TUNER_METADATA",
    "ChiefUnreachable",
    "RetryPolicy",
    "RetryingStub",
]

logger = logging.getLogger("keras_tuner_evolution")

# gRPC metadata key naming the worker that sends a request (a heartbeat renews its lease).
TUNER_METADATA = "kte-tuner-id"
# Status codes that mean "the chief did not answer" (down, restarting, unreachable, too slow);
# any other error (the chief's oracle raised) is not retried.
RETRIED_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# gRPC reconnects with a backoff of up to 120 s by default: a chief back after a long outage
# would be noticed that late. Capped at 2 s.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 250),
    ("grpc.min_reconnect_backoff_ms", 250),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
# Backoff between attempts: doubling from the first to the last, in seconds.
FIRST_BACKOFF = 0.25
LAST_BACKOFF = 5.0


class ChiefUnreachable(RuntimeError):
    """The chief did not answer a worker for the whole `KTE_CHIEF_WAIT_SECONDS`."""


class RetryPolicy:
    """How long a worker waits for the chief: read from the environment the launcher set.

    Args:
        environ: The process's environment (`KTE_CHIEF_WAIT_SECONDS`, `KTE_LEASE_SECONDS`,
            `KTE_REQUEST_TIMEOUT_SECONDS`; unset ones take their defaults).

    Raises:
        ValueError: A variable that is not a number of seconds > 0, named.
    """

    def __init__(self, environ: Mapping[str, str]):
        self.chief_wait = seconds(environ, CHIEF_WAIT, DEFAULT_CHIEF_WAIT)
        self.lease = seconds(environ, LEASE, DEFAULT_LEASE)
        self.request_timeout = seconds(environ, REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT)

    @property
    def heartbeat(self) -> float:
        """Seconds between two heartbeats: a sixth of the lease."""
        return self.lease / 6.0

    @staticmethod
    def backoff(attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failure in a row (0-based)."""
        return min(FIRST_BACKOFF * 2.0**attempt, LAST_BACKOFF)


class RetryingStub:
    """Wraps Keras Tuner's `OracleStub`: each request retried, a heartbeat while training.

    Args:
        stub: The gRPC stub (`OracleStub`) on a channel to the chief.
        tuner_id: This worker's tuner id.
        address: The chief's ``host:port``, for messages.
        policy: The waits.
        heartbeat_request: Builds the heartbeat's request (a `GetTrialRequest`) from a trial id.
        running_status: The protocol's value of `TrialStatus.RUNNING`.
    """

    def __init__(
        self,
        stub: Any,
        tuner_id: str,
        address: str,
        policy: RetryPolicy,
        heartbeat_request: Callable[[str], Any],
        running_status: int,
    ):
        self._stub = stub
        self.tuner_id = tuner_id
        self.address = address
        self.policy = policy
        self._heartbeat_request = heartbeat_request
        self._running_status = running_status
        self._metadata = ((TUNER_METADATA, tuner_id),)
        self._trial_id: str | None = None  # the trial this worker holds, None between trials
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._heartbeats: threading.Thread | None = None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any, **_: Any) -> Any:  # Keras Tuner's wait/timeout are replaced
            response = self.call(name, method, request)
            self._observe(name, request, response)
            return response

        return call

    def call(self, name: str, method: Callable[..., Any], request: Any) -> Any:
        """Sends one request, asking again while the chief does not answer.

        Raises:
            ChiefUnreachable: No answer for `policy.chief_wait` seconds since the first failure.
            grpc.RpcError: Any other error of the chief.
        """
        first_failure: float | None = None
        attempt = 0
        while True:
            waited = 0.0 if first_failure is None else time.monotonic() - first_failure
            timeout = min(self.policy.request_timeout, max(self.policy.chief_wait - waited, 0.1))
            try:
                response = method(request, timeout=timeout, metadata=self._metadata)
            except grpc.RpcError as error:
                if error.code() not in RETRIED_CODES:
                    raise
                if first_failure is None:
                    first_failure = time.monotonic()
                    self._say_waiting(name, error)
                waited = time.monotonic() - first_failure
                if waited >= self.policy.chief_wait:
                    raise ChiefUnreachable(self._giving_up(name, waited, error)) from error
                time.sleep(min(self.policy.backoff(attempt), self.policy.chief_wait - waited))
                attempt += 1
                continue
            if first_failure is not None:
                logger.warning(
                    "%s: reached the chief at %s again after %.1f s.",
                    self.tuner_id,
                    self.address,
                    time.monotonic() - first_failure,
                )
            return response

    def _say_waiting(self, name: str, error: grpc.RpcError) -> None:
        logger.warning(
            "%s: the chief at %s did not answer %s (%s); asking again for up to %g s (%s).",
            self.tuner_id,
            self.address,
            name,
            error.code().name,
            self.policy.chief_wait,
            CHIEF_WAIT,
        )

    def _giving_up(self, name: str, waited: float, error: grpc.RpcError) -> str:
        return (
            f"{self.tuner_id}: the chief at {self.address} did not answer {name} for "
            f"{waited:.0f} s ({error.code().name}; {CHIEF_WAIT}={self.policy.chief_wait:g}): "
            "giving up. Is the chief running? Start this worker again once it is; the chief "
            f"hands this worker's trial to another one after its lease ({LEASE}="
            f"{self.policy.lease:g} s)."
        )

    # Heartbeats ---------------------------------------------------------------------------

    def _observe(self, name: str, request: Any, response: Any) -> None:
        """Follows which trial this worker holds, from its requests and the chief's replies."""
        if name == "CreateTrial":
            trial = response.trial
            running = trial.status == self._running_status
            self._hold(trial.trial_id if running else None)
        elif name == "EndTrial":
            self._hold(None)

    def _hold(self, trial_id: str | None) -> None:
        with self._lock:
            self._trial_id = trial_id
        if trial_id is not None and self._heartbeats is None:
            self._heartbeats = threading.Thread(
                target=self._beat, name=f"kte-heartbeat-{self.tuner_id}", daemon=True
            )
            self._heartbeats.start()

    def _beat(self) -> None:
        """Renews this worker's lease while it holds a trial (a daemon thread)."""
        method = self._stub.GetTrial
        while not self._wake.wait(self.policy.heartbeat):
            with self._lock:
                trial_id = self._trial_id
            if trial_id is None:
                continue
            try:
                method(
                    self._heartbeat_request(trial_id),
                    timeout=self.policy.heartbeat,
                    metadata=self._metadata,
                )
            except grpc.RpcError:
                pass  # the worker's own next request waits for the chief and says so

    def close(self) -> None:
        """Stops the heartbeats."""
        self._wake.set()
