"""`kte launch` and the chief's serving loop: devices, arguments, processes, real searches."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from keras_tuner_evolution import cli, launch
from keras_tuner_evolution.distribute import launcher as launcher_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEARCH_SCRIPT = os.path.join(ROOT, "tests", "scripts", "parallel_search.py")


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# Devices ------------------------------------------------------------------------------------


def test_parse_devices():
    assert launch.parse_devices("auto") == "auto"
    assert launch.parse_devices("CPU") == "cpu"
    assert launch.parse_devices("0, 2,3") == ("0", "2", "3")
    for bad in ("", "0,,1", "0;1"):
        with pytest.raises(Exception, match="expected auto, cpu or GPU ids"):
            launch.parse_devices(bad)


def test_visible_gpus_reads_cuda_visible_devices_first(tmp_path):
    fake_smi = tmp_path / "nvidia-smi"
    fake_smi.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    fake_smi.chmod(0o755)
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "2,5"}, str(fake_smi)) == ["2", "5"]
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}, str(fake_smi)) == []
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, str(fake_smi)) == []
    # CUDA ignores the ids after the first invalid one.
    assert launch.visible_gpus({"CUDA_VISIBLE_DEVICES": "1,-1,2"}, None) == ["1"]
    assert launch.visible_gpus({}, str(fake_smi)) == ["0", "1"]
    assert launch.visible_gpus({}, None) == []
    assert launch.visible_gpus({}, str(tmp_path / "missing")) == []


def test_assign_devices_gpus_round_robin():
    devices = launch.assign_devices("auto", 4, gpus=["0", "1"], cpus=[0, 1])
    assert [d.gpus for d in devices] == [("0",), ("1",), ("0",), ("1",)]
    assert all(d.shared_gpu for d in devices)
    assert devices[0].env() == {"CUDA_VISIBLE_DEVICES": "0", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}

    devices = launch.assign_devices(("3", "7"), 2, gpus=[], cpus=[0])
    assert [d.env() for d in devices] == [
        {"CUDA_VISIBLE_DEVICES": "3"},
        {"CUDA_VISIBLE_DEVICES": "7"},
    ]

    devices = launch.assign_devices("auto", 2, ["0", "1", "2", "3"], [0], gpus_per_worker=2)
    assert [d.gpus for d in devices] == [("0", "1"), ("2", "3")]
    assert not devices[0].shared_gpu
    with pytest.raises(ValueError, match="3 GPUs per worker"):
        launch.assign_devices(("0", "1"), 1, [], [0], gpus_per_worker=3)


def test_assign_devices_cpu_shares():
    # No GPU: "auto" means equal, disjoint shares of the cores.
    devices = launch.assign_devices("auto", 2, gpus=[], cpus=[0, 1, 2, 3, 4])
    assert [d.cpus for d in devices] == [(0, 1), (2, 3)]
    env = devices[1].env()
    assert env["CUDA_VISIBLE_DEVICES"] == "-1"
    assert env["TF_NUM_INTRAOP_THREADS"] == env["OMP_NUM_THREADS"] == "2"
    # "cpu" hides the GPUs even when there are some.
    devices = launch.assign_devices("cpu", 4, gpus=["0"], cpus=[0, 1])
    assert [d.cpus for d in devices] == [(0,), (1,), (0,), (1,)]
    assert devices[0].env()["TF_NUM_INTRAOP_THREADS"] == "1"
    assert launch.assign_devices("cpu", 0, gpus=[], cpus=[0]) == []


def test_child_env_wires_keras_tuner_distributed_mode():
    device = launch.Device(cpus=(1,))
    env = launch.child_env({"PATH": "/bin"}, "worker1", "127.0.0.1", 4321, device)
    assert env["KERASTUNER_TUNER_ID"] == "worker1"
    assert env["KERASTUNER_ORACLE_IP"] == "127.0.0.1"
    assert env["KERASTUNER_ORACLE_PORT"] == "4321"
    assert env["CUDA_VISIBLE_DEVICES"] == "-1"
    assert env["PATH"] == "/bin"
    chief = launch.child_env({"CUDA_VISIBLE_DEVICES": "0,1"}, "chief", "0.0.0.0", 1, None)
    # The chief keeps the GPUs for after the search, but grows its memory on demand.
    assert chief["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert chief["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_worker_ids_never_contain_chief():
    assert launch.worker_ids(2) == ["worker0", "worker1"]
    assert launch.worker_ids(1, "gpu-box") == ["gpu-box-worker0"]
    assert launch.node_name("my host!") == "my-host"
    with pytest.raises(ValueError, match="must not contain 'chief'"):
        launch.node_name("Chief-node")  # Keras Tuner would take its workers for chiefs


def test_addresses_ports_and_exit_status():
    assert launch.connect_address("0.0.0.0") == "127.0.0.1"
    assert launch.connect_address("10.0.0.1") == "10.0.0.1"
    assert launch.exit_status(-9) == 137
    assert launch.exit_status(3) == 3
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert not launch.port_is_free("127.0.0.1", port)
    assert launch.port_is_free("127.0.0.1", launch.free_port())


# Command line -------------------------------------------------------------------------------


def test_arguments_after_the_script_belong_to_the_script():
    args = launch.build_parser().parse_args(
        ["--workers", "2", "--devices", "0,1", "s.py", "--epochs", "3", "--workers", "9"]
    )
    assert args.workers == 2 and args.devices == ("0", "1")
    assert args.script == "s.py" and args.script_args == ["--epochs", "3", "--workers", "9"]
    assert launch.script_command("s.py", ["-x"]) == [sys.executable, "-u", "s.py", "-x"]
    assert launch.script_command("pkg.mod", [], module=True)[-2:] == ["-m", "pkg.mod"]


def test_kte_has_a_launch_command(tmp_path, capsys):
    assert cli.main(["launch", "--workers", "-1", "s.py"]) == 2
    assert cli.main(["launch", "--workers", "1", str(tmp_path / "missing.py")]) == 2
    assert "no such script" in capsys.readouterr().err
    script = tmp_path / "s.py"
    script.write_text("")
    # Joining a chief elsewhere needs its port.
    assert cli.main(["launch", "--workers-only", "--workers", "1", str(script)]) == 2
    assert "--port is required" in capsys.readouterr().err


# Processes (small Python scripts, no TensorFlow) ---------------------------------------------

FAKE_SEARCH = textwrap.dedent(
    """
    import os, subprocess, sys, time
    folder = sys.argv[1]
    tid = os.environ["KERASTUNER_TUNER_ID"]
    mode = sys.argv[2] if len(sys.argv) > 2 else "ok"
    with open(os.path.join(folder, tid + ".pid"), "a") as f:
        f.write(str(os.getpid()) + "\\n")
    if tid == "chief":
        if mode == "chief-fails":
            sys.exit(5)
        while mode != "hang" and len([n for n in os.listdir(folder) if n.endswith(".done")]) < 2:
            time.sleep(0.05)
        if mode == "hang":
            time.sleep(600)
        print("chief done", flush=True)
        sys.exit(0)
    if mode in ("hang", "chief-fails"):
        if mode == "hang":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open(os.path.join(folder, tid + ".grandchild"), "w") as f:
                f.write(str(child.pid))
        time.sleep(600)
    starts = open(os.path.join(folder, tid + ".pid")).read().split()
    if mode == "always-fails" or (tid == "worker1" and len(starts) == 1):
        sys.exit(3)
    keys = ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "CUDA_VISIBLE_DEVICES")
    print("hello", tid, *(os.environ[k] for k in keys), flush=True)
    open(os.path.join(folder, tid + ".done"), "w").close()
    """
)


@pytest.fixture
def fake_search(tmp_path, monkeypatch):
    # The constant lives where the Launcher reads it (`launch` only re-exports it).
    monkeypatch.setattr(launcher_module, "RESTART_DELAY_SECONDS", 0.0)
    script = tmp_path / "fake_search.py"
    script.write_text(FAKE_SEARCH)
    folder = tmp_path / "run"
    folder.mkdir()

    def make(mode="ok", **kwargs):
        kwargs.setdefault("stream", io.StringIO())
        command = [sys.executable, str(script), str(folder), mode]
        return launch.Launcher(command, workers=2, devices="cpu", gpus=[], **kwargs), folder

    return make


def test_launcher_relays_output_and_restarts_a_dead_worker(fake_search):
    launcher, folder = fake_search()
    assert launcher.run() == 0
    output = launcher.stream.getvalue()
    port = launcher.port
    assert f"[worker0] hello worker0 127.0.0.1 {port} -1" in output
    assert f"[worker1] hello worker1 127.0.0.1 {port} -1" in output
    # worker1 failed once, was restarted with the same id, and then finished.
    assert len((folder / "worker1.pid").read_text().split()) == 2
    assert [w.restarts for w in launcher.workers] == [0, 1]


def test_launcher_writes_one_log_file_per_worker(fake_search, tmp_path):
    logs = tmp_path / "logs"
    launcher, _ = fake_search(log_dir=str(logs))
    assert launcher.run() == 0
    assert launcher.stream.getvalue() == ""
    assert "hello worker0" in (logs / "worker0.log").read_text()
    text = (logs / "worker1.log").read_text()
    assert "worker1, start 2" in text and "hello worker1" in text


def test_launch_fails_when_a_worker_keeps_dying(fake_search):
    launcher, folder = fake_search("always-fails", max_restarts=1)
    assert launcher.run() == 1
    assert not launcher.pids()  # the waiting chief was stopped too
    starts = [len((folder / f"worker{i}.pid").read_text().split()) for i in range(2)]
    assert max(starts) == 2  # the one that gave up was started twice: once restarted


def test_launch_fails_with_the_chief_and_stops_the_workers(fake_search):
    launcher, folder = fake_search("chief-fails", stop_grace=5)
    assert launcher.run() == 5
    assert not launcher.pids()


def test_interrupt_stops_every_child_and_grandchild(fake_search):
    launcher, folder = fake_search("hang", stop_grace=5)
    files = [folder / name for name in ("chief.pid", "worker0.grandchild", "worker1.grandchild")]

    def interrupt_when_started():
        wait_for(lambda: all(f.exists() and f.read_text() for f in files), 60, "children")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, delivered to the launcher only

    thread = threading.Thread(target=interrupt_when_started)
    thread.start()
    started = time.monotonic()
    status = launcher.run()
    thread.join()
    assert status == 128 + signal.SIGINT
    assert time.monotonic() - started < 60
    pids = [
        int(p)
        for name in ("chief", "worker0", "worker1")
        for p in (folder / f"{name}.pid").read_text().split()
    ]
    pids += [int((folder / f"worker{i}.grandchild").read_text()) for i in range(2)]
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the children to end")


def test_stop_kills_children_that_ignore_sigterm(tmp_path):
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(600)\n"
    )
    launcher = launch.Launcher(
        [sys.executable, str(script)],
        workers=2,
        devices="cpu",
        gpus=[],
        stream=io.StringIO(),
        stop_grace=0.5,
    )
    for child in launcher.children:
        launcher._spawn(child)
    wait_for(lambda: launcher.stream.getvalue().count("ready") == 2, 30, "the workers")
    pids = list(launcher.pids().values())
    assert len(pids) == 3
    launcher.stop()
    assert not any(alive(pid) for pid in pids)


# The chief's serving loop, in one process --------------------------------------------------


def _score_tuner_class():
    import keras_tuner as kt

    from keras_tuner_evolution import EvolutionaryTuner

    class ScoreTuner(EvolutionaryTuner):
        """Scores a smooth function; `fail` makes every trial raise."""

        fail = False

        def run_trial(self, trial, *args, **kwargs):
            hp = trial.hyperparameters
            self.trained.append(trial.trial_id)
            if self.fail:
                raise ValueError("this trial fails")
            return {"score": -((hp.get("x") - 0.3) ** 2) - hp.get("units") / 1000}

    def space():
        hp = kt.HyperParameters()
        hp.Float("x", -1.0, 1.0)
        hp.Int("units", 8, 64, step=8)
        return hp

    def make(tmp_path, tuner_id, **kwargs):
        os.environ["KERASTUNER_TUNER_ID"] = tuner_id
        tuner = ScoreTuner(
            objective=kt.Objective("score", "max"),
            hyperparameters=space(),
            directory=str(tmp_path),
            project_name="p",
            overwrite=True,
            **kwargs,
        )
        tuner.trained = []
        return tuner

    return make


@pytest.fixture
def chief_and_workers(tmp_path, monkeypatch):
    """A chief tuner and worker tuners in this process, talking over loopback gRPC."""
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(launch.free_port()))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    make = _score_tuner_class()

    def build(n_workers, **kwargs):
        chief = make(tmp_path, "chief", **kwargs)
        chief.save()
        oracle_file = tmp_path / "p" / "oracle.json"
        assert oracle_file.exists()
        workers = [make(tmp_path, f"worker{i}", **kwargs) for i in range(n_workers)]
        # Workers must not delete the chief's project, even with overwrite=True.
        assert oracle_file.exists()
        return chief, workers

    return build


def run_workers(workers):
    errors = []

    def search(worker):
        try:
            worker.search(verbose=0)
        except Exception as error:  # the chief failing surfaces here as a gRPC error
            errors.append(error)
        worker.finished_at = time.monotonic()

    threads = [threading.Thread(target=search, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    return threads, errors


def test_serve_hands_out_every_trial_once_and_returns_promptly(chief_and_workers, tmp_path):
    from keras_tuner_evolution import History, distribute

    chief, workers = chief_and_workers(2, max_trials=10, population_size=4, seed=3)
    threads, errors = run_workers(workers)
    distribute.serve(chief, verbose=0)
    returned = time.monotonic()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    trials = chief.oracle.trials
    assert len(trials) == 10
    assert all(t.status == "COMPLETED" for t in trials.values())
    trained = [tid for w in workers for tid in w.trained]
    assert sorted(trained) == sorted(trials)  # each trial trained once, by one worker
    values = {tuple(sorted(t.hyperparameters.values.items())) for t in trials.values()}
    assert len(values) == 10
    assert all(w.trained for w in workers)
    # History on the chief, and from disk for a worker.
    history = chief.history
    assert len(history.generations) >= 3
    on_disk = History.load(str(tmp_path), "p")
    assert on_disk.best == history.best
    assert workers[0].history.best == history.best
    # Keras Tuner's own server would linger up to 20 s after the last worker was stopped.
    assert returned - max(w.finished_at for w in workers) < 2.0


def test_serve_fails_the_chief_when_the_search_fails(chief_and_workers):
    from keras_tuner_evolution import distribute

    chief, workers = chief_and_workers(1, max_trials=10, max_consecutive_failed_trials=2)
    workers[0].fail = True
    threads, errors = run_workers(workers)
    with pytest.raises(distribute.SearchFailed, match="consecutive failures"):
        distribute.serve(chief, verbose=0)
    threads[0].join(timeout=30)
    assert errors and len(workers[0].trained) == 2


def test_progress_bar_counts_finished_trials_and_restores_the_display(chief_and_workers):
    from keras_tuner_evolution import distribute
    from keras_tuner_evolution.progress import OracleProgress

    chief, workers = chief_and_workers(1, max_trials=6, population_size=3, seed=5)
    chief.oracle.verbose = 1
    threads, errors = run_workers(workers)
    distribute.serve(chief, verbose=0)
    threads[0].join(timeout=30)
    chief.oracle.verbose = 1
    stream = io.StringIO()
    bar = OracleProgress(chief.oracle, distribute.snapshot, stream=stream)
    assert chief.oracle.verbose == 0  # Keras Tuner's per-trial lines would break the bar
    bar.update()
    assert (bar.progress.done, bar.progress.total) == (6, 6)
    state = distribute.snapshot(chief.oracle)
    assert state["running"] == 0 and state["best"] == chief.history.fittest["fitness"]
    assert state["generation"] == chief.oracle.current_generation
    bar.close()
    assert chief.oracle.verbose == 1
    # The chief's bar is the search's one bar (`progress.SearchProgress`), drawn live.
    assert "Evolving population" in stream.getvalue() and "6/6" in stream.getvalue()
    assert "running=0" in stream.getvalue()


def test_launch_re_exports_the_distribute_package():
    from keras_tuner_evolution.distribute import command, devices, environment

    assert launch.Launcher is launcher_module.Launcher
    assert launch.assign_devices is devices.assign_devices
    assert launch.child_env is environment.child_env
    assert launch.main is command.main
    assert launch.STOP_GRACE_SECONDS == launcher_module.STOP_GRACE_SECONDS


def test_one_signal_handler_records_termination(monkeypatch):
    from keras_tuner_evolution.distribute.signals import Signals, signal_name

    before = signal.getsignal(signal.SIGTERM)
    with Signals((signal.SIGTERM,)) as signals:
        assert signals.first is None
        os.kill(os.getpid(), signal.SIGTERM)
        wait_for(lambda: signals.received, 5, "the signal")
    assert signals.first == signal.SIGTERM and signals.exit_status() == 143
    assert signal.getsignal(signal.SIGTERM) is before  # restored
    assert signal_name(signal.SIGHUP) == "SIGHUP"


# Real launches (TensorFlow in every process) ------------------------------------------------


def launch_command(workers: int, folder, *script_args: str, launcher_args=()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "keras_tuner_evolution",
        "launch",
        "--workers",
        str(workers),
        "--devices",
        "cpu",
        *launcher_args,
        SEARCH_SCRIPT,
        "--dir",
        str(folder),
        *script_args,
    ]


def launch_env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def events(folder) -> dict[str, list[dict]]:
    found = {}
    for name in sorted(os.listdir(folder / "events")):
        with open(folder / "events" / name) as handle:
            found[name.removesuffix(".jsonl")] = [json.loads(line) for line in handle]
    return found


def trained_by(folder) -> dict[str, list[str]]:
    return {
        tid: [e["trial"] for e in evs if e["event"] == "trial_end"]
        for tid, evs in events(folder).items()
    }


@pytest.mark.slow
def test_launch_two_workers_on_digits(tmp_path):
    from keras_tuner_evolution import History

    folder = tmp_path / "run"
    done = subprocess.run(
        launch_command(2, folder, "--trials", "6", "--population", "4"),
        env=launch_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the search finished" in done.stderr
    result = json.loads((folder / "result.json").read_text())
    assert len(result["trials"]) == 6
    assert all(t["status"] == "COMPLETED" for t in result["trials"].values())
    assert result["duplicates"] == 0
    trained = trained_by(folder)
    assert set(trained) == {"worker0", "worker1"}
    assert all(trained.values()), trained  # both workers trained trials
    assert sorted(trained["worker0"] + trained["worker1"]) == sorted(result["trials"])
    assert History.load(str(folder), "search").best == result["best"]


@pytest.mark.slow
def test_a_killed_worker_does_not_stop_the_search(tmp_path):
    folder = tmp_path / "run"
    process = subprocess.Popen(
        launch_command(2, folder, "--workload", "sleep", "--seconds", "2", "--trials", "8"),
        env=launch_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def worker0_trial():
            evs = events(folder).get("worker0", []) if (folder / "events").exists() else []
            return next((e for e in evs if e["event"] == "trial_begin"), None)

        wait_for(worker0_trial, 300, "worker0's first trial")
        killed = worker0_trial()
        os.kill(killed["pid"], signal.SIGKILL)  # mid-trial: it sleeps 2 s
        _, err = process.communicate(timeout=600)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    assert "worker0 died" in err
    result = json.loads((folder / "result.json").read_text())
    assert len(result["trials"]) == 8 and result["duplicates"] == 0
    assert all(t["status"] == "COMPLETED" for t in result["trials"].values())
    # The restarted worker0 got back the trial it was killed in, and finished it.
    begun = [e["trial"] for e in events(folder)["worker0"] if e["event"] == "trial_begin"]
    assert begun.count(killed["trial"]) == 2
    assert killed["trial"] in trained_by(folder)["worker0"]


@pytest.mark.slow
def test_the_chief_killed_then_relaunched_resumes(tmp_path):
    folder = tmp_path / "run"
    args = ("--workload", "sleep", "--seconds", "1", "--trials", "10")
    process = subprocess.Popen(
        launch_command(2, folder, *args),
        env=launch_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                (folder / "events").exists() and sum(map(len, trained_by(folder).values())) >= 3
            ),
            300,
            "three trials",
        )
        os.kill(int((folder / "pids" / "chief.pid").read_text()), signal.SIGKILL)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0 and "the chief failed" in err
    before = {tid for tids in trained_by(folder).values() for tid in tids}

    done = subprocess.run(
        launch_command(2, folder, *args, "--resume"),
        env=launch_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((folder / "result.json").read_text())
    assert len(result["trials"]) == 10 and result["duplicates"] == 0
    assert all(t["status"] == "COMPLETED" for t in result["trials"].values())
    assert before <= set(result["trials"])


def test_children_die_with_a_killed_launcher(tmp_path):
    # The launcher run from its file, as a plain script: it imports no TensorFlow (fast).
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import importlib.util, sys
            spec = importlib.util.spec_from_file_location("kte_launch", {launch.__file__!r})
            module = importlib.util.module_from_spec(spec)
            sys.modules["kte_launch"] = module
            spec.loader.exec_module(module)
            sys.exit(module.main(sys.argv[1:]))
            """
        )
    )
    folder = tmp_path / "run"
    folder.mkdir()
    script = tmp_path / "fake_search.py"
    script.write_text(FAKE_SEARCH)
    command = [sys.executable, str(driver), "--workers", "2", "--devices", "cpu"]
    process = subprocess.Popen(
        [*command, str(script), str(folder), "hang"], stdout=subprocess.DEVNULL
    )
    try:
        pid_files = [folder / f"{name}.pid" for name in ("chief", "worker0", "worker1")]
        wait_for(lambda: all(f.exists() and f.read_text() for f in pid_files), 60, "children")
        pids = [int(f.read_text()) for f in pid_files]
        process.kill()  # SIGKILL: the launcher cannot stop anyone itself
        process.wait(timeout=30)
    finally:
        process.kill()
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the children to end")


