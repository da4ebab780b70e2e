"""The search space: Keras Tuner `HyperParameters` values <-> canonical genomes.

A *genome* is the dict of a configuration's **active** hyperparameter values, each in a
canonical plain Python type (`int`, `float`, `bool`, `str`), so that `3`, `3.0` and
`numpy.int64(3)` are one value, JSON and gRPC can carry it, and its hash is stable across
processes. Everything here is a pure function of the search space and the values.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

Genome = dict[str, Any]

# `prob_to_value` maps [0, 1) onto a domain; Keras Tuner's `Int` without a step maps
# probability 1.0 to `max_value + 1`, so probabilities are kept strictly below 1.
_MAX_PROB = 1.0 - 1e-9

# Domains larger than this are treated as infinite when counting configurations.
_COUNT_LIMIT = 10**12


def _round_float(value: float) -> float:
    """Rounds away binary noise such as `0.30000000000000004` (12 significant digits)."""
    return float(f"{float(value):.12g}")


def canonical_value(hp: hp_module.HyperParameter, value: Any) -> Any:
    """Returns `value` as the plain Python value that `hp` declares.

    Args:
        hp: The hyperparameter the value belongs to.
        value: A value of any numeric or numpy type.

    Returns:
        A plain `int`, `float`, `bool` or `str`; for a `Choice`, the matching element of its
        `values` (so `3.0` becomes `3` when the choices are ints).

    Raises:
        ValueError: if the value is not one of the choices of a `Choice`.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(hp, hp_module.Boolean):
        return bool(value)
    if isinstance(hp, hp_module.Fixed):
        return hp.value
    if isinstance(hp, hp_module.Choice):
        for choice in hp.values:
            if choice == value and type(choice) is not bool or choice is value:
                return choice
        raise ValueError(f"{value!r} is not one of the choices {hp.values} of {hp.name!r}.")
    if isinstance(hp, hp_module.Int):
        return int(round(value))
    if isinstance(hp, hp_module.Float):
        return _round_float(value)
    return value


def is_ordered(hp: hp_module.HyperParameter) -> bool:
    """Whether `hp`'s values have an order that steps can follow: Int, Float, ordered Choice."""
    return isinstance(hp, (hp_module.Int, hp_module.Float)) or (
        isinstance(hp, hp_module.Choice) and bool(hp.ordered)
    )


