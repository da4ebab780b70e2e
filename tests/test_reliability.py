"""Adversarial tests: crashes, corrupt state, trial faults and bad input lose nothing.

The figures of the README's "Reliability" table come from these tests.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading

import keras_tuner as kt
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras_tuner.engine.trial import TrialStatus

import keras_tuner_evolution as kte
from keras_tuner_evolution import history as history_module
from keras_tuner_evolution import launch, persistence
from tests.helpers import CountingFunction, mixed_score, mixed_space, run_search
from tests.test_properties import spaces

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILL_LOOP = os.path.join(ROOT, "tests", "scripts", "kill_loop.py")
PACKAGE = os.path.join(ROOT, "keras_tuner_evolution")


def kill_loop(directory, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [sys.executable, KILL_LOOP, str(directory), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(directory, "report.json")) as handle:
        return json.load(handle), result.stderr


# SIGKILL at random points ----------------------------------------------------------------


@pytest.mark.slow
def test_killed_20_times_at_random_points_loses_and_repeats_nothing(tmp_path):
    report, _ = kill_loop(tmp_path, "--kills", "20", "--seed", "7")
    sessions = report["sessions"]
    # 20 sessions, each killed by SIGKILL; points drawn from every kind, seeded.
    assert [s["status"] for s in sessions] == [-9] * 20
    assert {s["plan"]["mode"] for s in sessions} == {
        "timer",
        "trial",
        "write",
        "renamed",
        "generation",
    }
    assert report["final_status"] == 0 and report["clean_status"] == 0
    # No state file was ever unreadable, after any kill.
    assert all(not s["unreadable"] for s in sessions)
    assert not report["final"]["unreadable"]

    n = report["max_trials"]
    final = report["final"]["completed"]
    assert sorted(final) == [f"{i:0{len(str(n))}d}" for i in range(n)]
    assert len(set(final.values())) == n
    # No completed trial lost: whatever had completed at a kill is still there, unchanged.
    for session in sessions:
        for trial_id, key in session["completed"].items():
            assert final[trial_id] == key

    # None trained twice once saved: a configuration's call returned again only when the kill
    # landed after it returned and before its result was saved (so it was not completed on
    # disk at that kill), at most one such call per kill; a configuration recorded as
    # completed on disk at a kill was never called again after it.
    calls = [json.loads(line) for line in open(tmp_path / "calls.jsonl")]
    ends = [c for c in calls if c["event"] == "end"]
    assert {c["key"] for c in ends} == set(final.values())
    returned_in, unsaved = {}, collections.Counter()
    for call in ends:
        if call["key"] in returned_in:
            earlier = returned_in[call["key"]]
            assert call["key"] not in sessions[earlier]["completed"].values()
            unsaved[earlier] += 1
        returned_in[call["key"]] = call["session"]
    assert set(unsaved.values()) <= {1}
    for index, session in enumerate(sessions):
        done = set(session["completed"].values())
        later = [c for c in calls if c["session"] > index and c["event"] == "start"]
        assert not done & {c["key"] for c in later}
    # Only calls cut short by a kill (no "end", or an end not yet saved) were made again.
    starts = sum(c["event"] == "start" for c in calls)
    assert starts - n == len(_unfinished(calls)) + sum(unsaved.values())

    # History continuous, and identical to the uninterrupted search with the same seed.
    killed = kte.History.load(str(tmp_path), "killed")
    clean = kte.History.load(str(tmp_path / "clean"), "killed")
    assert [g.index for g in killed.generations] == list(range(len(killed.generations)))
    assert killed.stop_reason == "max_trials" and len(killed.scores) == n
    assert killed.genomes == clean.genomes
    assert [g.members for g in killed.generations] == [g.members for g in clean.generations]
    assert killed.scores == clean.scores


def _unfinished(calls):
    """Calls that started and never returned (their process was killed)."""
    open_calls = collections.Counter()
    for call in calls:
        open_calls[(call["session"], call["key"])] += 1 if call["event"] == "start" else -1
    return [k for k, v in open_calls.items() if v > 0]


@pytest.mark.slow
def test_keras_tuner_alone_loses_the_search_when_killed(tmp_path):
    """The hole this package closes: Keras Tuner's own state files are not written atomically."""
    report, stderr = kill_loop(tmp_path, "--kills", "5", "--seed", "7", "--plain")
    damaged = [s for s in report["sessions"] if s["unreadable"]]
    # Every kill is aimed at a write of Keras Tuner's (`kill_loop.py`'s plain mode).
    assert damaged, "a kill inside Keras Tuner's in-place write left every file readable"
    # Once a resume fails on a damaged file, every later one fails at once: the search is
    # lost. (A damaged file of a trial that oracle.json did not know yet is written again.)
    statuses = [s["status"] for s in report["sessions"]] + [report["final_status"]]
    assert 1 in statuses
    assert all(status == 1 for status in statuses[statuses.index(1) :])
    assert "JSONDecodeError" in stderr


