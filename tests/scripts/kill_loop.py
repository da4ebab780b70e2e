"""Kills a function search with SIGKILL again and again, then lets it finish.

Not a test module: `tests/test_reliability.py` runs it in a subprocess.

    python tests/scripts/kill_loop.py DIRECTORY --kills 20 --seed 7 [--plain]

The process imports Keras Tuner once, then forks one child per session: each child resumes the
search from the project folder with ``overwrite=False`` (a fresh process image on the same
files, as after a crash) and is killed with SIGKILL at a seeded random point:

- ``timer``: by this process, after a random delay (anywhere: reload, trial, writes);
- ``trial``: by itself, inside the k-th function call (mid-trial);
- ``write``: by itself, inside the k-th state file write, half the text written;
- ``renamed``: by itself, just after the k-th state file was renamed into place (one file of
  a pair written, the next one not);
- ``generation``: by itself, when the k-th next generation is being planned.

After each kill this process reads the project folder and records which trials had
completed. Then a last child runs to the end, and an uninterrupted search with the same seed
runs in ``DIRECTORY/clean``. Everything goes to ``DIRECTORY/report.json``; the objective logs
every call (start and end) to ``DIRECTORY/calls.jsonl``, an append-only file.

``--plain`` runs Keras Tuner's own `RandomSearch` machinery (a `keras_tuner.Tuner` with a
`RandomSearch` oracle) instead, with ``write`` kills only, aimed at Keras Tuner's own state
writes (it truncates the file, then writes: the kill lands with half of the text written), the
hole this package closes. Aimed, so that the damage does not depend on a timer landing inside
a write by luck.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_tuner as kt  # noqa: E402

from keras_tuner_evolution import history as history_module  # noqa: E402
from keras_tuner_evolution import persistence  # noqa: E402
from keras_tuner_evolution.engine import Evolution  # noqa: E402
from keras_tuner_evolution.functions import FunctionTuner  # noqa: E402
from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

PROJECT = "killed"
# Large enough that no session finishes the search before its kill, however fast it runs.
MAX_TRIALS = 600
MODES = ("timer", "trial", "write", "renamed", "generation")


def space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "adamax", "nadam"])
    hp.Int("units", 16, 256, step=16)
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Boolean("batchnorm")
    return hp


def score(hp) -> float:
    import math

    value = -abs(hp["units"] - 128) / 64 - abs(hp["dropout"] - 0.2) * 4
    value -= abs(math.log10(hp["lr"]) + 2)
    return value + (hp["optimizer"] == "adamax") + hp["batchnorm"]


def key(values: dict) -> str:
    return json.dumps(values, sort_keys=True)


def log_event(path: str, event: str, values: dict, session: int) -> None:
    line = json.dumps({"event": event, "key": key(values), "session": session}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one small O_APPEND write: never interleaved nor torn
    finally:
        os.close(fd)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def run_search(directory: str, session: int, plan: dict, plain: bool) -> None:
    """One session: resume the search in `directory`, with the kill `plan` armed."""
    log = os.path.join(directory, "calls.jsonl")
    counts = {"trial": 0, "write": 0, "renamed": 0, "generation": 0}

    def hit(mode: str) -> bool:
        if plan.get("mode") != mode:
            return False
        counts[mode] += 1
        return counts[mode] == plan["k"]

    def function(hp):
        log_event(log, "start", hp.values, session)
        if hit("trial"):
            time.sleep(0.002)
            die()
        time.sleep(0.005)
        value = score(hp)
        log_event(log, "end", hp.values, session)
        return value

    # Each mode aims at the writes of the machinery under test: this package's atomic writes,
    # or (plain) Keras Tuner's own in-place `save_json`, never both, so `k` counts one kind.
    if not plain and plan.get("mode") in ("write", "renamed"):
        original = persistence.atomic_write_text

        def atomic_write_text(path, text, sync="all"):
            if hit("write"):
                # Dies while writing: half of the text is in the temporary file.
                fd, _ = persistence.tempfile.mkstemp(
                    dir=os.path.dirname(path), prefix=".tmp-", suffix=".json"
                )
                os.write(fd, text[: len(text) // 2].encode())
                die()
            original(path, text, sync)
            if hit("renamed"):
                die()

        persistence.atomic_write_text = atomic_write_text
        history_module.atomic_write_text = atomic_write_text
    if plan.get("mode") == "generation":
        start_generation = Evolution._start_generation

        def planned(self):
            generation = start_generation(self)
            if generation["index"] > 0 and hit("generation"):
                die()
            return generation

        Evolution._start_generation = planned

    if plain and plan.get("mode") == "write":
        from keras_tuner.src import utils as kt_utils

        save_json = kt_utils.save_json

        def dying_save_json(path, obj):
            if not hit("write"):
                return save_json(path, obj)
            text = json.dumps(obj)
            with open(path, "w") as handle:  # in place, as Keras Tuner writes (`save_json`)
                handle.write(text[: len(text) // 2])
                handle.flush()
                die()

        kt_utils.save_json = dying_save_json

    objective = kt.Objective("score", "max")
    if plain:
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=MAX_TRIALS, seed=3)
        oracle.hyperparameters = space()
        tuner = PlainFunctionTuner(function, oracle, directory=directory, project_name=PROJECT)
    else:
        oracle = EvolutionaryOracle(
            objective=objective,
            max_trials=MAX_TRIALS,
            population_size=8,
            seed=3,
            hyperparameters=space(),
        )
        tuner = FunctionTuner(
            function, oracle, directory=directory, project_name=PROJECT, overwrite=False
        )
    tuner.search(verbose=0)


class PlainFunctionTuner(kt.Tuner):
    """Keras Tuner's own state handling, for the comparison."""

    def __init__(self, function, oracle, **kwargs):
        self.function = function
        super().__init__(oracle, hypermodel=None, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        return {"score": self.function(trial.hyperparameters)}

    def save_model(self, trial_id, model, step=0):
        pass


def snapshot(directory: str) -> dict:
    """What the project folder says now: completed trials, and files that cannot be read."""
    project = os.path.join(directory, PROJECT)
    completed, unreadable = {}, []
    for path in sorted(glob.glob(os.path.join(project, "trial_*", "trial.json"))):
        try:
            with open(path) as handle:
                state = json.load(handle)
        except ValueError:
            unreadable.append(os.path.relpath(path, directory))
            continue
        if state["status"] == "COMPLETED":
            completed[state["trial_id"]] = key(state["hyperparameters"]["values"])
    for name in ("oracle.json", "tuner0.json", "history.json"):
        path = os.path.join(project, name)
        if os.path.exists(path):
            try:
                with open(path) as handle:
                    json.load(handle)
            except ValueError:
                unreadable.append(os.path.relpath(path, directory))
    return {"completed": completed, "unreadable": unreadable}


def fork_session(directory: str, session: int, plan: dict, plain: bool) -> int:
    """Runs one session in a child process; returns its wait status as a signal or code."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            run_search(directory, session, plan, plain)
        except BaseException as error:  # noqa: BLE001
            print(f"session {session}: {type(error).__name__}: {error}", file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    done, status = 0, 0
    if plan.get("mode") == "timer":
        deadline = time.monotonic() + plan["delay"]
        while not done and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.005)
        if not done:
            os.kill(pid, signal.SIGKILL)
    if not done:
        _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sessions = []
    for session in range(args.kills):
        mode = "write" if args.plain else rng.choice(MODES)
        plan = {"mode": mode}
        if mode == "timer":
            plan["delay"] = rng.uniform(0.02, 0.3)
        else:
            plan["k"] = rng.randint(1, {"trial": 4, "write": 12, "renamed": 12}.get(mode, 1))
        status = fork_session(args.directory, session, plan, args.plain)
        sessions.append({"plan": plan, "status": status, **snapshot(args.directory)})
    final = fork_session(args.directory, args.kills, {}, args.plain)
    report = {
        "max_trials": MAX_TRIALS,
        "sessions": sessions,
        "final_status": final,
        "final": snapshot(args.directory),
    }
    if not args.plain:
        clean = os.path.join(args.directory, "clean")
        os.makedirs(clean)
        report["clean_status"] = fork_session(clean, -1, {}, args.plain)
    with open(os.path.join(args.directory, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