def is_valid_value(hp: hp_module.HyperParameter, value: Any) -> bool:
    """Whether `value` lies in `hp`'s declared domain (range, step and choices)."""
    if isinstance(hp, hp_module.Fixed):
        return value == hp.value
    if isinstance(hp, hp_module.Boolean):
        return isinstance(value, (bool, np.bool_))
    if isinstance(hp, hp_module.Choice):
        return any(value == choice for choice in hp.values)
    if isinstance(hp, (hp_module.Int, hp_module.Float)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            return False
        if not hp.min_value - 1e-9 <= value <= hp.max_value + 1e-9:
            return False
        if isinstance(hp, hp_module.Int) and value != int(value):
            return False
        if hp.step is not None:
            index = _step_index(hp, value)
            return abs(index - round(index)) < 1e-6
        return True
    return True


def _step_index(hp: hp_module.HyperParameter, value: float) -> float:
    """Position of `value` on a stepped Int/Float grid (fractional when off the grid)."""
    if hp.sampling == "linear":
        return (value - hp.min_value) / hp.step
    if hp.sampling == "log":
        return math.log(value / hp.min_value) / math.log(hp.step)
    return math.log((hp.max_value + hp.min_value - value) / hp.min_value) / math.log(hp.step)


def _grid_value(hp: hp_module.HyperParameter, index: int) -> float:
    if hp.sampling == "linear":
        return hp.min_value + index * hp.step
    if hp.sampling == "log":
        return hp.min_value * hp.step**index
    return hp.max_value + hp.min_value - hp.min_value * hp.step**index


def _step_count(hp: hp_module.HyperParameter) -> int:
    # The reverse-log grid runs down from `max_value` (index 0) to `min_value`.
    end = hp.min_value if hp.sampling == "reverse_log" else hp.max_value
    return int(math.floor(_step_index(hp, end) + 1e-9)) + 1


def value_to_prob(hp: hp_module.HyperParameter, value: Any) -> float:
    """Maps a value to its probability-space coordinate in `[0, 1)`."""
    if isinstance(hp, (hp_module.Int, hp_module.Float)) and hp.step is not None:
        # Keras Tuner floors `(value - min) // step`, which sends 0.3 to the 0.2 bucket.
        index = round(_step_index(hp, value))
        prob = (index + 0.5) / _step_count(hp)
    else:
        prob = float(hp.value_to_prob(value))
    return min(max(prob, 0.0), _MAX_PROB)


def reflect_prob(prob: float) -> float:
    """A coordinate moved past a border of [0, 1] folded back inside (mirrored at 0 and at 1),
    so that a step from an edge value can still move it inwards."""
    prob = abs(prob)
    return 2.0 - prob if prob > 1.0 else prob


def prob_to_value(hp: hp_module.HyperParameter, prob: float) -> Any:
    """Maps a probability-space coordinate to a canonical value inside `hp`'s domain."""
    prob = min(max(float(prob), 0.0), _MAX_PROB)
    if isinstance(hp, (hp_module.Int, hp_module.Float)) and hp.step is not None:
        # Keras Tuner's own grid can drop `max_value` (0.5 // 0.1 == 4.0): index it ourselves.
        count = _step_count(hp)
        value = _grid_value(hp, min(int(prob * count), count - 1))
    else:
        value = hp.prob_to_value(prob)
    if isinstance(hp, (hp_module.Int, hp_module.Float)):
        # Stepped floats and log-sampled ints can land a hair outside the range.
        value = min(max(value, hp.min_value), hp.max_value)
    return canonical_value(hp, value)


def sample_value(hp: hp_module.HyperParameter, rng: np.random.Generator) -> Any:
    """Draws a value uniformly in `hp`'s probability space (so log sampling is honoured)."""
    return prob_to_value(hp, rng.random())


def is_active(hp: hp_module.HyperParameter, values: Mapping[str, Any]) -> bool:
    """Whether all of `hp`'s parent conditions hold for `values`."""
    return all(condition.is_active(values) for condition in hp.conditions)


def repair(
    space: HyperParameters,
    values: Mapping[str, Any],
    rng: np.random.Generator | None = None,
) -> Genome:
    """Makes a valid genome of `values` for `space`, respecting `conditional_scope`.

    The space is walked in declaration order, so a parent's value decides whether its children
    are active before they are visited. Active hyperparameters keep their value when it is valid;
    a missing or invalid one is drawn from `rng` (or takes its default when `rng` is None, which
    is what a model that registers it while building would use). Inactive values are dropped.

    Args:
        space: The search space.
        values: Proposed values, possibly partial, possibly with inactive entries.
        rng: Generator for filling missing values; None fills defaults.

    Returns:
        The genome: active values only, canonical types, in the space's order.
    """
    genome: Genome = {}
    for hp in space.space:
        # `hp.conditions` first: most hyperparameters have none, and `is_active` costs a call.
        if hp.name in genome or (hp.conditions and not is_active(hp, genome)):
            continue
        value = values.get(hp.name)
        if value is not None and (checked := _checked_value(hp, value)) is not _INVALID:
            genome[hp.name] = checked
        elif rng is None:
            genome[hp.name] = canonical_value(hp, hp.default)
        else:
            genome[hp.name] = sample_value(hp, rng)
    return genome


# (id(hp), type(value), value) -> (hp, `_checked_value`): `repair` checks every value of every
# child, and children inherit their parents' values, so most checks repeat. The hp is held, so
# an entry is never read for another hyperparameter that took a freed one's id.
_CHECKED: dict[tuple[int, type, Any], tuple[hp_module.HyperParameter, Any]] = {}
_MAX_CHECKED = 1 << 16
_INVALID = object()


def _check_value(hp: hp_module.HyperParameter, value: Any) -> Any:
    """`canonical_value(hp, value)` if `is_valid_value(hp, value)`, else `_INVALID`."""
    return canonical_value(hp, value) if is_valid_value(hp, value) else _INVALID


def _checked_value(hp: hp_module.HyperParameter, value: Any) -> Any:
    """`_check_value(hp, value)`, memoised."""
    # 0.0 and -0.0 would share a key but not their canonical value: never memoised.
    if not value and isinstance(value, (float, np.floating)):
        return _check_value(hp, value)
    key = (id(hp), type(value), value)
    try:
        entry = _CHECKED.get(key)
    except TypeError:  # an unhashable value (never valid for a hyperparameter)
        return _check_value(hp, value)
    if entry is not None and entry[0] is hp:
        return entry[1]
    checked = _check_value(hp, value)
    if len(_CHECKED) >= _MAX_CHECKED:
        _CHECKED.clear()
    _CHECKED[key] = (hp, checked)
    return checked


def random_genome(space: HyperParameters, rng: np.random.Generator) -> Genome:
    """Draws a random genome: every active hyperparameter sampled in probability space."""
    return repair(space, {}, rng)


def latin_prob(key: int, name: str, slot: int, size: int) -> float:
    """Coordinate of member `slot` of a `size`-member Latin hypercube along gene `name`.

    Each gene has its own random permutation of the `size` strata of [0, 1), derived from
    `key` and the gene's name alone, so the design does not depend on the order in which
    genes are declared or discovered, and every gene's range is covered evenly.
    """
    name_key = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big")
    generator = np.random.default_rng([key, name_key])
    stratum = generator.permutation(size)[slot]
    return float((stratum + generator.random(size)[slot]) / size)


def latin_genome(space: HyperParameters, key: int, slot: int, size: int) -> Genome:
    """Member `slot` of a Latin hypercube of `size` genomes in probability space.

    Conditional scopes are followed as in `repair`: a gene is drawn only when its parents'
    values make it active.
    """
    genome: Genome = {}
    for hp in space.space:
        if hp.name in genome or not is_active(hp, genome):
            continue
        genome[hp.name] = prob_to_value(hp, latin_prob(key, hp.name, slot, size))
    return genome


# `json.dumps(..., separators=(",", ":"))` without building an encoder at every call (the
# engine hashes every candidate child): the same text.
_HASH_ENCODER = json.JSONEncoder(separators=(",", ":"))


def genome_hash(genome: Mapping[str, Any]) -> str:
    """A stable hash of a genome's canonical values (independent of key order)."""
    text = _HASH_ENCODER.encode(sorted(genome.items()))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def finite_domain(hp: hp_module.HyperParameter) -> list[Any] | None:
    """The finite list of `hp`'s values, or None when it is continuous or too large."""
    if isinstance(hp, hp_module.Fixed):
        return [hp.value]
    if isinstance(hp, hp_module.Boolean):
        return [False, True]
    if isinstance(hp, hp_module.Choice):
        return list(hp.values)
    if isinstance(hp, hp_module.Int) and hp.step is None:
        size = hp.max_value - hp.min_value + 1
        return list(range(hp.min_value, hp.max_value + 1)) if size <= 100_000 else None
    if isinstance(hp, (hp_module.Int, hp_module.Float)) and hp.step is not None:
        values = {canonical_value(hp, _grid_value(hp, i)) for i in range(_step_count(hp))}
        return sorted(v for v in values if hp.min_value - 1e-9 <= v <= hp.max_value + 1e-9)
    return None


class SpaceFacts(NamedTuple):
    """What the genetic operators read of a space at every call (`space_facts`)."""

    by_name: dict[str, list[hp_module.HyperParameter]]
    condition_parents: frozenset[str]
    # Names declared once, as `Fixed` (never mutable), and names declared more than once
    # (whose active declaration depends on the genome).
    fixed: frozenset[str]
    redeclared: frozenset[str]


# id(space) -> (space, its size when read, its facts); the space is held, so its id stays its own.
_FACTS: dict[int, tuple[HyperParameters, int, SpaceFacts]] = {}
_MAX_FACTS = 32


def space_facts(space: HyperParameters) -> SpaceFacts:
    """`hyperparameters_by_name` and `condition_parents` of `space`, read once per space and
    size (spaces only grow): the operators ask for them for every child they make.

    The result is shared: do not change it.
    """
    entry = _FACTS.get(id(space))
    if entry is None or entry[0] is not space or entry[1] != len(space.space):
        if len(_FACTS) >= _MAX_FACTS:
            _FACTS.clear()
        by_name = hyperparameters_by_name(space)
        facts = SpaceFacts(
            by_name,
            frozenset(condition_parents(space)),
            fixed=frozenset(
                name
                for name, hps in by_name.items()
                if len(hps) == 1 and isinstance(hps[0], hp_module.Fixed)
            ),
            redeclared=frozenset(name for name, hps in by_name.items() if len(hps) > 1),
        )
        entry = _FACTS[id(space)] = (space, len(space.space), facts)
    return entry[2]


def condition_parents(space: HyperParameters) -> set[str]:
    """Names of the hyperparameters that some `conditional_scope` depends on."""
    return {condition.name for hp in space.space for condition in hp.conditions}


def family_genes(space: HyperParameters) -> list[str]:
    """The genes that choose a configuration's *family*: unordered hyperparameters (`Choice`
    without order, `Boolean`) that open conditional scopes and are not inside one themselves,
    in declaration order. In `arch` in {"mlp", "cnn", "transformer"}, each with its own
    hyperparameters, `arch` is one; a layer count (ordered) is not.

    Families are kinds of model rather than sizes of one, and they often learn at different
    speeds, so a few epochs rank them against each other least reliably.
    """
    parents = condition_parents(space)
    return [
        hp.name
        for hp in space.space
        if hp.name in parents
        and not hp.conditions
        and isinstance(hp, (hp_module.Choice, hp_module.Boolean))
        and not is_ordered(hp)
    ]


def count_configurations(space: HyperParameters) -> int | None:
    """Counts the distinct genomes of a space, or None when it is infinite or huge.

    Hyperparameters that no condition depends on multiply the count; only condition parents
    are branched on, so the count is cheap even for large products.
    """
    hps = space.space
    parents = condition_parents(space)
    domains = [finite_domain(hp) for hp in hps]

    def count(index: int, assigned: Genome) -> int | None:
        if index == len(hps):
            return 1
        hp, domain = hps[index], domains[index]
        if hp.name in assigned or not is_active(hp, assigned):
            return count(index + 1, assigned)
        if domain is None:
            return None
        if hp.name not in parents:
            rest = count(index + 1, assigned)
            return None if rest is None else len(domain) * rest
        total = 0
        for value in domain:
            rest = count(index + 1, {**assigned, hp.name: value})
            if rest is None:
                return None
            total += rest
            if total > _COUNT_LIMIT:
                return None
        return total

    total = count(0, {})
    return None if total is None or total > _COUNT_LIMIT else total


def enumerate_genomes(space: HyperParameters) -> Iterator[Genome]:
    """Yields every genome of a finite space (use only when `count_configurations` is small)."""
    hps = space.space
    domains = [finite_domain(hp) for hp in hps]

    def walk(index: int, assigned: Genome) -> Iterator[Genome]:
        if index == len(hps):
            yield dict(assigned)
            return
        hp, domain = hps[index], domains[index]
        if hp.name in assigned or not is_active(hp, assigned):
            yield from walk(index + 1, assigned)
            return
        if domain is None:
            raise ValueError(f"Hyperparameter {hp.name!r} has no finite domain.")
        for value in domain:
            yield from walk(index + 1, {**assigned, hp.name: value})

    yield from walk(0, {})


def hyperparameters_by_name(space: HyperParameters) -> dict[str, list[hp_module.HyperParameter]]:
    """Groups a space's hyperparameters by name (one name may be declared under several scopes)."""
    by_name: dict[str, list[hp_module.HyperParameter]] = {}
    for hp in space.space:
        by_name.setdefault(hp.name, []).append(hp)
    return by_name


def active_hyperparameter(
    space_by_name: Mapping[str, list[hp_module.HyperParameter]],
    name: str,
    genome: Mapping[str, Any],
) -> hp_module.HyperParameter:
    """The declaration of `name` that is active for `genome` (the first one, as in `repair`)."""
    candidates = space_by_name[name]
    if len(candidates) == 1:  # the common case, and the answer either way
        return candidates[0]
    for hp in candidates:
        if is_active(hp, genome):
            return hp
    return candidates[0]


def ensure_active_values(hyperparameters: HyperParameters) -> None:
    """Keras Tuner's `HyperParameters.ensure_active_values`, right for a name in two scopes.

    Keras Tuner's version walks the space and drops the value of every inactive entry, so a
    name declared under two `conditional_scope`s (say `units` for model "a" and for model "b")
    loses its value whenever the second declaration is inactive. Here a value is dropped only
    when no declaration of its name is active; a missing active value takes its default.
    """
    active: dict[str, hp_module.HyperParameter] = {}
    for hp in hyperparameters.space:
        if hp.name not in active and hyperparameters.is_active(hp):
            active[hp.name] = hp
    declared = {hp.name for hp in hyperparameters.space}
    for name in list(hyperparameters.values):
        if name in declared and name not in active:
            del hyperparameters.values[name]
    for name, hp in active.items():
        if name not in hyperparameters.values:
            hyperparameters.values[name] = hp.default
