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
    # Mean regret, rank by budget, median at 25 and at 50, mean ± std, median with ratio.
    assert len(rows) == 6
    assert "| int_rastrigin @25 | int_rastrigin @50 | grid_rosenbrock @25 |" in text
    assert "## Mean rank by budget" in text and "| method | @25 | @50 |" in text
    assert "## Median regret at 25 trials (over seeds)" in text
    assert "| method | int_rastrigin | grid_rosenbrock | mean rank @25 |" in text
    assert "(1.00x)" in text  # RandomSearch against itself in the ratio table
    assert "zero duplicate evaluations (0)" in text
    assert "## Early targets (issue #15)" in text
    assert "budget from 50 trials on: first at" in text and "twice KT RandomSearch's" in text
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

    # --resume on another problem appends to the file and keeps this problem's runs.
    kept = store.read_text()
    compare.main(
        ["--quick", "--problems", "nas_cell", "--workers", "1", "--methods", "random"]
        + ["--resume", "--output", str(tmp_path / "d")]
    )
    text = store.read_text()
    assert text.startswith(kept)
    assert sorted((r["problem"], r["seed"]) for r in map(json.loads, text.splitlines())) == [
        *[("int_rastrigin", s) for s in range(3)],
        *[("nas_cell", s) for s in range(3)],
    ]
    store.write_text(kept)

    # A method with fewer seeds is compared with the evolution on its own seeds, one by one
    # (seed 1: Keras Tuner's RandomSearch takes seed 0 for "no seed").
    store.write_text(lines[1] + "\n")
    compare.main([*common, "--methods", "", "--reuse", "--output", str(tmp_path / "c")])
    text = (tmp_path / "c.md").read_text()
    assert "| KT RandomSearch (1 seed) |" in text
    assert "## KT RandomSearch and the evolution, seed by seed (regret at 50 trials)" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 | "))
    evolution, random = (float(x) for x in row.split("|")[2].split("/"))
    ref = compare.reference("int_rastrigin")
    stored = [json.loads(line) for line in (tmp_path / "runs" / "evolution.jsonl").open()]
    for cell, run in [(evolution, stored[1]), (random, json.loads(lines[1]))]:
        assert run["seed"] == 1  # each method's own regret on seed 1, side by side
        assert cell == pytest.approx(compare.regret_curves([run], ref, 50)[0, -1], abs=5e-4)


def test_random_runs_from_before_the_spaced_seeds_are_run_again(tmp_path, monkeypatch, capsys):
    compare = load_compare()
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path))
    common = ["--quick", "--problems", "int_rastrigin", "--workers", "1", "--methods", "random"]
    compare.main([*common, "--output", str(tmp_path / "a")])
    store = tmp_path / "runs" / "random.jsonl"
    runs = [json.loads(line) for line in store.read_text().splitlines()]
    assert [r["keras_tuner_seed"] for r in runs] == [1, 1_000_004, 2_000_007]
    del runs[1]["keras_tuner_seed"]  # as stored before seeds.py: Keras Tuner's seed 1
    store.write_text("".join(json.dumps(r) + "\n" for r in runs))
    capsys.readouterr()
    compare.main([*common, "--resume", "--output", str(tmp_path / "b")])
    printed = re.findall(r"random +int_rastrigin seed (\d+): best", capsys.readouterr().out)
    assert printed == ["1"]


