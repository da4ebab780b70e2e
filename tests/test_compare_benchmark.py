"""The comparison benchmark runs end to end and reports what it measured."""

from __future__ import annotations

import json
import os
import re
import sys

import keras_tuner as kt
import numpy as np
import pytest

from tests.helpers import ROOT, load_script


def load_compare():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))  # compare.py imports its neighbours
    # Registered as "compare": the worker pool pickles its functions by module name.
    return load_script("benchmarks", "compare", module_name="compare")


def test_compare_quick_writes_table_plot_and_targets(tmp_path, monkeypatch):
    compare = load_compare()
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path))  # runs/ go to the temporary folder
    output = tmp_path / "quick"
    compare.main(
        [
            "--quick",
            "--first-seed",
            "5",
            "--methods",
            "evolution,random",
            "--problems",
            "int_rastrigin,grid_rosenbrock",
            "--workers",
            "1",
            "--output",
            str(output),
        ]
    )
    text = (tmp_path / "quick.md").read_text()
    assert "--trials 50 --seeds 3 --first-seed 5" in text and "3 seeds (5..7)" in text
    rows = [line for line in text.splitlines() if line.startswith("| EvolutionaryOracle |")]
    assert len(rows) == 3  # mean regret, mean ± std, median with ratio
    assert "(1.00x)" in text  # RandomSearch against itself in the ratio table
    assert "zero duplicate evaluations (0)" in text
    assert (tmp_path / "quick.png").stat().st_size > 10_000
    # Held-out seeds keep their runs apart from the main seed range's.
    assert sorted(os.listdir(tmp_path / "runs-seed5")) == ["evolution.jsonl", "random.jsonl"]
    assert not os.path.exists(tmp_path / "runs")


def test_resume_runs_only_missing_runs_and_short_methods_are_paired_seed_by_seed(
    tmp_path, monkeypatch, capsys
):
    compare = load_compare()
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path))
    common = ["--quick", "--problems", "int_rastrigin", "--workers", "1"]
    compare.main([*common, "--methods", "evolution,random", "--output", str(tmp_path / "a")])
    store = tmp_path / "runs" / "random.jsonl"
    lines = store.read_text().splitlines()
    assert len(lines) == 3

    # A run lost (or never made): --resume runs that one only and keeps the others.
    store.write_text("\n".join(lines[:2]) + "\n")
    capsys.readouterr()
    compare.main([*common, "--methods", "random", "--resume", "--output", str(tmp_path / "b")])
    printed = re.findall(r"random +int_rastrigin seed (\d+): best", capsys.readouterr().out)
    assert printed == ["2"]

    def runs(texts):  # the timings of a rerun differ; what it found does not (seed 2)
        return sorted((r["seed"], r["scores"]) for r in map(json.loads, texts))

    assert runs(store.read_text().splitlines()) == runs(lines)

    # A method with fewer seeds is compared with the evolution on its own seeds, one by one
    # (seed 1: Keras Tuner's RandomSearch takes seed 0 for "no seed").
    store.write_text(lines[1] + "\n")
    compare.main([*common, "--methods", "", "--reuse", "--output", str(tmp_path / "c")])
    text = (tmp_path / "c.md").read_text()
    assert "| KT RandomSearch (1 seed) |" in text
    assert "## KT RandomSearch and the evolution, seed by seed (regret at 50 trials)" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 | "))
    evolution, random = (float(x) for x in row.split("|")[2].split("/"))
    assert 0 <= evolution < random  # the evolution wins this seed (seeded, deterministic)


def test_a_method_cut_short_is_labelled_with_its_seed_counts():
    compare = load_compare()
    assert compare.method_label("bayesian", [10, 10], 10) == "KT BayesianOptimization"
    assert compare.method_label("bayesian", [1, 1], 10) == "KT BayesianOptimization (1 seed)"
    assert compare.method_label("bayesian", [3, 3], 10) == "KT BayesianOptimization (3 seeds)"
    assert compare.method_label("bayesian", [10, 1, 3], 10) == (
        "KT BayesianOptimization (1 to 10 seeds)"
    )


@pytest.mark.parametrize(
    "kernel",
    ["matern", "matern_per_dimension", "rbf"],  # KT's kernel, and two that take the other path
)
def test_posterior_predict_returns_exactly_what_sklearn_predict_returns(kernel):
    """BO in the benchmark skips scikit-learn's input checks; its proposals must not change."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, Matern

    compare = load_compare()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(40, 5))
    y = 1e3 + 50 * np.sin(3 * x).sum(axis=1)  # offset and scaled, as KT's scores can be
    kernels = {
        "matern": Matern(length_scale=0.7, nu=2.5),
        "matern_per_dimension": Matern(length_scale=np.linspace(0.5, 1.5, 5), nu=2.5),
        "rbf": RBF(length_scale=0.7),
    }
    # Length scales fixed (optimizer=None) so that every query point is correlated with the
    # training points: a fit can shrink them until each prediction is the prior mean.
    gpr = GaussianProcessRegressor(
        kernel=kernels[kernel], optimizer=None, normalize_y=True, alpha=1e-4, random_state=0
    )
    fast = compare.posterior_predict(gpr)
    query = rng.uniform(0, 1, size=(1, 5))
    prior = fast(query, return_std=True)  # unfitted: the original answers
    np.testing.assert_array_equal(prior[1], gpr.predict(query, return_std=True)[1])
    gpr.fit(x, y)
    for point in list(rng.uniform(-0.5, 1.5, size=(50, 1, 5))) + [x[:1], x[3:4], x[:4]]:
        for got, want in zip(fast(point, return_std=True), gpr.predict(point, return_std=True)):
            assert got.shape == want.shape
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fast(x[:3]), gpr.predict(x[:3]))  # mean only: the original


def test_bayesian_runner_proposes_what_stock_keras_tuner_proposes():
    """The benchmark's BO (fast predict) and KT's own BO draw the same trials for a seed."""
    compare = load_compare()
    fast = compare.Recorder("int_rastrigin", 24)  # 18 random points, then 6 from the GP
    compare.run_bayesian(fast, 3, {})
    stock = compare.Recorder("int_rastrigin", 24)
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=compare.OBJECTIVE, hyperparameters=stock.space, max_trials=24, seed=3
    )
    compare._drive_oracle(oracle, stock)
    assert fast.scores == stock.scores
    assert len(set(fast.scores[18:])) > 1  # the GP's proposals, not one point repeated
