"""The real-training benchmark: its Hyperband budget arithmetic, its report, a smoke run."""

from __future__ import annotations

import contextlib
import io
import json
import random

import keras_tuner
import pytest

from tests.helpers import load_script


def _drive_hyperband(directory, max_epochs: int, factor: int, iterations: int) -> dict:
    """Runs Keras Tuner's own HyperbandOracle to the end with random scores, no training."""
    from keras_tuner.oracles import HyperbandOracle

    hps = keras_tuner.HyperParameters()
    hps.Float("x", 0.0, 1.0)
    oracle = HyperbandOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_epochs=max_epochs,
        factor=factor,
        hyperband_iterations=iterations,
        seed=0,
        hyperparameters=hps,
    )
    oracle._set_project_dir(str(directory), "hyperband")  # as a Tuner does
    scores = random.Random(0)
    epochs = trials = 0
    configurations = set()
    with contextlib.redirect_stdout(io.StringIO()):
        while True:
            trial = oracle.create_trial("worker")
            if trial.status != "RUNNING":
                break
            values = trial.hyperparameters.values
            epochs += values["tuner/epochs"] - values["tuner/initial_epoch"]
            trials += 1
            configurations.add(values["x"])
            oracle.update_trial(trial.trial_id, {"score": scores.random()})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    return {"epochs": epochs, "trials": trials, "configurations": len(configurations)}


@pytest.mark.parametrize(
    "max_epochs, factor, iterations", [(8, 4, 1), (8, 3, 1), (2, 2, 1), (4, 3, 2), (5, 2, 1)]
)
def test_hyperband_schedule_matches_keras_tuner(tmp_path, max_epochs, factor, iterations):
    real_training = load_script("benchmarks", "real_training")
    schedule = real_training.hyperband_schedule(max_epochs, factor, iterations)
    driven = _drive_hyperband(tmp_path, max_epochs, factor, iterations)
    assert {key: schedule[key] for key in driven} == driven


def test_hyperband_settings_spend_the_epoch_budget():
    real_training = load_script("benchmarks", "real_training")
    for trials, epochs in [(24, 2), (6, 1), (50, 3)]:
        budget = trials * epochs
        chosen = real_training.hyperband_settings(budget, slack=epochs)
        assert budget - 0.2 * budget <= chosen["epochs"] <= budget + epochs
        assert chosen["brackets"] >= 2
    assert real_training.hyperband_settings(48, slack=2)["epochs"] == 48


def test_report_is_rewritten_from_raw_results(tmp_path, capsys):
    real_training = load_script("benchmarks", "real_training")
    rows = []
    for seed, scores in [(1, (0.95, 0.94, 0.94, 0.96)), (2, (0.93, 0.93, 0.90, 0.92))]:
        for method, best in zip(real_training.METHODS, scores):
            row = {"method": method, "seed": seed, "best": best, "seconds": 10.0 + seed}
            row |= {"epochs": 6, "trials": 6, "completed": 6, "configurations": 5}
            row |= {"duplicates": 1 if method == "bayesian" else 0}
            row |= {"population_size": 4} if method == "evolution" else {}
            row |= {"initial_points": 45, "dimensions": 15} if method == "bayesian" else {}
            if method in ("random", "bayesian"):  # the same configurations on seed 1 only
                row["config_digest"] = "same" if seed == 1 else method
            rows.append(row)
    raw = {
        "command": "python benchmarks/real_training.py --quick",
        "seconds": 120.0,
        "written": "2026-01-01 00:00 UTC",
        "args": {"trials": 6, "epochs": 1, "seeds": [1, 2], "methods": list(real_training.METHODS),
                 "workers": 1, "bo_initial_points": None, "hb_max_epochs": 2, "hb_factor": 2,
                 "hb_iterations": 1,
                 "hb_schedule": real_training.hyperband_schedule(2, 2, 1)},
    }  # fmt: skip
    raw["rows"] = rows
    (tmp_path / "rt.json").write_text(json.dumps(raw))
    assert real_training.main(["--reuse", "--output", str(tmp_path / "rt.md")]) == 0
    text = (tmp_path / "rt.md").read_text()
    assert "| 1 | 0.9500 | 0.9400 | 0.9400 | 0.9600 | hyperband |" in text
    assert "| 2 | 0.9300 | 0.9300 | 0.9000 | 0.9200 | evolution = random |" in text
    # Medians over 2 seeds. Evolution vs random: better on seed 1, tied on seed 2.
    assert "| evolution | 0.9400 | 12 | 1.00 | 6 | 6 | 5 | 0 | - |" in text
    assert "| random | 0.9350 | 12 | 1.00 | 6 | 6 | 5 | 0 | 1 / 1 / 0 |" in text
    assert "| bayesian | 0.9200 | 12 | 1.00 | 6 | 6 | 5 | 2 | 2 / 0 / 0 |" in text
    assert "| hyperband | 0.9400 | 12 | 1.00 | 6 | 6 | 5 | 0 | 1 / 0 / 1 |" in text
    assert "`bayesian` is a rerun of `random`" in text
    assert "Same configurations in this run: 1 of 2 seeds." in text
    capsys.readouterr()


