"""Tests for `kte show` (keras_tuner_evolution.show): a project folder from the shell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import keras_tuner as kt
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution import cli
from keras_tuner_evolution.show import ProjectError, read_project, resolve, summarise
from keras_tuner_evolution.show.command import duration, format_summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG = b"\x89PNG\r\n\x1a\n"


def _space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("x", -5.0, 5.0)
    hp.Int("n", 1, 10)
    return hp


def _fitness(hp) -> float:
    return -((hp["x"] - 1) ** 2) - abs(hp["n"] - 7)


@pytest.fixture(scope="module")
def evolution_project(tmp_path_factory) -> str:
    """A finished kte.maximize search (FunctionTuner) of 4 generations of 5."""
    folder = tmp_path_factory.mktemp("show")
    history = kte.maximize(
        _fitness,
        _space(),
        max_trials=None,
        generations=4,
        population_size=5,
        seed=3,
        directory=str(folder),
        project_name="fn",
    )
    assert history.stop_reason == "max_trials"  # the budget the generations give
    return str(folder / "fn")


class _FunctionTrialTuner(kt.Tuner):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -5.0, 5.0)
        return {"loss": (x - 1) ** 2, "accuracy": 1 / (1 + abs(x))}


@pytest.fixture(scope="module")
def random_search_project(tmp_path_factory) -> str:
    """A project of Keras Tuner's RandomSearch oracle, minimising `loss`."""
    folder = tmp_path_factory.mktemp("rs")
    tuner = _FunctionTrialTuner(
        oracle=kt.oracles.RandomSearchOracle(
            objective=kt.Objective("loss", "min"), max_trials=7, seed=2
        ),
        directory=str(folder),
        project_name="rs",
    )
    tuner.search()
    return str(folder / "rs")


def _show(capsys, *argv):
    code = cli.main(["show", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def _copy(project: str, tmp_path) -> str:
    target = tmp_path / os.path.basename(project)
    shutil.copytree(project, target)
    return str(target)


def _rewrite(path: str, change) -> None:
    with open(path) as handle:
        data = json.load(handle)
    change(data)
    with open(path, "w") as handle:
        json.dump(data, handle)


# An evolution's project -------------------------------------------------------------------


def test_show_prints_generations_fittest_stop_reason_and_time(evolution_project, capsys):
    code, out, err = _show(capsys, evolution_project)
    assert code == 0, err
    history = kte.History.load(evolution_project)
    assert f"Project      {evolution_project}" in out
    assert "evolutionary search (population 5, elites 2, breeders 2 per generation)" in out
    assert "Objective    score (max)" in out
    assert "Status       stopped (max_trials): The search reached max_trials." in out
    assert "of search (summed over resumed sessions)" in out
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("generation")))
    assert lines[header].split() == [
        "generation", "members", "completed", "running", "failures", "best", "mean",
    ]  # fmt: skip
    for generation, line in zip(history.generations, lines[header + 1 : header + 5]):
        cells = line.split()
        assert cells[:5] == [str(generation.index), "5", "5", "0", "0"]
        assert float(cells[5]) == pytest.approx(max(generation.completed_scores), rel=1e-5)
        assert float(cells[6]) == pytest.approx(generation.mean, rel=1e-5)
    fittest = history.fittest
    assert f"Fittest: trial {fittest['trial_id']} (generation " in out
    assert f"score {fittest['fitness']:.6g})" in out
    assert "Best 5 trial(s), best first:" in out