def test_evolution_runs_of_other_code_are_run_again(tmp_path, monkeypatch, capsys):
    compare = load_compare()
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path))
    common = ["--quick", "--problems", "int_rastrigin", "--workers", "1", "--methods", "evolution"]
    compare.main([*common, "--output", str(tmp_path / "a")])
    store = tmp_path / "runs" / "evolution.jsonl"
    runs = [json.loads(line) for line in store.read_text().splitlines()]
    assert {r["source"] for r in runs} == {compare.oracle_source()}
    runs[0]["source"] = "older code"
    del runs[2]["source"]  # stored before runs recorded their code
    store.write_text("".join(json.dumps(r) + "\n" for r in runs))
    capsys.readouterr()
    compare.main([*common, "--resume", "--output", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert "2 runs in evolution.jsonl were made by other code" in out
    assert re.findall(r"evolution +int_rastrigin seed (\d+): best", out) == ["0", "2"]
    again = [json.loads(line) for line in store.read_text().splitlines()]
    assert sorted(r["seed"] for r in again) == [0, 1, 2]  # the old runs are gone from the file
    assert {r["source"] for r in again} == {compare.oracle_source()}
    assert f"code digest `{compare.oracle_source()}`" in (tmp_path / "b.md").read_text()


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


def test_mean_ranks_are_taken_at_every_checkpoint_and_short_methods_have_none():
    compare = load_compare()
    refs = {"nas_cell": {"optimum": 10.0, "median": 0.0, "worst": -6.0}}
    early = [5.0] * 10 + [6.0] * 190  # ahead at 25 trials, behind from 50 on
    late = [1.0] * 40 + [9.0] * 160
    results = {
        ("evolution", "nas_cell"): [
            {"seed": s, "scores": late, "duplicates": 0, "oracle_s": 0.1} for s in range(2)
        ],
        ("tpe", "nas_cell"): [
            {"seed": s, "scores": early, "duplicates": 1, "oracle_s": 0.2} for s in range(2)
        ],
        ("bayesian", "nas_cell"): [{"seed": 0, "scores": late, "duplicates": 0, "oracle_s": 9}],
    }
    methods = ["evolution", "tpe", "bayesian"]
    table, mean_rank, rank_at = compare.summarise(results, refs, methods, ["nas_cell"], 200)
    assert sorted(rank_at) == [25, 50, 100, 200]
    assert rank_at[25] == {"evolution": 2.0, "tpe": 1.0, "bayesian": None}
    assert (
        rank_at[50] == rank_at[200] == mean_rank == {"evolution": 1.0, "tpe": 2.0, "bayesian": None}
    )
    assert table[("tpe", "nas_cell")]["median_at"] == {25: 0.4, 50: 0.4, 100: 0.4, 200: 0.4}
    assert table[("evolution", "nas_cell")]["median_at"][25] == 0.9
    lines = compare.early_targets(table, rank_at, ["nas_cell"], methods)
    assert lines[0].startswith("- met: mean rank first at every budget from 50 trials on")
    assert (
        lines[1]
        == "- NOT met: mean rank at 25 trials no worse than Optuna TPE's (2.00 against 1.00)"
    )
    assert lines[2].startswith("- met: regret at 200 trials at most Optuna TPE's")
    # The evolution cut short has no rank: only the regret target is checked.
    results[("evolution", "nas_cell")].pop()
    table, _, rank_at = compare.summarise(results, refs, methods, ["nas_cell"], 200)
    lines = compare.early_targets(table, rank_at, ["nas_cell"], methods)
    assert len(lines) == 1 and lines[0].startswith("- met: regret at 200 trials")


def test_the_overhead_target_shows_the_problems_above_twice_randomsearch():
    """A mean over problems can meet the 2x target while small spaces miss it: the line
    names them."""
    compare = load_compare()
    table = {
        ("evolution", "big"): {"ms_per_trial": 3.0},
        ("random", "big"): {"ms_per_trial": 3.0},
        ("evolution", "small"): {"ms_per_trial": 0.9},
        ("random", "small"): {"ms_per_trial": 0.3},
    }
    assert compare.overhead_by_problem(table, ["big", "small"]) == (
        "per problem 1.00x to 3.00x, above 2x on 1 of 2: small"
    )
    assert compare.overhead_by_problem(table, ["big"]).endswith("above 2x on 0 of 1")


def test_the_overhead_target_also_gives_the_paired_median():
    """The mean time per trial weighs the large spaces; the median of the ratios per problem
    and seed weighs every problem alike, and pairs the evolution with RandomSearch's run of
    the same seed (a seed either lacks is left out)."""
    compare = load_compare()
    table = {
        ("evolution", "big"): {"ms_per_trial": 3.0, "ms_by_seed": {0: 3.0, 1: 3.0}},
        ("random", "big"): {"ms_per_trial": 3.0, "ms_by_seed": {0: 3.0, 1: 3.0}},
        ("evolution", "small"): {"ms_per_trial": 0.9, "ms_by_seed": {0: 0.9, 1: 0.9, 2: 5.0}},
        ("random", "small"): {"ms_per_trial": 0.3, "ms_by_seed": {0: 0.3, 1: 0.3}},
    }
    line = compare.overhead_by_problem(table, ["big", "small"])
    assert line.endswith("; median of the paired ratios per problem and seed 2.00x")
    assert compare.paired_overhead(table, ["small"]).endswith(" 3.00x")
    no_seeds = {key: {"ms_per_trial": 1.0} for key in table}
    assert compare.paired_overhead(no_seeds, ["big", "small"]) == ""


def test_held_out_problems_are_not_tuned_on():
    compare = load_compare()
    assert set(compare.HELD_OUT_PROBLEMS) == {"hartmann6", "mixed_mlp", "nas_cell"}
    assert not set(compare.HELD_OUT_PROBLEMS) & set(compare.PROBLEMS)  # tune.py reads PROBLEMS
    assert list(compare.ALL_PROBLEMS) == [*compare.PROBLEMS, *compare.HELD_OUT_PROBLEMS]


def _random_scores(compare, name, count=1000, seed=1):
    from keras_tuner_evolution import space as space_lib

    space, score, optimum = compare.ALL_PROBLEMS[name]()
    rng = np.random.default_rng(seed)
    scores = [score(space_lib.random_genome(space, rng)) for _ in range(count)]
    return space, score, optimum, np.asarray(scores)


def test_hartmann6_optimum():
    from scipy.optimize import minimize

    compare = load_compare()
    space, score, optimum, scores = _random_scores(compare, "hartmann6")
    assert optimum == pytest.approx(3.32237, abs=1e-5)
    best = dict(zip((f"x{i}" for i in range(6)), compare.HARTMANN6_BEST))
    assert score(best) == pytest.approx(optimum, abs=1e-10)
    assert scores.max() < optimum and np.median(scores) < 0.2
    assert [hp.step for hp in space.space] == [None] * 6
    rng = np.random.default_rng(0)  # no local search from random starts beats it
    for start in rng.random((10, 6)):
        found = minimize(lambda x: -compare.hartmann6(x), start, bounds=[(0, 1)] * 6)
        assert -found.fun <= optimum + 1e-9


def _tuned_mlp(compare, values: dict) -> dict:
    """`values` with each continuous gene at its best value, clipped to its range."""
    target = compare.mixed_mlp_targets(values)
    return {
        **values,
        "learning_rate": 10 ** min(max(target["learning_rate"], -5.0), -1.0),
        "dropout": min(max(target["dropout"], 0.0), 0.6),
        "weight_decay": 10 ** min(max(target["weight_decay"], -7.0), -2.0),
    }


def test_mixed_mlp_optimum_by_enumeration():
    """Every discrete configuration, its continuous genes at their best: none beats the optimum.

    The score is a sum of a part in (optimizer, batch size, batch norm, learning rate, weight
    decay) and a part in (layers, units, batch norm, dropout, activation), so per batch norm
    value the two parts are maximised apart: the sum of their maxima is the optimum.
    """
    import itertools

    from keras_tuner_evolution import space as space_lib

    compare = load_compare()
    space, score, optimum, scores = _random_scores(compare, "mixed_mlp")
    assert score(space_lib.repair(space, compare.MIXED_MLP_BEST)) == pytest.approx(
        optimum, abs=1e-12
    )
    assert scores.max() < optimum - 0.02 and np.median(scores) < optimum - 0.25
    anchor = {"optimizer": "sgd", "batch_size": 256, "activation": "tanh", "num_layers": 2}
    anchor.update(units0=32, units1=512)
    best = -np.inf
    for bn in (False, True):
        training = [
            score(
                _tuned_mlp(compare, {**anchor, "optimizer": o, "batch_size": b, "batch_norm": bn})
            )
            for o in compare.MLP_OPTIMIZERS
            for b in (16, 32, 64, 128, 256, 512)
        ]
        network = []
        for activation in compare.MLP_ACTIVATIONS:
            for n in range(1, 6):
                for units in itertools.product(compare.MLP_UNITS, repeat=n):
                    values = {**anchor, "batch_norm": bn, "activation": activation}
                    values.update(num_layers=n, **{f"units{i}": u for i, u in enumerate(units)})
                    network.append(score(_tuned_mlp(compare, values)))
        both = score(_tuned_mlp(compare, {**anchor, "batch_norm": bn}))
        best = max(best, max(training) + max(network) - both)
    assert best == pytest.approx(optimum, abs=1e-12)


def test_nas_cell_optimum_by_enumeration_and_disconnected_cells():
    import itertools

    compare = load_compare()
    space, score, optimum, scores = _random_scores(compare, "nas_cell")
    every = [
        score({f"edge{e}": op for e, op in enumerate(cell)})
        for cell in itertools.product(compare.NAS_OPS, repeat=6)
    ]
    assert len(every) == 5**6 and max(every) == optimum == 7.442
    assert scores.max() <= optimum and np.median(scores) < 2.0
    # Rugged: several cells that no change of one edge improves (6 with these draws).
    table = compare.nas_cell_table()
    local = np.logical_and.reduce([table == table.max(axis=e, keepdims=True) for e in range(6)])
    assert local.sum() == 6
    cell = dict.fromkeys((f"edge{e}" for e in range(6)), "none")
    assert score(cell) == compare.NAS_DISCONNECTED
    assert score({**cell, "edge0": "conv3x3", "edge1": "skip"}) == compare.NAS_DISCONNECTED
    assert score({**cell, "edge0": "conv3x3", "edge4": "skip"}) > compare.NAS_DISCONNECTED
    assert score({**cell, "edge3": "avgpool"}) > compare.NAS_DISCONNECTED
    assert min(s for s in every if s != compare.NAS_DISCONNECTED) > compare.NAS_DISCONNECTED


def test_own_budgets_read_each_smaller_budget_from_a_search_of_that_budget(tmp_path, monkeypatch):
    compare = load_compare()
    monkeypatch.setattr(compare, "RESULTS", str(tmp_path))
    options = ["--trials", "100", "--seeds", "2", "--problems", "hartmann6", "--workers", "1"]
    output = str(tmp_path / "own")
    compare.main([*options, "--methods", "evolution,random", "--own-budgets", "--output", output])
    runs = [json.loads(line) for line in (tmp_path / "runs" / "evolution.jsonl").open()]
    assert sorted((run["budget"], run["seed"]) for run in runs) == [
        (25, 0),
        (25, 1),
        (50, 0),
        (50, 1),
        (100, 0),
        (100, 1),
    ]
    ref = compare.reference("hartmann6")
    span = ref["optimum"] - ref["median"]
    short = {run["seed"]: run for run in runs if run["budget"] == 25}
    full = {run["seed"]: run for run in runs if run["budget"] == 100}
    # A 25-trial search breeds differently (the gene pool), so the two readings differ.
    assert any(max(short[s]["scores"]) != max(full[s]["scores"][:25]) for s in (0, 1))
    expected = np.mean([(ref["optimum"] - max(run["scores"])) / span for run in short.values()])
    text = (tmp_path / "own.md").read_text()
    assert "--trials 100 --seeds 2 --own-budgets" in text and "searches with `max_trials`" in text
    row = next(line for line in text.splitlines() if line.startswith("| EvolutionaryOracle |"))
    assert row.split("|")[2].strip().strip("*") == f"{expected:.3f}"  # hartmann6 @25
