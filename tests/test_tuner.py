"""`EvolutionaryTuner` as a drop-in replacement for `keras_tuner.RandomSearch` (real training)."""

import inspect
import warnings

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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            best_model = tuner.get_best_models(1)[0]
        accuracy = best_model.evaluate(xv, yv, verbose=0)[1]
        best_hp = tuner.get_best_hyperparameters(1)[0]
        steps = int(keras.ops.convert_to_numpy(best_model.optimizer.iterations))
        skipped = any("Skipping variable loading" in str(w.message) for w in caught)
        results[name] = (len(tuner.oracle.trials), accuracy, best_hp, steps, skipped)
    trials, accuracy, best_hp, steps, skipped = results["evolution"]
    # The best model comes back with its optimizer's state (Keras Tuner's own load skips it).
    assert steps > 0 and not skipped
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


def _seeded_search(tmp_path, digits, name, tuner_class, **arguments):
    """Scores of a seeded search, after Keras's generator was moved by an unrelated draw."""
    (x, y), (xv, yv) = digits
    keras.random.uniform((len(name),))  # as other work before the search
    budget = dict(max_trials=3) if tuner_class is kte.EvolutionaryTuner else dict(max_epochs=2)
    tuner = tuner_class(
        build_model, objective="val_accuracy", seed=4, directory=str(tmp_path),
        project_name=name, **budget, **arguments,
    )  # fmt: skip
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    return [(t.hyperparameters.values, t.score) for t in tuner.oracle.trials.values()]


@pytest.mark.parametrize("tuner_class", [kte.EvolutionaryTuner, kte.EvolutionaryHyperband])
def test_a_seeded_search_trains_alike_whatever_ran_before(tmp_path, digits, tuner_class):
    """With `seed`, each trial seeds its own training (`trial_seed`): the same search twice
    gives the same scores though Keras's generator was elsewhere when each started."""
    keras.utils.set_random_seed(0)
    first = _seeded_search(tmp_path, digits, "a", tuner_class)
    second = _seeded_search(tmp_path, digits, "bb", tuner_class)
    assert first == second
    keras.utils.set_random_seed(0)
    first = _seeded_search(tmp_path, digits, "c", tuner_class, seed_training=False)
    second = _seeded_search(tmp_path, digits, "dd", tuner_class, seed_training=False)
    assert [score for _, score in first] != [score for _, score in second]


def test_trial_seeds_depend_on_the_seed_and_the_trial_only():
    from keras_tuner_evolution.tuners import trial_seed

    assert trial_seed(1, "0003") == trial_seed(1, "0003")
    seeds = {trial_seed(1, "0003"), trial_seed(2, "0003"), trial_seed(1, "0004")}
    assert len(seeds | {trial_seed(1, "0003", attempt=1)}) == 4
    with pytest.raises(ValueError, match="seed_training"):
        kte.EvolutionaryTuner(build_model, objective="val_accuracy", seed_training="yes")


def test_a_retried_trial_trains_with_another_seed(tmp_path, digits):
    """A failed trial that Keras Tuner retries is seeded anew (`trial_seed`'s attempt): the
    same seed would repeat a failure caused by its draws."""
    (x, y), (xv, yv) = digits
    draws = []

    def flaky(hp):
        draws.append(float(np.random.random()))  # NumPy is seeded with Keras
        if len(draws) % 2 == 0:  # every other build fails: each trial fails once
            raise RuntimeError("diverged")
        return build_model(hp)

    tuner = kte.EvolutionaryTuner(
        flaky, objective="val_accuracy", max_trials=2, seed=4, max_retries_per_trial=1,
        directory=str(tmp_path), project_name="retry",
    )  # fmt: skip
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    trial_draws = draws[1:]  # the first build: Keras Tuner's discovery of the space
    assert len(trial_draws) == 4 and len(set(trial_draws)) == 4
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"] * 2
