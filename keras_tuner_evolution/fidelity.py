"""Multi-fidelity arithmetic as pure functions: rungs, budgets, promotions and fitness.

A configuration is first trained for the fewest epochs (rung 0); the best of each rung are
promoted to the next rung, continuing their checkpoint, up to `max_epochs`. Nothing here knows
Keras Tuner or trials: configurations are ids, results are `(id, score)` pairs per rung.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keras_tuner_evolution.selection import ranks


def rung_epochs(max_epochs: int, factor: int, min_epochs: int = 1) -> list[int]:
    """Cumulative epochs of each rung, fewest first, as Keras Tuner's Hyperband counts them.

    Rung `r` of `R + 1` trains to `ceil(max_epochs / factor**(R - r))` epochs (Keras Tuner's
    `_get_epochs(bracket=R, round=r)`), where the lowest rung trains at least `min_epochs`.

    Example: `rung_epochs(27, 3)` is `[1, 3, 9, 27]`; `rung_epochs(27, 3, min_epochs=3)` is
    `[3, 9, 27]`; `rung_epochs(100, 3)` is `[2, 4, 12, 34, 100]`.
    """
    top = _bracket_count(max_epochs, factor) - 1
    rungs = {math.ceil(max_epochs / factor ** (top - rung)) for rung in range(top + 1)}
    return sorted(epochs for epochs in rungs if epochs >= min_epochs) or [max_epochs]


def _bracket_count(max_epochs: int, factor: int) -> int:
    """Keras Tuner's `_get_num_brackets` with `min_epochs=1`."""
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def hyperband_epochs(max_epochs: int, factor: int, iterations: int = 1) -> int:
    """Total epochs that `keras_tuner.Hyperband(max_epochs, factor, iterations)` trains.

    Follows Keras Tuner 1.4's bracket schedule (`_get_num_brackets`, `_get_size`,
    `_get_epochs`): a promoted model continues its checkpoint, so it pays only its extra epochs.
    """
    brackets = _bracket_count(max_epochs, factor)
    end_size = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        previous = 0
        for round_num in range(bracket + 1):
            size = math.ceil(end_size / (bracket + 1) * factor ** (bracket - round_num))
            target = math.ceil(max_epochs / factor ** (bracket - round_num))
            total += size * (target - previous)
            previous = target
    return total * iterations


def bracket_epochs(max_epochs: int, factor: int, min_epochs: int = 1) -> int:
    """Epochs of one full successive-halving bracket over the rungs: `factor**R` models at the
    lowest rung, `factor**(R - 1)` of them continued to the next, ..., one to `max_epochs`."""
    rungs = rung_epochs(max_epochs, factor, min_epochs)
    top = len(rungs) - 1
    return sum(
        factor ** (top - rung) * (epochs - (rungs[rung - 1] if rung else 0))
        for rung, epochs in enumerate(rungs)
    )


def epochs_per_config(
    rungs: Sequence[int], factor: int, shares: Sequence[float] | None = None
) -> float:
    """Expected epochs one new configuration costs when a `1 / factor` share is promoted.

    Args:
        rungs: Cumulative epochs of each rung.
        factor: The promotion factor.
        shares: The share of new configurations starting at each rung (`start_shares`);
            None: all start at the lowest rung.
    """
    shares = shares if shares is not None else [1.0] + [0.0] * (len(rungs) - 1)
    return sum(
        share * (rungs[start] + sum(
            (rungs[rung] - rungs[rung - 1]) / factor ** (rung - start)
            for rung in range(start + 1, len(rungs))
        ))
        for start, share in enumerate(shares)
    )  # fmt: skip


def start_shares(rung_count: int, factor: int, brackets: int) -> list[float]:
    """The share of new configurations that start at each rung: Hyperband's brackets.

    Hyperband (Li et al., 2018) hedges against short training that misleads: its bracket
    starting at rung `s` of `R + 1` draws `(R + 1) / (R - s + 1) * factor**(R - s)` new
    configurations, so that every bracket spends about the same epochs, the most exploratory
    one (`s = 0`) starting many briefly and the last one training a few from scratch to
    `max_epochs`. Keras Tuner's Hyperband draws these numbers; here they are shares.

    Args:
        rung_count: The number of rungs, `R + 1`.
        factor: The promotion factor.
        brackets: How many brackets are used, the most exploratory first, in
            `[1, rung_count]`; 1 starts every configuration at the lowest rung (ASHA).
    """
    top = rung_count - 1
    weights = [
        factor ** (top - start) / (top - start + 1) if start < brackets else 0.0
        for start in range(rung_count)
    ]
    return [weight / sum(weights) for weight in weights]


def next_start(started: Sequence[int], shares: Sequence[float]) -> int:
    """The rung the next new configuration starts at: the one furthest behind its share.

    A deterministic, smooth round robin: after `n` configurations each rung has started
    `shares[rung] * n` of them, rounded, and no rung waits for a bracket to fill up.

    Args:
        started: How many configurations started at each rung so far.
        shares: `start_shares`.
    """
    total = sum(started) + 1
    return max(range(len(shares)), key=lambda s: (shares[s] * total - started[s], -s))


