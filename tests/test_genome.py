import math

import keras_tuner as kt
import numpy as np
import pytest

from keras_tuner_evolution import space as space_lib


def conditional_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("model", ["linear", "mlp"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("units", 8, 64, step=8)
        hp.Boolean("deep")
        with hp.conditional_scope("deep", [True]):
            hp.Choice("depth", [2, 3, 4])
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    return hp


def test_canonical_values_are_plain_python_types():
    hp = kt.HyperParameters()
    hp.Int("i", 0, 10)
    hp.Choice("c", [1, 2, 3])
    hp.Float("f", 0.0, 1.0, step=0.1)
    hp.Boolean("b")
    i, c, f, b = hp.space
    assert space_lib.canonical_value(i, np.int64(3)) == 3
    assert type(space_lib.canonical_value(i, np.int64(3))) is int
    assert type(space_lib.canonical_value(c, 3.0)) is int
    assert space_lib.canonical_value(f, 0.30000000000000004) == 0.3
    assert space_lib.canonical_value(b, np.bool_(True)) is True
    with pytest.raises(ValueError, match="not one of the choices"):
        space_lib.canonical_value(c, 4)


def test_hash_is_the_same_for_equal_values_of_any_type():
    space = kt.HyperParameters()
    space.Int("units", 1, 10)
    space.Float("rate", 0.0, 1.0)
    a = space_lib.repair(space, {"units": 3, "rate": 0.5})
    b = space_lib.repair(space, {"units": np.int64(3), "rate": np.float32(0.5)})
    c = space_lib.repair(space, {"rate": 0.5, "units": 3.0})
    assert space_lib.genome_hash(a) == space_lib.genome_hash(b) == space_lib.genome_hash(c)
    assert space_lib.genome_hash(a) != space_lib.genome_hash({"units": 4, "rate": 0.5})


def test_repair_follows_conditions():
    space = conditional_space()
    rng = np.random.default_rng(0)
    linear = space_lib.repair(space, {"model": "linear", "units": 16, "depth": 3, "lr": 0.01}, rng)
    assert set(linear) == {"model", "lr"}
    mlp = space_lib.repair(space, {"model": "mlp", "deep": False, "depth": 3, "lr": 0.01}, rng)
    assert set(mlp) == {"model", "units", "deep", "lr"}
    assert mlp["units"] in range(8, 65, 8)
    deep = space_lib.repair(space, {"model": "mlp", "deep": True, "lr": 0.01}, rng)
    assert deep["depth"] in (2, 3, 4)


def test_repair_without_rng_fills_defaults_and_replaces_invalid_values():
    space = conditional_space()
    genome = space_lib.repair(space, {"model": "mlp", "units": 13, "lr": 5.0})
    assert genome["units"] == 8  # 13 is off the step grid: default (min_value)
    assert genome["lr"] == pytest.approx(1e-4)


def test_repair_memo_answers_as_the_checks_do():
    """`repair` memoises its value checks (children inherit their parents' values), and the
    memo answers what `is_valid_value` and `canonical_value` would: for values of another type
    that compare equal (3, 3.0, True), for the two zeros, and for invalid values, again."""
    space = kt.HyperParameters()
    space.Int("units", 1, 10)
    space.Choice("act", [1, 2])
    space.Float("shift", -1.0, 1.0)
    for _ in range(2):  # the second pass reads the memo
        assert space_lib.repair(space, {"units": 3.0, "act": 2.0, "shift": 0.5}) == {
            "units": 3,
            "act": 2,
            "shift": 0.5,
        }
        genome = space_lib.repair(space, {"units": True, "act": True, "shift": -0.0})
        assert genome["units"] == 1 and genome["act"] == 1  # True is neither: the defaults
        assert math.copysign(1.0, genome["shift"]) == -1.0
        zero = space_lib.repair(space, {"units": 30, "shift": 0.0})["shift"]
        assert math.copysign(1.0, zero) == 1.0  # not the -0.0 seen before
        for negative, positive in [(np.float64(-0.0), np.float64(0.0))]:
            assert math.copysign(1.0, space_lib.repair(space, {"shift": negative})["shift"]) < 0
            assert math.copysign(1.0, space_lib.repair(space, {"shift": positive})["shift"]) > 0
        assert space_lib.repair(space, {"units": 30})["units"] == 1  # out of range, still


def test_repair_memo_never_answers_for_another_hyperparameter():
    """An entry holds its hyperparameter: a new one that took a freed one's id (and so its
    memo key) is checked for itself."""
    old, new = kt.HyperParameters(), kt.HyperParameters()
    old.Int("units", 1, 10)
    new.Int("units", 100, 200)
    space_lib.repair(old, {"units": 5})
    key = (id(new.space[0]), int, 5)
    space_lib._CHECKED[key] = (old.space[0], 5)  # as if `new`'s hp had reused the old id
    try:
        assert space_lib.repair(new, {"units": 5})["units"] == 100  # invalid here: default
    finally:
        space_lib._CHECKED.pop(key, None)


def test_random_genomes_stay_in_range_with_log_sampling_and_steps():
    space = kt.HyperParameters()
    space.Int("n", 1, 1000, sampling="log")
    space.Int("s", 2, 64, step=2, sampling="log")
    space.Float("f", 0.0, 0.5, step=0.1)
    rng = np.random.default_rng(1)
    seen_f = set()
    for _ in range(2000):
        genome = space_lib.random_genome(space, rng)
        assert 1 <= genome["n"] <= 1000
        assert genome["s"] in (2, 4, 8, 16, 32, 64)
        assert genome["f"] in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
        seen_f.add(genome["f"])
        for hp in space.space:
            assert space_lib.is_valid_value(hp, genome[hp.name])
    # Keras Tuner's own stepped sampling never reaches max_value 0.5; ours does.
    assert seen_f == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}


def test_prob_one_never_leaves_the_int_range():
    space = kt.HyperParameters()
    space.Int("n", 1, 5)
    space.Int("m", 1, 1000, sampling="log")
    for hp in space.space:
        assert space_lib.prob_to_value(hp, 1.0) == hp.max_value


def test_count_and_enumerate_configurations():
    space = conditional_space()
    space_without_float = kt.HyperParameters()
    space_without_float.merge([hp for hp in space.space if hp.name != "lr"])
    assert space_lib.count_configurations(space) is None  # continuous lr
    # linear: 1; mlp: 8 units x (not deep: 1 + deep: 3) = 32
    assert space_lib.count_configurations(space_without_float) == 33
    genomes = list(space_lib.enumerate_genomes(space_without_float))
    assert len(genomes) == 33
    assert len({space_lib.genome_hash(g) for g in genomes}) == 33


def test_count_of_two_booleans_is_four():
    space = kt.HyperParameters()
    space.Boolean("a")
    space.Boolean("b")
    assert space_lib.count_configurations(space) == 4


def test_family_genes_are_unordered_root_choices_that_open_scopes():
    hp = kt.HyperParameters()
    hp.Choice("arch", ["mlp", "cnn"])  # a family gene
    hp.Boolean("extra")  # unordered and at the root, but opens no scope
    hp.Int("layers", 1, 3)  # opens a scope, but ordered: a size, not a kind
    hp.Choice("width", [16, 32, 64])  # numeric choices are ordered
    with hp.conditional_scope("arch", "mlp"):
        hp.Choice("activation", ["relu", "tanh"])  # opens a scope, but inside one
        with hp.conditional_scope("activation", "tanh"):
            hp.Float("slope", 0.0, 1.0)
    with hp.conditional_scope("layers", [2, 3]):
        hp.Float("dropout", 0.0, 0.5)
    with hp.conditional_scope("width", [64]):
        hp.Boolean("wide_norm")
    hp.Boolean("residual")  # a Boolean family gene, declared after the others
    with hp.conditional_scope("residual", True):
        hp.Int("skip", 1, 2)
    assert space_lib.family_genes(hp) == ["arch", "residual"]
