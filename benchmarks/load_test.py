"""Many workers: a load test of the chief on loopback, written to results/parallel.md.

    python benchmarks/load_test.py                    # 16 and 32 workers x 0.1 and 0.5 s trials
    python benchmarks/load_test.py --workers 8 --seconds 0.2 --no-startup --no-write
    python benchmarks/load_test.py --json runs.json       # also keeps every measurement
    python benchmarks/load_test.py --from-json runs.json  # rewrites the section, measures nothing

One chief and N light workers on 127.0.0.1, per configuration:

- the chief is a real one: an `EvolutionaryTuner` (`EvolutionaryOracle`, zero-cost space of
  two Floats and a Choice, `max_trials` = workers x `--trials-per-worker`) whose `search()`
  serves the oracle through `keras_tuner_evolution.distribute.server.serve`, that is Keras
  Tuner's gRPC servicer and protocol, exactly as under `kte launch`; saving to its project
  folder on, as always;
- a worker imports only gRPC, Keras Tuner's generated protocol modules and this package's
  `distribute.client` (no Keras, no TensorFlow: see `light_protos`), and talks to the chief
  through `client.RetryingStub` on Keras Tuner's `OracleStub`, as a `kte launch` worker's
  client does. It loops CreateTrial -> sleep the trial's seconds -> UpdateTrial (the score)
  -> EndTrial (COMPLETED), timing every request, until the chief answers STOPPED. The trial
  is a sleep, so the workers' CPU does not limit the test: the chief does.

The target configuration (16 workers, 0.5 s) runs `--target-repeats` times (3), the others
once; then, as experiments, the target and the heaviest configuration run again with the
chief's fsync made a no-op and with its state files not written at all (`WITHOUT`).

Measured (see `summarize`): trials handed out per second; the idle share of the workers (per
worker, the time from its first trial's start to its last trial's end not spent sleeping in a
trial, summed over workers, over the summed spans); request latency (median, p99) per request
type; the chief's memory (RSS after start-up and peak, from /proc); duplicates (a trial handed
to two workers, or two trials of one configuration); trials lost (handed out but not
COMPLETED on the chief). The chief is instrumented (`ChiefProfile`): time holding the oracle's
lock per request type and how it splits (the engine, oracle.json, trial.json, history.json,
fsync), and its CPU time.

Start-up (`--startup`, on by default): a probe process per kind of worker (`PROBES`) imports
what such a worker imports and reports; spawn -> ready, RSS and PSS are measured alone (median
of `--startup-runs`) and with `--startup-at-once` processes started together (what `kte launch
--workers N` does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import IO, Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # the package, when it is not installed
OUTPUT = os.path.join(ROOT, "benchmarks", "results", "parallel.md")
SECTION = "## Many workers (load test)"
PROJECT = "load"
REQUESTS = ("CreateTrial", "UpdateTrial", "EndTrial")
# Target of issue #17: workers idle less than this with 16 workers on trials of 0.5 s.
IDLE_TARGET = 0.05
TARGET_WORKERS, TARGET_SECONDS = 16, 0.5
# Chief experiments: "" as shipped; "fsync": files written but never forced to disk (os.fsync a
# no-op in the chief); "save": oracle.json and trial.json not written at all.
WITHOUT = ("", "fsync", "save")

# Kinds of worker whose start-up is measured: (environment, what the probe imports).
PROBES: dict[str, tuple[dict[str, str], str]] = {
    "light": ({}, "gRPC + Keras Tuner's protocol modules + distribute.client (this test)"),
    "keras-numpy": (
        {"KERAS_BACKEND": "numpy"},
        "keras_tuner + keras_tuner_evolution.EvolutionaryTuner, KERAS_BACKEND=numpy",
    ),
    "tensorflow": (
        {"KERAS_BACKEND": "tensorflow"},
        "keras_tuner + keras_tuner_evolution.EvolutionaryTuner, TensorFlow (a real worker)",
    ),
}


# Helpers shared by every process ----------------------------------------------------------


def memory(pid: int | str = "self") -> dict[str, float]:
    """Memory of a process in MiB from /proc: rss, peak (VmHWM), and pss/private if known."""
    found: dict[str, float] = {}
    keys = {"VmRSS": "rss", "VmHWM": "peak"}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in keys:
                    found[keys[name]] = int(value.split()[0]) / 1024
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            private = 0
            for line in handle:
                name, _, value = line.partition(":")
                if name == "Pss":
                    found["pss"] = int(value.split()[0]) / 1024
                elif name in ("Private_Clean", "Private_Dirty"):
                    private += int(value.split()[0])
            found["private"] = private / 1024
    except (OSError, ValueError):
        pass
    if "rss" not in found:
        try:  # not Linux: psutil if it is installed (not a dependency)
            import psutil

            info = psutil.Process(None if pid == "self" else int(pid)).memory_full_info()
            found = {"rss": info.rss / 2**20, "private": getattr(info, "uss", 0) / 2**20}
        except Exception:
            pass
    return found


def light_protos() -> tuple[Any, Any, Any]:
    """`(keras_tuner_pb2, service_pb2, service_pb2_grpc)` without importing Keras.

    `keras_tuner/__init__.py` imports Keras, and with it TensorFlow (seconds, hundreds of MB);
    the generated modules under `keras_tuner/src/protos` need only protobuf and gRPC.
    Placeholder modules for the packages `keras_tuner` and `keras_tuner.src` (a `__path__`
    only) let Python import them without running either package's `__init__`. For a process
    that uses nothing else of Keras Tuner: this test's workers.
    """
    import importlib.util
    import types

    if "keras_tuner" not in sys.modules:
        spec = importlib.util.find_spec("keras_tuner")  # finds the package, runs nothing
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("keras_tuner is not installed")
        paths = list(spec.submodule_search_locations)
        for name, path in (("keras_tuner", paths), ("keras_tuner.src", None)):
            module = types.ModuleType(name)
            module.__path__ = path or [os.path.join(p, "src") for p in paths]
            sys.modules[name] = module
    import importlib

    protos = importlib.import_module("keras_tuner.src.protos")
    return protos.get_proto(), protos.get_service(), protos.get_service_grpc()


def percentile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def _spawn(role: str, args: Sequence[str], env: dict[str, str], stderr: IO | int, stdin=None):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), role, *args],
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _read_json_line(process: subprocess.Popen, what: str) -> dict[str, Any]:
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"{what} (pid {process.pid}) ended before reporting: {process.wait()}")
    return json.loads(line)


# The worker --------------------------------------------------------------------------------


def worker_main(argv: Sequence[str]) -> int:
    """A light worker: CreateTrial -> sleep -> UpdateTrial -> EndTrial until STOPPED."""
    parser = argparse.ArgumentParser(prog="load_test.py _worker")
    parser.add_argument("--address", required=True)
    parser.add_argument("--tuner-id", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--connect-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)

    began = time.monotonic()
    import grpc

    proto, service, service_grpc = light_protos()
    from keras_tuner_evolution.distribute import client as client_lib

    imported = time.monotonic()
    heavy = sorted({"tensorflow", "keras", "jax", "torch"} & set(sys.modules))
    print(json.dumps({"imported": imported, "imports": imported - began, "heavy": heavy}))
    sys.stdout.flush()

    channel = grpc.insecure_channel(args.address, options=client_lib.CHANNEL_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
    stub = client_lib.RetryingStub(
        service_grpc.OracleStub(channel),
        args.tuner_id,
        args.address,
        client_lib.RetryPolicy(os.environ),
        lambda trial_id: service.GetTrialRequest(trial_id=trial_id),
        proto.TrialStatus.RUNNING,
    )
    print(json.dumps({"ready": time.monotonic(), "memory": memory()}), flush=True)
    sys.stdin.readline()  # "go": every worker starts together

    status_name = proto.TrialStatus.Name
    requests: list[tuple[str, float]] = []  # (request type or "CreateTrial IDLE", seconds)
    trials: list[dict[str, Any]] = []

    def timed(name: str, request: Any) -> float:
        start = time.monotonic()
        getattr(stub, name)(request)
        seconds = time.monotonic() - start
        requests.append((name, seconds))
        return seconds

    idle_answers = 0.0  # seconds spent on IDLE answers since the last trial
    while True:
        asked = time.monotonic()
        response = stub.CreateTrial(service.CreateTrialRequest(tuner_id=args.tuner_id))
        answered = time.monotonic()
        trial = response.trial
        status = status_name(trial.status)
        kind = "CreateTrial" if status == "RUNNING" else f"CreateTrial {status}"
        requests.append((kind, answered - asked))
        if status == "STOPPED":
            break
        if status != "RUNNING":  # IDLE: the chief already waited; ask again, as Keras Tuner
            idle_answers += answered - asked
            continue
        time.sleep(args.seconds)
        slept = time.monotonic()
        values = {
            name: getattr(value, value.WhichOneof("kind"))
            for name, value in trial.hyperparameters.values.values.items()
        }
        score = 1.0 - (values["x"] - 0.3) ** 2 - values["y"] ** 2 + 0.01 * values["c"]
        update = service.UpdateTrialRequest(trial_id=trial.trial_id, metrics={"score": score})
        updated = timed("UpdateTrial", update)
        trial.status = proto.TrialStatus.COMPLETED
        ended = timed("EndTrial", service.EndTrialRequest(trial=trial))
        trials.append(
            {
                "id": trial.trial_id,
                "start": answered,  # the trial (its sleep) starts
                "slept": slept - answered,
                "end": time.monotonic(),  # EndTrial answered
                "requests": {"CreateTrial": answered - asked, "UpdateTrial": updated,
                             "EndTrial": ended, "IDLE answers": idle_answers},
            }
        )  # fmt: skip
        idle_answers = 0.0
    stub.close()
    channel.close()
    result = {"tuner_id": args.tuner_id, "trials": trials, "requests": requests}
    result["memory"] = memory()
    with open(args.output, "w") as handle:
        json.dump(result, handle)
    return 0


# The chief ---------------------------------------------------------------------------------


class _TimedLock:
    """Stands in for the oracle's lock: records each wait and each hold, by request type."""

    def __init__(self, kind: threading.local):
        self._lock = threading.Lock()
        self._kind = kind
        self._since = 0.0
        self._holder = ""
        self.waits: dict[str, list[float]] = defaultdict(list)
        self.holds: dict[str, list[float]] = defaultdict(list)

    def acquire(self, *args: Any, **kwargs: Any) -> bool:
        start = time.perf_counter()
        acquired = self._lock.acquire(*args, **kwargs)
        now = time.perf_counter()
        kind = getattr(self._kind, "name", "other")
        self.waits[kind].append(now - start)
        self._since, self._holder = now, kind
        return acquired

    def release(self) -> None:
        self.holds[self._holder].append(time.perf_counter() - self._since)
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


