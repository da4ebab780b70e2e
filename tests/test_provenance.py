"""Stored benchmark runs record which code made them (`benchmarks/provenance.py`)."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import weakref

import keras_tuner

import keras_tuner_evolution
from tests.helpers import ROOT, load_script


def load_provenance():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    return load_script("benchmarks", "provenance", module_name="provenance")


def test_the_source_digest_covers_every_modules_code(tmp_path):
    provenance = load_provenance()
    copy = tmp_path / "keras_tuner_evolution"
    folder = os.path.dirname(keras_tuner_evolution.__file__)
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = provenance.package_digest(str(copy))
    assert before == provenance.oracle_source()  # the installed package's digest
    source = (copy / "gene_pool.py").read_text(encoding="utf-8")
    documented = source.replace('"""', '"""Edited. ', 1) + "\n# a comment\n"
    (copy / "gene_pool.py").write_text(documented, encoding="utf-8")
    assert provenance.package_digest(str(copy)) == before  # documentation edits keep the runs
    (copy / "gene_pool.py").write_text(source + "\nEXTRA = 1\n", encoding="utf-8")
    assert provenance.package_digest(str(copy)) != before


def _started_oracle(directory: str) -> keras_tuner.Oracle:
    """A Keras Tuner oracle that started a trial (`synchronized` registered it)."""
    objective = keras_tuner.Objective("score", "max")
    oracle = keras_tuner.oracles.RandomSearchOracle(objective=objective, max_trials=1, seed=1)
    oracle.hyperparameters.Int("x", 0, 9)
    oracle._set_project_dir(directory, "p")
    oracle.create_trial("tuner0")
    return oracle


def _make_an_oracle(_job):
    """A job that starts a trial, as a benchmark's runs do (each oracle then dropped)."""
    return _started_oracle(tempfile.mkdtemp(prefix="kte-provenance-")) is not None


def _oracles_alive(_job):
    gc.collect()
    return sum(isinstance(o, keras_tuner.Oracle) for o in gc.get_objects())


def test_forked_runs_let_each_jobs_oracles_go():
    """Keras Tuner's `synchronized` keeps every oracle alive in module-level registries; the
    benchmarks' workers drop them after each job, so a worker's later runs do not carry (and
    garbage-collect again and again) the trials of its earlier ones."""
    provenance = load_provenance()
    jobs = [_make_an_oracle, _make_an_oracle, _oracles_alive]  # one worker runs all three
    assert list(provenance.forked_runs(_call, jobs, workers=1, per_child=3)) == [True, True, 0]


def _call(function):
    return function(None)


def test_forget_oracles_lets_a_finished_oracle_be_collected(tmp_path):
    provenance = load_provenance()
    alive = weakref.ref(_started_oracle(str(tmp_path)))
    gc.collect()
    assert alive() is not None  # held by Keras Tuner's registries
    provenance.forget_oracles()
    gc.collect()
    assert alive() is None