def _random_configurations(oracle_class, hps, seed: int, directory, n: int) -> list[dict]:
    oracle = oracle_class(
        objective=keras_tuner.Objective("val_accuracy", "max"),
        max_trials=n,
        seed=seed,
        hyperparameters=hps.copy(),
    )
    oracle._set_project_dir(str(directory), f"{oracle_class.__name__}-{seed}")
    configurations = []
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(n):
            trial = oracle.create_trial("worker")
            configurations.append(dict(trial.hyperparameters.values))
            oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    return configurations


def test_default_bayesian_optimization_repeats_random_search(tmp_path):
    # What the report says of `bayesian` when num_initial_points >= trials: on the default
    # DenseHyperModel space, Keras Tuner's BO draws RandomSearch's configurations, in order.
    import numpy as np

    from keras_tuner_evolution.hypermodels import DenseHyperModel

    x = np.zeros((20, 64), dtype="float32")
    hps = keras_tuner.HyperParameters()
    DenseHyperModel.from_data(x, np.arange(20) % 10).build(hps)
    assert 3 * len(hps.space) >= 24  # the default initial points cover the benchmark's budget
    for seed in (1, 2):
        random_search = _random_configurations(
            keras_tuner.oracles.RandomSearchOracle, hps, seed, tmp_path, 8
        )
        bayesian = _random_configurations(
            keras_tuner.oracles.BayesianOptimizationOracle, hps, seed, tmp_path, 8
        )
        assert bayesian == random_search
        assert len({json.dumps(c, sort_keys=True) for c in random_search}) == 8


@pytest.mark.slow
def test_real_training_quick(tmp_path, capsys):
    real_training = load_script("benchmarks", "real_training")
    output = tmp_path / "rt.md"
    methods = ("evolution", "random", "hyperband")
    args = ["--quick", "--seeds", "1", "--workers", "3", "--methods", ",".join(methods)]
    status = real_training.main([*args, "--output", str(output)])
    assert status == 0
    text = output.read_text()
    summary = text.split("## Summary")[1].split("\n\n")[1].splitlines()[2:]
    assert [line.split(" | ")[0].strip("| ") for line in summary] == list(methods)
    for line in summary:
        assert 0.0 < float(line.split(" | ")[1]) <= 1.0, line
    raw = json.loads((tmp_path / "rt.json").read_text())
    assert {row["method"] for row in raw["rows"]} == set(methods)
    for row in raw["rows"]:
        assert 0.0 < row["best"] <= 1.0
        assert row["epochs"] == (7 if row["method"] == "hyperband" else 6), row
    capsys.readouterr()