class ChiefProfile:
    """Where the chief's time goes, measured in the chief (this benchmark only).

    Uses two private names, for measuring only: Keras Tuner's `LOCKS` (the per-oracle lock
    of `keras_tuner.synchronized`, keras-tuner 1.4.x) is replaced by a `_TimedLock`, and
    `distribute.server._make_servicer` is wrapped so each request's handling is timed (lock
    wait and IDLE waits included). Inside the lock, the oracle's own steps are timed:
    `populate_space` (the engine), `save` (oracle.json: `state_json` encodes it, then the
    atomic write; then `_save_history`), `_save_trial` (trial.json), and every `os.fsync`.
    """

    STEPS = ("populate_space", "save", "state_json", "_save_history", "_save_trial")

    def __init__(self, oracle: Any, without: str = ""):
        from keras_tuner.src.engine import oracle as oracle_module

        from keras_tuner_evolution.distribute import server

        self.kind = threading.local()
        self.lock = _TimedLock(self.kind)
        oracle_module.LOCKS[oracle] = self.lock
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.requests: dict[str, list[float]] = defaultdict(list)
        # Experiments (`WITHOUT`): what the chief would do without forcing files to disk, or
        # without writing its files at all.
        if without == "save":
            oracle.save = lambda: None
            oracle._save_trial = lambda trial: None
        for name in self.STEPS:
            setattr(oracle, name, self._timed(name, getattr(oracle, name)))
        fsync = (lambda fd: None) if without == "fsync" else os.fsync
        os.fsync = self._timed("fsync", fsync)
        make_servicer = server._make_servicer

        def instrumented(oracle: Any) -> Any:
            servicer = make_servicer(oracle)
            for name in (*REQUESTS, "GetTrial"):
                setattr(servicer, name, self._request(name, getattr(servicer, name)))
            return servicer

        server._make_servicer = instrumented

    def _timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.steps[name].append(time.perf_counter() - start)

        return timed

    def _request(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def handle(request: Any, context: Any) -> Any:
            self.kind.name = name
            start = time.perf_counter()
            try:
                return method(request, context)
            finally:
                self.requests[name].append(time.perf_counter() - start)
                self.kind.name = "other"

        return handle

    def report(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, float]:
            return {
                "count": len(values),
                "total": sum(values),
                "p50": percentile(values, 0.5),
                "p99": percentile(values, 0.99),
            }

        return {
            "lock_wait": {k: stats(v) for k, v in self.lock.waits.items()},
            "lock_hold": {k: stats(v) for k, v in self.lock.holds.items()},
            "steps": {k: stats(v) for k, v in self.steps.items()},
            "requests": {k: stats(v) for k, v in self.requests.items()},
        }


def chief_main(argv: Sequence[str]) -> int:
    """The chief: an EvolutionaryTuner whose search() serves the oracle until the end."""
    parser = argparse.ArgumentParser(prog="load_test.py _chief")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--max-trials", type=int, required=True)
    parser.add_argument("--population", type=int, default=0, help="0: the default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--without", choices=WITHOUT, default="")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)

    from keras_tuner_evolution.distribute import environment

    os.environ.update(
        {
            environment.TUNER_ID: environment.CHIEF_ID,
            environment.ORACLE_IP: "127.0.0.1",
            environment.ORACLE_PORT: str(args.port),
        }
    )
    began = time.monotonic()
    import keras_tuner as kt

    from keras_tuner_evolution import EvolutionaryTuner
    from keras_tuner_evolution import space as space_lib

    space = kt.HyperParameters()
    space.Float("x", -1.0, 1.0)
    space.Float("y", -1.0, 1.0)
    space.Choice("c", [0, 1, 2, 3])
    evolution = {"population_size": args.population} if args.population else {}

    class ChiefTuner(EvolutionaryTuner):
        """The trials are the workers' sleeps: the chief trains nothing (no hypermodel)."""

        def run_trial(self, trial, *args, **kwargs):
            raise RuntimeError("the chief runs no trial")

    tuner = ChiefTuner(
        objective=kt.Objective("score", "max"),
        hyperparameters=space,
        max_trials=args.max_trials,
        seed=args.seed,
        directory=args.dir,
        project_name=PROJECT,
        overwrite=True,
        **evolution,
    )
    oracle = tuner.oracle
    profile = ChiefProfile(oracle, args.without)
    started = memory()
    print(json.dumps({"started": time.monotonic(), "imports": time.monotonic() - began}))
    sys.stdout.flush()
    cpu_before = os.times()
    tuner.search(verbose=0)  # the chief: serves until every worker was told to stop
    cpu_after = os.times()

    hashes = [
        space_lib.genome_hash(space_lib.repair(oracle.get_space(), trial.hyperparameters.values))
        for trial in oracle.trials.values()
    ]
    result = {
        "statuses": {tid: str(trial.status) for tid, trial in oracle.trials.items()},
        "duplicate_configurations": len(hashes) - len(set(hashes)),
        "population_size": oracle.population_size,
        "generation_zero": len(oracle.generation_plans[0]["members"]),
        "generations": len(oracle.history.generations),
        "memory_started": started,
        "memory_end": memory(),
        "cpu_seconds": (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system),
        "profile": profile.report(),
    }
    with open(args.output, "w") as handle:
        json.dump(result, handle)
    return 0


