"""The comparison benchmark runs end to end and reports what it measured."""

from __future__ import annotations

import os
import sys

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