# Atomic writes ---------------------------------------------------------------------------


def test_every_state_file_is_written_atomically(tmp_path, monkeypatch):
    written = []
    original = persistence.atomic_write_text

    def recording(path, text, sync="all"):
        written.append(os.path.relpath(path, tmp_path))
        original(path, text, sync)

    def forbidden(*args, **kwargs):
        raise AssertionError("Keras Tuner's non-atomic save_json was used")

    monkeypatch.setattr(persistence, "atomic_write_text", recording)
    monkeypatch.setattr(history_module, "atomic_write_text", recording)
    monkeypatch.setattr(kt.src.utils, "save_json", forbidden)
    kte.maximize(mixed_score, mixed_space(), max_trials=6, seed=1, directory=str(tmp_path))
    names = {re.sub(r"trial_\d+", "trial_N", path) for path in written}
    assert names == {
        "maximize/oracle.json",
        "maximize/trial_N/trial.json",
        "maximize/tuner0.json",
        "maximize/history.json",
    }
    # Nothing else is left behind, and every file is JSON.
    for folder, _, files in os.walk(tmp_path):
        for name in files:
            assert not name.startswith(".tmp-")
            with open(os.path.join(folder, name)) as handle:
                json.load(handle)


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = str(tmp_path / "state.json")
    persistence.save_json(path, {"version": 1})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        persistence.save_json(path, {"version": 2})
    assert persistence.load_json(path) == {"version": 1}
    assert os.listdir(tmp_path) == ["state.json"]


@pytest.mark.parametrize("sync, fsyncs", [("all", 2), ("data", 1), ("none", 0)])
def test_a_write_is_forced_to_disk_as_far_as_its_sync_level_says(
    tmp_path, monkeypatch, sync, fsyncs
):
    calls = []
    real_fsync = os.fsync

    def counting_fsync(fd):
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(persistence.os, "fsync", counting_fsync)
    path = str(tmp_path / "state.json")
    persistence.atomic_write_text(path, '{"version": 1}', sync)
    assert len(calls) == fsyncs  # the file, then the folder holding it
    assert persistence.load_json(path) == {"version": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_an_unknown_sync_level_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"`sync` must be one of \('all', 'data', 'none'\)"):
        persistence.atomic_write_text(str(tmp_path / "state.json"), "{}", "sometimes")
    assert os.listdir(tmp_path) == []


def test_only_the_writes_that_record_a_result_are_forced_to_disk(tmp_path, monkeypatch):
    """fsync costs about a millisecond a file; the writes made while a trial starts and runs
    are atomic only (a power cut then costs at most that running trial). The writes of
    `end_trial` are forced to disk before it returns, but after the oracle's lock is released,
    so that other workers' requests do not wait for the disk."""
    from keras_tuner.src.engine import oracle as kt_oracle_module

    writes, synced = [], []
    original_write, original_sync = persistence.atomic_write_text, persistence.sync_to_disk

    def name_of(path):
        return re.sub(r"trial_\d+", "trial_N", os.path.relpath(path, tmp_path))

    def recording(path, text, sync="all"):
        if not name_of(path).endswith("history.json"):  # throttled by the clock: left out
            writes.append((name_of(path), sync))
        original_write(path, text, sync)

    def syncing(path):
        lock = kt_oracle_module.LOCKS[oracle]
        free = lock.acquire(blocking=False)  # the same thread: a held RLock would say yes too
        if free:
            lock.release()
        holder = threading.Thread(target=lambda: free_elsewhere.append(lock.acquire(timeout=1)))
        free_elsewhere = []
        holder.start()
        holder.join()
        if free_elsewhere[0]:
            lock.release()
        synced.append((name_of(path), free_elsewhere[0]))
        original_sync(path)

    monkeypatch.setattr(persistence, "atomic_write_text", recording)
    monkeypatch.setattr(persistence, "sync_to_disk", syncing)
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"), hyperparameters=mixed_space(), seed=0
    )
    oracle._set_project_dir(str(tmp_path), "p")
    phases = {}
    trial = oracle.create_trial("tuner0")
    phases["create"], writes[:] = set(writes), []
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    phases["update"], writes[:] = set(writes), []
    assert synced == []
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)
    phases["end"] = set(writes)
    assert phases == {
        "create": {("p/oracle.json", "none"), ("p/trial_N/trial.json", "none")},
        "update": {("p/trial_N/trial.json", "none")},
        "end": {("p/oracle.json", "none"), ("p/trial_N/trial.json", "none")},
    }
    # Both forced to disk before end_trial returned, each while another thread could take
    # the oracle's lock.
    assert sorted(synced) == [("p/oracle.json", True), ("p/trial_N/trial.json", True)]