# One configuration -------------------------------------------------------------------------


def run_load(
    workers: int,
    seconds: float,
    trials_per_worker: int = 20,
    population: int = 0,
    folder: str | None = None,
    timeout: float = 900.0,
    without: str = "",
) -> dict[str, Any]:
    """Runs the chief and `workers` light workers on loopback; returns `summarize`'s dict."""
    from keras_tuner_evolution.distribute.launcher import free_port

    own_folder = folder is None
    folder = folder or tempfile.mkdtemp(prefix="kte-load-")
    port = free_port("127.0.0.1")
    address = f"127.0.0.1:{port}"
    max_trials = workers * trials_per_worker
    processes: list[subprocess.Popen] = []
    logs: list[IO] = []

    def log(name: str) -> IO:
        handle = open(os.path.join(folder, f"{name}.log"), "w")
        logs.append(handle)
        return handle

    try:
        spawned = time.monotonic()
        chief = _spawn(
            "_chief",
            ["--port", str(port), "--dir", folder, "--max-trials", str(max_trials),
             "--population", str(population), "--without", without,
             "--output", os.path.join(folder, "chief.json")],
            _child_env(),
            log("chief"),
        )  # fmt: skip
        processes.append(chief)
        pool = []
        for index in range(workers):
            tuner_id = f"worker{index}"
            output = os.path.join(folder, f"{tuner_id}.json")
            args = ["--address", address, "--tuner-id", tuner_id, "--seconds", repr(seconds),
                    "--output", output, "--connect-timeout", repr(timeout)]  # fmt: skip
            process = _spawn("_worker", args, _child_env(), log(tuner_id), subprocess.PIPE)
            processes.append(process)
            pool.append((tuner_id, output, process))
        imported = [_read_json_line(p, tid) for tid, _, p in pool]
        chief_started = _read_json_line(chief, "the chief")
        ready = [_read_json_line(p, tid) for tid, _, p in pool]
        go = time.monotonic()
        for _, _, process in pool:
            process.stdin.write("go\n")
            process.stdin.flush()
        deadline = go + timeout
        for tuner_id, _, process in [*pool, ("the chief", None, chief)]:
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            if code != 0:
                raise RuntimeError(f"{tuner_id} failed ({code}); logs in {folder}")
        with open(os.path.join(folder, "chief.json")) as handle:
            chief_result = json.load(handle)
        results = []
        for _, output, _ in pool:
            with open(output) as handle:
                results.append(json.load(handle))
        startup = {
            "worker_imports": [r["imports"] for r in imported],
            "workers_imported": max(r["imported"] for r in imported) - spawned,
            "chief_started": chief_started["started"] - spawned,
            "chief_imports": chief_started["imports"],
            "all_ready": max(r["ready"] for r in ready) - spawned,
            "worker_memory": [r["memory"] for r in ready],
            "heavy_imports": sorted({m for r in imported for m in r["heavy"]}),
        }
        summary = summarize(results, chief_result, workers, seconds, max_trials)
        summary["startup"] = startup
        summary["first_trial_after_go"] = sorted(
            r["trials"][0]["start"] - go for r in results if r["trials"]
        )
        summary["without"] = without
        summary["load_average"] = os.getloadavg()
        return summary
    except BaseException:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for process in processes:
            process.wait()
        own_folder = False  # keep the logs
        print(f"load test failed; logs in {folder}", file=sys.stderr)
        raise
    finally:
        for process in processes:
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        for handle in logs:
            handle.close()
        if own_folder:
            shutil.rmtree(folder, ignore_errors=True)


