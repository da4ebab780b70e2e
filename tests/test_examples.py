"""The examples run: the CIFAR-10 experiment on small random stand-in arrays, digits tiny."""

from __future__ import annotations

import inspect
import os

import keras
import numpy as np
import pytest

from tests.helpers import load_script


def test_cifar10_runs_the_original_experiment_by_default(monkeypatch):
    cifar10 = load_script("examples", "cifar10")
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(cifar10.run).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    assert defaults["population_size"] == 30 and defaults["generations"] == 30
    assert defaults["epochs"] == 1 and defaults["max_training_time"] == 120

    # main() feeds the downloaded data, scaled, to run(): checked without downloading.
    images = np.full((4, 32, 32, 3), 255, dtype=np.uint8)
    labels = np.array([[1], [2], [3], [4]], dtype=np.uint8)
    monkeypatch.setattr(
        keras.datasets.cifar10, "load_data", lambda: ((images, labels), (images[:2], labels[:2]))
    )
    calls = []
    monkeypatch.setattr(cifar10, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    cifar10.main()
    (x_train, y_train, x_val, y_val), kwargs = calls[0]
    assert kwargs == {}
    assert x_train.dtype == np.float32 and float(x_train.max()) == 1.0
    assert x_train.shape == (4, 32, 32, 3) and x_val.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(y_train, [1, 2, 3, 4])


@pytest.mark.slow
def test_cifar10_experiment_on_random_stand_in_arrays(tmp_path):
    cifar10 = load_script("examples", "cifar10")
    rng = np.random.default_rng(0)
    x = rng.random((60, 32, 32, 3), dtype=np.float32)
    y = np.arange(60) % 10
    result = cifar10.run(
        x[:40], y[:40], x[40:], y[40:], population_size=2, generations=2, epochs=1,
        max_training_time=10, final_epochs=2, patience=1, seed=3, directory=str(tmp_path),
        verbose=0,
    )  # fmt: skip
    assert 0.0 <= result["fittest"]["fitness"] <= 1.0
    assert "neurons0" in result["fittest"]["genome"]
    assert 0.0 <= result["score"] <= 1.0
    assert os.path.getsize(result["plot_path"]) > 0
    assert keras.models.load_model(result["model_path"]).output_shape == (None, 10)


@pytest.mark.slow
def test_digits_example_evolves(tmp_path):
    digits = load_script("examples", "digits")
    fittest = digits.run(population_size=2, generations=2, epochs=1, directory=str(tmp_path),
                         verbose=0)  # fmt: skip
    assert set(fittest["genome"]) == {"units", "dropout", "learning_rate"}
    assert fittest["fitness"] > 0.3  # chance is 0.1
