"""Property tests: random search spaces and random fitness, then the invariants of the search.

Search spaces are drawn from every kind of Keras Tuner hyperparameter (Int and Float with and
without a step, linear/log/reverse-log sampling, Choice of ints, floats or strings, ordered or
not, Boolean, Fixed) under nested `conditional_scope`s. Whatever the space, fitness, direction
and evolution arguments, every configuration the oracle proposes must be valid, on its step, in
plain Python types, with exactly the active hyperparameters, and never proposed twice; a finite
space smaller than the budget must be exhausted exactly. Validity, activity and the size of the
space are checked here independently of `space.py`.

The operators are checked on their own too: selection weights, mutation and crossover.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import keras_tuner as kt
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus

import keras_tuner_evolution as kte
from keras_tuner_evolution import oracle as oracle_module
from keras_tuner_evolution import selection, variation
from keras_tuner_evolution import space as space_lib

# Small and derandomized by default (the suite stays fast and repeatable); set
# KTE_HYPOTHESIS_EXAMPLES=300 for a longer randomized hunt.
_EXAMPLES = os.environ.get("KTE_HYPOTHESIS_EXAMPLES")
SETTINGS = settings(
    max_examples=int(_EXAMPLES or 25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=_EXAMPLES is None,
)
PLAIN_TYPES = (int, float, bool, str)


# A search space as a tree, so that its size can be computed without space.py --------------


@dataclass
class Leaf:
    """One hyperparameter: `kind` is a `HyperParameters` method, `kwargs` its arguments."""

    kind: str
    kwargs: dict[str, Any]
    name: str = ""


@dataclass
class Branch:
    """A parent hyperparameter (Choice or Boolean) and its conditional children."""

    parent: Leaf
    groups: list[tuple[list[Any], list[Leaf | Branch]]] = field(default_factory=list)


def declare(hps: kt.HyperParameters, node: Leaf | Branch) -> None:
    """Registers `node` (and, under `conditional_scope`, its children) on `hps`."""
    if isinstance(node, Leaf):
        getattr(hps, node.kind)(node.name, **node.kwargs)
        return
    declare(hps, node.parent)
    for parent_values, children in node.groups:
        with hps.conditional_scope(node.parent.name, parent_values):
            for child in children:
                declare(hps, child)


def leaf_domain(leaf: Leaf) -> list[Any] | None:
    """The values of a hyperparameter, computed from its arguments; None when continuous."""
    kw = leaf.kwargs
    if leaf.kind == "Fixed":
        return [kw["value"]]
    if leaf.kind == "Boolean":
        return [False, True]
    if leaf.kind == "Choice":
        return list(kw["values"])
    low, high, step = kw["min_value"], kw["max_value"], kw.get("step")
    sampling = kw.get("sampling", "linear")
    if step is None:
        return list(range(low, high + 1)) if leaf.kind == "Int" else None
    values, k = [], 0
    while True:
        if sampling == "linear":
            value = low + k * step
        elif sampling == "log":
            value = low * step**k
        else:
            value = high + low - low * step**k
        if not low - 1e-9 <= value <= high + 1e-9 * max(1.0, abs(high)):
            return values
        values.append(value)
        k += 1


def node_count(node: Leaf | Branch) -> float:
    """Distinct configurations of a node (`math.inf` when continuous)."""
    if isinstance(node, Leaf):
        domain = leaf_domain(node)
        return math.inf if domain is None else len(domain)
    total = 0.0
    for value in leaf_domain(node.parent):
        count = 1.0
        for parent_values, children in node.groups:
            if value in parent_values:
                for child in children:
                    count *= node_count(child)
        total += count
    return total


def tree_count(tree: list[Leaf | Branch]) -> float:
    return math.prod(node_count(node) for node in tree)


# Strategies ---------------------------------------------------------------------------------


@st.composite
def int_leaf(draw, sampling: str | None = None, stepped: bool | None = None) -> Leaf:
    sampling = sampling or draw(st.sampled_from(["linear", "log", "reverse_log"]))
    low = draw(st.integers(-20, 20) if sampling == "linear" else st.integers(1, 20))
    high = low + draw(st.integers(0, 60))
    step = None
    if draw(st.booleans()) if stepped is None else stepped:
        step = draw(st.integers(1, 7) if sampling == "linear" else st.integers(2, 4))
    return Leaf("Int", {"min_value": low, "max_value": high, "step": step, "sampling": sampling})


@st.composite
def float_leaf(draw, sampling: str | None = None, stepped: bool | None = None) -> Leaf:
    sampling = sampling or draw(st.sampled_from(["linear", "log", "reverse_log"]))
    if sampling == "linear":
        steps = [0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5]
        step = draw(
            st.sampled_from(steps if stepped else [None] if stepped is False else [None, *steps])
        )
        low = draw(st.integers(-10, 10)) * 0.5
        # The max is on the step grid or between two grid points.
        high = low + (step or 1.0) * (draw(st.integers(1, 8)) + draw(st.sampled_from([0, 0.5])))
    else:
        steps = [1.5, 2.0, 10.0]
        step = draw(
            st.sampled_from(steps if stepped else [None] if stepped is False else [None, *steps])
        )
        low = draw(st.sampled_from([1e-5, 1e-3, 0.01, 0.2, 1.0, 3.0]))
        high = low * draw(st.sampled_from([2.0, 10.0, 1000.0, 1e4]))
    return Leaf("Float", {"min_value": low, "max_value": high, "step": step, "sampling": sampling})


@st.composite
def choice_leaf(draw) -> Leaf:
    kind = draw(st.sampled_from(["int", "float", "str"]))
    pools = {
        "int": st.integers(-50, 50),
        "float": st.sampled_from([-2.0, 0.001, 0.01, 0.1, 0.25, 0.5, 1.5, 3.0, 1e6]),
        "str": st.sampled_from(["relu", "tanh", "gelu", "adam", "sgd", "x", ""]),
    }
    values = draw(st.lists(pools[kind], min_size=1, max_size=5, unique=True))
    ordered = draw(st.sampled_from([None, False] if kind == "str" else [None, False, True]))
    return Leaf("Choice", {"values": values, "ordered": ordered})


def fixed_leaf() -> st.SearchStrategy[Leaf]:
    value = st.one_of(
        st.integers(-5, 5),
        st.sampled_from([0.5, -1e-3]),
        st.sampled_from(["a", "b"]),
        st.booleans(),
    )
    return value.map(lambda v: Leaf("Fixed", {"value": v}))


def boolean_leaf() -> st.SearchStrategy[Leaf]:
    return st.booleans().map(lambda default: Leaf("Boolean", {"default": default}))


LEAVES = st.one_of(int_leaf(), float_leaf(), choice_leaf(), boolean_leaf(), fixed_leaf())


@st.composite
def parent_leaf(draw) -> Leaf:
    if draw(st.booleans()):
        return Leaf("Boolean", {})
    values = draw(
        st.one_of(
            st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=2, max_size=4, unique=True),
            st.lists(st.integers(0, 9), min_size=2, max_size=4, unique=True),
        )
    )
    return Leaf("Choice", {"values": values})


def nodes(depth: int) -> st.SearchStrategy:
    if depth == 0:
        return LEAVES
    return st.one_of(LEAVES, LEAVES, branch(depth))


@st.composite
def branch(draw, depth: int) -> Branch:
    parent = draw(parent_leaf())
    domain = leaf_domain(parent)
    groups = []
    for _ in range(draw(st.integers(1, 2))):
        subset = draw(st.lists(st.sampled_from(domain), min_size=1, unique=True))
        children = draw(st.lists(nodes(depth - 1), min_size=1, max_size=3))
        groups.append((subset, children))
    return Branch(parent, groups)


def _name(tree: list, counter: list[int]) -> None:
    for node in tree:
        leaf = node if isinstance(node, Leaf) else node.parent
        leaf.name = f"h{counter[0]}"
        counter[0] += 1
        if isinstance(node, Branch):
            for _, children in node.groups:
                _name(children, counter)


@st.composite
def spaces(draw) -> tuple[kt.HyperParameters, list]:
    """A random search space and its tree (unique names h0, h1, ...)."""
    tree = draw(st.lists(nodes(2), min_size=1, max_size=5))
    _name(tree, [0])
    hps = kt.HyperParameters()
    for node in tree:
        declare(hps, node)
    return hps, tree


# Independent checks -------------------------------------------------------------------------


def _on_grid(index: float) -> bool:
    return abs(index - round(index)) < 1e-6 and round(index) >= 0


def check_value(hp: hp_module.HyperParameter, value: Any) -> None:
    """Fails unless `value` is a plain Python value of `hp`'s declared domain."""
    where = f"{hp.name}={value!r} ({type(value).__name__}) for {hp.get_config()}"
    assert type(value) in PLAIN_TYPES, where
    if isinstance(hp, hp_module.Fixed):
        assert value == hp.value and type(value) is type(hp.value), where
    elif isinstance(hp, hp_module.Boolean):
        assert type(value) is bool, where
    elif isinstance(hp, hp_module.Choice):
        assert any(value == c and type(value) is type(c) for c in hp.values), where
    else:
        assert type(value) is (int if isinstance(hp, hp_module.Int) else float), where
        tolerance = 1e-9 * max(1.0, abs(hp.max_value))
        assert hp.min_value - tolerance <= value <= hp.max_value + tolerance, where
        if hp.step is not None:
            if hp.sampling == "linear":
                index = (value - hp.min_value) / hp.step
            elif hp.sampling == "log":
                index = math.log(value / hp.min_value) / math.log(hp.step)
            else:
                index = math.log((hp.max_value + hp.min_value - value) / hp.min_value) / math.log(
                    hp.step
                )
            assert _on_grid(index), where


