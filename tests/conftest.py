"""Shared test setup: quiet TensorFlow, seeded randomness, small helpers."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import random  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_tuner_evolution import space as space_lib  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(0)
    np.random.seed(0)
    yield


def duplicate_count(oracle) -> int:
    """How many trials share their canonical active values with an earlier trial."""
    space = oracle.get_space()
    hashes = [
        space_lib.genome_hash(space_lib.repair(space, trial.hyperparameters.values))
        for trial in oracle.trials.values()
    ]
    return len(hashes) - len(set(hashes))


@pytest.fixture
def count_duplicates():
    return duplicate_count
