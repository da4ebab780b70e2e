"""Tests for keras_tuner_evolution.hypermodels."""

from __future__ import annotations

import itertools
import math

import keras
import keras_tuner as kt
import numpy as np
import pytest

from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.hypermodels import DenseHyperModel, infer_output

DEFAULT_NAMES = {
    "optimizer",
    "initializer",
    "hidden_activation",
    "batch_size",
    "input_dropout",
    *(f"neurons{i}" for i in range(5)),
    *(f"dropout{i}" for i in range(5)),
}


def _hypermodel(**kwargs) -> DenseHyperModel:
    kwargs.setdefault("output_units", 3)
    kwargs.setdefault("loss", "sparse_categorical_crossentropy")
    return DenseHyperModel(**kwargs)


def _space(hypermodel: DenseHyperModel) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hypermodel.build(hp)
    return hp


def _configure(hp: kt.HyperParameters, widths, rates, input_dropout=0.0, **others):
    """Sets the values of a network with hidden layers `widths` (neurons{len} = 0 after)."""
    hp.values.update(input_dropout=input_dropout, **others)
    for i, (units, rate) in enumerate(zip(widths, rates)):
        hp.values[f"neurons{i}"] = units
        hp.values[f"dropout{i}"] = rate
    hp.values[f"neurons{len(widths)}"] = 0  # ignored when len(widths) == max layers
    return hp


# The space ------------------------------------------------------------------------------------


def test_default_space_has_exactly_the_15_hyperparameters():
    hp = _space(_hypermodel())
    assert [h.name for h in hp.space] == [
        "optimizer",
        "initializer",
        "hidden_activation",
        "batch_size",
        "input_dropout",
        "neurons0",
        "dropout0",
        "neurons1",
        "dropout1",
        "neurons2",
        "dropout2",
        "neurons3",
        "dropout3",
        "neurons4",
        "dropout4",
    ]
    values = {h.name: list(h.values) for h in hp.space}
    assert values["optimizer"] == ["adam", "adamax", "nadam"]
    assert values["initializer"] == [
        "lecun_uniform",
        "lecun_normal",
        "glorot_uniform",
        "glorot_normal",
        "he_uniform",
        "he_normal",
    ]
    assert values["hidden_activation"] == ["relu", "elu"]
    assert values["batch_size"] == [16, 32, 64]
    assert values["neurons0"] == [16, 32, 64, 128, 256, 512, 1024]
    for i in range(1, 5):
        assert values[f"neurons{i}"] == [0, 16, 32, 64, 128, 256, 512, 1024]
    for name in ["input_dropout", *(f"dropout{i}" for i in range(5))]:
        assert values[name] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_the_default_space_has_no_model_families():
    """Its layer switches are sizes (ordered), not kinds: `EvolutionaryHyperband` promotes it
    within brackets only, with or without `promote_by_family`."""
    assert space_lib.family_genes(_space(_hypermodel())) == []


def test_a_tuner_discovers_the_whole_space_at_construction(tmp_path):
    # Keras Tuner builds before seeing data; the deferred input shape makes that work.
    tuner = kt.RandomSearch(
        _hypermodel(), objective="val_accuracy", max_trials=1, directory=tmp_path, seed=1
    )
    assert {h.name for h in tuner.oracle.get_space().space} == DEFAULT_NAMES


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_only_the_layers_that_exist_have_active_hyperparameters(depth):
    hp = _space(_hypermodel())
    _configure(hp, [64] * depth, [0.1] * depth)
    active = {h.name for h in hp.space if hp.is_active(h)}
    layer_names = {f"dropout{i}" for i in range(depth)} | {f"neurons{i}" for i in range(depth)}
    if depth < 5:
        layer_names.add(f"neurons{depth}")  # the 0 that ends the network is a real choice
    expected = {"optimizer", "initializer", "hidden_activation", "batch_size", "input_dropout"}
    assert active == expected | layer_names


def test_an_absent_layer_switches_off_all_deeper_ones_despite_stale_values():
    hp = _space(_hypermodel())
    # Values left over from a deeper parent must not revive layers below an absent one.
    _configure(hp, [64, 64, 64, 64, 64], [0.1] * 5)
    hp.values["neurons1"] = 0
    inactive = {h.name for h in hp.space if not hp.is_active(h)}
    assert inactive == {"dropout1", "neurons2", "dropout2", "neurons3", "dropout3", "neurons4",
                        "dropout4"}  # fmt: skip
    model = _hypermodel().build(hp)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [
        64,
        3,
    ]


