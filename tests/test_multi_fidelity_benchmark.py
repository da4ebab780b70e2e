"""The multi-fidelity benchmark runs end to end, counts epochs honestly and reports sane tables."""

from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest

from keras_tuner_evolution import space as space_lib
from tests.helpers import ROOT, load_script

# The third-party baselines and the library each needs (not a dependency of the package:
# `pip install -e ".[bench]"` brings Optuna; DEHB pins numpy<2 and is installed by hand, see
# the script's docstring). Every other method, ours included, always runs.
BASELINE_LIBRARIES = {"dehb": "dehb", "tpe_hyperband": "optuna"}


def installed(method: str) -> bool:
    """Whether the library a method needs, if any beyond the package's, is installed."""
    library = BASELINE_LIBRARIES.get(method)
    return library is None or importlib.util.find_spec(library) is not None


def installed_methods(mf) -> list[str]:
    """The benchmark's methods whose libraries are installed here."""
    return [method for method in mf.METHODS if installed(method)]


def load_benchmark():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))  # it imports compare.py and curves.py
    # Registered by name: the worker pool pickles its functions by module name.
    return load_script("benchmarks", "multi_fidelity", module_name="multi_fidelity")


def _runs(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_tiny_benchmark_counts_epochs_and_writes_sane_tables(tmp_path):
    mf = load_benchmark()
    output = tmp_path / "mf"
    methods = installed_methods(mf)
    assert {"hyperband", "random", "evolution", "evolutionary_hyperband"} <= set(methods)
    argv = ["--seeds", "2", "--budgets", "3,5", "--output", str(output)]
    argv += ["--problems", "dense_crossing,conditional_crossing", "--methods", ",".join(methods)]
    text = mf.main(argv)
    runs = _runs(f"{output}_runs.json")
    keys = {(r["method"], r["problem"], r["seed"], r["budget"]) for r in runs}
    assert len(runs) == len(keys) == len(methods) * 2 * 2 * 2  # every method, problem, ...
    for run in runs:
        assert 0 < run["epochs"] <= run["budget_epochs"] == 27 * run["budget"]
        assert run["regret"] >= 0.0 and math.isfinite(run["regret"])
        assert run["top_epochs"] <= 27
        if run["method"] in ("random", "evolution"):
            assert run["trials"] == run["budget"] and run["epochs"] == run["budget_epochs"]
        if run["method"] == "evolutionary_hyperband":
            assert run["oracle_epochs"] == run["epochs"]  # the oracle counts as we do
            assert run["incumbent_agrees"] and run["best_trial_epochs"] == run["top_epochs"]
        if run["method"] == "dehb":  # retrained from scratch: never cheaper than its trials
            assert run["epochs"] >= run["trials"]
    _, median, _ = mf.summarise(runs, methods, ["dense_crossing"], [3, 5])
    assert all(0.0 <= value < 1.0 for key, value in median.items() if key[2] == 5)
    for method in methods:
        assert f"| {mf.LABELS[method]} |" in text
    assert "## Issue 14's targets" in text and "@5" in text
    # --reuse rebuilds the same tables from the stored runs, running nothing.
    assert mf.main([*argv, "--reuse"]) == text
    assert len(_runs(f"{output}_runs.json")) == len(runs)
    assert {r["source"] for r in runs if r["method"] in mf.OUR_METHODS} == {mf.oracle_source()}


def test_resume_reruns_our_runs_made_by_other_code(tmp_path):
    # Stored runs of an older oracle once passed for current ones: a resume runs them again.
    mf = load_benchmark()
    output = tmp_path / "mf"
    argv = ["--seeds", "1", "--budgets", "3", "--problems", "dense_crossing"]
    argv += ["--methods", "random,evolution,evolutionary_hyperband", "--output", str(output)]
    mf.main(argv)
    path = f"{output}_runs.json"
    stored = _runs(path)
    for run in stored:
        run["regret"] = 99.0 if run["method"] != "random" else run["regret"]
        run["source"] = "old" if run["method"] == "evolution" else run.get("source")
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(run) + "\n" for run in stored)
    mf.main([*argv, "--resume"])
    regret = {r["method"]: r["regret"] for r in _runs(path)}
    assert len(_runs(path)) == 3 and regret["evolution"] != 99.0  # rerun
    assert regret["evolutionary_hyperband"] == 99.0  # current: kept


def test_short_training_ranks_differently_on_the_synthetic_problems():
    mf = load_benchmark()
    for name in ("dense_crossing", "conditional_crossing"):
        problem = mf.PROBLEMS[name]()
        ref = mf.reference(problem)
        assert ref["spearman"][1] < 0.5 < ref["spearman"][9] < 1.0
        assert ref["median"] < ref["best"]