def check_configuration(space: kt.HyperParameters, values: dict[str, Any]) -> None:
    """Fails unless `values` holds exactly the active hyperparameters, each valid."""
    active = {}
    for hp in space.space:
        if all(condition.is_active(values) for condition in hp.conditions):
            active[hp.name] = hp
    assert set(values) == set(active), (sorted(values), sorted(active))
    for name, value in values.items():
        check_value(active[name], value)


def check_search(space, tree, configurations, max_trials, stop_reason) -> None:
    """Every configuration valid and distinct; a smaller finite space exactly exhausted."""
    for values in configurations:
        check_configuration(space, values)
    keys = {json.dumps(sorted(values.items())) for values in configurations}
    assert len(keys) == len(configurations), "duplicate configurations"
    hashes = {space_lib.genome_hash(space_lib.repair(space, v)) for v in configurations}
    assert len(hashes) == len(configurations), "duplicate canonical configurations"
    size = tree_count(tree)
    if size < max_trials:
        assert len(configurations) == size, (len(configurations), size)
        assert stop_reason == "exhausted"
    else:
        assert len(configurations) == max_trials


def fitness(values: dict[str, Any], salt: int) -> float:
    """A deterministic random fitness of any sign and scale."""
    digest = hashlib.sha256(f"{salt}:{json.dumps(sorted(values.items()))}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") / 2**64 - 0.3) * 10 ** (salt % 7 - 3)


