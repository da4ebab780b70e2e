import keras_tuner as kt
import numpy as np
import pytest

from keras_tuner_evolution import selection, variation
from keras_tuner_evolution import space as space_lib


@pytest.mark.parametrize("scores", [[1.0, 2.0, 3.0], [-3.0, -2.0, -1.0], [0.0, 10.0, 1e6]])
def test_weights_rise_with_fitness_for_max(scores):
    weights = selection.selection_weights(scores, "max", pressure=2.0)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] < weights[1] < weights[2]
    assert weights[2] / weights[0] == pytest.approx(np.exp(2.0))


def test_weights_for_min_objectives_favour_low_losses():
    weights = selection.selection_weights([0.1, 5.0, -2.0], "min", pressure=1.0)
    assert weights[2] > weights[0] > weights[1]


def test_weights_all_equal_or_zero_scores_are_uniform_not_nan():
    for scores in ([0.0, 0.0, 0.0, 0.0], [7.0, 7.0, 7.0, 7.0]):
        weights = selection.selection_weights(scores, "max")
        assert np.allclose(weights, 0.25)


def test_pressure_zero_is_uniform():
    assert np.allclose(selection.selection_weights([1, 5, 9], "max", pressure=0.0), 1 / 3)


def test_worst_member_can_be_picked_and_best_most_often():
    # NaturalSelection 0.6's roulette never picked the worst member.
    rng = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(4000):
        counts[selection.select_breeders(rng, [1.0, 2.0, 3.0, 4.0], 1)[0]] += 1
    assert counts[0] > 0
    assert counts[3] == counts.max()


def test_breeders_are_distinct():
    rng = np.random.default_rng(0)
    picked = selection.select_breeders(rng, list(range(10)), 6, "min")
    assert len(picked) == len(set(picked)) == 6
    assert selection.select_breeders(rng, [1.0, 2.0], 5) in ([0, 1], [1, 0])


def test_elites_are_the_best_for_each_direction():
    scores = [0.5, -1.0, 3.0, 2.0]
    assert selection.best_indices(scores, 2, "max") == [2, 3]
    assert selection.best_indices(scores, 2, "min") == [1, 0]


def test_uniform_crossover_mixes_genes_independently_of_order():
    rng = np.random.default_rng(0)
    mother = {f"g{i}": 0 for i in range(20)}
    father = {f"g{i}": 1 for i in range(20)}
    from_father = np.zeros(20)
    for _ in range(500):
        child, origin = variation.uniform_crossover(rng, mother, father)
        assert set(child) == set(mother)
        for i in range(20):
            from_father[i] += child[f"g{i}"]
            assert origin[f"g{i}"] == ("father" if child[f"g{i}"] else "mother")
    # Every position, first or last, is inherited from either parent about half the time.
    assert np.all(np.abs(from_father / 500 - 0.5) < 0.1)


def test_categorical_mutation_always_changes_the_value():
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "adamax", "nadam"])
    hp.Boolean("flag")
    choice, flag = hp.space
    rng = np.random.default_rng(0)
    for _ in range(100):
        assert variation.mutate_value(rng, choice, "adam") != "adam"
        assert variation.mutate_value(rng, flag, True) is False


def test_ordered_mutation_moves_locally_and_stays_in_range():
    hp = kt.HyperParameters()
    hp.Int("units", 16, 1024, step=2, sampling="log")
    hp.Float("rate", 0.0, 0.5, step=0.1)
    units, rate = hp.space
    rng = np.random.default_rng(0)
    for _ in range(300):
        new_units = variation.mutate_value(rng, units, 128, scale=0.1)
        assert new_units != 128 and space_lib.is_valid_value(units, new_units)
        new_rate = variation.mutate_value(rng, rate, 0.5, scale=0.1)
        assert new_rate != 0.5 and space_lib.is_valid_value(rate, new_rate)


def test_mutate_respects_conditions_and_reports_mutated_genes():
    space = kt.HyperParameters()
    space.Choice("model", ["linear", "mlp"], ordered=False)
    with space.conditional_scope("model", ["mlp"]):
        space.Int("units", 8, 64, step=8)
    rng = np.random.default_rng(3)
    genome = {"model": "linear"}
    mutated_genome, mutated = variation.mutate(rng, space, genome, rate=1.0)
    assert mutated == ["model"]
    assert mutated_genome["model"] == "mlp" and mutated_genome["units"] in range(8, 65, 8)
    back, _ = variation.mutate(rng, space, mutated_genome, rate=0.0, at_least_one=True)
    assert back != mutated_genome


