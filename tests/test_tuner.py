"""`EvolutionaryTuner` as a drop-in replacement for `keras_tuner.RandomSearch` (real training)."""

import inspect

import keras
import keras_tuner as kt
import numpy as np
import pytest
from sklearn.datasets import load_digits

import keras_tuner_evolution as kte


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))[:500]
    x, y = x[order], y[order]
    return (x[:400], y[:400]), (x[400:], y[400:])


def build_model(hp):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", [1e-3, 1e-2])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_accepts_every_random_search_argument_with_the_same_default():
    ours = inspect.signature(kte.EvolutionaryTuner.__init__).parameters
    theirs = inspect.signature(kt.RandomSearch.__init__).parameters
    for name, parameter in theirs.items():
        assert name in ours, name
        if name != "max_trials" and parameter.default is not inspect.Parameter.empty:
            assert ours[name].default == parameter.default, name


def test_one_line_swap_from_random_search(tmp_path, digits):
    (x, y), (xv, yv) = digits
    results = {}
    for name, tuner_class in [("random", kt.RandomSearch), ("evolution", kte.EvolutionaryTuner)]:
        keras.utils.set_random_seed(0)
        tuner = tuner_class(
            build_model,
            objective="val_accuracy",
            max_trials=6,
            seed=1,
            directory=str(tmp_path),
            project_name=name,
        )
        tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
        best_model = tuner.get_best_models(1)[0]
        accuracy = best_model.evaluate(xv, yv, verbose=0)[1]
        best_hp = tuner.get_best_hyperparameters(1)[0]
        results[name] = (len(tuner.oracle.trials), accuracy, best_hp)
    trials, accuracy, best_hp = results["evolution"]
    assert trials == 6
    assert 0.0 < accuracy <= 1.0
    assert best_hp.values["units"] in (8, 16, 24, 32)


def test_history_and_plot_after_a_real_search(tmp_path, digits):
    (x, y), (xv, yv) = digits
    keras.utils.set_random_seed(0)
    tuner = kte.EvolutionaryTuner(
        build_model,
        objective="val_accuracy",
        population_size=3,
        generations=3,
        elites=1,
        seed=1,
        directory=str(tmp_path),
        project_name="digits",
    )
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    history = tuner.history
    assert len(history.generations) == 3
    assert len(tuner.oracle.trials) == 3 + 2 + 2
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert history.fittest == {
        "genome": best_trial.hyperparameters.values,
        "fitness": best_trial.score,
        "trial_id": best_trial.trial_id,
    }
    path = tmp_path / "evolution.png"
    history.plot(
        title="Validation accuracy by generation", ylabel="Validation accuracy", path=str(path)
    )
    assert path.stat().st_size > 1000
    assert kte.History.load(str(tmp_path), "digits") == history


def test_oracle_works_with_a_plain_keras_tuner(tmp_path, digits):
    (x, y), (xv, yv) = digits
    oracle = kte.EvolutionaryOracle(objective="val_accuracy", max_trials=4, seed=2)
    tuner = kt.Tuner(
        oracle=oracle, hypermodel=build_model, directory=str(tmp_path), project_name="plain"
    )
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert len(oracle.trials) == 4
    assert oracle.history.fittest is not None


def test_max_trials_defaults_to_random_search_budget():
    tuner = kte.EvolutionaryTuner(
        build_model, objective="val_accuracy", overwrite=True, directory="/tmp/kte-defaults"
    )
    assert tuner.oracle.max_trials == 10
    unlimited = kte.EvolutionaryTuner(
        build_model,
        objective="val_accuracy",
        max_trials=None,
        overwrite=True,
        directory="/tmp/kte-defaults",
    )
    assert unlimited.oracle.max_trials is None


def test_bad_tuner_arguments():
    with pytest.raises(ValueError, match="hypermodel=None"):
        kte.EvolutionaryTuner(objective="val_accuracy")
    with pytest.raises(ValueError, match="max_training_time` must be a number of seconds > 0"):
        kte.EvolutionaryTuner(build_model, objective="val_accuracy", max_training_time=-1)
