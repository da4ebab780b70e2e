"""The trials of a multi-fidelity search seen by rung: what `EvolutionaryHyperbandOracle` reads
to promote, to start new configurations and to rank them (a snapshot, rebuilt when a trial
starts or ends)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keras_tuner.engine.trial import TrialStatus

# A promotion group: the rung its configurations started at (their bracket), and their family
# (their values of `space.family_genes`, see `EvolutionaryHyperbandOracle._family`; empty when
# configurations are not grouped by family).
Group = tuple[int, tuple]


@dataclasses.dataclass
class RungView:
    """The trials by rung: results, promotions, brackets and the epochs handed out."""

    key: tuple
    rows: list[tuple[str, int]]  # per trial in start order: (configuration, rung); unknown: 0
    configs: list[str]
    trial_at: dict[tuple[str, int], str]
    results: list[list[tuple[str, float]]]  # per rung: completed (configuration, score)
    promoted: list[set[str]]  # per rung: configurations with a trial at the next rung
    highest: dict[str, tuple[int, float]]
    start: dict[str, int]  # configuration -> the rung it started at (its bracket)
    started: list[int]  # per rung, how many configurations started there
    group_results: dict[Group, list[list[tuple[str, float]]]]  # `results` per promotion group
    spent: int  # epochs handed out (running trials included)
    bracket_results: dict[Group, list[list[tuple[str, float]]]]  # `results` per bracket

    @classmethod
    def of(
        cls,
        trials: Mapping[str, Any],
        fidelity: Mapping[str, Sequence],
        rungs: Sequence[int],
        key: tuple,
        family: Callable[[str], tuple] | None = None,
    ) -> RungView:
        """The view of `trials` (the oracle's, by id, in start order), each placed by
        `fidelity` (per trial id, `[configuration id, rung]`; unknown trials: rung 0) on
        `rungs` (their epochs). `key` identifies the snapshot (see the oracle's `_view`);
        `family` gives a configuration's family, by its id, when promotions compare within
        families (None: within brackets only)."""
        rows = [tuple(fidelity.get(tid, (tid, 0))) for tid in trials]
        results: list[list[tuple[str, float]]] = [[] for _ in rungs]
        promoted: list[set[str]] = [set() for _ in rungs]
        highest: dict[str, tuple[int, float]] = {}
        start = {tid: rung for tid, (config_id, rung) in zip(trials, rows) if config_id == tid}
        by_family: dict[Group, list[list[tuple[str, float]]]] = {}
        by_bracket: dict[Group, list[list[tuple[str, float]]]] = {}
        completed = TrialStatus.COMPLETED
        spent = 0
        for trial_id, (config_id, rung) in zip(trials, rows):
            continued = config_id != trial_id
            spent += rungs[rung] - (rungs[rung - 1] if continued else 0)
            if continued:
                promoted[rung - 1].add(config_id)
            trial = trials[trial_id]
            if trial.status != completed or trial.score is None:
                continue
            result = (config_id, float(trial.score))
            results[rung].append(result)
            bracket = start.get(config_id, 0)
            plain = by_bracket.get((bracket, ()))
            if plain is None:
                plain = by_bracket[(bracket, ())] = [[] for _ in rungs]
            plain[rung].append(result)
            if family is not None:
                group = (bracket, family(config_id))
                by_family.setdefault(group, [[] for _ in rungs])[rung].append(result)
            if config_id not in highest or rung >= highest[config_id][0]:
                highest[config_id] = (rung, result[1])
        starts = list(start.values())
        return cls(
            key=key,
            rows=rows,
            configs=list(start),
            trial_at={tuple(row): tid for tid, row in zip(trials, rows)},
            results=results,
            promoted=promoted,
            highest=highest,
            start=start,
            started=[starts.count(rung) for rung in range(len(rungs))],
            group_results=by_family if family is not None else by_bracket,
            spent=spent,
            bracket_results=by_bracket,
        )

    def without_families(self) -> RungView:
        """This view with its promotion groups by bracket only (as built with no `family`).

        `of` groups by bracket and family and by bracket alone in one pass: the oracle may drop
        the families once it has seen the results, and a second pass would cost a rebuild.
        """
        return dataclasses.replace(self, group_results=self.bracket_results)
