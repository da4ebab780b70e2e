"""Tests for keras_tuner_evolution.callbacks."""

import time

import keras
import numpy as np
import pytest

from keras_tuner_evolution.callbacks import TimeLimit


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _data(n: int = 256):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_time_limit_stops_a_long_fit_and_keeps_the_validation_score():
    keras.utils.set_random_seed(0)
    x, y = _data()
    model = _tiny_model()
    limit = TimeLimit(2)
    # 256 batches of one sample per epoch for 300 epochs: about a minute or more on 2 cores.
    start = time.monotonic()
    history = model.fit(
        x,
        y,
        batch_size=1,
        epochs=300,
        validation_data=(x[:32], y[:32]),
        callbacks=[limit],
        verbose=0,
    )
    elapsed = time.monotonic() - start
    assert limit.timed_out
    assert elapsed < 8, elapsed
    epochs_run = len(history.history["loss"])
    assert epochs_run < 300
    assert limit.stopped_epoch == epochs_run - 1
    # The epoch cut short still ran validation, so a tuner trial gets a score.
    assert len(history.history["val_loss"]) == epochs_run
    assert np.isfinite(history.history["val_loss"][-1])


def test_time_limit_does_not_interfere_when_time_remains():
    keras.utils.set_random_seed(0)
    x, y = _data(64)
    limit = TimeLimit(600)
    history = _tiny_model().fit(x, y, epochs=3, callbacks=[limit], verbose=0)
    assert not limit.timed_out
    assert limit.stopped_epoch is None
    assert len(history.history["loss"]) == 3


def test_time_limit_restarts_its_clock_for_every_fit(monkeypatch):
    # A fake clock makes the test exact: real fits would race against retracing time.
    now = [100.0]
    monkeypatch.setattr("keras_tuner_evolution.callbacks.time.monotonic", lambda: now[0])
    model = _tiny_model()
    limit = TimeLimit(10)
    limit.set_model(model)

    limit.on_train_begin()
    limit.on_epoch_begin(0)
    now[0] += 9.9
    limit.on_train_batch_end(0)
    assert not model.stop_training
    limit.on_epoch_begin(1)
    now[0] += 0.1
    limit.on_train_batch_end(0)
    assert model.stop_training and limit.timed_out and limit.stopped_epoch == 1

    model.stop_training = False  # as Keras does at the start of fit()
    now[0] += 50
    limit.on_train_begin()
    assert not limit.timed_out and limit.stopped_epoch is None
    limit.on_epoch_begin(0)
    now[0] += 5
    limit.on_train_batch_end(0)
    limit.on_epoch_end(0)
    assert not model.stop_training
    now[0] += 5
    limit.on_epoch_end(0)
    assert model.stop_training and limit.stopped_epoch == 0


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan"), "2", True, None])
def test_time_limit_rejects_bad_budgets(seconds):
    with pytest.raises(ValueError, match="seconds"):
        TimeLimit(seconds)