@pytest.mark.slow
def test_sigterm_on_the_launcher_leaves_no_child(tmp_path):
    folder = tmp_path / "run"
    process = subprocess.Popen(
        launch_command(2, folder, "--workload", "sleep", "--seconds", "30"),
        env=launch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        names = ("chief", "worker0", "worker1")
        pid_files = [folder / "pids" / f"{name}.pid" for name in names]
        wait_for(lambda: all(f.exists() for f in pid_files), 300, "the children")
        pids = [int(f.read_text()) for f in pid_files]
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        process.kill()
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the children to end")


@pytest.mark.slow
def test_launch_evolutionary_hyperband_promotes_across_workers(tmp_path):
    # 75 epochs of 0.3 s: long enough that a worker ready a few seconds before the other
    # cannot finish the whole search alone (with 0.02 s it sometimes did).
    folder = tmp_path / "run"
    done = subprocess.run(
        launch_command(
            2, folder, "--workload", "sleep", "--seconds", "0.3", "--hyperband", "9",
            "--trials", "60", "--population", "4",
        ),
        env=launch_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((folder / "result.json").read_text())
    trials = result["trials"]
    values = {tid: trial["values"] for tid, trial in trials.items()}
    fresh = [v for v in values.values() if "tuner/trial_id" not in v]
    promoted = [v for v in values.values() if "tuner/trial_id" in v]
    assert promoted and fresh
    for v in promoted:  # each continues a completed trial, one rung lower
        earlier = values[v["tuner/trial_id"]]
        assert earlier["tuner/epochs"] == v["tuner/initial_epoch"]
        assert trials[v["tuner/trial_id"]]["status"] == "COMPLETED"
    configs = [
        json.dumps({k: x for k, x in v.items() if not k.startswith("tuner/")}) for v in fresh
    ]
    assert len(set(configs)) == len(configs)  # no configuration trained twice from scratch
    trained = trained_by(folder)
    assert all(trained.values()) and set(trained) == {"worker0", "worker1"}