def summarize(
    workers_results: list[dict[str, Any]],
    chief: dict[str, Any],
    workers: int,
    seconds: float,
    max_trials: int,
) -> dict[str, Any]:
    """The measurements of one configuration from the workers' and the chief's records."""
    spans = busy = 0.0
    gaps: dict[str, float] = defaultdict(float)
    starts, ends = [], []
    latencies: dict[str, list[float]] = defaultdict(list)
    holders: dict[str, list[str]] = defaultdict(list)
    per_worker = {}
    for result in workers_results:
        trials = result["trials"]
        per_worker[result["tuner_id"]] = len(trials)
        for name, value in result["requests"]:
            latencies[name].append(value)
        for trial in trials:
            holders[trial["id"]].append(result["tuner_id"])
            starts.append(trial["start"])
            ends.append(trial["end"])
        if trials:
            spans += trials[-1]["end"] - trials[0]["start"]
            busy += sum(trial["slept"] for trial in trials)
            # The gaps between trials: the requests of each trial after its sleep, and the
            # CreateTrial (and IDLE answers) before each trial but the first.
            for position, trial in enumerate(trials):
                for name, spent in trial["requests"].items():
                    if position or name in ("UpdateTrial", "EndTrial"):
                        gaps[name] += spent
    statuses = chief["statuses"]
    completed = {tid for tid, status in statuses.items() if status.endswith("COMPLETED")}
    handed_out = set(holders)
    search = max(ends) - min(starts) if starts else math.nan
    profile = chief["profile"]
    return {
        "workers": workers,
        "seconds": seconds,
        "max_trials": max_trials,
        "trials": len(starts),
        "completed": len(completed),
        "per_worker": per_worker,
        "search": search,
        "throughput": len(starts) / search if search else math.nan,
        "ideal_throughput": workers / seconds,
        "idle": 1.0 - busy / spans if spans else math.nan,
        # Shares of the summed spans: where the idle time goes.
        "idle_split": {name: spent / spans for name, spent in gaps.items()} if spans else {},
        "latency": {
            name: {
                "count": len(values),
                "p50": percentile(values, 0.5),
                "p99": percentile(values, 0.99),
                "max": max(values),
                "total": sum(values),
            }
            for name, values in sorted(latencies.items())
        },
        "idle_answers": len(latencies.get("CreateTrial IDLE", [])),
        "double_hand_outs": sum(len(owners) - 1 for owners in holders.values()),
        "duplicate_configurations": chief["duplicate_configurations"],
        "lost": len(handed_out - completed) + len(set(statuses) - handed_out),
        "chief_memory_started": chief["memory_started"],
        "chief_memory_end": chief["memory_end"],
        "chief_cpu": chief["cpu_seconds"],
        "population_size": chief["population_size"],
        "generation_zero": chief["generation_zero"],
        "generations": chief["generations"],
        "profile": profile,
    }


# Start-up ----------------------------------------------------------------------------------


def probe_main(argv: Sequence[str]) -> int:
    """Imports what a worker of kind `argv[0]` imports, reports, waits for stdin to close."""
    kind = argv[0]
    began = time.monotonic()
    if kind == "light":
        import grpc  # noqa: F401

        light_protos()
        from keras_tuner_evolution.distribute import client  # noqa: F401
    else:
        import keras_tuner  # noqa: F401

        import keras_tuner_evolution

        keras_tuner_evolution.EvolutionaryTuner  # noqa: B018 (imported on first use)
    done = time.monotonic()
    heavy = sorted({"tensorflow", "keras", "jax", "torch"} & set(sys.modules))
    times = os.times()
    cpu = times.user + times.system  # this process's, interpreter start-up included
    print(json.dumps({"ready": done, "imports": done - began, "cpu": cpu, "heavy": heavy}))
    sys.stdout.flush()
    sys.stdin.read()
    return 0


def measure_startup(kind: str, at_once: int) -> dict[str, Any]:
    """Starts `at_once` probes of `kind` together; spawn -> ready and memory of each."""
    env = _child_env(PROBES[kind][0])
    spawned, processes = [], []
    try:
        for _ in range(at_once):
            spawned.append(time.monotonic())
            processes.append(_spawn("_probe", [kind], env, subprocess.DEVNULL, subprocess.PIPE))
        reports = [_read_json_line(p, f"{kind} probe") for p in processes]
        memories = [memory(p.pid) for p in processes]
    finally:
        for process in processes:
            process.stdin.close()
        for process in processes:
            process.wait()
            process.stdout.close()
    ready = [r["ready"] - s for r, s in zip(reports, spawned, strict=True)]
    return {
        "kind": kind,
        "at_once": at_once,
        "ready": ready,
        "imports": [r["imports"] for r in reports],
        "cpu": [r["cpu"] for r in reports],
        "last_ready": max(reports, key=lambda r: r["ready"])["ready"] - spawned[0],
        "memory": memories,
        "heavy": reports[0]["heavy"],
    }


def startup_figures(runs: int, at_once: dict[str, int]) -> dict[str, Any]:
    """Per kind: alone (`runs` times, one after the other) and `at_once[kind]` together."""
    figures: dict[str, Any] = {}
    for kind in PROBES:
        alone = [measure_startup(kind, 1) for _ in range(runs)]
        together = measure_startup(kind, at_once[kind]) if at_once.get(kind, 0) > 1 else None
        figures[kind] = {"alone": alone, "together": together}
        print(f"start-up {kind}: {json.dumps(figures[kind])[:400]}", flush=True)
    figures["tensorflow"]["breakdown"] = import_breakdown("tensorflow")
    figures["load_average"] = os.getloadavg()
    return figures


# Top-level packages whose import a TensorFlow worker pays (nested ones overlap: TensorFlow
# imports JAX when it is installed).
BREAKDOWN = ("keras", "tensorflow", "jax", "sklearn", "pandas", "matplotlib", "IPython")