EVOLUTION = st.fixed_dictionaries(
    {
        "population_size": st.integers(2, 8),
        "mutation_rate": st.floats(0.0, 1.0),
        "mutation_scale": st.floats(0.01, 1.0),
        "selection_pressure": st.floats(0.0, 10.0),
        "breeders": st.floats(0.1, 1.0),
        "seed": st.integers(0, 2**31 - 1),
    }
)


# The search ---------------------------------------------------------------------------------


@SETTINGS
@given(
    spaces(),
    EVOLUTION,
    st.integers(3, 30),
    st.sampled_from([kte.maximize, kte.minimize]),
    st.integers(0, 10**6),
)
def test_maximize_proposes_valid_unique_configurations(
    space_and_tree, evolution, max_trials, optimize, salt
):
    space, tree = space_and_tree
    seen = []

    def function(hp):
        seen.append(dict(hp.values))
        return fitness(hp.values, salt)

    history = optimize(function, space, max_trials=max_trials, **evolution)
    check_search(space, tree, seen, max_trials, history.stop_reason)
    assert len(history.scores) == len(seen)
    best = (max if optimize is kte.maximize else min)(fitness(v, salt) for v in seen)
    assert history.fittest["fitness"] == best


@pytest.mark.filterwarnings("ignore:All-NaN axis")
@SETTINGS
@given(
    spaces(),
    EVOLUTION,
    st.integers(3, 30),
    st.integers(1, 4),
    st.lists(st.integers(0, 9), min_size=40, max_size=40),
    st.integers(0, 10**6),
)
def test_parallel_workers_with_failures_get_valid_unique_configurations(
    tmp_path_factory, space_and_tree, evolution, max_trials, workers, draws, salt
):
    # Several tuners take trials and end them out of order; some runs crash or give NaN.
    space, tree = space_and_tree
    evolution["elites"] = evolution["population_size"] // 3
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"),
        max_trials=max_trials,
        hyperparameters=space,
        max_retries_per_trial=1,
        max_consecutive_failed_trials=1000,
        **evolution,
    )
    oracle._set_project_dir(tmp_path_factory.mktemp("oracle"), "p")
    oracle.verbose = 0
    running: dict[str, Any] = {}
    proposed: dict[str, dict] = {}
    idle_tuners: list[str] = [f"tuner{i}" for i in range(workers)]
    turn = 0
    waiting = False  # after an IDLE answer, the next event is a trial ending
    with mock.patch.object(oracle_module, "IDLE_WAIT", 0.0):
        for _ in range(20 * max_trials + 50):
            draw = draws[turn % len(draws)]
            turn += 1
            if idle_tuners and (not running or (draw % 2 == 0 and not waiting)):
                tuner_id = idle_tuners.pop(0)
                trial = oracle.create_trial(tuner_id)
                if trial.status == TrialStatus.STOPPED:
                    if not running:
                        break
                    continue  # this tuner is done; the others finish their trials
                if trial.status == TrialStatus.IDLE:
                    assert running, "IDLE with no trial running would wait forever"
                    idle_tuners.append(tuner_id)
                    waiting = True
                    continue
                assert trial.status == TrialStatus.RUNNING
                values = proposed.setdefault(trial.trial_id, dict(trial.hyperparameters.values))
                assert trial.hyperparameters.values == values, "a retry changed the values"
                running[tuner_id] = trial
            elif running:
                tuner_id = sorted(running)[draw % len(running)]
                trial = running.pop(tuner_id)
                waiting = False
                idle_tuners.append(tuner_id)
                if draw == 7:
                    trial.status = TrialStatus.INVALID
                elif draw == 8:
                    oracle.update_trial(trial.trial_id, {"score": float("nan")})
                    trial.status = TrialStatus.COMPLETED
                else:
                    oracle.update_trial(
                        trial.trial_id, {"score": fitness(proposed[trial.trial_id], salt)}
                    )
                    trial.status = TrialStatus.COMPLETED
                oracle.end_trial(trial)
        else:
            raise AssertionError("the search did not end")
    configurations = list(proposed.values())
    check_search(space, tree, configurations, max_trials, oracle.history.stop_reason)
    completed = [t for t in oracle.trials.values() if t.status == TrialStatus.COMPLETED]
    assert all(math.isfinite(t.score) for t in completed)
    for generation in oracle.history.generations:
        assert len(generation.members) == len(set(generation.members))


