"""TensorBoard: the HParams dashboard and the evolution scalars, read back from a real server."""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import keras_tuner as kt
import pytest
import requests

import keras_tuner_evolution as kte
from keras_tuner_evolution import tensorboard as tbl
from tests.helpers import mixed_score, mixed_space

ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
FAILING_TRIAL = "03"


class ScoreTuner(kte.EvolutionaryTuner):
    """Trains nothing: a trial's metrics are `mixed_score` and a second metric."""

    def run_trial(self, trial, *args, **kwargs):
        if trial.trial_id == FAILING_TRIAL:
            raise RuntimeError("this trial fails on purpose")
        score = mixed_score(trial.hyperparameters)
        return {"score": score, "half": score / 2}


def run_score_search(tmp_path, logdir, max_trials=12, overwrite=True, **kwargs):
    tuner = ScoreTuner(
        objective=kt.Objective("score", "max"),
        hyperparameters=mixed_space(),
        max_trials=max_trials,
        population_size=4,
        seed=3,
        directory=str(tmp_path / "project"),
        project_name="p",
        overwrite=overwrite,
        tensorboard_dir=str(logdir),
        **kwargs,
    )
    tuner.search(verbose=0)
    return tuner


# A TensorBoard server and its HTTP data API ------------------------------------------------


@contextlib.contextmanager
def in_process_tensorboard(logdir):
    """A TensorBoard web server in this process (data loaded before it answers)."""
    from tensorboard import program

    servers = []

    def make_server(app, flags):
        servers.append(program.WerkzeugServer(app, flags))
        return servers[-1]

    board = program.TensorBoard(server_class=make_server)
    board.configure(
        argv=[
            None,
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast",
            "false",
            "--reload_interval",
            "0",
            "--reload_task",
            "blocking",
        ]
    )
    url = board.launch()
    try:
        yield url
    finally:
        servers[0].shutdown()
        servers[0].server_close()


