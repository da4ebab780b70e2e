"""Tests for keras_tuner_evolution.training."""

from __future__ import annotations

import math

import keras
import keras_tuner as kt
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_tuner_evolution.hypermodels import DenseHyperModel
from keras_tuner_evolution.training import train_best


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], data.target[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


@pytest.fixture(scope="module")
def searched(digits, tmp_path_factory):
    """A RandomSearch over a small DenseHyperModel space, two one-epoch trials."""
    x, y, xv, yv = digits
    keras.utils.set_random_seed(0)
    hypermodel = DenseHyperModel.from_data(
        x, y, neurons=(64, 128), batch_size=(16, 32), input_dropout=0.0,
        hidden_dropout=(0.0, 0.1), max_hidden_layers=2,
    )  # fmt: skip
    tuner = kt.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=2,
        seed=2,
        directory=tmp_path_factory.mktemp("search"),
        project_name="p",
    )
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    return tuner


class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


def test_train_best_trains_saves_and_returns_the_best_validation_score(searched, digits, tmp_path):
    x, y, xv, yv = digits
    keras.utils.set_random_seed(0)
    best_hp = searched.oracle.get_best_trials(1)[0].hyperparameters
    counter = _CountBatches()
    path = tmp_path / "nested" / "best.keras"

    score = train_best(searched, x, y, validation_data=(xv, yv), epochs=6, patience=2,
                       file_name=path, verbose=0, callbacks=[counter])  # fmt: skip

    assert 0.8 < score <= 1.0  # chance is 0.1
    assert score > searched.oracle.get_best_trials(1)[0].score  # 6 epochs beat 1
    # The tuned batch size applied (through HyperModel.fit) and the user's callback ran.
    assert counter.per_epoch[0] == math.ceil(len(x) / best_hp["batch_size"])
    assert 1 <= len(counter.per_epoch) <= 6
    # The saved model holds the best epoch's weights (restore_best_weights).
    model = keras.models.load_model(path)
    _, accuracy = model.evaluate(xv, yv, verbose=0)
    assert accuracy == pytest.approx(score, abs=1e-6)
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert dense[0] == best_hp["neurons0"] and dense[-1] == 10


def test_train_best_works_for_a_plain_build_function_and_a_loss_objective(digits, tmp_path):
    x, y, xv, yv = digits
    keras.utils.set_random_seed(0)

    def build(hp):
        model = keras.Sequential(
            [keras.layers.Dense(hp.Choice("units", [8, 16]), activation="relu"),
             keras.layers.Dense(10, activation="softmax")]
        )  # fmt: skip
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    tuner = kt.RandomSearch(build, objective="val_loss", max_trials=1, seed=1,
                            directory=tmp_path, project_name="f")  # fmt: skip
    tuner.search(x, y, validation_split=0.2, epochs=1, verbose=0)
    score = train_best(tuner, x, y, validation_split=0.2, epochs=3, patience=1, file_name=None,
                       verbose=0)  # fmt: skip
    assert 0 < score < tuner.oracle.get_best_trials(1)[0].score  # more epochs: lower loss
    assert not list(tmp_path.glob("*.keras"))


def test_train_best_without_a_completed_trial_says_so(digits, tmp_path):
    x, y, xv, yv = digits
    tuner = kt.RandomSearch(DenseHyperModel.from_data(x, y), objective="val_accuracy",
                            max_trials=1, directory=tmp_path)  # fmt: skip
    with pytest.raises(ValueError, match="no completed trial"):
        train_best(tuner, x, y, validation_data=(xv, yv))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "validation_data= or validation_split="),
        ({"validation_split": 0.2, "file_name": "best.h5"}, "must end in '.keras'"),
        ({"validation_split": 0.2, "epochs": 0}, "epochs must be a positive integer"),
        ({"validation_split": 0.2, "patience": -1}, "patience must be a non-negative"),
    ],
)
def test_train_best_rejects_bad_arguments(searched, digits, kwargs, match):
    x, y, _, _ = digits
    with pytest.raises(ValueError, match=match):
        train_best(searched, x, y, **kwargs)
