"""Stored benchmark runs record which code made them (`benchmarks/provenance.py`)."""

from __future__ import annotations

import os
import shutil
import sys

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
