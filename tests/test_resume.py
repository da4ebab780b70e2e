"""Resume after the process is killed mid-search (SIGKILL), with `overwrite=False`."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from keras_tuner_evolution import History

pytestmark = pytest.mark.slow  # each run starts a Python process that imports TensorFlow

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    sys.path.insert(0, {root!r})
    import keras_tuner as kt
    from keras_tuner_evolution.oracle import EvolutionaryOracle
    from keras_tuner_evolution.functions import FunctionTuner
    from tests.helpers import mixed_score, mixed_space

    directory, kill_at = sys.argv[1], int(sys.argv[2])
    log = os.path.join(directory, "calls.jsonl")

    def function(hp):
        with open(log, "a") as handle:
            handle.write(json.dumps(hp.values) + "\\n")
        calls = sum(1 for _ in open(log))
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # dies mid-trial, nothing cleaned up
        return mixed_score(hp)

    oracle = EvolutionaryOracle(objective=kt.Objective("score", "max"), max_trials=30,
                                population_size=8, seed=11, hyperparameters=mixed_space())
    tuner = FunctionTuner(function, oracle, directory=directory, project_name="resume",
                          overwrite=False)
    tuner.search(verbose=0)
    print("GENERATIONS", len(oracle.history.generations))
    """
)


def run(directory, kill_at):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(directory, "search.py")
    with open(script, "w") as handle:
        handle.write(SCRIPT.format(root=root))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, script, directory, str(kill_at)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_killed_search_resumes_without_losing_or_repeating_trials(tmp_path):
    directory = str(tmp_path)
    # Killed twice: in generation 0 and in a later generation, each time mid-trial.
    for kill_at in (5, 17):
        result = run(directory, kill_at)
        assert result.returncode == -9, result.stderr[-2000:]
        partial = History.load(directory, "resume")
        assert partial.generations
    result = run(directory, 0)
    assert result.returncode == 0, result.stderr[-2000:]

    calls = [json.loads(line) for line in open(os.path.join(directory, "calls.jsonl"))]
    keys = [json.dumps(call, sort_keys=True) for call in calls]
    # 30 trials; each killed trial was run again once (it never completed): 32 calls.
    assert len(calls) == 32
    assert len(set(keys)) == 30
    assert keys[4] == keys[5] and keys[16] == keys[17]  # the killed trials, rerun at resume

    history = History.load(directory, "resume")
    assert history.stop_reason == "max_trials"
    completed = history.scores
    assert len(completed) == 30
    assert [g.index for g in history.generations] == list(range(len(history.generations)))
    # The population continued: 8 random, then 6 children + 2 elites (30% of 8) per
    # generation; the last one stops at 30 trials: 2 elites + 4 children.
    assert [len(g.members) for g in history.generations] == [8, 8, 8, 8, 2 + 4]


def test_resumed_search_equals_an_uninterrupted_one(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    killed.mkdir()
    clean.mkdir()
    assert run(str(killed), 12).returncode == -9
    assert run(str(killed), 0).returncode == 0
    assert run(str(clean), 0).returncode == 0
    a = History.load(str(killed), "resume")
    b = History.load(str(clean), "resume")
    assert a.genomes == b.genomes
    assert [g.members for g in a.generations] == [g.members for g in b.generations]