def test_a_failed_fsync_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    path.write_text("{}")

    def failing(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(persistence.os, "fsync", failing)
    with pytest.raises(persistence.StateWriteError, match="state.json"):
        persistence.sync_to_disk(str(path))


# Corrupt or truncated state at resume ----------------------------------------------------


def _search(tmp_path, function, max_trials, **kwargs):
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"),
        max_trials=max_trials,
        population_size=4,
        seed=5,
        hyperparameters=mixed_space(),
        **kwargs,
    )
    tuner = kte.functions.FunctionTuner(
        function, oracle, directory=str(tmp_path), project_name="p", overwrite=False
    )
    tuner.search(verbose=0)
    return oracle


def _fingerprint(folder):
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = hashlib.sha256(handle.read()).hexdigest()
    return found


@pytest.mark.parametrize(
    "damage", ["", '{"trial_id": "03", "hyperparameters": {"spa', "\x00\x00\x00", "{}", "missing"]
)
def test_an_unreadable_trial_file_is_named_kept_and_its_trial_run_again(tmp_path, caplog, damage):
    first = CountingFunction(mixed_score)
    _search(tmp_path, first, 8)
    path = tmp_path / "p" / "trial_3" / "trial.json"
    original = path.read_bytes()
    values = json.loads(original)["hyperparameters"]["values"]
    if damage == "missing":
        path.unlink()
    else:
        path.write_text(damage)

    again = CountingFunction(mixed_score)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = _search(tmp_path, again, 10)
    assert str(path) in caplog.text and "runs again" in caplog.text
    if damage != "missing":
        kept = tmp_path / "p" / "trial_3" / "trial.json.unreadable"
        assert kept.read_text() == damage  # the damaged bytes are kept, not overwritten
    # Trial 3 ran again with its own configuration, then the two new trials.
    assert again.calls[0] == values and len(again.calls) == 3
    assert oracle.trials["3"].status == TrialStatus.COMPLETED
    assert len(oracle.trials) == 10
    assert all(t.status == TrialStatus.COMPLETED for t in oracle.trials.values())
    assert len(oracle.history.scores) == 10


def test_a_project_of_an_older_version_recovers_from_its_history(tmp_path, caplog):
    _search(tmp_path, mixed_score, 8)
    oracle_file = tmp_path / "p" / "oracle.json"
    state = json.loads(oracle_file.read_text())
    state["evolution"].pop("trial_values", None)  # never in oracle.json: history.json has it
    oracle_file.write_text(json.dumps(state))
    values = json.loads((tmp_path / "p" / "trial_5" / "trial.json").read_text())
    (tmp_path / "p" / "trial_5" / "trial.json").write_text("")
    again = CountingFunction(mixed_score)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        _search(tmp_path, again, 8)
    assert again.calls == [values["hyperparameters"]["values"]]


@pytest.mark.parametrize("damage", ["", "{not json", "[]", "missing"])
def test_an_unreadable_oracle_file_is_a_clear_error_and_nothing_is_touched(tmp_path, damage):
    _search(tmp_path, mixed_score, 6)
    oracle_file = tmp_path / "p" / "oracle.json"
    if damage == "missing":
        oracle_file.unlink()
    else:
        oracle_file.write_text(damage)
    before = _fingerprint(tmp_path)
    function = CountingFunction(mixed_score)
    with pytest.raises(persistence.StateFileError, match=re.escape(str(oracle_file))):
        _search(tmp_path, function, 8)
    assert function.calls == []
    assert _fingerprint(tmp_path) == before