def test_json_output_matches_the_history_and_oracle(evolution_project, capsys):
    code, out, _ = _show(capsys, evolution_project, "--json", "--top", "3")
    assert code == 0
    data = json.loads(out)
    history = kte.History.load(evolution_project)
    with open(os.path.join(evolution_project, "oracle.json")) as handle:
        state = json.load(handle)["evolution"]
    assert data["kind"] == "evolution" and data["stop_reason"] == "max_trials"
    assert data["search_seconds"] == state["search_seconds"] > 0
    assert data["population"] == {"population_size": 5, "elites": state["elites"],
                                  "breeders": state["breeders"]}  # fmt: skip
    assert [g["best"] for g in data["generations"]] == history.best
    assert [g["mean"] for g in data["generations"]] == pytest.approx(history.mean)
    assert data["fittest"]["trial_id"] == history.fittest["trial_id"]
    assert data["fittest"]["values"] == history.fittest["genome"]
    assert data["fittest"]["score"] == history.fittest["fitness"]
    scores = [t["score"] for t in data["best_trials"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert data["trials"] == {"COMPLETED": len(history.scores)}
    assert data["plots"] == []


def test_the_project_can_be_named_three_ways(evolution_project, capsys):
    parent, name = os.path.split(evolution_project)
    outputs = [
        _show(capsys, evolution_project, "--json")[1],
        _show(capsys, "--directory", parent, "--project", name, "--json")[1],
        _show(capsys, parent, "--project", name, "--json")[1],
        _show(capsys, parent, "--json")[1],  # a folder holding one project (kte demo's output)
    ]
    folders = {json.loads(out)["folder"] for out in outputs}
    assert folders == {evolution_project}


def test_plot_writes_the_evolution_and_lineage_figures(evolution_project, tmp_path, capsys):
    figures = tmp_path / "figures" / "new"
    code, out, err = _show(capsys, evolution_project, "--plot", figures)
    assert code == 0, err
    for name in ("evolution.png", "lineage.png"):
        assert (figures / name).read_bytes()[:8] == PNG
        assert f"Wrote {figures / name}" in out


def test_show_changes_nothing_in_the_project(evolution_project, capsys):
    def snapshot():
        return {
            os.path.join(root, name): os.stat(os.path.join(root, name)).st_mtime_ns
            for root, _, names in os.walk(evolution_project)
            for name in names
        }

    before = snapshot()
    assert _show(capsys, evolution_project, "--json")[0] == 0
    assert snapshot() == before


# A running search, seen through its files -------------------------------------------------


def test_a_running_search_shows_running_failed_and_fresher_trial_scores(
    evolution_project, tmp_path, capsys
):
    project = _copy(evolution_project, tmp_path)
    history = kte.History.load(project)
    last = history.generations[-1].members
    fresh, running, failed = last[-1], last[-2], last[-3]
    trial_score = {}

    def lag(data):  # history.json lags: three members of the last generation have no score
        data["stop_reason"] = None
        for tid in (fresh, running, failed):
            data["generations"][-1]["scores"][data["generations"][-1]["members"].index(tid)] = None

    _rewrite(os.path.join(project, "history.json"), lag)
    _rewrite(
        os.path.join(project, "oracle.json"), lambda d: d["evolution"].update(stop_reason=None)
    )
    _rewrite(os.path.join(project, f"trial_{running}", "trial.json"),
             lambda d: d.update(status="RUNNING", score=None))  # fmt: skip
    _rewrite(os.path.join(project, f"trial_{failed}", "trial.json"),
             lambda d: d.update(status="FAILED", score=None))  # fmt: skip
    _rewrite(os.path.join(project, f"trial_{fresh}", "trial.json"),
             lambda d: trial_score.update(score=d["score"]))  # fmt: skip
    data = json.loads(_show(capsys, project, "--json")[1])
    row = data["generations"][-1]
    assert (row["completed"], row["running"], row["failures"]) == (3, 1, 1)
    assert data["trials"] == {"COMPLETED": len(history.scores) - 2, "FAILED": 1, "RUNNING": 1}
    assert data["stop_reason"] is None
    assert trial_score["score"] in [t["score"] for t in data["best_trials"]] or (
        trial_score["score"] < data["best_trials"][-1]["score"]
    )
    text = _show(capsys, project)[1]
    assert "Status       not stopped: running, or interrupted" in text


def test_a_search_that_has_not_written_its_history_yet(tmp_path, capsys):
    project = tmp_path / "early"
    project.mkdir()
    (project / "oracle.json").write_text(json.dumps({"evolution": {"search_seconds": 1.5}}))
    code, out, _ = _show(capsys, project)
    assert code == 0
    assert "No generation recorded yet." in out
    assert "Fittest: no trial has completed yet." in out
    assert "Time spent   1.5 s of search" in out


def test_a_file_being_rewritten_is_retried_and_a_damaged_one_reported(
    evolution_project, tmp_path, capsys
):
    project = _copy(evolution_project, tmp_path)
    oracle = os.path.join(project, "oracle.json")
    text = open(oracle).read()
    with open(oracle, "w") as handle:
        handle.write(text[: len(text) // 2])  # half written, as Keras Tuner writes in place
    timer = threading.Timer(0.15, lambda: open(oracle, "w").write(text))
    timer.start()
    try:
        code, out, err = _show(capsys, project)
    finally:
        timer.join()
    assert code == 0, err
    with open(os.path.join(project, "trial_00", "trial.json"), "w") as handle:
        handle.write('{"trial_id": "00", "hyperpar')
    code, out, _ = _show(capsys, project)
    assert code == 0
    assert "Could not read 1 trial file(s) (being written, or damaged): trial_00/trial.json" in out
    with open(oracle, "w") as handle:
        handle.write("{")
    code, _, err = _show(capsys, project)
    assert code == 1
    assert f"kte show: error: cannot read {oracle}: JSONDecodeError" in err


@pytest.mark.slow
def test_show_during_a_live_search(tmp_path, capsys):
    script = textwrap.dedent(
        f"""
        import time, keras_tuner as kt, keras_tuner_evolution as kte
        hp = kt.HyperParameters(); hp.Float("x", -5.0, 5.0); hp.Int("n", 1, 10)
        def f(hp):
            time.sleep(0.05)
            return -((hp["x"] - 1) ** 2) - abs(hp["n"] - 7)
        kte.maximize(f, hp, max_trials=80, population_size=8, seed=1,
                     directory={str(tmp_path)!r}, project_name="live")
        """
    )
    search = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    )
    project = tmp_path / "live"
    seen = []
    try:
        while search.poll() is None:
            if (project / "oracle.json").exists():
                code, out, err = _show(capsys, project, "--json")
                assert code == 0, err
                seen.append(json.loads(out)["trials"].get("COMPLETED", 0))
            time.sleep(0.1)
    finally:
        search.wait(timeout=120)
    assert search.returncode == 0
    assert len(seen) >= 3 and seen == sorted(seen) and seen[0] < 80
    final = json.loads(_show(capsys, project, "--json")[1])
    assert final["trials"] == {"COMPLETED": 80} and final["stop_reason"] == "max_trials"


# Another tuner's project ------------------------------------------------------------------


def test_another_tuners_project_shows_its_best_trials(random_search_project, capsys):
    code, out, err = _show(capsys, random_search_project, "--top", "3")
    assert code == 0, err
    assert "Keras Tuner project of another tuner" in out
    assert "Objective    loss (min)" in out  # told from the trials' metrics
    assert "Trials       7 completed" in out
    assert "generation  members" not in out
    data = json.loads(_show(capsys, random_search_project, "--json", "--top", "7")[1])
    scores = [t["score"] for t in data["best_trials"]]
    assert scores == sorted(scores) and len(scores) == 7  # lower loss first
    assert data["fittest"] == data["best_trials"][0]
    assert data["search_seconds"] is None and data["stop_reason"] is None
    assert abs(data["fittest"]["values"]["x"] - 1) == min(abs(t["values"]["x"] - 1)
                                                          for t in data["best_trials"])  # fmt: skip


def test_another_tuners_project_plots_its_trials(random_search_project, tmp_path, capsys):
    code, out, _ = _show(capsys, random_search_project, "--plot", tmp_path)
    assert code == 0
    assert (tmp_path / "trials.png").read_bytes()[:8] == PNG
    assert not (tmp_path / "evolution.png").exists()


def test_the_direction_can_be_given_when_it_cannot_be_told(random_search_project, tmp_path):
    project = _copy(random_search_project, tmp_path)
    for name in os.listdir(project):  # a score that matches no metric: a multi-objective sum
        if name.startswith("trial_"):
            _rewrite(os.path.join(project, name, "trial.json"),
                     lambda d: d.update(score=d["score"] + 100))  # fmt: skip
    files = read_project(project)
    inferred = summarise(files, top=7)
    assert (inferred.objective, inferred.direction) == ("multi_objective", "min")
    given = summarise(files, top=7, direction="max")
    scores = [t["score"] for t in given.best_trials]
    assert scores == sorted(scores, reverse=True)


def test_hyperband_trials_rank_by_epochs_first(tmp_path):
    project = tmp_path / "hb"
    for tid, epochs, loss in (("0", 2, 0.1), ("1", 8, 0.5), ("2", 8, 0.3)):
        (project / f"trial_{tid}").mkdir(parents=True)
        trial = {
            "trial_id": tid, "status": "COMPLETED", "score": loss, "best_step": 0,
            "hyperparameters": {"values": {"units": 8, "tuner/epochs": epochs}},
            "metrics": {"metrics": {"val_loss": {"direction": "min",
                                                 "observations": [{"value": [loss], "step": 0}]}}},
        }  # fmt: skip
        (project / f"trial_{tid}" / "trial.json").write_text(json.dumps(trial))
    summary = summarise(read_project(str(project)), top=3)
    assert [t["trial_id"] for t in summary.best_trials] == ["2", "1", "0"]
    assert summary.fittest["epochs"] == 8
    assert "Fittest: trial 2 (8 epochs, val_loss 0.3)" in format_summary(summary)


# Bad input --------------------------------------------------------------------------------


def test_bad_input_exits_with_a_message_naming_it(evolution_project, tmp_path, capsys):
    parent = os.path.dirname(evolution_project)
    code, _, err = _show(capsys)
    assert code == 2 and "kte show PROJECT_DIR, or --directory DIR --project NAME" in err
    code, _, err = _show(capsys, parent, "--directory", parent)
    assert code == 2 and "give PROJECT_DIR or --directory, not both" in err
    code, _, err = _show(capsys, evolution_project, "--top", "-1")
    assert code == 2 and "--top" in err and "must be at least 0" in err
    code, _, err = _show(capsys, evolution_project, "--direction", "up")
    assert code == 2 and "--direction" in err and "'max', 'min'" in err
    code, _, err = _show(capsys, tmp_path / "nowhere")
    assert code == 1 and f"no such folder: {tmp_path / 'nowhere'}" in err
    (tmp_path / "empty").mkdir()
    code, _, err = _show(capsys, tmp_path / "empty")
    assert code == 1 and "is not a Keras Tuner project folder" in err


def test_a_folder_of_several_projects_asks_which(evolution_project, tmp_path):
    for name in ("b", "a"):
        shutil.copytree(evolution_project, tmp_path / name)
    with pytest.raises(ProjectError, match=r"holds 2 projects \(a, b\): name one with --project"):
        resolve(str(tmp_path))
    assert resolve(str(tmp_path), "b") == str(tmp_path / "b")


def test_summarise_checks_its_arguments(evolution_project):
    files = read_project(evolution_project)
    with pytest.raises(ValueError, match="direction must be 'max', 'min' or None; got 'up'"):
        summarise(files, direction="up")
    with pytest.raises(ValueError, match="top must be >= 0; got -1"):
        summarise(files, top=-1)


def test_durations_read_like_a_person_wrote_them():
    assert [duration(s) for s in (4.25, 187, 7500)] == ["4.2 s", "3 min 07 s", "2 h 05 min"]


def test_show_starts_without_tensorflow(evolution_project):
    code = (
        "import sys\nfrom keras_tuner_evolution import cli\n"
        f"assert cli.main(['show', {evolution_project!r}, '--json']) == 0\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'keras_tuner', 'matplotlib') "
        "if m in sys.modules]\nassert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