def test_the_held_out_mixed_problem_ends_at_mixed_mlps_scores():
    mf = load_benchmark()
    compare = sys.modules["compare"]
    problem = mf.PROBLEMS["mixed_crossing"]()
    _, final, optimum = compare.make_mixed_mlp()
    ref = mf.reference(problem)
    assert ref["best"] == pytest.approx(optimum, abs=1e-3) and ref["median"] < ref["best"]
    assert ref["spearman"][1] < ref["spearman"][9] < 1.0  # short training ranks differently
    genome = {"learning_rate": 1e-4, "optimizer": "adam", "batch_size": 512, "num_layers": 1,
              "units0": 256, "dropout": 0.3, "weight_decay": 1e-4, "batch_norm": False,
              "activation": "relu"}  # fmt: skip
    assert problem.full(genome) == pytest.approx(final(genome))
    assert problem.value(genome, 1) < problem.value(genome, 9) < problem.full(genome)


def test_the_family_check_problems_differ_only_in_which_branch_learns_slowly():
    mf = load_benchmark()
    crossing, fast_best, even = (
        mf.PROBLEMS[name]()
        for name in ("conditional_crossing", "conditional_fast_best", "conditional_even")
    )
    rng = np.random.default_rng(3)
    genomes = [space_lib.random_genome(crossing.space, rng) for _ in range(200)]
    for genome in genomes:  # the same final scores
        assert crossing.full(genome) == fast_best.full(genome) == even.full(genome)

    def gap_at_one_epoch(problem, arch):
        picked = [g for g in genomes if g["arch"] == arch and g["learning_rate"] > 1e-2]
        return np.mean([problem.full(g) - problem.value(g, 1) for g in picked])

    assert gap_at_one_epoch(crossing, "cnn") > gap_at_one_epoch(crossing, "mlp")
    assert gap_at_one_epoch(fast_best, "cnn") < gap_at_one_epoch(fast_best, "mlp")
    assert gap_at_one_epoch(even, "cnn") == pytest.approx(gap_at_one_epoch(even, "mlp"), rel=0.2)


def test_optimizer_crossing_has_optimizer_families_whose_best_learns_slowest():
    mf = load_benchmark()
    problem = mf.PROBLEMS["optimizer_crossing"]()
    assert space_lib.family_genes(problem.space) == ["optimizer"]
    best = {"learning_rate": 10**-2.5, "batch_size": 64, "layers": 4, "units": 256,
            "dropout": 0.1, "optimizer": "sgd", "momentum": 0.9, "nesterov": True}  # fmt: skip
    assert problem.full(best) == pytest.approx(problem.optimum) == 6.0
    ref = mf.reference(problem)
    assert ref["median"] < ref["best"] and ref["spearman"][1] < ref["spearman"][9] < 1.0
    adam = {**{k: v for k, v in best.items() if k not in ("momentum", "nesterov")},
            "optimizer": "adam", "beta_1": 0.9, "epsilon_exponent": -7}  # fmt: skip
    assert problem.full(adam) < problem.full(best)
    assert problem.value(adam, 1) > problem.value(best, 1)  # sgd starts behind


def test_notes_say_when_runs_of_two_oracle_versions_are_mixed():
    mf = load_benchmark()
    one = [{"method": mf.OURS, "source": "aaa"}, {"method": "random", "source": "bbb"}]
    assert "(one digest: every run used the same code)" in "\n".join(mf.notes(one))
    two = [*one, {"method": mf.OURS, "source": "ccc"}]
    text = "\n".join(mf.notes(two))
    assert "aaa, ccc (runs of different code versions are mixed here)" in text
    assert "one digest" not in text


def test_replayed_curves_map_grid_configurations(tmp_path):
    mf = load_benchmark()
    curves = sys.modules["curves"]
    grid = {"optimizer": ["adam", "nadam"], "batch_size": [16, 64]}
    recorded = [[0.1 * (i + 1), 0.05, 0.3 + i] + [0.0] * 24 for i in range(4)]
    path = tmp_path / "curves.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"grid": grid, "curves": recorded}, handle)
    problem = mf.make_dense_real(str(path))
    assert len(problem.genomes) == 4
    config = {"optimizer": "nadam", "batch_size": 16}
    assert curves.config_index(config, grid) == 2
    assert problem.value(config, 1) == pytest.approx(0.3)
    assert problem.value(config, 2) == pytest.approx(0.3)  # best epoch so far, as Keras Tuner
    assert problem.full(config) == pytest.approx(2.3)
    assert mf.reference(problem)["best"] == pytest.approx(3.3)


@pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "benchmarks", "data", "dense_curves.json.gz")),
    reason="real curves not recorded",
)
def test_recorded_curves_cover_the_grid():
    load_benchmark()
    curves = sys.modules["curves"]
    grid, recorded = curves.load_curves()
    assert len(recorded) == len(curves.grid_configs(grid)) >= 144
    assert all(len(curve) == curves.MAX_EPOCHS for curve in recorded)
    assert all(0.0 <= value <= 1.0 for curve in recorded for value in curve)