def test_an_unreadable_tuner_file_is_named_and_kept(tmp_path, caplog):
    _search(tmp_path, mixed_score, 6)
    tuner_file = tmp_path / "p" / "tuner0.json"
    tuner_file.write_text("{")
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        oracle = _search(tmp_path, mixed_score, 8)
    assert str(tuner_file) in caplog.text
    assert (tmp_path / "p" / "tuner0.json.unreadable").read_text() == "{"
    assert len(oracle.trials) == 8 and len(oracle.history.scores) == 8


def test_killed_before_the_tuner_file_existed_resumes_the_oracle(tmp_path):
    # The oracle had recorded finished trials, the tuner's own file was never written.
    _search(tmp_path, mixed_score, 5)
    os.unlink(tmp_path / "p" / "tuner0.json")
    again = CountingFunction(mixed_score)
    oracle = _search(tmp_path, again, 7)
    assert len(again.calls) == 2 and len(oracle.trials) == 7


# Trial faults ----------------------------------------------------------------------------


def _oom(hp):
    raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")


@pytest.mark.parametrize(
    "fault",
    [
        RuntimeError("fit diverged"),
        tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"),
        math.nan,
        math.inf,
        -math.inf,
    ],
    ids=["exception", "oom", "nan", "inf", "-inf"],
)
def test_a_faulty_configuration_is_retried_then_never_bred_nor_proposed(tmp_path, fault):
    def function(hp):
        if hp["units"] % 32 == 0:  # half of the space, whatever its score would be
            if isinstance(fault, Exception):
                raise fault
            return fault
        return mixed_score(hp)

    counting = CountingFunction(function)
    oracle = run_search(
        counting,
        tmp_path,
        mixed_space(),
        max_trials=30,
        seed=6,
        population_size=8,
        max_retries_per_trial=1,
        max_consecutive_failed_trials=30,
    )
    failed = {tid for tid, t in oracle.trials.items() if t.status == TrialStatus.FAILED}
    assert failed and len(oracle.trials) == 30
    # Keras Tuner's retry rule: each faulty configuration ran 1 + max_retries_per_trial times.
    keys = collections.Counter(json.dumps(c, sort_keys=True) for c in counting.calls)
    for trial_id in failed:
        key = json.dumps(oracle.trials[trial_id].hyperparameters.values, sort_keys=True)
        assert keys[key] == 2
    assert sum(keys.values()) == 30 + len(failed)
    for generation in oracle.generation_plans:
        assert not failed & set(generation["breeders"])
        assert not failed & set(generation["elites"])
    history = oracle.history
    assert all(s is None or math.isfinite(s) for g in history.generations for s in g.scores)
    assert math.isfinite(history.fittest["fitness"])


def test_too_many_consecutive_faults_stop_with_the_last_exception(tmp_path):
    with pytest.raises(RuntimeError, match="ResourceExhaustedError.*OOM when allocating") as info:
        run_search(_oom, tmp_path, mixed_space(), max_trials=10, max_consecutive_failed_trials=3)
    assert "consecutive failures exceeded the limit of 3" in str(info.value)