def test_mutation_rate_zero_changes_nothing():
    space = kt.HyperParameters()
    space.Int("a", 0, 100)
    rng = np.random.default_rng(0)
    assert variation.mutate(rng, space, {"a": 50}, rate=0.0) == ({"a": 50}, [])


def test_tournament_select_draws_distinct_members_best_first_with_full_tournaments():
    rng = np.random.default_rng(0)
    scores = [3.0, -1.0, 7.0, 0.5, 2.0]
    # A tournament as large as the pool always picks the fittest member left.
    assert selection.tournament_select(rng, scores, 5, size=5, direction="max") == [2, 0, 4, 3, 1]
    assert selection.tournament_select(rng, scores, 2, size=5, direction="min") == [1, 3]
    picked = selection.tournament_select(rng, scores, 9, size=2)
    assert sorted(picked) == [0, 1, 2, 3, 4]  # never more than the pool, never twice


def test_tournament_size_sets_the_selection_pressure():
    rng = np.random.default_rng(1)
    scores = list(range(10))
    wins = {1: 0, 4: 0}
    for size in wins:
        for _ in range(2000):
            wins[size] += selection.tournament_select(rng, scores, 1, size=size)[0] == 9
    assert 120 < wins[1] < 290  # uniform: about 200 of 2000
    assert wins[4] > 700  # best of 4 out of 10: 40%


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_tournament_size_must_be_a_positive_integer(size):
    with pytest.raises(ValueError, match=r"`size` \(tournament size\) must be an integer >= 1"):
        selection.tournament_select(np.random.default_rng(0), [1.0, 2.0], 1, size=size)


def test_success_rule_raises_on_success_lowers_otherwise_and_stays_bounded():
    assert variation.success_rule(1.0, 0.5) == pytest.approx(1.5)
    assert variation.success_rule(1.0, 0.1) == pytest.approx(1.5**-0.25)
    assert variation.success_rule(3.9, 1.0) == 4.0
    assert variation.success_rule(0.26, 0.0) == 0.25


def test_blend_crossover_draws_real_genes_between_the_parents():
    import keras_tuner as kt
    import numpy as np

    from keras_tuner_evolution.variation import UniformCrossover

    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 10.0)
    hp.Choice("c", ["a", "b"])
    rng = np.random.default_rng(0)
    mother, father = {"x": 2.0, "c": "a"}, {"x": 6.0, "c": "b"}
    children = [UniformCrossover(blend=0.0)(rng, hp, mother, father) for _ in range(200)]
    xs = [child["x"] for child in children]
    assert all(2.0 <= x <= 6.0 for x in xs)
    assert len({round(x, 6) for x in xs}) > 150  # new values, not copies of the parents
    assert {child["c"] for child in children} == {"a", "b"}  # categorical genes are copied
    widened = [UniformCrossover(blend=0.5)(rng, hp, mother, father)["x"] for _ in range(200)]
    assert min(widened) < 2.0 and max(widened) > 6.0
    assert all(0.0 <= x <= 8.0 for x in widened)
    plain = [UniformCrossover()(rng, hp, mother, father)["x"] for _ in range(50)]
    assert set(plain) <= {2.0, 6.0}


def test_blend_must_be_a_small_number():
    import pytest

    from keras_tuner_evolution.variation import UniformCrossover

    for bad in (-0.1, 3, "wide", True):
        with pytest.raises(ValueError, match="`blend`"):
            UniformCrossover(blend=bad)


def test_crossover_child_of_complete_parents_in_an_unconditional_space_is_already_valid():
    # The crossover returns such children without `repair`: they must equal its result.
    hps = kt.HyperParameters()
    hps.Int("units", 8, 512, sampling="log")
    hps.Float("rate", 1e-4, 1e-1, sampling="log")
    hps.Choice("act", ["relu", "elu"])
    hps.Boolean("bn")
    hps.Fixed("seed", 3)
    rng = np.random.default_rng(0)
    crossover = variation.UniformCrossover()
    for _ in range(200):
        mother = space_lib.random_genome(hps, rng)
        father = space_lib.random_genome(hps, rng)
        child = crossover(rng, hps, mother, father)
        assert child == space_lib.repair(hps, child) and list(child) == list(mother)
    hps.Int("late", 1, 4)  # the space grew: parents without the new gene are repaired
    assert "late" in crossover(rng, hps, mother, father)