def import_breakdown(kind: str) -> dict[str, float]:
    """Seconds of the first import of each of `BREAKDOWN` in a probe (`python -X importtime`)."""
    command = [sys.executable, "-X", "importtime", os.path.abspath(__file__), "_probe", kind]
    process = subprocess.Popen(
        command,
        env=_child_env(PROBES[kind][0]),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, stderr = process.communicate("", timeout=600)
    found: dict[str, float] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() in BREAKDOWN:
            found.setdefault(parts[2].strip(), int(parts[1]) / 1e6)
    return found


# The report --------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{1000 * value:.1f}"


def _mb(found: dict[str, float], key: str) -> str:
    return f"{found[key]:.0f}" if key in found else "n/a"


def results_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| workers | trial s | trials (min-max per worker) | search s | trials/s (ideal) "
        "| idle | CreateTrial ms p50 / p99 | UpdateTrial ms p50 / p99 | EndTrial ms p50 / p99 "
        "| IDLE answers | chief CPU | chief RSS MB start / peak | duplicates | lost |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in runs:
        lat = m["latency"]
        counts = m["per_worker"].values()

        def pair(name: str, lat: dict = lat) -> str:
            found = lat.get(name)
            return f"{_ms(found['p50'])} / {_ms(found['p99'])}" if found else "n/a"

        duplicates = m["double_hand_outs"] + m["duplicate_configurations"]
        lines.append(
            f"| {m['workers']} | {m['seconds']:g} | {m['completed']} ({min(counts)}-{max(counts)}) "
            f"| {m['search']:.1f} | {m['throughput']:.1f} ({m['ideal_throughput']:.0f}) "
            f"| {100 * m['idle']:.1f}% | {pair('CreateTrial')} | {pair('UpdateTrial')} "
            f"| {pair('EndTrial')} | {m['idle_answers']} "
            f"| {100 * m['chief_cpu'] / m['search']:.0f}% "
            f"| {_mb(m['chief_memory_started'], 'rss')} / {_mb(m['chief_memory_end'], 'peak')} "
            f"| {duplicates} | {m['lost']} |"
        )
    return lines


def profile_table(runs: list[dict[str, Any]]) -> list[str]:
    """Per configuration: the chief's lock, and what it does holding it, per trial."""
    lines = [
        "| workers | trial s | lock held (share of search) | held per trial ms: Create / Update "
        "/ End | engine ms | oracle.json ms (encode) | history.json ms | trial.json ms "
        "| fsync ms (count per trial) | lock wait ms p50 / p99 (Create) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in runs:
        profile, trials = m["profile"], max(m["completed"], 1)
        hold, steps = profile["lock_hold"], profile["steps"]

        def per_trial(table: dict, name: str, trials: int = trials) -> float:
            return table.get(name, {}).get("total", 0.0) / trials

        held = sum(v["total"] for v in hold.values())
        wait = profile["lock_wait"].get("CreateTrial", {})
        fsyncs = steps.get("fsync", {}).get("count", 0) / trials
        lines.append(
            f"| {m['workers']} | {m['seconds']:g} | {held:.1f} s ({100 * held / m['search']:.0f}%) "
            f"| {_ms(per_trial(hold, 'CreateTrial'))} / {_ms(per_trial(hold, 'UpdateTrial'))} / "
            f"{_ms(per_trial(hold, 'EndTrial'))} | {_ms(per_trial(steps, 'populate_space'))} "
            f"| {_ms(per_trial(steps, 'save') - per_trial(steps, '_save_history'))} "
            f"({_ms(per_trial(steps, 'state_json'))}) | {_ms(per_trial(steps, '_save_history'))} "
            f"| {_ms(per_trial(steps, '_save_trial'))} | {_ms(per_trial(steps, 'fsync'))} "
            f"({fsyncs:.0f}) | {_ms(wait.get('p50', math.nan))} / "
            f"{_ms(wait.get('p99', math.nan))} |"
        )
    return lines


def experiment_table(runs: list[dict[str, Any]], experiments: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| workers | trial s | chief | trials/s (ideal) | idle | ms p50: Create / Update / End "
        "| EndTrial p99 ms | lock held (share of search) | chief CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"": "as shipped", "fsync": "no fsync", "save": "no saving"}
    for m in experiments:
        for found in (_find(runs, m["workers"], m["seconds"]), m):
            if found is None or (found is not m and found.get("shown")):
                continue
            found["shown"] = True
            lat = found["latency"]
            held = sum(v["total"] for v in found["profile"]["lock_hold"].values())
            lines.append(
                f"| {found['workers']} | {found['seconds']:g} | {names[found['without']]} "
                f"| {found['throughput']:.1f} ({found['ideal_throughput']:.0f}) "
                f"| {100 * found['idle']:.1f}% | {_ms(lat['CreateTrial']['p50'])} / "
                f"{_ms(lat['UpdateTrial']['p50'])} / {_ms(lat['EndTrial']['p50'])} "
                f"| {_ms(lat['EndTrial']['p99'])} | {held:.1f} s "
                f"({100 * held / found['search']:.0f}%) "
                f"| {100 * found['chief_cpu'] / found['search']:.0f}% |"
            )
    for found in runs:
        found.pop("shown", None)
    return lines


def idle_table(runs: list[dict[str, Any]]) -> list[str]:
    """Where the workers' idle time goes: shares of their summed spans."""
    parts = ("CreateTrial", "UpdateTrial", "EndTrial", "IDLE answers")
    lines = [
        "| workers | trial s | population | idle | CreateTrial | UpdateTrial | EndTrial "
        "| IDLE answers (count) | rest (the workers' own time, scheduling) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in runs:
        split = m["idle_split"]
        rest = m["idle"] - sum(split.get(name, 0.0) for name in parts)
        shares = " | ".join(f"{100 * split.get(name, 0.0):.1f}%" for name in parts[:3])
        lines.append(
            f"| {m['workers']} | {m['seconds']:g} | {m['population_size']} "
            f"| {100 * m['idle']:.1f}% | {shares} "
            f"| {100 * split.get('IDLE answers', 0.0):.1f}% ({m['idle_answers']}) "
            f"| {100 * rest:.1f}% |"
        )
    return lines


def _held(m: dict[str, Any], name: str | None = None) -> float:
    """Seconds per trial the oracle's lock was held (by requests of type `name`)."""
    hold = m["profile"]["lock_hold"]
    names = [name] if name else list(hold)
    return sum(hold.get(n, {}).get("total", 0.0) for n in names) / max(m["completed"], 1)


def _step(m: dict[str, Any], name: str) -> float:
    """Seconds per trial spent in a step of the chief (`ChiefProfile.STEPS`, fsync)."""
    return m["profile"]["steps"].get(name, {}).get("total", 0.0) / max(m["completed"], 1)


def reading_lines(runs: list[dict[str, Any]], experiments: list[dict[str, Any]]) -> list[str]:
    """What the tables say, with their numbers."""
    lines = []
    target = _find(runs, TARGET_WORKERS, TARGET_SECONDS)
    if target is not None:
        lat = target["latency"]
        lines.append(
            f"- At {TARGET_WORKERS} workers x {TARGET_SECONDS:g} s, between two sleeps a "
            f"worker waits for CreateTrial, UpdateTrial and EndTrial: "
            f"{_ms(lat['CreateTrial']['p50'])} + {_ms(lat['UpdateTrial']['p50'])} + "
            f"{_ms(lat['EndTrial']['p50'])} ms median. The oracle holds its lock "
            f"{_ms(_held(target))} ms per trial, {_ms(_held(target, 'EndTrial'))} ms of it in "
            f"EndTrial, which writes trial.json and oracle.json; it forces them to disk (each "
            f"file and its folder: {_ms(_step(target, 'fsync'))} ms of fsync per trial on this "
            "disk) after releasing the lock, before it answers. Requests arriving while the "
            "lock is held queue for it, hence the p99s."
        )
        without = {m["without"]: m for m in experiments if m["workers"] == target["workers"]}
        without = {k: v for k, v in without.items() if math.isclose(v["seconds"], TARGET_SECONDS)}
        if without:
            lines.append(
                "- The same run with the chief's fsync made a no-op: idle "
                + (
                    f"{100 * without['fsync']['idle']:.1f}% (EndTrial median "
                    f"{_ms(without['fsync']['latency']['EndTrial']['p50'])} ms)"
                    if "fsync" in without
                    else "not run"
                )
                + "; with no state files written at all: "
                + (f"{100 * without['save']['idle']:.1f}%" if "save" in without else "not run")
                + f", against {100 * target['idle']:.1f}% as shipped."
                + (
                    f" Forcing the files to disk accounts for "
                    f"{100 * (target['idle'] - without['fsync']['idle']):.1f} points of the idle, "
                    "writing them for "
                    f"{100 * (without['fsync']['idle'] - without['save']['idle']):.1f} more; "
                    f"the remaining {100 * without['save']['idle']:.1f}% is the three "
                    "requests themselves (gRPC on loopback, Python, the shared cores)."
                    if "fsync" in without and "save" in without
                    else ""
                )
            )
    with_idle = [m for m in runs if m["idle_answers"]]
    if with_idle:
        m = target if target is not None and target["idle_answers"] else with_idle[0]
        inside = m["idle_split"].get("IDLE answers", 0.0)
        late = m["first_trial_after_go"]
        lines.append(
            f"- IDLE answers ({m['workers']} workers x {m['seconds']:g} s: "
            f"{m['idle_answers']}): generation 0 has {m['generation_zero']} members "
            f"(population {m['population_size']}), "
            + ("fewer than" if m["generation_zero"] < m["workers"] else "not fewer than")
            + f" the {m['workers']} workers, and a generation is bred only once one of the "
            "previous one's members has completed: until then a worker asking is answered "
            "IDLE, which holds it `oracle.IDLE_WAIT` (0.2 s) before it asks again. "
            + (
                f"Between trials they cost {100 * inside:.1f}% of the workers' time; "
                if inside >= 0.0005
                else "All came before the workers' first trials (not counted as idle); "
            )
            + f"the last worker started its first trial {late[-1]:.2f} s after the start "
            f"(median {statistics.median(late):.2f} s)."
        )
    heaviest = max(runs, key=lambda m: m["ideal_throughput"])
    share = _held(heaviest) * heaviest["completed"] / heaviest["search"]
    if share > 0.8:
        saved = [
            m
            for m in experiments
            if m["without"] == "save"
            and m["workers"] == heaviest["workers"]
            and math.isclose(m["seconds"], heaviest["seconds"])
        ]
        lines.append(
            f"- At {heaviest['workers']} workers x {heaviest['seconds']:g} s the chief is "
            f"saturated: its lock is held {100 * share:.0f}% of the search, so it hands out "
            f"about 1 / ({_ms(_held(heaviest))} ms held per trial) = "
            f"{heaviest['throughput']:.0f} trials/s of the {heaviest['ideal_throughput']:.0f} "
            f"asked for. Of the {_ms(_held(heaviest))} ms held per trial, "
            f"{_ms(_step(heaviest, 'fsync'))} ms are fsync; the rest is the oracle's own work "
            "(files encoded and written, the engine), slowed by the 2 cores it shares with the "
            f"workers and other jobs (the chief used "
            f"{100 * heaviest['chief_cpu'] / heaviest['search']:.0f}% of a core)."
            + (
                f" Without writing its files it reaches {saved[0]['throughput']:.0f} trials/s, "
                f"idle {100 * saved[0]['idle']:.0f}%: then gRPC and Python on 2 shared cores "
                "(with 32 workers and other jobs on them) are the limit."
                if saved
                else ""
            )
        )
    grow = [m["chief_memory_end"].get("peak", 0) - m["chief_memory_started"].get("rss", 0)
            for m in runs]  # fmt: skip
    start = [m["chief_memory_started"].get("rss", 0) for m in runs]
    light = [w.get("rss", 0) for m in runs for w in m["startup"]["worker_memory"]]
    lines.append(
        f"- Memory: the chief's RSS is its imports ({max(start):.0f} MB with "
        f"TensorFlow, before the first request); the search itself adds at most "
        f"{max(grow):.0f} MB over {max(m['completed'] for m in runs)} trials. A light worker "
        f"holds {statistics.median(light):.0f} MB (RSS)."
    )
    return lines


SUGGESTIONS = "\n".join(
    [
        "Done: the fsyncs of EndTrial run after the oracle's lock is released (still before "
        "the worker is answered; `DeferredSync` in `keras_tuner_evolution/durability.py`). "
        "Before that change this load test measured 8.8%, 7.8% and 7.8% idle at 16 workers x "
        "0.5 s, with the lock held 9.8 ms per trial in EndTrial (load average 7-10: other "
        "benchmarks shared the cores, which also counts). What would cut the idle further "
        "(not implemented):",
        "",
        "- Group commit: one writer thread forcing the files of all the ends that arrived "
        "meanwhile with one fsync each; answering EndTrial before the fsync would go further "
        "(the *no fsync* rows) at the price of the last results on a power cut.",
        "- Fewer fsyncs per trial: 4 today (trial.json and oracle.json, each file and its "
        'folder). A file that already exists can be rewritten with `sync="data"` (the '
        "folder's fsync only makes a new name durable; after a power cut the old or the new "
        "file is there, whole), which halves them.",
        "- IDLE answers: with more workers than the population, wake a waiting CreateTrial as "
        "soon as a trial ends (a condition the oracle's end_trial notifies) instead of a fixed "
        "0.2 s sleep, or let `kte launch` pass the number of workers so that the default "
        "population is at least that.",
        "- Trials of 0.1 s are too short for 16 or more workers on one chief on 2 shared "
        "cores, whatever it saves (see the *no saving* row): such searches need longer trials.",
    ]
)


def startup_table(figures: dict[str, Any]) -> list[str]:
    lines = [
        "| worker kind | imports | alone: spawn -> ready s | imports s | CPU s | RSS MB "
        "| PSS MB | private MB | N at once: last ready s | N x private GB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in (kind for kind in PROBES if kind in figures):
        found = figures[kind]
        alone = found["alone"]
        first = alone[len(alone) // 2]["memory"][0] if alone else {}
        together = found["together"]
        if together:
            private = sum(m.get("private", 0.0) for m in together["memory"]) / 1024
            at_once = f"{together['at_once']}: {together['last_ready']:.1f}"
            total = f"{private:.1f}"
        else:
            at_once = total = "n/a"
        heavy = ", ".join(alone[0]["heavy"]) if alone and alone[0]["heavy"] else "no Keras"
        lines.append(
            f"| {kind} ({PROBES[kind][1]}) | {heavy} "
            f"| {statistics.median(r['ready'][0] for r in alone):.2f} "
            f"| {statistics.median(r['imports'][0] for r in alone):.2f} "
            f"| {statistics.median(r['cpu'][0] for r in alone):.2f} "
            f"| {_mb(first, 'rss')} | {_mb(first, 'pss')} | {_mb(first, 'private')} "
            f"| {at_once} | {total} |"
        )
    return lines


def startup_lines(figures: dict[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    def alone(kind: str) -> float:
        return statistics.median(r["ready"][0] for r in figures[kind]["alone"])

    def cpu(kind: str) -> float:
        return statistics.median(r["cpu"][0] for r in figures[kind]["alone"])

    tf, light = figures["tensorflow"], figures["light"]
    lines = [
        f"What start-up costs: a worker that imports TensorFlow needs {alone('tensorflow'):.1f} s "
        f"before its first request ({cpu('tensorflow'):.1f} s of CPU), against "
        f"{alone('light'):.2f} s for this test's light "
        f"worker, and {tf['alone'][0]['memory'][0].get('private', 0):.0f} MB of its own "
        f"memory against {light['alone'][0]['memory'][0].get('private', 0):.0f} MB."
    ]
    if tf["together"]:
        together = tf["together"]
        lines[0] += (
            f" Started together, as `kte launch --workers {together['at_once']}` does, "
            f"{together['at_once']} TensorFlow workers on these 2 cores are all ready only "
            f"after {together['last_ready']:.0f} s ({together['at_once']} x "
            f"{cpu('tensorflow'):.1f} s of CPU each, on {os.cpu_count()} shared cores): "
            f"{together['last_ready'] / TARGET_SECONDS:.0f} trials of {TARGET_SECONDS:g} s per "
            "worker, paid once per worker and again on every restart (the worker's devices, "
            "its data and its first model come on top). With a core per worker the imports "
            "would run side by side (not measured here)."
        )
    breakdown = tf.get("breakdown") or {}
    if breakdown:
        parts = ", ".join(
            f"{name} {breakdown[name]:.1f} s"
            for name in BREAKDOWN
            if breakdown.get(name, 0.0) >= 0.05
        )
        lines.append(
            "Where a TensorFlow worker's import goes (`python -X importtime`, cumulative; "
            f"nested packages overlap, e.g. TensorFlow imports JAX when installed): {parts}. "
            "`import keras` pulls in TensorFlow and, when they are installed, scikit-learn "
            "(Keras's scikit-learn wrappers) and IPython (its saving module); TensorFlow pulls "
            "in JAX: a lean environment starts faster."
        )
    chief = sorted(m["startup"]["chief_started"] for m in runs)
    spread = f"{chief[0]:.1f}" + (f"-{chief[-1]:.1f}" if chief[-1] - chief[0] >= 0.05 else "")
    lines.append(
        f"The chief, which imports TensorFlow too, was ready to serve {spread} s after it was "
        "started (while its light workers started beside it)."
    )
    return ["\n\n".join(lines)]


def _find(runs: list[dict[str, Any]], workers: int, seconds: float) -> dict[str, Any] | None:
    for m in runs:
        if m["workers"] == workers and math.isclose(m["seconds"], seconds):
            return m
    return None


def scaling_lines(runs: list[dict[str, Any]]) -> list[str]:
    """Sentences comparing each worker count with the smallest one, per trial duration."""
    lines = []
    for seconds in sorted({m["seconds"] for m in runs}):
        same = sorted((m for m in runs if m["seconds"] == seconds), key=lambda m: m["workers"])
        for low, high in zip(same, same[1:]):
            lines.append(
                f"- {seconds:g} s trials, {low['workers']} -> {high['workers']} workers: "
                f"throughput {low['throughput']:.1f} -> {high['throughput']:.1f} trials/s "
                f"(x{high['throughput'] / low['throughput']:.2f}, ideal "
                f"x{high['workers'] / low['workers']:.2f}); idle {100 * low['idle']:.1f}% -> "
                f"{100 * high['idle']:.1f}%; CreateTrial p99 "
                f"{_ms(low['latency']['CreateTrial']['p99'])} -> "
                f"{_ms(high['latency']['CreateTrial']['p99'])} ms; chief CPU "
                f"{100 * low['chief_cpu'] / low['search']:.0f}% -> "
                f"{100 * high['chief_cpu'] / high['search']:.0f}% of a core."
            )
    return lines


def target_line(runs: list[dict[str, Any]]) -> str:
    found = _find(runs, TARGET_WORKERS, TARGET_SECONDS)
    if found is None:
        return f"Target (idle < {IDLE_TARGET:.0%} at {TARGET_WORKERS} workers, 0.5 s): not run."
    idles = found.get("repeats") or [found["idle"]]
    median = statistics.median(idles)
    met = median < IDLE_TARGET
    runs_text = (
        f"median of {len(idles)} runs: {100 * median:.1f}%; runs "
        + ", ".join(f"{100 * idle:.1f}%" for idle in idles)
        + f"; {sum(idle < IDLE_TARGET for idle in idles)} of {len(idles)} under the target"
        if len(idles) > 1
        else f"{100 * median:.1f}%"
    )
    return (
        f"**Target: idle < {100 * IDLE_TARGET:.0f}% with {TARGET_WORKERS} workers on trials of "
        f"{TARGET_SECONDS:g} s: {'met' if met else 'NOT met'}** ({runs_text}). The margin is "
        "thin and the machine is shared: its other jobs move the figure by points from run "
        "to run."
    )


def section(
    runs: list[dict[str, Any]],
    experiments: list[dict[str, Any]],
    figures: dict[str, Any] | None,
    args: argparse.Namespace,
) -> str:
    from importlib.metadata import version

    load = [m["load_average"][0] for m in runs]
    disk = _filesystem(tempfile.gettempdir())
    lines = [
        SECTION,
        "",
        f"Generated by `python benchmarks/load_test.py` on "
        f"{getattr(args, 'date', None) or time.strftime('%Y-%m-%d %H:%M')}: "
        f"{os.cpu_count()} CPU cores shared with other jobs (chief, workers and this script "
        f"all on them), no GPU, Python {platform.python_version()}, keras-tuner "
        f"{version('keras-tuner')}, grpcio {version('grpcio')}; load average after each "
        f"configuration {', '.join(f'{v:.1f}' for v in load)}; the chief's project folder on "
        f"{disk}.",
        "",
        "One chief (a real `EvolutionaryTuner`: its `search()` serves `EvolutionaryOracle` "
        "through `distribute.server`, Keras Tuner's gRPC servicer, saving to disk as always; "
        "verbose=0) and N light workers on 127.0.0.1. A worker imports no Keras: only gRPC, "
        "Keras Tuner's generated protocol modules and `distribute.client`, whose `RetryingStub` "
        "on Keras Tuner's `OracleStub` it uses as a `kte launch` worker does. Each loops "
        "CreateTrial -> sleep (the trial) -> UpdateTrial -> EndTrial until STOPPED; "
        f"max_trials = workers x {args.trials_per_worker}, a space of two Floats and a Choice, "
        "the default population for that budget. *idle*: per worker, time from its first "
        "trial's start to its last trial's end not spent in a trial, summed, over the summed "
        "spans. *trials/s*: trials handed out over the search (first start to last end); "
        "ideal = workers / trial seconds. Latency is the worker's, request to answer "
        "(CreateTrial: those answered with a trial). *chief CPU*: the chief's CPU time over "
        "the search, in % of one core. *duplicates*: trials handed to two workers plus trials "
        "of an already tried configuration; *lost*: trials handed out but not COMPLETED on "
        "the chief.",
        "",
        *results_table(runs),
        "",
        target_line(runs),
        "",
        "How it scales:",
        "",
        *scaling_lines(runs),
        "",
        "### Where the chief's time goes",
        "",
        "Measured inside the chief (`ChiefProfile` in the script). The oracle's lock "
        "(`keras_tuner.synchronized`) serialises every request that touches the oracle: its "
        "total hold time over the search is the share of the chief's capacity in use. Per "
        "trial, ms: the lock held by each request type, then the steps taken under it: the "
        "engine (`populate_space`), writing oracle.json (`save`, which encodes it, writes it "
        "atomically and forces it to disk when a result is new), history.json (at most every "
        "2 s), trial.json (`_save_trial`), and the `fsync` calls among them.",
        "",
        *profile_table(runs),
        "",
        "Where the workers' idle time goes, as shares of their summed spans (the requests "
        "between two trials, IDLE answers included; *rest*: the worker's own time between "
        "requests and scheduling on the shared cores):",
        "",
        *idle_table(runs),
        "",
    ]
    if experiments:
        lines += [
            "Experiments (the chief patched in the benchmark only, not in the package): "
            "*no fsync*: files written as usual but `os.fsync` a no-op; *no saving*: oracle.json "
            "and trial.json not written at all.",
            "",
            *experiment_table(runs, experiments),
            "",
        ]
    lines += ["Reading:", "", *reading_lines(runs, experiments), ""]
    if any(m["idle"] >= IDLE_TARGET for m in runs):
        lines += [SUGGESTIONS, ""]
    if figures:
        lines += [
            "### Worker start-up",
            "",
            f"A probe process per kind imports what such a worker imports, then reports. "
            f"*alone*: median of {args.startup_runs} runs one after the other; *N at once*: "
            "that many probes started together, as `kte launch --workers N` does, on the same "
            "2 shared cores (last ready: from the first spawn); load average "
            f"{figures['load_average'][0]:.1f} at the end. *CPU*: the probe's own CPU time, "
            "interpreter start-up included. RSS counts the shared "
            "libraries in every process; PSS shares them out; *private* is each process's own "
            "memory, which N workers pay N times.",
            "",
            *startup_table(figures),
            "",
            *startup_lines(figures, runs),
            "",
        ]
    return "\n".join(lines)


def _filesystem(path: str) -> str:
    try:
        done = subprocess.run(["df", "-T", path], capture_output=True, text=True, check=True)
        device, kind = done.stdout.splitlines()[1].split()[:2]
        return f"{kind} ({device})"
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return "an unknown file system"


def write_section(path: str, text: str) -> None:
    """Puts `text` (a `SECTION`) into `path`: replaces that section, or appends it."""
    existing = ""
    if os.path.exists(path):
        with open(path) as handle:
            existing = handle.read()
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(existing):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", existing, count=1)
    else:
        updated = existing.rstrip("\n") + ("\n\n" if existing else "") + text
    with open(path, "w") as handle:
        handle.write(updated.rstrip("\n") + "\n")


# The command line --------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    roles = {"_worker": worker_main, "_chief": chief_main, "_probe": probe_main}
    if argv and argv[0] in roles:
        return roles[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--seconds", type=float, nargs="+", default=[0.1, 0.5])
    parser.add_argument("--trials-per-worker", type=int, default=20)
    parser.add_argument("--population", type=int, default=0, help="0: the default")
    parser.add_argument(
        "--target-repeats",
        type=int,
        default=3,
        help=f"runs of the target configuration ({TARGET_WORKERS} workers, {TARGET_SECONDS} s)",
    )
    parser.add_argument(
        "--no-experiments",
        dest="experiments",
        action="store_false",
        help="skip the chief without fsync / without saving",
    )
    parser.add_argument("--no-startup", dest="startup", action="store_false")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument(
        "--startup-at-once", type=int, default=16, help="probes started together per kind"
    )
    parser.add_argument("--output", default=OUTPUT, help="the Markdown file to update")
    parser.add_argument("--no-write", dest="write", action="store_false")
    parser.add_argument("--json", help="also write every measurement to this JSON file")
    parser.add_argument(
        "--from-json",
        help="write the section from a --json file of an earlier run, measuring nothing",
    )
    args = parser.parse_args(argv)

    if args.from_json:
        with open(args.from_json) as handle:
            found = json.load(handle)
    else:
        found = measure(args)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(found, handle)
    vars(args).update(found["settings"])
    text = section(found["runs"], found["experiments"], found["startup"], args)
    print(text)
    if args.write:
        write_section(args.output, text)
    every = [*found["runs"], *found["again"], *found["experiments"]]
    bad = [m for m in every if m["lost"] or m["double_hand_outs"] or m["duplicate_configurations"]]
    return 1 if bad else 0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Runs every configuration, the repeats, the experiments and the start-up probes."""
    runs = []
    for workers in args.workers:
        for seconds in args.seconds:
            found = run_load(workers, seconds, args.trials_per_worker, args.population)
            runs.append(found)
            brief = {k: v for k, v in found.items() if k not in ("profile", "per_worker")}
            print(f"{workers} workers x {seconds:g} s: {json.dumps(brief)}", flush=True)
    target = _find(runs, TARGET_WORKERS, TARGET_SECONDS)
    again_runs = []
    if target is not None and args.target_repeats > 1:
        target["repeats"] = [target["idle"]]
        for _ in range(args.target_repeats - 1):
            again = run_load(
                TARGET_WORKERS, TARGET_SECONDS, args.trials_per_worker, args.population
            )
            target["repeats"].append(again["idle"])
            again_runs.append(again)
            print(f"target configuration again: idle {again['idle']:.3f}", flush=True)
    experiments = []
    if args.experiments:
        heaviest = (max(args.workers), min(args.seconds))
        for workers, seconds in dict.fromkeys([(TARGET_WORKERS, TARGET_SECONDS), heaviest]):
            if _find(runs, workers, seconds) is None:
                continue
            for without in WITHOUT[1:]:
                found = run_load(
                    workers, seconds, args.trials_per_worker, args.population, without=without
                )
                experiments.append(found)
                print(
                    f"{workers} workers x {seconds:g} s without {without}: idle "
                    f"{found['idle']:.3f}, {found['throughput']:.1f} trials/s",
                    flush=True,
                )
    figures = None
    if args.startup:
        at_once = {kind: args.startup_at_once for kind in PROBES}
        at_once["light"] = max(args.workers)
        figures = startup_figures(args.startup_runs, at_once)
    settings = {
        "trials_per_worker": args.trials_per_worker,
        "startup_runs": args.startup_runs,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    return {
        "settings": settings,
        "runs": runs,
        "again": again_runs,
        "experiments": experiments,
        "startup": figures,
    }


if __name__ == "__main__":
    sys.exit(main())