@pytest.mark.slow
def test_faults_in_build_and_fit_of_real_models(tmp_path):
    """Keras models: a build that raises, a fit that raises (OOM-like), a NaN loss, a time limit."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    class Fault(keras.callbacks.Callback):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind

        def on_train_batch_end(self, batch, logs=None):
            if self.kind == "oom":
                raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    def build(hp):
        kind = hp.Choice("fault", ["none", "build", "oom", "nan", "slow"])
        hp.Int("units", 2, 8, step=2)
        if kind == "build":
            raise ValueError("cannot build this one")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(hp["units"])])
        model.add(keras.layers.Dense(1))
        scale = math.nan if kind == "nan" else 1.0
        model.compile("sgd", loss=lambda t, p: keras.ops.mean((t - p) ** 2) * scale)
        return model

    class Tuner(kte.EvolutionaryTuner):
        def run_trial(self, trial, *args, **kwargs):
            kind = trial.hyperparameters["fault"]
            kwargs["callbacks"] = [Fault(kind)]
            if kind == "slow":
                kwargs["epochs"] = 10_000  # stopped by max_training_time
            return super().run_trial(trial, *args, **kwargs)

    tuner = Tuner(
        build,
        objective="val_loss",
        max_trials=12,
        population_size=6,
        seed=2,
        max_training_time=1.0,
        max_consecutive_failed_trials=12,
        directory=str(tmp_path),
        project_name="faults",
    )
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    by_kind = collections.defaultdict(set)
    for trial in tuner.oracle.trials.values():
        by_kind[trial.hyperparameters.values["fault"]].add(trial.status)
    assert by_kind["build"] <= {TrialStatus.FAILED}
    assert by_kind["oom"] <= {TrialStatus.FAILED}
    assert by_kind["nan"] <= {TrialStatus.FAILED}
    assert by_kind["none"] == {TrialStatus.COMPLETED}
    assert by_kind["slow"] <= {TrialStatus.COMPLETED}
    assert len(by_kind) >= 4  # most faults were met
    assert len(tuner.oracle.trials) == 12
    failed = {t for t, v in tuner.oracle.trials.items() if v.status == TrialStatus.FAILED}
    assert failed
    for generation in tuner.oracle.generation_plans:
        assert not failed & set(generation["breeders"]) and not failed & set(generation["elites"])


# Argument validation, fuzzed -------------------------------------------------------------

ODD = [None, -1, 0, 1, 2, 3, 0.0, 0.5, 1.0, 1.5, -0.5, 100, math.nan, math.inf, True, "3", [2]]
ARGUMENTS = [
    "max_trials",
    "population_size",
    "generations",
    "elites",
    "breeders",
    "mutation_rate",
    "mutation_scale",
    "selection_pressure",
    "goal",
    "patience",
    "min_delta",
    "max_search_time",
    "seed",
    "max_retries_per_trial",
    "max_consecutive_failed_trials",
]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.dictionaries(st.sampled_from(ARGUMENTS), st.sampled_from(ODD), max_size=4),
    spaces(),
    st.integers(0, 2**16),
)
def test_fuzzed_arguments_and_spaces_raise_only_errors_naming_an_argument(kwargs, space, salt):
    hps, _ = space
    kwargs.setdefault("max_trials", 6)
    if kwargs["max_trials"] is None and kwargs.get("generations") is None:
        kwargs["generations"] = 2
    if isinstance(kwargs.get("max_search_time"), (int, float)):
        kwargs["max_search_time"] = None  # a time budget would make the example slow
    if kwargs.get("max_trials") == 100 or kwargs.get("generations") == 100:
        kwargs["max_trials"] = 6

    def function(hp):
        return float(hash((salt, json.dumps(hp.values, sort_keys=True))) % 1000)

    try:
        history = kte.maximize(function, hps, **kwargs)
    except ValueError as error:
        named = [name for name in kwargs if f"`{name}`" in str(error)]
        assert named, f"{error} names none of {sorted(kwargs)}"
        assert re.search(r"must be|must give|Give|in \[|in \(|>=|>", str(error)), str(error)
        return
    assert history.stop_reason is not None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_training_time": 0}, "max_training_time"),
        ({"max_training_time": "1"}, "max_training_time"),
        ({"max_trials": -2}, "max_trials"),
        ({"elites": "1"}, "elites"),
        ({"warm_start_from": "runs"}, "warm_start_from"),
        ({"patience": 0}, "patience"),
        ({"min_delta": -1.0}, "min_delta"),
        ({"max_search_time": 0}, "max_search_time"),
        ({"goal": math.nan}, "goal"),
        ({"max_consecutive_failed_trials": 0}, "max_consecutive_failed_trials"),
        ({"max_retries_per_trial": -1}, "max_retries_per_trial"),
    ],
)
def test_tuner_arguments_are_validated_by_name(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        kte.EvolutionaryTuner(
            lambda hp: None, objective="val_loss", directory=str(tmp_path), **kwargs
        )


# JSON only, loopback only ----------------------------------------------------------------


def test_nothing_read_from_disk_is_unpickled():
    # Nor evaluated: no eval() or exec() anywhere (the network brings protocol buffers only).
    pattern = re.compile(
        r"\b(import (c?pickle|dill|joblib|shelve|marshal)|from (c?pickle|dill|joblib|shelve)"
        r"|pickle\.loads?|allow_pickle\s*=\s*True|np\.load\(|numpy\.load\(|torch\.load"
        r"|(?<![.\w])(eval|exec)\()"
    )
    offenders = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as handle:
                    for number, line in enumerate(handle, 1):
                        if pattern.search(line):
                            offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == []


def test_state_is_read_back_as_json_only(tmp_path, monkeypatch):
    import pickle

    kte.maximize(mixed_score, mixed_space(), max_trials=5, seed=1, directory=str(tmp_path))

    def no_unpickling(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    history = kte.maximize(
        mixed_score, mixed_space(), max_trials=7, seed=1, directory=str(tmp_path), overwrite=False
    )
    assert len(history.scores) == 7


def test_the_chief_binds_loopback_unless_told_otherwise():
    assert launch.DEFAULT_ADDRESS == "127.0.0.1"
    args = launch.build_parser().parse_args(["--workers", "2", "search.py"])
    assert args.address == "127.0.0.1"
    told = launch.build_parser().parse_args(
        ["--workers", "2", "--address", "10.0.0.1", "search.py"]
    )
    assert told.address == "10.0.0.1"


def test_a_resume_removes_the_temporary_files_of_killed_writes(tmp_path):
    _search(tmp_path, mixed_score, 6)
    project = tmp_path / "p"
    trial_folder = next(path for path in project.iterdir() if path.name.startswith("trial_"))
    stale = [project / ".tmp-killed1.json", trial_folder / ".tmp-killed2.json"]
    fresh = project / ".tmp-in-progress.json"
    for path in [*stale, fresh]:
        path.write_text('{"half": ')
    for path in stale:
        os.utime(path, (1_000_000_000, 1_000_000_000))  # written long ago
    oracle = _search(tmp_path, mixed_score, 8)
    assert not any(path.exists() for path in stale)
    assert fresh.exists()  # may belong to a write still running in another process
    assert len([t for t in oracle.trials.values() if t.status == "COMPLETED"]) == 8


def _reader_oracle(kind, tmp_path):
    space = mixed_space()
    objective = kt.Objective("score", "max")
    if kind == "evolution":
        oracle = kte.EvolutionaryOracle(objective=objective, hyperparameters=space, seed=0)
    else:
        oracle = kte.EvolutionaryHyperbandOracle(
            objective=objective, hyperparameters=space, seed=0, max_epochs=9
        )
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.verbose = 0
    trial = oracle.create_trial("tuner0")  # one result, so the readers have work to do
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)
    return oracle, trial.trial_id


READERS = {
    "history": lambda oracle, trial_id: oracle.history,
    "trial_score": lambda oracle, trial_id: oracle.trial_score(trial_id),
    "epochs_spent": lambda oracle, trial_id: oracle.epochs_spent(),
}


@pytest.mark.parametrize(
    "kind, reader",
    # EvolutionaryHyperbandOracle.trial_score only looks a trial up: nothing to wait for.
    [("evolution", "history"), ("evolution", "trial_score")]
    + [("hyperband", "history"), ("hyperband", "epochs_spent")],
)
def test_reading_the_search_waits_for_a_request_in_progress(kind, reader, tmp_path):
    """A progress bar or a user's thread that reads the search while a worker's request is
    being answered waits for it: reading tells the engine new results, which is writing."""
    oracle, trial_id = _reader_oracle(kind, tmp_path)
    entered, release = threading.Event(), threading.Event()
    populate = oracle.populate_space

    def slow_populate(new_id):
        entered.set()
        release.wait(10)
        return populate(new_id)

    oracle.populate_space = slow_populate
    request = threading.Thread(target=oracle.create_trial, args=("tuner1",))
    request.start()
    assert entered.wait(10)
    read = []
    reading = threading.Thread(target=lambda: read.append(READERS[reader](oracle, trial_id)))
    reading.start()
    reading.join(0.3)
    assert reading.is_alive() and read == [], "the reader did not wait for the request"
    release.set()
    request.join(10)
    reading.join(10)
    assert len(read) == 1 and not reading.is_alive()


@pytest.mark.parametrize("kind", ["evolution", "hyperband"])
def test_a_reader_that_raises_frees_the_lock_it_took_and_only_that(kind, tmp_path, monkeypatch):
    """`keras_tuner.synchronized` alone would keep the lock after an exception, and every later
    request of the workers would wait forever; an outer call's lock stays held."""
    oracle, _ = _reader_oracle(kind, tmp_path)

    def broken_sync():
        raise RuntimeError("broken")

    monkeypatch.setattr(oracle, "_sync", broken_sync)
    with pytest.raises(RuntimeError, match="broken"):
        _ = oracle.history
    created = []
    other = threading.Thread(target=lambda: created.append(oracle.create_trial("tuner1")))
    monkeypatch.undo()
    other.start()
    other.join(10)
    assert created and not other.is_alive(), "the lock stayed held after the reader raised"

    def outer(the_oracle):
        monkeypatch.setattr(the_oracle, "_sync", broken_sync)
        with pytest.raises(RuntimeError):
            _ = the_oracle.history
        monkeypatch.undo()
        waited = []
        probe = threading.Thread(target=lambda: waited.append(oracle.history))
        probe.start()
        probe.join(0.3)
        assert probe.is_alive(), "the reader freed the lock its caller held"
        return probe

    probe = kt.synchronized(outer)(oracle)  # releases the outer lock without an error
    probe.join(10)
    assert not probe.is_alive()