@contextlib.contextmanager
def tensorboard_command(logdir, timeout=90.0):
    """The `tensorboard` command line program (fast Rust data loading) on a free port."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stderr], daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    url, seen = None, []
    try:
        while url is None:
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("TensorBoard did not start:\n" + "".join(seen))
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
                found = re.search(r"(http://127\.0\.0\.1:\d+/)", seen[-1])
                url = found.group(1) if found else None
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()
            process.wait()


def get_experiment(url):
    response = requests.post(
        url + "data/plugin/hparams/experiment", json={"experimentName": ""}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def get_sessions(url):
    request = {
        "experimentName": "",
        "allowedStatuses": ALL_STATUSES,
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 10_000,
    }
    response = requests.post(url + "data/plugin/hparams/session_groups", json=request, timeout=30)
    response.raise_for_status()
    groups = response.json().get("sessionGroups", [])
    return {group["name"]: group for group in groups}


def get_scalars(url, run, tag):
    response = requests.get(
        url + "data/plugin/scalars/scalars", params={"run": run, "tag": tag}, timeout=30
    )
    response.raise_for_status()
    return {step: value for _, step, value in response.json()}


def wait_for(fetch, ready, timeout=60.0):
    """Polls `fetch()` until `ready(result)` (a server loading its data in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ready(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def metric_values(group):
    return {m["name"]["tag"]: m["value"] for m in group.get("metricValues", [])}


# What a finished search must show -----------------------------------------------------------


def assert_dashboard(url, tuner, metrics):
    """Experiment config, one session per trial and the evolution scalars, checked in full."""
    oracle, history = tuner.oracle, tuner.history
    experiment = get_experiment(url)
    infos = {info["name"]: info for info in experiment["hparamInfos"]}
    space = oracle.get_space()
    for hp in space.space:
        info = infos[hp.name]
        if isinstance(hp, kt.engine.hyperparameters.Boolean):
            assert info["type"] == "DATA_TYPE_BOOL"
            assert sorted(info["domainDiscrete"]) == [False, True]
        elif isinstance(hp, kt.engine.hyperparameters.Choice):
            assert info["domainDiscrete"] == list(hp.values)
        else:
            assert info["type"] == "DATA_TYPE_FLOAT64"
            assert info["domainInterval"]["minValue"] == pytest.approx(hp.min_value)
            assert info["domainInterval"]["maxValue"] == pytest.approx(hp.max_value)
    assert {"generation", "origin", "parents", "mutated"} <= set(infos)
    origins = ["random", "child", "initial", "warm_start", "promoted"]
    assert infos["origin"]["domainDiscrete"] == origins
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == metrics

    sessions = wait_for(lambda: get_sessions(url), lambda s: len(s) >= len(oracle.trials))
    assert set(sessions) == set(oracle.trials)  # one session per trial, named by its id
    for trial_id, trial in oracle.trials.items():
        group = sessions[trial_id]
        (session,) = group["sessions"]
        hparams = group["hparams"]
        for name, value in trial.hyperparameters.values.items():
            expected = value if isinstance(value, (bool, str)) else pytest.approx(value)
            assert hparams[name] == expected, (trial_id, name)
        record = history.lineage[trial_id]
        assert hparams["generation"] == record["generation"]
        assert hparams["parents"] == ",".join(record["parents"])
        assert hparams["origin"] == record["origin"]
        if trial.status == "COMPLETED":
            assert session["status"] == "STATUS_SUCCESS"
            values = metric_values(group)
            assert set(values) == set(metrics)
            for name in metrics:
                reported = trial.metrics.get_last_value(name)
                assert values[name] == pytest.approx(reported, rel=1e-5, abs=1e-6)
        else:
            assert session["status"] == "STATUS_FAILURE"
            assert metric_values(group) == {}

    best = get_scalars(url, "evolution", tbl.TAG_BEST)
    mean = get_scalars(url, "evolution", tbl.TAG_MEAN)
    std = get_scalars(url, "evolution", tbl.TAG_STD)
    diversity = get_scalars(url, "evolution", tbl.TAG_DIVERSITY)
    indices = [g.index for g in history.generations if g.completed_scores]
    assert sorted(best) == sorted(mean) == sorted(std) == sorted(diversity) == indices
    for generation, b, m, s in zip(history.generations, history.best, history.mean, history.std):
        assert best[generation.index] == pytest.approx(b, rel=1e-5, abs=1e-6)
        assert mean[generation.index] == pytest.approx(m, rel=1e-5, abs=1e-6)
        assert std[generation.index] == pytest.approx(s, rel=1e-5, abs=1e-6)
        assert 0.0 <= diversity[generation.index] <= 1.0
    return sessions


# Tests ----------------------------------------------------------------------------------------


def test_hparams_dashboard_has_every_trial_with_domains_lineage_and_metrics(tmp_path):
    logdir = tmp_path / "logs"
    tuner = run_score_search(tmp_path, logdir, max_consecutive_failed_trials=5)
    assert tuner.oracle.trials[FAILING_TRIAL].status == "FAILED"
    assert len(tuner.history.generations) >= 3
    with in_process_tensorboard(logdir) as url:
        sessions = assert_dashboard(url, tuner, metrics=["score", "half"])
    children = [g for g in sessions.values() if g["hparams"]["origin"] == "child"]
    assert children and all(g["hparams"]["parents"] for g in children)


def test_a_resumed_search_continues_its_logs_without_duplicates(tmp_path):
    logdir = tmp_path / "logs"
    run_score_search(tmp_path, logdir, max_trials=8)
    tuner = run_score_search(tmp_path, logdir, max_trials=16, overwrite=False)
    assert len(tuner.oracle.trials) == 16
    evolution = str(logdir / "evolution")
    steps = []
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    for path in glob.glob(os.path.join(evolution, "events.out.tfevents.*")):
        for event in EventFileLoader(path).Load():
            steps += [event.step for v in event.summary.value if v.tag == tbl.TAG_BEST]
    assert sorted(steps) == sorted(set(steps))  # each generation written once
    assert sorted(steps) == [g.index for g in tuner.history.generations if g.completed_scores]
    for trial_id in tuner.oracle.trials:
        assert len(glob.glob(str(logdir / trial_id / f"*{tbl.SESSION_SUFFIX}"))) == 1
    assert len(glob.glob(str(logdir / f"*{tbl.EXPERIMENT_SUFFIX}"))) == 1


def test_a_fresh_search_replaces_the_logs_of_an_earlier_one(tmp_path):
    logdir = tmp_path / "logs"
    run_score_search(tmp_path, logdir, max_trials=12)
    tuner = run_score_search(tmp_path, logdir, max_trials=6)  # overwrite=True
    sessions = {
        os.path.basename(os.path.dirname(p))
        for p in glob.glob(str(logdir / "*" / f"*{tbl.SESSION_SUFFIX}"))
    }
    assert sessions == set(tuner.oracle.trials)
    with in_process_tensorboard(logdir) as url:
        assert_dashboard(url, tuner, metrics=["score", "half"])


def test_domains_of_every_kind_of_hyperparameter():
    hp = kt.HyperParameters()
    hp.Int("layers", 1, 3)
    hp.Choice("units", [16, 32, 64])
    hp.Fixed("activation", "relu")
    hp.Boolean("generation")  # collides with a lineage field
    with hp.conditional_scope("layers", [2, 3]):
        hp.Float("dropout", 0.0, 0.4, step=0.2)
    names = tbl.lineage_names(h.name for h in hp.space)
    assert names["generation"] == "kte.generation" and names["parents"] == "parents"
    infos = {i.name: i for i in tbl.hparam_infos(hp, names, generations=5)}
    assert list(infos["units"].domain_discrete) == [16.0, 32.0, 64.0]
    assert list(infos["activation"].domain_discrete) == ["relu"]
    assert (
        infos["layers"].domain_interval.min_value,
        infos["layers"].domain_interval.max_value,
    ) == (1.0, 3.0)
    assert infos["dropout"].domain_interval.max_value == pytest.approx(0.4)
    assert list(infos["generation"].domain_discrete) == [False, True]
    assert infos["kte.generation"].domain_interval.max_value == 4.0
    # Tuned hyperparameters, generation and parents come first in the dashboard.
    assert {n for n, i in infos.items() if i.differs} == {
        "layers",
        "units",
        "generation",
        "dropout",
        "kte.generation",
        "parents",
    }


def test_population_diversity():
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd"])
    hp.Float("lr", 0.0, 1.0)
    same = {"optimizer": "adam", "lr": 0.5}
    assert tbl.population_diversity(hp, [same]) is None
    assert tbl.population_diversity(hp, [same, dict(same), dict(same)]) == 0.0
    other = {"optimizer": "sgd", "lr": 0.25}
    assert tbl.population_diversity(hp, [same, other]) == pytest.approx((1.0 + 0.25) / 2)
    # A gene active in one member only counts as fully different.
    assert tbl.population_diversity(hp, [same, {"optimizer": "adam"}]) == pytest.approx(0.5)


# Real training with a keras.callbacks.TensorBoard, and the command line server ------------------


def digits(n=200):
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))[:n]
    x, y = (x[order] / 16.0).astype("float32"), y[order]
    split = int(0.75 * n)
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_model(hp):
    import keras

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.get(
            {
                "class_name": hp.Choice("optimizer", ["adam", "rmsprop"]),
                "config": {"learning_rate": hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")},
            }
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def digits_search(tmp_path, logdir, max_trials=4, use_callback=True):
    import keras

    (x, y), validation = digits()
    keras.utils.set_random_seed(0)
    tuner = kte.EvolutionaryTuner(
        build_model,
        objective="val_accuracy",
        max_trials=max_trials,
        population_size=3,
        seed=1,
        directory=str(tmp_path / "project"),
        project_name="digits",
        overwrite=True,
        executions_per_trial=2 if use_callback else 1,
        tensorboard_dir=None if use_callback else str(logdir),
    )
    callbacks = [keras.callbacks.TensorBoard(str(logdir))] if use_callback else []
    tuner.search(
        x, y, validation_data=validation, epochs=2, batch_size=32, verbose=0, callbacks=callbacks
    )
    return tuner


@pytest.mark.slow
def test_keras_tensorboard_callback_gets_one_session_per_trial(tmp_path):
    logdir = tmp_path / "logs"
    tuner = digits_search(tmp_path, logdir)
    metrics = ["val_accuracy", "accuracy", "loss", "val_loss"]
    with in_process_tensorboard(logdir) as url:
        # Keras Tuner would add a session per execution; ours is one per trial, with lineage.
        assert_dashboard(url, tuner, metrics=metrics)
        for trial_id in tuner.oracle.trials:
            for execution in (0, 1):
                run = f"{trial_id}/execution{execution}/validation"
                assert len(get_scalars(url, run, "epoch_accuracy")) == 2  # per-epoch curves


@pytest.mark.slow
def test_tensorboard_command_line_serves_the_dashboard(tmp_path):
    logdir = tmp_path / "logs"
    tuner = digits_search(tmp_path, logdir, max_trials=4, use_callback=False)
    with tensorboard_command(logdir) as url:
        wait_for(lambda: get_experiment(url), lambda e: e.get("metricInfos"))
        wait_for(
            lambda: (
                get_scalars(url, "evolution", tbl.TAG_DIVERSITY)
                if requests.get(url + "data/plugin/scalars/tags", timeout=30)
                .json()
                .get("evolution")
                else {}
            ),
            lambda s: len(s) >= 1,
        )
        assert_dashboard(url, tuner, metrics=["val_accuracy", "accuracy", "loss", "val_loss"])


# A screenshot of the HParams table in a real browser (opt-in) ---------------------------------

DOCS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs")


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("KTE_SCREENSHOT"), reason="set KTE_SCREENSHOT=1")
@pytest.mark.skipif(not chromium(), reason="needs chromium (apt-get install chromium)")
def test_screenshot_of_the_hparams_table(tmp_path):
    """Saves docs/hparams.png (and docs/lineage.png) for the README."""
    logdir = tmp_path / "logs"
    tuner = digits_search(tmp_path, logdir, max_trials=12, use_callback=False)
    target = os.path.join(DOCS, "hparams.png")
    os.makedirs(DOCS, exist_ok=True)
    with in_process_tensorboard(logdir) as url, tempfile.TemporaryDirectory() as profile:
        assert len(get_sessions(url)) == len(tuner.oracle.trials)
        shot = str(tmp_path / "hparams.png")
        subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--hide-scrollbars",
                "--virtual-time-budget=20000",
                "--window-size=1700,720",
                f"--screenshot={shot}",
                url + "#hparams",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    with open(shot, "rb") as handle:
        data = handle.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page
    shutil.copyfile(shot, target)
    tuner.history.plot_lineage(path=os.path.join(DOCS, "lineage.png"))


class FlakyTuner(ScoreTuner):
    """The third trial fails at its first attempt and succeeds when Keras Tuner retries it."""

    attempts: dict = {}

    def run_trial(self, trial, *args, **kwargs):
        self.attempts[trial.trial_id] = self.attempts.get(trial.trial_id, 0) + 1
        if len(self.attempts) == 3 and self.attempts[trial.trial_id] == 1:
            raise RuntimeError("flaky")
        return {"score": mixed_score(trial.hyperparameters)}


def test_a_retried_trial_is_one_session_with_its_final_status(tmp_path):
    logdir = tmp_path / "logs"
    FlakyTuner.attempts = {}
    tuner = FlakyTuner(
        objective=kt.Objective("score", "max"),
        hyperparameters=mixed_space(),
        max_trials=6,
        population_size=4,
        seed=3,
        directory=str(tmp_path / "project"),
        project_name="p",
        overwrite=True,
        tensorboard_dir=str(logdir),
        max_retries_per_trial=1,
    )
    tuner.search(verbose=0)
    (flaky,) = [t for t, n in FlakyTuner.attempts.items() if n == 2]
    assert tuner.oracle.trials[flaky].status == "COMPLETED"
    assert len(glob.glob(str(logdir / flaky / f"*{tbl.SESSION_SUFFIX}"))) == 1
    with in_process_tensorboard(logdir) as url:
        sessions = get_sessions(url)
    assert set(sessions) == set(tuner.oracle.trials)
    (session,) = sessions[flaky]["sessions"]
    assert session["status"] == "STATUS_SUCCESS"


def test_the_old_module_re_exports_the_package_and_the_real_tensorboard_is_not_shadowed():
    import tensorboard
    from tensorboard.plugins.hparams import api_pb2

    from keras_tuner_evolution import tensorboard_logging
    from keras_tuner_evolution.tensorboard import hparams, writer

    assert "keras_tuner_evolution" not in tensorboard.__file__
    assert "keras_tuner_evolution" not in api_pb2.__file__
    for name in set(tbl.__all__) - {"plain_value"}:  # every name of 0.1.0
        assert getattr(tensorboard_logging, name) is getattr(tbl, name), name
    assert tensorboard_logging.TensorBoardLogger is writer.TensorBoardLogger
    assert tensorboard_logging.hparam_infos is hparams.hparam_infos


class PlainTuner(kt.RandomSearch):
    """A plain Keras Tuner tuner that makes its logger before it is built, as ours does."""

    def __init__(self, logdir, **kwargs):
        self.board = tbl.TensorBoardLogger(self)  # the tuner has no oracle yet
        self.logdir = logdir
        super().__init__(**kwargs)

    @property
    def history(self):
        return kte.History()  # a plain Keras Tuner oracle keeps no History

    def run_trial(self, trial, *args, **kwargs):
        return {"score": mixed_score(trial.hyperparameters)}

    def on_search_begin(self):
        super().on_search_begin()
        self.board.search_begin(self.logdir)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.board.trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.board.trial_end(trial)

    def on_search_end(self):
        super().on_search_end()
        self.board.search_end()


def test_the_logger_reads_the_tuner_only_when_its_hooks_run(tmp_path):
    logdir = tmp_path / "logs"
    tuner = PlainTuner(
        str(logdir),
        objective=kt.Objective("score", "max"),
        hyperparameters=mixed_space(),
        max_trials=3,
        seed=1,
        directory=str(tmp_path / "project"),
        project_name="p",
    )
    tuner.search(verbose=0)
    sessions = {os.path.basename(os.path.dirname(p)) for p in glob.glob(str(logdir / "*" / "*"))}
    assert sessions == set(tuner.oracle.trials) and len(sessions) == 3
    assert glob.glob(str(logdir / f"*{tbl.EXPERIMENT_SUFFIX}"))
