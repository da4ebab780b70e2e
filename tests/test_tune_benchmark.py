"""benchmarks/tune.py: ranks per budget, read off one run or from searches of each budget."""

from __future__ import annotations

import os
import sys

from tests.helpers import ROOT, load_script


def load_tune():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))  # tune.py imports compare.py
    load_script("benchmarks", "compare", module_name="compare")
    return load_script("benchmarks", "tune", module_name="tune")


def _run(problem, seed, scores):
    return {"problem": problem, "seed": seed, "scores": scores, "duplicates": 0}


def test_report_reads_each_budget_from_its_own_runs(tmp_path):
    tune = load_tune()
    problem = "dense_deceptive"
    refs = {problem: {"optimum": 10.0, "median": 0.0}}
    base = {(method, problem, 0): [1.0] * 200 for method in tune.BASELINES}
    long_run = [_run(problem, 0, [0.0] * 200)]  # worse than every baseline
    short_run = [_run(problem, 0, [5.0] * 25)]  # a 25-trial search: better than every baseline
    by_budget = {max(tune.BUDGETS): long_run, 25: short_run}  # 50 and 100: the long run
    text = tune.report("{}", by_budget, base, refs, [problem])
    lines = text.splitlines()
    assert lines[1].startswith("  @25: rank 1.00") and "regret 0.500" in lines[1]
    assert lines[2].startswith("  @50: rank 5.00") and "regret 1.000" in lines[2]

    path = tmp_path / "report.md"
    tune.write_report(str(path), ["{}", "--own-budgets"], [problem, "hartmann6"], [text])
    written = path.read_text()
    assert "`python benchmarks/tune.py '{}' --own-budgets`" in written
    assert "held out from tuning: hartmann6" in written and text in written