def test_random_search_samples_only_consistent_active_sets(tmp_path):
    tuner = kt.RandomSearch(
        _hypermodel(), objective="val_accuracy", max_trials=200, directory=tmp_path, seed=3
    )
    depths = set()
    for i in range(200):
        values = tuner.oracle.populate_space(f"{i:03d}")["values"]
        depth = next((d for d in range(1, 5) if values[f"neurons{d}"] == 0), 5)
        depths.add(depth)
        expected = {"optimizer", "initializer", "hidden_activation", "batch_size", "input_dropout"}
        expected |= {f"neurons{d}" for d in range(min(depth + 1, 5))}
        expected |= {f"dropout{d}" for d in range(depth)}
        assert set(values) == expected, values
    assert depths == {1, 2, 3, 4, 5}


# Built models ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "widths, rates, input_dropout, others",
    [
        ([16], [0.0], 0.0, {}),
        ([1024, 32], [0.5, 0.0], 0.2, {"optimizer": "nadam", "hidden_activation": "elu"}),
        ([64, 128, 256], [0.1, 0.2, 0.3], 0.5, {"initializer": "he_normal"}),
        ([16, 32, 64, 128, 256], [0.4, 0.3, 0.2, 0.1, 0.0], 0.1, {"optimizer": "adamax"}),
    ],
)
def test_built_model_matches_the_hyperparameters(widths, rates, input_dropout, others):
    hypermodel = _hypermodel(input_shape=(8,))
    hp = _configure(_space(hypermodel), widths, rates, input_dropout, **others)
    model = hypermodel.build(hp)

    layers = model.layers
    assert isinstance(layers[0], keras.layers.Flatten)
    expected = []  # (kind, value) in order
    if input_dropout:
        expected.append(("dropout", input_dropout))
    for units, rate in zip(widths, rates):
        expected.append(("dense", units))
        if rate:
            expected.append(("dropout", rate))
    expected.append(("dense", 3))
    got = [
        ("dense", layer.units) if isinstance(layer, keras.layers.Dense) else ("dropout", layer.rate)
        for layer in layers[1:]
    ]
    assert got == expected

    hidden = [layer for layer in layers if isinstance(layer, keras.layers.Dense)][:-1]
    activation = hp.values["hidden_activation"]
    initializer = hp.values["initializer"]
    for layer in hidden:
        assert layer.activation is keras.activations.get(activation)
        assert type(layer.kernel_initializer) is type(keras.initializers.get(initializer))
    assert layers[-1].activation is keras.activations.softmax
    assert type(model.optimizer) is type(keras.optimizers.get(hp.values["optimizer"]))
    assert model.output_shape == (None, 3)
    assert model.count_params() > 0  # the Input makes it built right away


def test_fit_uses_the_tuned_batch_size():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = np.arange(64) % 3
    hypermodel = _hypermodel()
    hp = _configure(_space(hypermodel), [16], [0.0], batch_size=16)

    class CountBatches(keras.callbacks.Callback):
        batches = 0

        def on_train_batch_end(self, batch, logs=None):
            CountBatches.batches += 1

    history = hypermodel.fit(hp, hypermodel.build(hp), x, y, epochs=1, verbose=0,
                             callbacks=[CountBatches()])  # fmt: skip
    assert CountBatches.batches == 64 // 16
    assert math.isfinite(history.history["loss"][0])

    with pytest.warns(UserWarning, match="batch_size=8"):
        hypermodel.fit(hp, hypermodel.build(hp), x, y, epochs=1, verbose=0, batch_size=8)


def test_build_without_output_units_or_loss_names_the_missing_argument():
    with pytest.raises(ValueError, match="output_units"):
        DenseHyperModel(loss="mse").build(kt.HyperParameters())
    with pytest.raises(ValueError, match="loss"):
        DenseHyperModel(output_units=2).build(kt.HyperParameters())


def test_deferred_input_shape_builds_on_first_batch():
    keras.utils.set_random_seed(0)
    hypermodel = _hypermodel()  # no input_shape
    hp = _space(hypermodel)
    model = hypermodel.build(hp)
    x = np.random.default_rng(0).normal(size=(12, 2, 3)).astype("float32")
    assert model(x).shape == (12, 3)


# Inference ------------------------------------------------------------------------------------

_X = np.zeros((6, 4), dtype="float32")