def _fail_create(oracle, monkeypatch):
    def broken_populate(trial_id):
        raise RuntimeError("populate_space broke")

    monkeypatch.setattr(oracle, "populate_space", broken_populate)
    oracle.create_trial("tuner1")


def _fail_update(oracle, monkeypatch):
    trial = oracle.create_trial("tuner1")
    oracle.update_trial(trial.trial_id, {"not_the_objective": 1.0})  # Keras Tuner's check


def _fail_end(oracle, monkeypatch):
    oracle.max_consecutive_failed_trials = 1  # Keras Tuner's end_trial raises at the limit
    trial = oracle.create_trial("tuner1")
    trial.status = TrialStatus.FAILED
    trial.message = "the model broke"
    oracle.end_trial(trial)


def _fail_update_space(oracle, monkeypatch):
    def broken_update_space(self, hyperparameters):
        raise RuntimeError("update_space broke")

    monkeypatch.setattr(kt.Oracle, "update_space", broken_update_space)
    oracle.update_space(kt.HyperParameters())


FAILING_REQUESTS = {
    "create_trial": (_fail_create, RuntimeError, "populate_space broke"),
    "update_trial": (_fail_update, ValueError, "not_the_objective"),
    "end_trial": (_fail_end, RuntimeError, "consecutive failures"),
    "update_space": (_fail_update_space, RuntimeError, "update_space broke"),
}


