"""`History`: what an evolution did, generation by generation.

The data only: generations and their statistics, lineage, the JSON round trip and the
`history.json` file. The figures are drawn by `keras_tuner_evolution.plots`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from keras_tuner_evolution import scores as scores_lib
from keras_tuner_evolution.persistence import atomic_write_text  # noqa: F401 (re-exported)


def id_order(trial_id: str) -> tuple[int, str]:
    """Sort key for trial ids in the order Keras Tuner creates them ("9999" before "10000").

    Ties between equal scores go to the trial created first, as Keras Tuner's stable sort in
    `Oracle.get_best_trials` does.
    """
    return len(trial_id), trial_id


HISTORY_FILE = "history.json"

# A lineage record's fields, in the order the oracle's saved state stores them.
LINEAGE_FIELDS = ("generation", "origin", "parents", "mutated")
# How a member came to be: drawn at random, bred, given by the user, or imported with its score.
ORIGINS = ("random", "child", "initial", "warm_start")


@dataclass
class Generation:
    """One generation of the population.

    Attributes:
        index: 0 for the random initial population.
        members: Trial ids of the whole population: carried-over elites first, then children.
        elites: The members carried over from earlier generations (not retrained).
        scores: One score per member; None while a member runs, or when it failed.
    """

    index: int
    members: list[str] = field(default_factory=list)
    elites: list[str] = field(default_factory=list)
    scores: list[float | None] = field(default_factory=list)

    @property
    def completed_scores(self) -> list[float]:
        """The finite scores of the members that completed."""
        return [s for s in self.scores if s is not None and math.isfinite(s)]

    @property
    def mean(self) -> float | None:
        """Mean of the completed scores (None when there is none)."""
        scores = self.completed_scores
        return sum(scores) / len(scores) if scores else None

    @property
    def std(self) -> float | None:
        """Population standard deviation of the completed scores (None when there is none)."""
        scores = self.completed_scores
        if not scores:
            return None
        mean = sum(scores) / len(scores)
        return math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))


class Lineage(dict):
    """Lineage records by trial id, also callable for a trial's ancestry.

    `lineage[trial_id]` is the trial's record: its generation, origin ("random", "child",
    "initial"), its parents' trial ids and the genes that were mutated. `lineage(trial_id)` is
    its family tree (see `ancestry`). A plain `dict` otherwise: JSON and equality are a dict's.
    """

    def __call__(self, trial_id: str) -> dict[str, Any]:
        """The family tree of `trial_id`; see `ancestry`."""
        return self.ancestry(trial_id)

    def ancestry(self, trial_id: str) -> dict[str, Any]:
        """The family tree of a trial: `{"trial_id", ...record, "parents": [subtrees]}`.

        An ancestor met twice (inbreeding) is expanded only the first time; later it appears
        with `"parents": []`, so the tree stays finite and small.
        """
        seen: set[str] = set()

        def tree(tid: str) -> dict[str, Any]:
            record = dict(self.get(tid, {}))
            parents = record.pop("parents", [])
            node = {"trial_id": tid, **record, "parents": []}
            if tid not in seen:
                seen.add(tid)
                node["parents"] = [tree(parent) for parent in parents]
            return node

        return tree(trial_id)

    def ancestors(self, trial_id: str) -> list[str]:
        """Trial ids of `trial_id` and all its ancestors, each once, nearest first."""
        order, queue = [], [trial_id]
        while queue:
            tid = queue.pop(0)
            if tid in order:
                continue
            order.append(tid)
            queue.extend(self.get(tid, {}).get("parents", []))
        return order


@dataclass
class History:
    """Per-generation statistics of an evolutionary search.

    Attributes:
        objective: Name of the objective.
        direction: "max" or "min".
        generations: The generations, oldest first.
        genomes: Hyperparameter values of every trial started, by trial id.
        stop_reason: Why the search stopped ("max_trials", "generations", "exhausted"), or None
            while it may go on.
        lineage: Per trial id: its generation, origin ("random", "child", "initial"),
            parents' trial ids and the genes that were mutated (`history.lineage[trial_id]`);
            also callable: `history.lineage(trial_id)` is the trial's ancestry.
        epochs: Multi-fidelity searches only: per trial id, the epochs its score was measured
            at (its highest rung). Scores of different epoch counts are never compared:
            `fittest` is the best of the members measured at the most epochs.
    """

    objective: str = "score"
    direction: str = "max"
    generations: list[Generation] = field(default_factory=list)
    genomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_reason: str | None = None
    lineage: Lineage = field(default_factory=Lineage)
    epochs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.lineage, Lineage):
            self.lineage = Lineage(self.lineage)

    @property
    def best(self) -> list[float | None]:
        """Best score per generation (highest for "max", lowest for "min")."""
        return [scores_lib.best(g.completed_scores, self.direction) for g in self.generations]

    @property
    def mean(self) -> list[float | None]:
        """Mean score per generation, over its members with a score."""
        return [g.mean for g in self.generations]

    @property
    def std(self) -> list[float | None]:
        """Population standard deviation of the scores per generation."""
        return [g.std for g in self.generations]

    @property
    def scores(self) -> dict[str, float]:
        """Score of every completed trial, by trial id."""
        found: dict[str, float] = {}
        for generation in self.generations:
            for trial_id, score in zip(generation.members, generation.scores):
                if score is not None and math.isfinite(score):
                    found[trial_id] = score
        return found

    @property
    def fittest(self) -> dict[str, Any] | None:
        """The best trial so far: `{"genome": {...}, "fitness": float, "trial_id": str}`."""
        scored = self.scores
        if self.epochs:  # multi-fidelity: only the members measured at the most epochs compete
            most = max((self.epochs.get(tid, 0) for tid in scored), default=0)
            scored = {tid: s for tid, s in scored.items() if self.epochs.get(tid, 0) == most}
        best_id, best_score = None, None
        for trial_id, score in sorted(scored.items(), key=lambda item: id_order(item[0])):
            if best_score is None or scores_lib.better(score, best_score, self.direction):
                best_id, best_score = trial_id, score
        if best_id is None:
            return None
        return {
            "genome": dict(self.genomes.get(best_id, {})),
            "fitness": best_score,
            "trial_id": best_id,
        }

    def ancestry(self, trial_id: str) -> dict[str, Any]:
        """The family tree of a trial: `{"trial_id", "parents": [subtrees], ...lineage}`.

        The same as `history.lineage(trial_id)`.
        """
        return self.lineage.ancestry(trial_id)

    # Serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The History as plain data, with a derived `summary` (best, mean, std, fittest)."""
        # Built by hand: `dataclasses.asdict` deep-copies every value, which took most of the
        # time of saving a long search's History.
        data = {
            "objective": self.objective,
            "direction": self.direction,
            "generations": [
                {
                    "index": g.index,
                    "members": list(g.members),
                    "elites": list(g.elites),
                    "scores": list(g.scores),
                }
                for g in self.generations
            ],
            "genomes": {tid: dict(genome) for tid, genome in self.genomes.items()},
            "stop_reason": self.stop_reason,
            "lineage": {tid: dict(record) for tid, record in self.lineage.items()},
        }
        if self.epochs:
            data["epochs"] = dict(self.epochs)
        data["summary"] = {
            "best": self.best,
            "mean": self.mean,
            "std": self.std,
            "fittest": self.fittest,
        }
        return data

    def to_json(self) -> str:
        """The History as JSON (with derived statistics included for other tools)."""
        # Compact: a long search's History runs to megabytes, and it is rewritten as it grows.
        return json.dumps(
            self.to_dict(), separators=(",", ":"), allow_nan=False, default=_json_default
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The History of `to_dict`'s data (its `summary` is derived, so it is not read)."""
        return cls(
            objective=data["objective"],
            direction=data["direction"],
            generations=[Generation(**g) for g in data["generations"]],
            genomes=data.get("genomes", {}),
            stop_reason=data.get("stop_reason"),
            lineage=Lineage(data.get("lineage", {})),
            epochs=data.get("epochs", {}),
        )

    @classmethod
    def from_json(cls, text: str) -> History:
        """The History of `to_json`'s text."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str) -> None:
        """Writes the History as JSON, atomically."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, directory: str, project_name: str | None = None) -> History:
        """Reads the History of a search, finished or running, from its project folder.

        Args:
            directory: The tuner's `directory`, or a path to a `history.json` file.
            project_name: The tuner's `project_name`; omit when `directory` is the file.
        """
        path = directory if project_name is None else os.path.join(directory, project_name)
        if os.path.isdir(path):
            path = os.path.join(path, HISTORY_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No evolution history at {path!r}.")
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(handle.read())

    # Plotting (drawn by `keras_tuner_evolution.plots`) ---------------------------------------

    def plot(
        self,
        path: str | None = None,
        title: str = "Fitness by generation",
        ylabel: str = "Fitness",
        show: bool = False,
    ) -> Any:
        """Draws each generation's spread of scores (worst to best, and 25th to 75th
        percentile), its mean and its best.

        Works without a display (matplotlib's Agg backend is used when saving only). See
        `keras_tuner_evolution.plots.plot_evolution`.

        Args:
            path: Where to save the figure (PNG by extension); None to not save.
            title: Figure title.
            ylabel: Label of the y axis (the objective by default is just "Fitness").
            show: Also open a window (needs a display).

        Returns:
            The matplotlib `Figure`.
        """
        from keras_tuner_evolution import plots

        return plots.plot_evolution(self, path=path, title=title, ylabel=ylabel, show=show)

    def plot_lineage(
        self,
        trial_id: str | None = None,
        path: str | None = None,
        title: str | None = None,
        show: bool = False,
    ) -> Any:
        """Draws the family tree of a trial (the fittest by default), generation by generation.

        Each ancestor is a node in the column of its generation, coloured by its score (grey
        when it has none), with the genes mutated when it was made written beneath it; random
        members are squares, children circles, and lines join children to their parents. See
        `keras_tuner_evolution.plots.plot_lineage`.

        Args:
            trial_id: The trial whose ancestry to draw; None draws the fittest.
            path: Where to save the figure (PNG by extension); None to not save.
            title: Figure title; by default names the trial and its score.
            show: Also open a window (needs a display).

        Returns:
            The matplotlib `Figure`.

        Raises:
            ValueError: If `trial_id` is None and no trial has a score yet.
        """
        from keras_tuner_evolution import plots

        return plots.plot_lineage(self, trial_id=trial_id, path=path, title=title, show=show)


def _json_default(value: Any) -> Any:
    # numpy scalars that slipped into metrics.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