@pytest.mark.parametrize(
    "y, units, activation, loss",
    [
        (np.array([0, 1, 2, 3, 1, 0]), 4, "softmax", "sparse_categorical_crossentropy"),
        (np.array([[0], [2], [1], [2], [1], [0]], dtype="uint8"), 3, "softmax",
         "sparse_categorical_crossentropy"),
        (np.array([0.0, 1.0, 2.0, 1.0, 0.0, 2.0]), 3, "softmax",
         "sparse_categorical_crossentropy"),
        (np.eye(3)[[0, 1, 2, 0, 1, 2]], 3, "softmax", "categorical_crossentropy"),
        (np.array([0, 1, 1, 0, 1, 0]), 1, "sigmoid", "binary_crossentropy"),
        (np.array([True, False, True, False, True, False]), 1, "sigmoid", "binary_crossentropy"),
        (np.array([[1, 0], [1, 1], [0, 0], [0, 1], [1, 1], [0, 0]]), 2, "sigmoid",
         "binary_crossentropy"),
        (np.array([0.5, 1.25, -3.0, 2.0, 0.1, 7.7]), 1, "linear", "mse"),
        (np.random.default_rng(0).normal(size=(6, 2)), 2, "linear", "mse"),
    ],
)  # fmt: skip
def test_from_data_infers_the_output(y, units, activation, loss):
    hypermodel = DenseHyperModel.from_data(_X, y)
    assert hypermodel.input_shape == (4,)
    assert hypermodel.output_units == units
    assert hypermodel.output_activation == activation
    assert hypermodel.loss == loss
    assert hypermodel.metrics == ([] if loss == "mse" else ["accuracy"])


def test_from_data_images_and_digits_train(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")  # (n, 8, 8): flattened by the model
    hypermodel = DenseHyperModel.from_data(x, digits.target, neurons=(64,), max_hidden_layers=1)
    assert hypermodel.input_shape == (8, 8)
    assert hypermodel.output_units == 10
    keras.utils.set_random_seed(0)
    hp = _space(hypermodel)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, x[:1400], digits.target[:1400], epochs=3, verbose=0,
                             validation_data=(x[1400:], digits.target[1400:]))  # fmt: skip
    assert history.history["val_accuracy"][-1] > 0.8  # chance is 0.1
    path = tmp_path / "m.keras"
    model.save(path)
    assert keras.models.load_model(path).output_shape == (None, 10)


def test_from_data_lets_the_user_say_regression_and_override():
    y = np.array([0, 1, 2, 3, 4, 5])
    hypermodel = DenseHyperModel.from_data(_X, y, task="regression")
    assert (hypermodel.loss, hypermodel.output_units) == ("mse", 1)
    hypermodel = DenseHyperModel.from_data(_X, y, output_units=10, neurons=[8, 4])
    assert hypermodel.output_units == 10 and hypermodel.neurons == (4, 8)
    # A user loss decides the activation and metrics, not the inferred task.
    hypermodel = DenseHyperModel.from_data(_X, y, loss="mae")
    assert hypermodel.output_activation is None and hypermodel._output_activation() is None
    assert hypermodel._metrics() == []
    logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert DenseHyperModel.from_data(_X, y, loss=logits)._output_activation() is None


@pytest.mark.parametrize(
    "x, y, task, match",
    [
        (_X, np.array([0, 1, 2]), None, "one row per sample"),
        (np.zeros(6), np.arange(6), None, "shape"),
        (_X, np.array([-1, 0, 1, 2, 1, 0]), None, "negative"),
        (_X, np.zeros(6, dtype=int), None, "single class"),
        (_X, np.array(list("abcabc")), None, "numeric"),
        (_X, np.zeros((6, 2, 2)), None, r"\(n,\) or \(n, k\)"),
        (_X, np.array([[0, 2], [1, 1], [0, 0], [1, 1], [0, 2], [1, 3]]), None, "task='regression'"),
        (_X, np.array([0.5, 1.5, 0.2, 0.1, 0.4, 0.3]), "classification", "classification"),
        (_X, np.arange(6), "clustering", "task"),
    ],
)
def test_from_data_rejects_unusable_data(x, y, task, match):
    with pytest.raises(ValueError, match=match):
        DenseHyperModel.from_data(x, y, task=task)


def test_infer_output_is_usable_alone():
    assert infer_output(np.array([3, 0, 1]))["output_units"] == 4


