"""The progress bar of a search: trials, generation and best score; quiet with verbose=0."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import keras_tuner as kt
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution.progress import SearchProgress
from tests.helpers import mixed_score, mixed_space


class ScoreTuner(kte.EvolutionaryTuner):
    def run_trial(self, trial, *args, **kwargs):
        return {"score": mixed_score(trial.hyperparameters)}


def search(tmp_path, verbose, overwrite=True, **kwargs):
    tuner = ScoreTuner(
        objective=kt.Objective("score", "max"),
        hyperparameters=mixed_space(),
        population_size=4,
        seed=2,
        directory=str(tmp_path),
        project_name="p",
        overwrite=overwrite,
        **kwargs,
    )
    tuner.search(verbose=verbose)
    return tuner


def progress_lines(text):
    return [line for line in text.splitlines() if line.startswith("Evolving population")]


def test_in_a_log_one_line_per_generation_with_the_best_so_far(tmp_path, capsys):
    tuner = search(tmp_path, verbose=1, generations=3)  # 4 + 3 + 3 trials
    lines = progress_lines(capsys.readouterr().err)
    history = tuner.history
    assert len(history.generations) == 3
    assert len(lines) == 3, lines  # stderr is not a terminal under pytest: plain lines
    for line, done, generation in zip(lines, (4, 7, 10), (1, 2, 3)):
        assert f" {done}/10 " in line and f"generation={generation}/3" in line, line
        assert "\r" not in line
    best = float(re.search(r"best=(\S+?)[,\]]", lines[-1]).group(1))
    assert best == pytest.approx(history.fittest["fitness"], rel=1e-3)


def test_verbose_0_is_quiet(tmp_path, capsys):
    search(tmp_path, verbose=0, max_trials=6)
    captured = capsys.readouterr()
    assert "Evolving population" not in captured.err + captured.out


def test_a_resumed_search_counts_from_the_trials_already_done(tmp_path, capsys):
    search(tmp_path, verbose=0, max_trials=6)
    search(tmp_path, verbose=1, overwrite=False, max_trials=10)
    lines = progress_lines(capsys.readouterr().err)
    assert lines and "10/10" in lines[-1]
    assert not any(" 0/10 " in line for line in lines)


def test_a_live_bar_in_a_terminal():
    stream = io.StringIO()
    progress = SearchProgress(total=30, generations=6, stream=stream, live=True)
    progress.update(0, generation=0)
    progress.update(12, generation=2, best=0.91234)
    progress.close()
    text = stream.getvalue()
    assert "\r" in text  # redrawn in place
    assert "Evolving population" in text and "12/30" in text
    assert "generation=3/6" in text and "best=0.9123" in text


def test_without_limits_the_bar_counts_without_a_total():
    stream = io.StringIO()
    progress = SearchProgress(total=None, stream=stream, live=False)
    progress.update(3, generation=0, best=-2.5)
    progress.update(5, generation=1, best=-1.0)
    progress.close()
    lines = progress_lines(stream.getvalue())
    assert len(lines) == 2
    assert "3trial" in lines[0].replace(" ", "") and "generation=1," in lines[0]
    assert "best=-2.5" in lines[0] and "best=-1" in lines[1]


def test_workers_of_a_distributed_search_show_no_bar(monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker0")
    oracle = SimpleNamespace(objective=kt.Objective("score", "max"), max_trials=10)
    progress = SearchProgress.for_tuner(SimpleNamespace(oracle=oracle))
    assert not progress.enabled
    monkeypatch.delenv("KERASTUNER_ORACLE_IP")
    oracle.verbose = 1
    assert SearchProgress.for_tuner(SimpleNamespace(oracle=oracle)).enabled


def test_maximize_shows_the_same_progress(capsys):
    history = kte.maximize(
        mixed_score, mixed_space(), max_trials=8, population_size=4, seed=3, verbose=1
    )
    lines = progress_lines(capsys.readouterr().err)
    # Generations of 4, 3 (one elite carried over) and the first trial of the third.
    assert len(lines) == 3, lines
    assert " 8/8 " in lines[-1] and "generation=3" in lines[-1]
    best = float(re.search(r"best=(\S+?)[,\]]", lines[-1]).group(1))
    assert best == pytest.approx(history.fittest["fitness"], rel=1e-3)
    kte.maximize(mixed_score, mixed_space(), max_trials=4, seed=3, verbose=0)
    assert not progress_lines(capsys.readouterr().err)
