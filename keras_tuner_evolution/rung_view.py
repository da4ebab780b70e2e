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

    @classmethod
    def of(
        cls,
        trials: Mapping[str, Any],
        fidelity: Mapping[str, Sequence],
        rungs: Sequence[int],
        key: tuple,
        family: Callable[[str], tuple] | None = None,
    ) -> RungView:
        """The view of `trials` (Keras Tuner trials by id, in start order).

        Args:
            trials: The oracle's trials.
            fidelity: Per trial id, `[configuration id, rung]` (unknown trials: rung 0).
            rungs: The epochs of each rung.
            key: What identifies this snapshot (see `EvolutionaryHyperbandOracle._view`).
            family: The family of a configuration, by its id, when promotions compare
                configurations only within their family; None: within their bracket only.
        """
        rows = [tuple(fidelity.get(tid, (tid, 0))) for tid in trials]
        results: list[list[tuple[str, float]]] = [[] for _ in rungs]
        promoted: list[set[str]] = [set() for _ in rungs]
        highest: dict[str, tuple[int, float]] = {}
        start = {tid: rung for tid, (config_id, rung) in zip(trials, rows) if config_id == tid}
        group_results: dict[Group, list[list[tuple[str, float]]]] = {}
        spent = 0
        for trial_id, (config_id, rung) in zip(trials, rows):
            continued = config_id != trial_id
            spent += rungs[rung] - (rungs[rung - 1] if continued else 0)
            if continued:
                promoted[rung - 1].add(config_id)
            trial = trials[trial_id]
            if trial.status == TrialStatus.COMPLETED and trial.score is not None:
                score = float(trial.score)
                results[rung].append((config_id, score))
                group = (start.get(config_id, 0), family(config_id) if family else ())
                group_results.setdefault(group, [[] for _ in rungs])[rung].append(
                    (config_id, score)
                )
                if rung >= highest.get(config_id, (-1, 0.0))[0]:
                    highest[config_id] = (rung, score)
        return cls(
            key=key,
            rows=rows,
            configs=list(start),
            trial_at={tuple(row): tid for tid, row in zip(trials, rows)},
            results=results,
            promoted=promoted,
            highest=highest,
            start=start,
            started=[list(start.values()).count(rung) for rung in range(len(rungs))],
            group_results=group_results,
            spent=spent,
        )