def test_operators_see_a_space_that_grew_after_they_read_it():
    """`space_facts` is read once per space, and again once the space grew: a gene that opens
    a scope after the first children were made is repaired for like any other."""
    hp = kt.HyperParameters()
    hp.Fixed("units", 8)
    hp.Choice("kind", ["a", "b"])
    rng = np.random.default_rng(0)
    first = space_lib.space_facts(hp)
    assert space_lib.space_facts(hp) is first and first.condition_parents == frozenset()
    child, _ = variation.mutate(rng, hp, {"units": 8, "kind": "a"}, rate=1.0)
    assert child == {"units": 8, "kind": "b"}
    with hp.conditional_scope("kind", ["b"]):
        hp.Float("extra", 0.0, 1.0)
    grown = space_lib.space_facts(hp)
    assert grown.condition_parents == {"kind"} and "extra" in grown.by_name
    # "kind", the only mutable gene, flips to "b": the repair draws the gene that opens.
    child, mutated = variation.mutate(rng, hp, {"units": 8, "kind": "a"}, rate=1.0)
    assert mutated == ["kind"] and child["kind"] == "b" and 0.0 <= child["extra"] <= 1.0
    # And back to "a": the gene is dropped.
    child, _ = variation.mutate(rng, hp, child, rate=1.0)
    assert child == {"units": 8, "kind": "a"}


def test_pick_parents_draws_what_numpys_choice_draws():
    """`pick_parents` makes `rng.choice(n, 2, replace=False)`'s draws itself (it is faster):
    the same pairs and the same generator state after, so seeded searches keep their trials."""
    for seed in range(40):
        rng, twin = np.random.default_rng(seed), np.random.default_rng(seed)
        for n in [*range(2, 40), 100, 9999]:
            breeders = list(range(n))
            expected = tuple(int(i) for i in twin.choice(n, size=2, replace=False))
            assert variation.pick_parents(rng, breeders) == expected
        assert rng.random() == twin.random()
    assert variation.pick_parents(np.random.default_rng(0), ["only"]) == ("only", "only")


def test_mutation_follows_the_active_declaration_of_a_name_declared_twice():
    """A name declared `Fixed` under one scope and `Int` under another mutates only where its
    `Int` declaration is active."""
    hp = kt.HyperParameters()
    hp.Choice("model", ["a", "b"])
    with hp.conditional_scope("model", ["a"]):
        hp.Fixed("units", 8)
    with hp.conditional_scope("model", ["b"]):
        hp.Int("units", 16, 64)
    hp.Fixed("seed", 1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, mutated = variation.mutate(rng, hp, {"model": "b", "units": 32, "seed": 1}, 1.0)
        assert sorted(mutated) == ["model", "units"]
        _, mutated = variation.mutate(rng, hp, {"model": "a", "units": 8, "seed": 1}, 1.0)
        assert mutated == ["model"]


def test_crossover_and_mutation_draw_one_coin_per_gene_in_order():
    """Which parent each gene comes from, and which genes mutate, follow one uniform draw per
    gene in the genes' order (drawn at once, the same numbers): a seeded search makes the
    same children whichever way they are drawn."""
    hps = kt.HyperParameters()
    for i in range(7):
        hps.Int(f"g{i}", 0, 100)
    mother = {f"g{i}": i for i in range(7)}
    father = {f"g{i}": 50 + i for i in range(7)}
    for seed in range(5):
        rng, twin = np.random.default_rng(seed), np.random.default_rng(seed)
        _, origin = variation.uniform_crossover(rng, mother, father)
        coins = [twin.random() < 0.5 for _ in mother]
        assert [origin[name] == "mother" for name in mother] == coins
        assert rng.random() == twin.random()  # no draw more, none fewer
        _, mutated = variation.mutate(rng, hps, mother, rate=0.4, scale=1e-9)
        picked = [name for name in mother if twin.random() < 0.4]
        assert mutated == picked
