"""The trials of a multi-fidelity search seen by rung: what `EvolutionaryHyperbandOracle` reads
to promote, to start new configurations and to rank them. Kept up to date as trials start and
end (`catch_up`), and built afresh (`of`) only when the trials changed in another way."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import fidelity

# A promotion group: the rung its configurations started at (their bracket), and their family
# (their values of `space.family_genes`, see `EvolutionaryHyperbandOracle._family`; empty when
# configurations are not grouped by family).
Group = tuple[int, tuple]
Results = list[list[tuple[str, float]]]  # per rung: completed (configuration, score)


@dataclasses.dataclass(eq=False)
class RungView:
    """The trials by rung: results, promotions, brackets and the epochs handed out.

    Every list of results is in the trials' start order, as a view built from scratch lists
    them: a result that ends out of that order (parallel workers) makes `catch_up` refuse, and
    the caller builds the view afresh, so both ways give the same view.
    """

    rungs: Sequence[int]
    family: Callable[[str], tuple] | None  # a configuration's family, by its id (None: none)
    token: Any  # what the caller's `family` depends on: a view is kept only under the same
    # Per trial, in start order: (configuration, rung); unknown trials: rung 0.
    rows: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    configs: list[str] = dataclasses.field(default_factory=list)  # in start order
    trial_at: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)
    results: Results = dataclasses.field(default_factory=list)
    promoted: list[set[str]] = dataclasses.field(default_factory=list)  # with a trial one up
    highest: dict[str, tuple[int, float]] = dataclasses.field(default_factory=dict)
    start: dict[str, int] = dataclasses.field(default_factory=dict)  # config -> its bracket
    started: list[int] = dataclasses.field(default_factory=list)  # per rung, configs started
    spent: int = 0  # epochs handed out (running trials included)
    family_results: dict[Group, Results] = dataclasses.field(default_factory=dict)
    bracket_results: dict[Group, Results] = dataclasses.field(default_factory=dict)
    use_families: bool = True  # whether promotions compare within families (when grouped)
    _index: dict[str, int] = dataclasses.field(default_factory=dict)  # trial id -> start order
    _counted: set[str] = dataclasses.field(default_factory=set)  # trials whose result is in
    _last_counted: int = -1  # the start order of the latest trial whose result is in
    _ended: int = 0  # how much of the oracle's `end_order` was read
    _last_ended: str | None = None  # its last id then (a changed `end_order` is rebuilt)
    _ended_ids: set[str] = dataclasses.field(default_factory=set)  # the ids read from it
    _promoted_results: int = 0  # results above the lowest rung (each a new gain)
    _alike: tuple[int, bool | None] = (-1, None)  # (`_promoted_results`, families alike)

    @classmethod
    def of(
        cls,
        trials: Mapping[str, Any],
        fidelity_rows: Mapping[str, Sequence],
        rungs: Sequence[int],
        end_order: Sequence[str] = (),
        family: Callable[[str], tuple] | None = None,
        token: Any = None,
        previous: RungView | None = None,
    ) -> RungView:
        """The view of `trials`: `previous` caught up with them when it can, else built afresh.

        Args:
            trials: The oracle's trials, by id, in start order.
            fidelity_rows: Per trial id, `[configuration id, rung]` (unknown trials: rung 0).
            rungs: The rungs' epochs.
            end_order: The ids of the trials that ended, in order.
            family: A configuration's family, by its id, when promotions compare within
                families (None: within brackets only).
            token: What `family` depends on: `previous` is kept only under the same token.
            previous: The view of these trials when last asked, if any.
        """
        if (
            previous is not None
            and previous.token == token
            and previous.catch_up(trials, fidelity_rows, end_order)
        ):
            return previous
        view = cls(
            rungs=rungs,
            family=family,
            token=token,
            results=[[] for _ in rungs],
            promoted=[set() for _ in rungs],
            started=[0 for _ in rungs],
        )
        # Every trial is new, and every completed one counted when added, ended or not.
        view.catch_up(trials, fidelity_rows, end_order)
        return view

    @property
    def group_results(self) -> dict[Group, Results]:
        """`results` per promotion group: by bracket and family, or by bracket alone."""
        if self.family is not None and self.use_families:
            return self.family_results
        return self.bracket_results

    def families_alike(self) -> bool | None:
        """`fidelity.families_learn_alike` of the results (which needs `family`).

        Recomputed only when a result above the lowest rung came in: no other result brings
        a new gain (a configuration's lower score is in before it is promoted).
        """
        if self._alike[0] != self._promoted_results:
            alike = fidelity.families_learn_alike(self.results, self.family)
            self._alike = (self._promoted_results, alike)
        return self._alike[1]

    def catch_up(
        self,
        trials: Mapping[str, Any],
        fidelity_rows: Mapping[str, Sequence],
        end_order: Sequence[str],
    ) -> bool:
        """Adds the trials started and the results come in since the last call.

        Returns False, leaving this view part-updated (to be built afresh), when the trials
        changed otherwise: fewer trials or ends than seen, ends replaced, a trial ended again,
        or a result that ended out of start order.
        """
        seen, ended = len(self.rows), self._ended
        if len(trials) < seen or len(end_order) < ended:
            return False
        # A removal shifts the ids read: `_ended_ids` alone would not see it.
        if ended and end_order[ended - 1] != self._last_ended:
            return False
        self._add_trials(trials, fidelity_rows, len(trials) - seen)
        for trial_id in end_order[ended:]:
            trial = trials.get(trial_id)
            # Ended twice (its score may have changed) or out of start order: rebuild.
            if trial is None or trial_id in self._ended_ids:
                return False
            self._ended_ids.add(trial_id)
            if trial_id not in self._counted and not self._count(trial_id, trial):
                return False
        self._ended = len(end_order)
        self._last_ended = end_order[-1] if end_order else None
        return True

    def _add_trials(
        self, trials: Mapping[str, Any], fidelity_rows: Mapping[str, Sequence], new: int
    ) -> None:
        """Adds the `new` last trials, and the results of those already completed."""
        # Newest last: reading a dict from its end skips the trials already seen.
        for trial_id in reversed(list(itertools.islice(reversed(trials), new))):
            self._add_trial(trial_id, tuple(fidelity_rows.get(trial_id, (trial_id, 0))))
            self._count(trial_id, trials[trial_id])

    def _add_trial(self, trial_id: str, row: tuple[str, int]) -> None:
        config_id, rung = row
        continued = config_id != trial_id
        self._index[trial_id] = len(self.rows)
        self.rows.append(row)
        self.trial_at[row] = trial_id
        self.spent += self.rungs[rung] - (self.rungs[rung - 1] if continued else 0)
        if continued:
            self.promoted[rung - 1].add(config_id)
        else:
            self.start[trial_id] = rung
            self.configs.append(trial_id)
            self.started[rung] += 1

    def _count(self, trial_id: str, trial: Any) -> bool:
        """Adds a trial's result if it completed with a score; False if out of start order."""
        if trial.status != TrialStatus.COMPLETED or trial.score is None:
            return True
        index = self._index[trial_id]
        if index < self._last_counted:
            return False
        self._counted.add(trial_id)
        self._last_counted = index
        config_id, rung = self.rows[index]
        result = (config_id, float(trial.score))
        self.results[rung].append(result)
        self._promoted_results += rung > 0
        bracket = self.start.get(config_id, 0)
        _group_entry(self.bracket_results, (bracket, ()), self.rungs)[rung].append(result)
        if self.family is not None:
            group = (bracket, self.family(config_id))
            _group_entry(self.family_results, group, self.rungs)[rung].append(result)
        if config_id not in self.highest or rung >= self.highest[config_id][0]:
            self.highest[config_id] = (rung, result[1])
        return True


def _group_entry(groups: dict[Group, Results], group: Group, rungs: Sequence[int]) -> Results:
    """`groups[group]`, made (an empty list per rung) the first time."""
    entry = groups.get(group)
    if entry is None:
        entry = groups[group] = [[] for _ in rungs]
    return entry