def promotion(
    results: Sequence[Sequence[tuple[str, float]]],
    promoted: Sequence[set[str]],
    factor: int,
    direction: str,
    everyone: bool = False,
) -> tuple[str, int] | None:
    """The next configuration to promote, asynchronously (ASHA), or None.

    A configuration scored at rung `r` may move to rung `r + 1` as soon as it is among the top
    `1 / factor` of all the results at rung `r` so far. The highest rung is served first, and
    within a rung the best score; no rung waits to fill up.

    Args:
        results: Per rung (all but the last), the `(config id, score)` results so far.
        promoted: Per rung, the ids already promoted from it (or running at the next rung).
        factor: Keep the top `1 / factor`, >= 2.
        direction: "max" or "min".
        everyone: Promote down the whole ranking, not only its top `1 / factor` (once no new
            configuration can be made, the budget left goes to the next best ones).

    Returns:
        `(config id, rung it is promoted from)`, or None.
    """
    for rung in reversed(range(len(results))):
        scored = list(results[rung])
        keep = len(scored) if everyone else len(scored) // factor
        if keep == 0:
            continue
        order = ranks([score for _, score in scored], direction)
        best_first = sorted(range(len(scored)), key=lambda i: (-order[i], i))[:keep]
        for index in best_first:
            config = scored[index][0]
            if config not in promoted[rung]:
                return config, rung
    return None


def bracket_promotion(
    results: Mapping[Any, Sequence[Sequence[tuple[str, float]]]],
    promoted: Sequence[set[str]],
    factor: int,
    direction: str,
    everyone: bool = False,
) -> tuple[str, int] | None:
    """The next promotion when configurations are compared in groups (Hyperband's brackets).

    Each group promotes on its own, as `promotion` does: a configuration is compared only with
    those of its group. A group is a bracket (the configurations that started at one rung), as
    in Hyperband, or a bracket and a family of models (`EvolutionaryHyperbandOracle`'s
    `promote_by_family`). Of the groups' candidates, the highest rung goes first, then the
    better score (scores at one rung are comparable), then the group that sorts first (the
    bracket that started lower).

    Args:
        results: Per group (sortable keys: start rungs, or `(start rung, family)` tuples), per
            rung (all but the last), the `(config id, score)` results.
        promoted: Per rung, the ids already promoted from it (or running at the next rung).
        factor: Keep the top `1 / factor`, >= 2.
        direction: "max" or "min".
        everyone: As for `promotion`.
    """
    sign = 1 if direction == "max" else -1
    best = None
    for start in sorted(results):
        found = promotion(results[start], promoted, factor, direction, everyone)
        if found is not None:
            config, rung = found
            key = (rung, sign * dict(results[start][rung])[config])
            if best is None or key > best[0]:
                best = (key, found)
    return None if best is None else best[1]


def rank_fitness(highest: Mapping[str, tuple[int, float]], direction: str) -> dict[str, float]:
    """A fitness comparable across rungs: the rung reached, plus the rank within that rung.

    Scores from different epoch counts are never compared: a configuration scored at a higher
    rung outranks every one scored only lower (it was among the best there to be promoted),
    and within a rung only the order of the scores matters. The value is `rung + q`, with `q`
    in `[0, 1)` the configuration's rank quantile among those whose highest rung is the same.

    Args:
        highest: Per configuration, `(highest rung with a result, its score)`.
        direction: "max" or "min" (of the raw scores; the fitness is always maximised).
    """
    by_rung: dict[int, list[str]] = {}
    for config, (rung, _) in highest.items():
        by_rung.setdefault(rung, []).append(config)
    fitness = {}
    for rung, configs in by_rung.items():
        order = ranks([highest[config][1] for config in configs], direction)
        for config, rank in zip(configs, order):
            fitness[config] = rung + rank / len(configs)
    return fitness


def families_learn_alike(
    results: Sequence[Sequence[tuple[str, float]]],
    family: Callable[[str], Any],
    min_gains: int = 3,
    threshold: float = 3.0,
) -> bool | None:
    """Whether the families' configurations gain alike from longer training, by what the
    promotions so far show (`EvolutionaryHyperbandOracle`'s `promote_by_family="auto"`).

    When two families differ in mean gain (`standardised_gains`) by more than `threshold`
    standard errors (pooled within families), short training ranks them against each other
    wrongly: they do not learn alike. The threshold is high because the test is repeated as
    results come in, for every pair of families.

    Args:
        results: Per rung, the `(configuration, score)` results.
        family: The family of a configuration id.
        min_gains: Gains a family needs to count.
        threshold: Standard errors of the difference of two families' mean gains.

    Returns:
        True when at least two families have `min_gains` gains and no two differ; False
        when two differ; None when too few gains are known to tell.
    """
    gains = {
        name: values
        for name, values in standardised_gains(results, family).items()
        if len(values) >= min_gains
    }
    if len(gains) < 2:
        return None
    means = {name: sum(values) / len(values) for name, values in gains.items()}
    squares = sum((v - means[name]) ** 2 for name, values in gains.items() for v in values)
    pooled = squares / max(1, sum(len(values) for values in gains.values()) - len(gains))
    names = sorted(gains)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            error = math.sqrt(pooled * (1 / len(gains[first]) + 1 / len(gains[second])))
            if abs(means[first] - means[second]) > threshold * error:
                return False
    return True


def standardised_gains(
    results: Sequence[Sequence[tuple[str, float]]], family: Callable[[str], Any]
) -> dict[Any, list[float]]:
    """Per family, the gains of its configurations from one rung to the next.

    A gain is a configuration's score at a rung minus its score at the rung below, in
    standard deviations of all gains between those two rungs (minus their mean), so that
    gains of different pairs of rungs pool; pairs with fewer than three gains, or gains all
    equal, are left out.
    """
    gains: dict[Any, list[float]] = {}
    for lower, upper in zip(results, results[1:]):
        before = dict(lower)
        pairs = [(config, score - before[config]) for config, score in upper if config in before]
        if len(pairs) < 3:
            continue
        mean = sum(gain for _, gain in pairs) / len(pairs)
        spread = math.sqrt(sum((gain - mean) ** 2 for _, gain in pairs) / (len(pairs) - 1))
        if spread > 0:
            for config, gain in pairs:
                gains.setdefault(family(config), []).append((gain - mean) / spread)
    return gains