def _key(value: Any) -> Any:
    return float(f"{value:.9g}") if type(value) is float else value


FINITE_LEAVES = {
    **{
        f"Int-{sampling}-{'step' if stepped else 'nostep'}": int_leaf(sampling, stepped)
        for sampling in ("linear", "log", "reverse_log")
        for stepped in (True, False)
    },
    **{
        f"Float-{sampling}-step": float_leaf(sampling, True)
        for sampling in ("linear", "log", "reverse_log")
    },
    "Choice": choice_leaf(),
    "Boolean": boolean_leaf(),
    "Fixed": fixed_leaf(),
}


@pytest.mark.parametrize("kind", sorted(FINITE_LEAVES))
@settings(SETTINGS, max_examples=min(SETTINGS.max_examples, 6))
@given(data=st.data(), population=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_a_single_hyperparameter_is_enumerated_exactly(
    tmp_path_factory, kind, data, population, seed
):
    # Whatever the kind, step and sampling, the search visits the declared domain, all of it.
    leaf = data.draw(FINITE_LEAVES[kind])
    leaf.name = "h"
    domain = leaf_domain(leaf)
    assume(domain is not None and len(domain) <= 40)
    hps = kt.HyperParameters()
    declare(hps, leaf)
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "min"),
        hyperparameters=hps,
        max_trials=None,
        population_size=population,
        seed=seed,
    )
    oracle._set_project_dir(tmp_path_factory.mktemp("single"), "p")
    oracle.verbose = 0
    proposed = []
    for _ in range(len(domain) + 1):
        trial = oracle.create_trial("tuner0")
        if trial.status == TrialStatus.STOPPED:
            break
        proposed.append(trial.hyperparameters.values["h"])
        oracle.update_trial(trial.trial_id, {"score": float(len(proposed) % 5)})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    else:
        raise AssertionError("the search did not stop after the whole domain")
    for value in proposed:
        check_value(hps.space[0], value)
    assert sorted(map(_key, proposed), key=repr) == sorted(map(_key, domain), key=repr)


