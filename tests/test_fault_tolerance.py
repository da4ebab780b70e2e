"""Parallel searches that survive faults: dying workers, a slow or silent chief, lost replies,
silent workers, full disks, exposed addresses (issue 17). The kill storm is in
`test_kill_storm.py`."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from keras_tuner_evolution import cli, launch, persistence
from keras_tuner_evolution.distribute import command, environment
from keras_tuner_evolution.distribute import launcher as launcher_module
from tests.test_launch import _score_tuner_class, run_workers

# Launcher: restart budget per window, backoff, dropped workers ---------------------------

DYING = textwrap.dedent(
    """
    import os, sys, time
    folder, tid = sys.argv[1], os.environ["KERASTUNER_TUNER_ID"]
    mode = sys.argv[2]
    with open(os.path.join(folder, tid + ".starts"), "a") as f:
        f.write("x")
    starts = len(open(os.path.join(folder, tid + ".starts")).read())
    if tid == "chief":  # the search ends when worker1 (and a revived worker0) did its work
        needed = ["worker1.done"] + (["worker0.done"] if mode == "dies-4-times" else [])
        done = lambda: all(os.path.exists(os.path.join(folder, n)) for n in needed)
        while mode != "all-die" and not done():
            time.sleep(0.05)
        time.sleep(600 if mode == "all-die" else 0)
        sys.exit(0)
    if tid == "worker0" and (mode == "dies" or starts <= 4):
        sys.exit(3)
    if mode == "all-die":
        sys.exit(3)
    time.sleep(5.0 if mode == "dies" else 0.2)  # long enough for worker0 to be dropped
    open(os.path.join(folder, tid + ".done"), "w").close()
    """
)


@pytest.fixture
def dying(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher_module, "RESTART_DELAY_SECONDS", 0.0)
    script = tmp_path / "dying.py"
    script.write_text(DYING)

    def make(mode, **kwargs):
        command = [sys.executable, str(script), str(tmp_path), mode]
        launcher = launch.Launcher(
            command, workers=2, devices="cpu", gpus=[], stream=io.StringIO(), **kwargs
        )
        return launcher

    return make


def starts(tmp_path, tuner_id):
    return len((tmp_path / f"{tuner_id}.starts").read_text())


def test_a_worker_that_keeps_dying_is_dropped_and_the_others_carry_on(dying, tmp_path, capsys):
    launcher = dying("dies", max_restarts=2)
    assert launcher.run() == 0  # worker1 finished the search
    err = capsys.readouterr().err
    assert "worker0 died (exit status 3) after 2 restart(s) within 300 s" in err
    assert "dropped; 1 other worker(s) carry on" in err
    assert starts(tmp_path, "worker0") == 3 and starts(tmp_path, "worker1") == 1
    assert launcher.workers[0].dropped and not launcher.workers[1].dropped


def test_restarts_older_than_the_window_do_not_count(dying, tmp_path, monkeypatch, capsys):
    # worker0 dies 4 times, 0.3 s apart; the window is 0.2 s: never 2 deaths in one window.
    monkeypatch.setattr(launcher_module, "RESTART_DELAY_SECONDS", 0.3)
    monkeypatch.setattr(launcher_module, "MAX_RESTART_DELAY_SECONDS", 0.3)
    launcher = dying("dies-4-times", max_restarts=1, restart_window=0.2)
    assert launcher.run() == 0
    assert starts(tmp_path, "worker0") == 5 and launcher.workers[0].restarts == 4
    assert "dropped" not in capsys.readouterr().err


def test_restarts_back_off_up_to_a_ceiling(monkeypatch):
    monkeypatch.setattr(launcher_module, "RESTART_DELAY_SECONDS", 1.0)
    delays = [launcher_module.restart_delay(n) for n in range(7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_search_fails_when_no_worker_is_left_and_says_how_to_resume(dying, capsys):
    launcher = dying("all-die", max_restarts=1)
    started = time.monotonic()
    assert launcher.run() == 1
    assert time.monotonic() - started < 60
    assert not launcher.pids()  # the chief was stopped
    err = capsys.readouterr().err
    assert err.count("dropped") == 2
    assert "no worker is left: the search failed" in err and "overwrite=False" in err


@pytest.mark.parametrize(
    "flag, value", [("--restart-window", "0"), ("--chief-wait", "-1"), ("--lease", "soon")]
)
def test_fault_tolerance_flags_are_checked_by_name(flag, value, capsys, tmp_path):
    with pytest.raises(SystemExit):
        command.build_parser().parse_args(["--workers", "1", flag, value, "s.py"])
    assert f"{flag} must be a number of seconds > 0, got {value!r}" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--restart-window must be > 0 seconds"):
        launch.Launcher(["x"], workers=1, devices="cpu", gpus=[], restart_window=0)


def test_the_variables_are_checked_by_name():
    assert environment.seconds({}, environment.LEASE, 60.0) == 60.0
    assert environment.seconds({environment.LEASE: "2.5"}, environment.LEASE, 60.0) == 2.5
    for bad in ("0", "-3", "nan", "inf", "x"):
        with pytest.raises(ValueError, match="KTE_LEASE_SECONDS must be a number of seconds > 0"):
            environment.seconds({environment.LEASE: bad}, environment.LEASE, 60.0)


def test_workers_run_the_script_through_the_retrying_bootstrap(tmp_path):
    args = command.build_parser().parse_args(
        ["--workers", "1", "--lease", "5", "--chief-wait", "30", "s.py", "--epochs", "3"]
    )
    launcher = command._make_launcher(args)
    assert launcher.command[2:] == ["s.py", "--epochs", "3"]
    assert launcher.worker_command[2:] == [
        "-m", "keras_tuner_evolution.distribute.worker", "s.py", "--epochs", "3"
    ]  # fmt: skip
    for child in launcher.children:
        assert child.env["KTE_LEASE_SECONDS"] == "5.0"
        assert child.env["KTE_CHIEF_WAIT_SECONDS"] == "30.0"


@pytest.mark.slow
def test_the_bootstrap_runs_the_script_as_python_would_and_installs_the_client(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            early = "keras_tuner" in sys.modules or "tensorflow" in sys.modules
            from keras_tuner.src.distribute import oracle_client
            print(json.dumps([__name__, sys.argv, sys.path[0], early,
                              oracle_client.OracleClient.__name__]))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "keras_tuner_evolution.distribute.worker", str(script), "a"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    name, argv, path0, early, client = json.loads(done.stdout.strip().splitlines()[-1])
    assert (name, argv, path0) == ("__main__", [str(script), "a"], str(tmp_path))
    assert not early  # the script still chooses its backend and devices first
    assert client == "RetryingOracleClient"


# Security ---------------------------------------------------------------------------------


def test_loopback_addresses():
    for address in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert launcher_module.is_loopback(address)
    for address in ("0.0.0.0", "10.0.0.1", "my-host", "::"):
        assert not launcher_module.is_loopback(address)


def test_an_exposed_chief_warns_and_says_how_to_tunnel(tmp_path, capsys):
    script = tmp_path / "s.py"
    script.write_text("")
    assert cli.main(["launch", "--workers", "0", "--address", "0.0.0.0", str(script)]) == 0
    err = capsys.readouterr().err
    assert "unauthenticated" in err and "ssh -N -L" in err
    assert cli.main(["launch", "--workers", "0", str(script)]) == 0
    assert "unauthenticated" not in capsys.readouterr().err


# Full disk, unwritable folder --------------------------------------------------------------


@pytest.mark.parametrize(
    "where, code", [("fsync", errno.ENOSPC), ("mkstemp", errno.EACCES), ("makedirs", errno.EROFS)]
)
def test_a_failed_write_names_the_file_and_leaves_it_whole(tmp_path, monkeypatch, where, code):
    path = str(tmp_path / "state.json")
    persistence.save_json(path, {"version": 1})

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    target = {"fsync": persistence.os, "mkstemp": persistence.tempfile}.get(where, persistence.os)
    monkeypatch.setattr(target, where, fail)
    with pytest.raises(persistence.StateWriteError) as caught:
        persistence.save_json(path, {"version": 2})
    assert path in str(caught.value) and os.strerror(code) in str(caught.value)
    assert isinstance(caught.value, OSError) and caught.value.errno == code
    assert caught.value.filename == path
    monkeypatch.undo()
    assert persistence.load_json(path) == {"version": 1}
    assert os.listdir(tmp_path) == ["state.json"]  # no temporary file left


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_search_whose_disk_fills_up_resumes_without_losing_anything(tmp_path, monkeypatch, code):
    import keras_tuner as kt

    import keras_tuner_evolution as kte
    from tests.helpers import mixed_score, mixed_space

    calls = []

    def function(hp):
        calls.append(json.dumps(hp.values, sort_keys=True))
        return mixed_score(hp)

    def search():
        oracle = kte.EvolutionaryOracle(
            objective=kt.Objective("score", "max"),
            max_trials=16,
            population_size=4,
            seed=5,
            hyperparameters=mixed_space(),
        )
        tuner = kte.functions.FunctionTuner(
            function, oracle, directory=str(tmp_path), project_name="p", overwrite=False
        )
        tuner.search(verbose=0)
        return oracle

    real_mkstemp = persistence.tempfile.mkstemp
    writes = []

    def failing_mkstemp(*args, **kwargs):
        writes.append(1)
        if len(writes) > 40:  # the disk fills up (or the folder turns read-only) mid-search
            raise OSError(code, os.strerror(code))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(persistence.tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(persistence.StateWriteError, match=r"Cannot write the search state file"):
        search()
    monkeypatch.undo()
    for folder, _, files in os.walk(tmp_path):  # every file on disk whole
        for name in files:
            assert not name.startswith(".tmp-")
            with open(os.path.join(folder, name)) as handle:
                json.load(handle)
    saved = {
        tid: trial for tid, trial in trial_files(tmp_path).items() if trial["status"] == "COMPLETED"
    }
    assert saved
    oracle = search()  # the user frees space and resumes
    completed = {t.trial_id: t.score for t in oracle.trials.values() if t.status == "COMPLETED"}
    assert len(completed) == 16
    for tid, trial in saved.items():  # nothing lost, nothing saved trained again
        assert completed[tid] == trial["score"]
        assert calls.count(json.dumps(trial["hyperparameters"]["values"], sort_keys=True)) == 1


def trial_files(folder):
    found = {}
    for name in os.listdir(folder / "p"):
        if name.startswith("trial_"):
            state = persistence.load_json(str(folder / "p" / name / "trial.json"))
            found[state["trial_id"]] = state
    return found


# Chief and workers in one process: slow start, lost replies, silent workers -----------------


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """A chief tuner and workers using the retrying client, over loopback gRPC."""
    from keras_tuner.src.distribute import oracle_client

    from keras_tuner_evolution import _keras_tuner

    monkeypatch.setattr(oracle_client, "OracleClient", _keras_tuner.retrying_client_class())
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(launch.free_port()))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    monkeypatch.setenv("KTE_CHIEF_WAIT_SECONDS", "60")
    make = _score_tuner_class()

    def build(n_workers, env=(), **kwargs):
        for name, value in dict(env).items():
            monkeypatch.setenv(name, value)
        chief = make(tmp_path, "chief", **kwargs)
        chief.save()
        workers = [make(tmp_path, f"worker{i}", **kwargs) for i in range(n_workers)]
        return chief, workers  # (the process's tuner id stays a worker's: they read it)

    return build


def serve_in_thread(chief):
    from keras_tuner_evolution import distribute

    thread = threading.Thread(target=distribute.serve, args=(chief, 0), daemon=True)
    thread.start()
    return thread


def check_once(chief, max_trials):
    oracle = chief.oracle
    assert len(oracle.end_order) == len(set(oracle.end_order)) == max_trials
    assert all(t.status == "COMPLETED" for t in oracle.trials.values())
    assert len(oracle.trials) == max_trials


def test_workers_started_before_the_chief_wait_for_it_and_say_so(cluster, caplog):
    chief, workers = cluster(2, max_trials=6, population_size=3, seed=3)
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        threads, errors = run_workers(workers)  # no chief yet
        time.sleep(2.0)
        server = serve_in_thread(chief)
        server.join(timeout=120)
        for thread in threads:
            thread.join(timeout=60)
    assert not server.is_alive() and not errors
    check_once(chief, 6)
    assert "did not answer" in caplog.text and "KTE_CHIEF_WAIT_SECONDS" in caplog.text
    assert "reached the chief" in caplog.text


def test_a_worker_gives_up_on_an_absent_chief_after_a_bounded_wait(cluster):
    from keras_tuner_evolution.distribute.client import ChiefUnreachable

    _, workers = cluster(1, env={"KTE_CHIEF_WAIT_SECONDS": "1.5"}, max_trials=4)
    started = time.monotonic()
    threads, errors = run_workers(workers)
    threads[0].join(timeout=60)
    assert not threads[0].is_alive() and time.monotonic() - started < 30
    assert len(errors) == 1 and isinstance(errors[0], ChiefUnreachable)
    message = str(errors[0])
    assert "worker0: the chief at 127.0.0.1:" in message and "giving up" in message
    assert "KTE_CHIEF_WAIT_SECONDS=1.5" in message


def test_replies_that_never_come_are_asked_again_and_nothing_is_recorded_twice(cluster, caplog):
    chief, workers = cluster(
        1, env={"KTE_REQUEST_TIMEOUT_SECONDS": "0.5"}, max_trials=5, population_size=3
    )
    oracle = chief.oracle
    delayed = {"create": 0, "end": 0}
    create, end = oracle.create_trial, oracle.end_trial

    def slow_create(tuner_id):
        trial = create(tuner_id)
        if delayed["create"] < 1:  # the chief creates the trial; its reply comes too late
            delayed["create"] += 1
            time.sleep(1.5)
        return trial

    def slow_end(trial):
        end(trial)
        if delayed["end"] < 2:  # recorded, but the worker never hears back: it reports again
            delayed["end"] += 1
            time.sleep(1.5)

    oracle.create_trial, oracle.end_trial = slow_create, slow_end
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        server = serve_in_thread(chief)
        port = int(os.environ["KERASTUNER_ORACLE_PORT"])
        wait_until(lambda: not launch.port_is_free("127.0.0.1", port), 60)
        threads, errors = run_workers(workers)
        server.join(timeout=120)
        threads[0].join(timeout=60)
    assert not errors and not server.is_alive()
    check_once(chief, 5)
    assert sorted(workers[0].trained) == sorted(oracle.trials)  # none trained twice
    assert "did not answer CreateTrial (DEADLINE_EXCEEDED)" in caplog.text
    assert "did not answer EndTrial (DEADLINE_EXCEEDED)" in caplog.text
    assert "Trial 0 was reported again" in caplog.text
    assert "Trial 1 was reported again" in caplog.text


def test_a_silent_worker_loses_its_trial_and_heartbeats_keep_a_long_one(cluster, caplog):
    from keras_tuner_evolution.distribute.client import ChiefUnreachable

    env = {"KTE_LEASE_SECONDS": "1.2", "KTE_CHIEF_WAIT_SECONDS": "2"}
    chief, (silent, steady) = cluster(2, env=env, max_trials=5, population_size=3, seed=4)
    release = threading.Event()
    silent_run, steady_run = silent.run_trial, steady.run_trial

    def hang(trial, *args, **kwargs):
        silent.oracle.stub.close()  # stops heartbeats: as a frozen or unplugged worker
        release.wait(120)
        return silent_run(trial, *args, **kwargs)

    def long(trial, *args, **kwargs):
        time.sleep(2.0)  # longer than the lease: the heartbeats keep the trial
        return steady_run(trial, *args, **kwargs)

    silent.run_trial, steady.run_trial = hang, long
    with caplog.at_level(logging.WARNING, logger="keras_tuner_evolution"):
        server = serve_in_thread(chief)
        threads, errors = run_workers([silent])
        wait_until(lambda: chief.oracle.ongoing_trials, 60)
        taken = next(iter(chief.oracle.ongoing_trials.values())).trial_id
        more, more_errors = run_workers([steady])
        server.join(timeout=120)
        release.set()  # the silent worker wakes up after the search ended
        for thread in threads + more:
            thread.join(timeout=60)
    assert not server.is_alive() and not more_errors
    check_once(chief, 5)
    assert taken in steady.trained and len(steady.trained) == 5  # no trial trained twice
    assert f"worker0 sent nothing for 1.2 s (KTE_LEASE_SECONDS): its trial {taken}" in caplog.text
    assert "worker1 sent nothing" not in caplog.text
    assert len(errors) == 1 and isinstance(errors[0], ChiefUnreachable)


def wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