@pytest.mark.parametrize("kind", ["evolution", "hyperband"])
@pytest.mark.parametrize("request_name", sorted(FAILING_REQUESTS))
def test_a_request_that_raises_frees_the_lock_for_the_other_threads(
    kind, request_name, tmp_path, monkeypatch
):
    """Keras Tuner's `synchronized` keeps the oracle's lock when a request raises under it: a
    progress bar or another worker's thread would then wait forever. The error still reaches
    the caller, and the oracle answers other threads afterwards."""
    oracle, _ = _reader_oracle(kind, tmp_path)
    fail, error_type, message = FAILING_REQUESTS[request_name]
    with pytest.raises(error_type, match=message):
        fail(oracle, monkeypatch)
    monkeypatch.undo()
    answers = []

    def other_thread():
        answers.append(oracle.history)
        answers.append(oracle.create_trial("tuner2"))

    thread = threading.Thread(target=other_thread, daemon=True)  # daemon: never hangs pytest
    thread.start()
    thread.join(10)
    assert len(answers) == 2, f"the lock stayed held after {request_name} raised"
    assert answers[1].status == TrialStatus.RUNNING


def test_an_end_trial_that_raises_after_its_writes_still_forces_them_to_disk(tmp_path, monkeypatch):
    """The fsyncs of `end_trial` wait until the lock is released; an exception raised after
    the writes (here by the display, the last thing Keras Tuner's `end_trial` does) must not
    leave the result on disk unforced."""
    oracle, _ = _reader_oracle("evolution", tmp_path)
    trial = oracle.create_trial("tuner1")
    oracle.update_trial(trial.trial_id, {"score": 2.0})
    synced = []
    monkeypatch.setattr(persistence, "sync_to_disk", lambda path: synced.append(path))

    def broken_display(trial):
        raise RuntimeError("display broke")

    monkeypatch.setattr(oracle._display, "on_trial_end", broken_display)
    trial.status = TrialStatus.COMPLETED
    with pytest.raises(RuntimeError, match="display broke"):
        oracle.end_trial(trial)
    names = sorted(os.path.relpath(path, tmp_path) for path in synced)
    assert names == ["p/oracle.json", f"p/trial_{trial.trial_id}/trial.json"]