# Operators ----------------------------------------------------------------------------------

SCORES = st.lists(
    st.one_of(
        st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, 1.0, -1.0]),
    ),
    min_size=1,
    max_size=30,
)
DIRECTIONS = st.sampled_from(["max", "min"])


@SETTINGS
@given(SCORES, DIRECTIONS, st.floats(0.0, 50.0))
def test_selection_weights_are_probabilities_monotone_in_rank(scores, direction, pressure):
    weights = selection.selection_weights(scores, direction, pressure)
    assert weights.shape == (len(scores),)
    assert np.all(weights > 0)
    assert math.isclose(weights.sum(), 1.0, rel_tol=1e-9)
    sign = 1 if direction == "max" else -1
    for i, a in enumerate(scores):
        for j, b in enumerate(scores):
            if sign * a > sign * b:
                assert weights[i] >= weights[j]
                if pressure >= 0.01:
                    assert weights[i] > weights[j]
            elif a == b:
                assert math.isclose(weights[i], weights[j], rel_tol=1e-12)
    if pressure == 0.0:
        assert np.allclose(weights, 1.0 / len(scores))


@SETTINGS
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20),
    st.floats(1e-3, 1e3),
    st.floats(-1e6, 1e6),
    st.floats(0.0, 20.0),
)
def test_selection_weights_depend_on_order_only(scores, scale, shift, pressure):
    weights = selection.selection_weights(scores, "max", pressure)
    transformed = [scale * s + shift for s in scores]
    # A positive affine map keeps the order unless it merges close scores.
    if all(
        (a < b) == (ta < tb) and (a == b) == (ta == tb)
        for a, ta in zip(scores, transformed)
        for b, tb in zip(scores, transformed)
    ):
        assert np.allclose(selection.selection_weights(transformed, "max", pressure), weights)
    negated = [-s for s in scores]
    assert np.allclose(selection.selection_weights(negated, "min", pressure), weights)


def _all_leaves(tree):
    for node in tree:
        if isinstance(node, Leaf):
            yield node
        else:
            yield node.parent
            for _, children in node.groups:
                yield from _all_leaves(children)


@SETTINGS
@given(LEAVES, st.integers(0, 2**32 - 1), st.floats(0.01, 1.0))
def test_mutate_value_stays_in_domain_and_moves(leaf, seed, scale):
    leaf.name = "h"
    hps = kt.HyperParameters()
    declare(hps, leaf)
    (hp,) = hps.space
    rng = np.random.default_rng(seed)
    domain = leaf_domain(leaf)
    for _ in range(10):
        value = space_lib.sample_value(hp, rng)
        check_value(hp, value)
        mutated = variation.mutate_value(rng, hp, value, scale)
        check_value(hp, mutated)
        if domain is None or len(domain) > 1:
            assert mutated != value, (hp.get_config(), value)
        else:
            assert mutated == value
        if leaf.kind == "Boolean" or (leaf.kind == "Choice" and hp.ordered is False):
            assert mutated in domain


@SETTINGS
@given(spaces(), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_crossover_genes_come_from_the_parents(space_and_tree, seed, rate):
    space, _ = space_and_tree
    rng = np.random.default_rng(seed)
    mother = space_lib.random_genome(space, rng)
    father = space_lib.random_genome(space, rng)
    check_configuration(space, mother)
    child, origin = variation.uniform_crossover(rng, mother, father)
    assert set(child) == set(origin)
    assert set(mother) & set(father) <= set(child) <= set(mother) | set(father)
    for name, value in child.items():
        parent = mother if origin[name] == "mother" else father
        assert name in parent and parent[name] == value
    repaired = space_lib.repair(space, child, rng)
    check_configuration(space, repaired)
    # Active genes the child inherited are kept by the repair.
    assert all(repaired[name] == child[name] for name in repaired if name in child)
    mutated, names = variation.mutate(rng, space, repaired, rate)
    check_configuration(space, mutated)
    assert set(names) <= set(repaired)
    kept = [name for name in repaired if name not in names and name in mutated]
    assert all(mutated[name] == repaired[name] for name in kept)