# Argument validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "adamm"}, r"optimizer got 'adamm'; accepted values: 'adam'"),
        ({"optimizer": []}, "optimizer must not be empty"),
        ({"optimizer": ["adam", "adam"]}, "optimizer has repeated"),
        ({"initializer": ["he_normal", 3]}, "initializer got 3; accepted values: 'lecun_uniform'"),
        ({"hidden_activation": "relux"}, r"hidden_activation got 'relux'; accepted values"),
        ({"batch_size": [16, 0]}, "batch_size must be positive integers"),
        ({"batch_size": 2.5}, "batch_size must be positive integers"),
        ({"neurons": [0, 16]}, "neurons must be positive integers .depth is set by max_hidden"),
        ({"neurons": [True]}, "neurons must be positive integers"),
        ({"input_dropout": [0.1, 1.0]}, r"input_dropout must be dropout rates in \[0, 1\)"),
        ({"hidden_dropout": -0.1}, r"hidden_dropout must be dropout rates in \[0, 1\)"),
        ({"hidden_dropout": [0.1, 0.10000000001]}, "hidden_dropout has repeated"),
        ({"max_hidden_layers": 0}, "max_hidden_layers must be >= 1"),
        ({"max_hidden_layers": 2.0}, "max_hidden_layers must be an integer"),
        ({"input_shape": (0, 3)}, "input_shape must be a tuple of positive integers"),
        ({"output_units": 0}, "output_units must be a positive integer"),
        ({"output_activation": "softmaxx"}, "output_activation got 'softmaxx'"),
        ({"loss": "crossentropyy"}, "loss got 'crossentropyy'"),
        ({"loss": 3}, "loss must be a Keras loss"),
        (
            {"metrics": "accuracy"},
            r"metrics must be a list of Keras metrics such as \['accuracy'\]",
        ),
    ],
)
def test_bad_arguments_name_the_argument_and_the_accepted_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenseHyperModel(**kwargs)


def test_single_values_fix_a_hyperparameter_and_ranges_are_sorted():
    hypermodel = _hypermodel(optimizer="sgd", batch_size=[64, 16], max_hidden_layers=2)
    hp = _space(hypermodel)
    assert [h.name for h in hp.space] == [
        "optimizer",
        "initializer",
        "hidden_activation",
        "batch_size",
        "input_dropout",
        "neurons0",
        "dropout0",
        "neurons1",
        "dropout1",
    ]
    assert list(hp.space[0].values) == ["sgd"]
    assert list(hp.space[3].values) == [16, 64]


# Size of the conditional space ----------------------------------------------------------------


def _parents(space) -> set[str]:
    return {condition.name for h in space for condition in h.conditions}


def _is_active(h, values) -> bool:
    return all(condition.is_active(values) for condition in h.conditions)


def count_active_configurations(space) -> int:
    """Distinct active-value assignments, enumerated over the hyperparameters that gate others.

    A hyperparameter that is no condition's parent cannot change which others are active, so
    it multiplies the count by its number of values; the parents are branched on one by one.
    """
    parents = _parents(space)

    def walk(index: int, values: dict) -> int:
        if index == len(space):
            return 1
        h = space[index]
        if not _is_active(h, values):
            return walk(index + 1, values)
        if h.name not in parents:
            return len(h.values) * walk(index + 1, values)
        return sum(walk(index + 1, {**values, h.name: v}) for v in h.values)

    return walk(0, {})


def brute_force_distinct_active(space) -> tuple[int, int]:
    """(unconditional assignments, distinct active projections) by full enumeration."""
    assignments = list(itertools.product(*(h.values for h in space)))
    projections = set()
    for assignment in assignments:
        values = dict(zip((h.name for h in space), assignment))
        projections.add(tuple(sorted((h.name, values[h.name]) for h in space
                                     if _is_active(h, values))))  # fmt: skip
    return len(assignments), len(projections)


def test_conditional_space_count_matches_brute_force_enumeration():
    hypermodel = _hypermodel(optimizer="adam", initializer="he_normal", hidden_activation="relu",
                             batch_size=32, neurons=(16, 32), input_dropout=(0.0, 0.5),
                             hidden_dropout=(0.0, 0.5), max_hidden_layers=3)  # fmt: skip
    space = _space(hypermodel).space
    unconditional, distinct = brute_force_distinct_active(space)
    # 2 input dropouts * (2*2 for layer 0) * (1 + 2*2 + (2*2)**2) = 168 distinct networks, out
    # of 2 * 2*2 * 3*2 * 3*2 = 288 flat encodings.
    assert (unconditional, distinct) == (288, 168)
    assert count_active_configurations(space) == distinct


def test_default_conditional_space_saves_two_fifths_of_a_flat_encoding():
    space = _space(_hypermodel()).space
    conditional = count_active_configurations(space)
    unconditional = math.prod(len(h.values) for h in space)
    shared = 3 * 6 * 2 * 3 * 6  # optimizer, initializer, activation, batch size, input dropout
    layer = 7 * 6  # a hidden layer: width and dropout
    assert conditional == shared * layer * sum(layer**k for k in range(5))
    assert unconditional == shared * 7 * 8**4 * 6**5
    saved = 1 - conditional / unconditional
    # 8.68e10 distinct networks instead of 1.44e11 encodings: 40 % of a flat genome's
    # configurations are duplicates that differ only in genes of absent layers.
    assert saved == pytest.approx(0.39952, abs=1e-5)
