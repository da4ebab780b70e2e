"""`History`: what an evolution did, generation by generation."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from keras_tuner_evolution.storage import atomic_write_text  # noqa: F401 (re-exported)

HISTORY_FILE = "history.json"


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
        return [s for s in self.scores if s is not None and math.isfinite(s)]

    @property
    def mean(self) -> float | None:
        scores = self.completed_scores
        return sum(scores) / len(scores) if scores else None

    @property
    def std(self) -> float | None:
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
    """

    objective: str = "score"
    direction: str = "max"
    generations: list[Generation] = field(default_factory=list)
    genomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_reason: str | None = None
    lineage: Lineage = field(default_factory=Lineage)

    def __post_init__(self) -> None:
        if not isinstance(self.lineage, Lineage):
            self.lineage = Lineage(self.lineage)

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b

    def _best_of(self, scores: list[float]) -> float | None:
        if not scores:
            return None
        return max(scores) if self.direction == "max" else min(scores)

    @property
    def best(self) -> list[float | None]:
        """Best score per generation (highest for "max", lowest for "min")."""
        return [self._best_of(g.completed_scores) for g in self.generations]

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
        best_id, best_score = None, None
        for trial_id, score in self.scores.items():
            if best_score is None or self._better(score, best_score):
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
        return cls(
            objective=data["objective"],
            direction=data["direction"],
            generations=[Generation(**g) for g in data["generations"]],
            genomes=data.get("genomes", {}),
            stop_reason=data.get("stop_reason"),
            lineage=Lineage(data.get("lineage", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> History:
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

    # Plotting -------------------------------------------------------------------------------

    def plot(
        self,
        path: str | None = None,
        title: str = "Fitness by generation",
        ylabel: str = "Fitness",
        show: bool = False,
    ):
        """Draws the mean ± std band and the best line per generation.

        Works without a display (matplotlib's Agg backend is used when saving only).

        Args:
            path: Where to save the figure (PNG by extension); None to not save.
            title: Figure title.
            ylabel: Label of the y axis (the objective by default is just "Fitness").
            show: Also open a window (needs a display).

        Returns:
            The matplotlib `Figure`.
        """
        import matplotlib

        if not show:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        rows = [
            (g.index, mean, std, best)
            for g, mean, std, best in zip(self.generations, self.mean, self.std, self.best)
            if mean is not None
        ]
        fig, ax = plt.subplots(figsize=(7, 4.2))
        if rows:
            x = [r[0] for r in rows]
            mean = [r[1] for r in rows]
            std = [r[2] for r in rows]
            best = [r[3] for r in rows]
            ax.fill_between(
                x,
                [m - s for m, s in zip(mean, std)],
                [m + s for m, s in zip(mean, std)],
                alpha=0.25,
                label="mean ± std",
            )
            ax.plot(x, mean, marker="o", label="mean")
            ax.plot(x, best, marker="^", label="max" if self.direction == "max" else "min")
            ax.legend(loc="best")
        ax.set_title(title)
        ax.set_xlabel("Generation")
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        return _finish(fig, path, show)

    def plot_lineage(
        self,
        trial_id: str | None = None,
        path: str | None = None,
        title: str | None = None,
        show: bool = False,
    ):
        """Draws the family tree of a trial (the fittest by default), generation by generation.

        Each ancestor is a node in the column of its generation, coloured by its score (grey
        when it has none), with the genes mutated when it was made written beneath it; random
        members are squares, children circles, and lines join children to their parents.

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
        import matplotlib

        if not show:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        if trial_id is None:
            fittest = self.fittest
            if fittest is None:
                raise ValueError("No trial has a score yet: there is no fittest to draw.")
            trial_id = fittest["trial_id"]
        scores = self.scores
        members = self.lineage.ancestors(trial_id)
        columns: dict[int, list[str]] = {}
        for tid in members:
            columns.setdefault(int(self.lineage.get(tid, {}).get("generation", 0)), []).append(tid)
        position = {}
        for generation, tids in columns.items():
            for row, tid in enumerate(tids):
                position[tid] = (generation, (len(tids) - 1) / 2 - row)

        height = max(len(tids) for tids in columns.values())
        fig, ax = plt.subplots(
            figsize=(min(3 + 1.8 * len(columns), 18), min(2.2 + 1.1 * height, 14))
        )
        for tid in members:
            for parent in self.lineage.get(tid, {}).get("parents", []):
                if parent in position:
                    (x0, y0), (x1, y1) = position[parent], position[tid]
                    ax.plot([x0, x1], [y0, y1], color="0.6", zorder=1)
        known = [scores[tid] for tid in members if tid in scores]
        cmap = plt.get_cmap("viridis" if self.direction == "max" else "viridis_r")
        norm = matplotlib.colors.Normalize(min(known, default=0), max(known, default=1))
        for tid in members:
            x, y = position[tid]
            record = self.lineage.get(tid, {})
            color = cmap(norm(scores[tid])) if tid in scores else "0.8"
            marker = "o" if record.get("origin", "child") == "child" else "s"
            edge = "crimson" if tid == trial_id else "black"
            ax.scatter(
                [x],
                [y],
                s=420,
                c=[color],
                marker=marker,
                edgecolors=edge,
                linewidths=2.5 if tid == trial_id else 1,
                zorder=2,
            )
            score = f"{scores[tid]:.4g}" if tid in scores else "n/a"
            ax.annotate(
                f"#{tid}  {score}",
                (x, y),
                xytext=(0, 15),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
            mutated = record.get("mutated") or []
            if mutated:
                shown = ", ".join(mutated[:3]) + (" …" if len(mutated) > 3 else "")
                ax.annotate(
                    f"mutated: {shown}",
                    (x, y),
                    xytext=(0, -20),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                    color="0.3",
                )
        if known:
            fig.colorbar(
                matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=self.objective
            )
        score = scores.get(trial_id)
        ax.set_title(
            title
            or f"Lineage of trial {trial_id}"
            + (f" ({self.objective} {score:.4g})" if score is not None else "")
        )
        ax.set_xlabel("Generation")
        ax.set_xticks(sorted(columns))
        ax.set_yticks([])
        ax.set_xlim(min(columns) - 0.6, max(columns) + 0.6)
        ax.set_ylim(-(height - 1) / 2 - 0.6, (height - 1) / 2 + 0.6)
        shapes = [("o", "child"), ("s", "random / initial")]
        ax.legend(
            handles=[
                matplotlib.lines.Line2D([], [], marker=m, ls="", color="0.5", label=label)
                for m, label in shapes
            ],
            loc="lower left",
            fontsize=8,
            frameon=False,
        )
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        return _finish(fig, path, show)


def _finish(fig: Any, path: str | None, show: bool) -> Any:
    """Lays out, saves (when given a path) and shows or closes a figure; returns it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    if show:
        plt.show()
    else:
        plt.close(fig)  # a figure left open leaks in long searches and notebooks
    return fig


def _json_default(value: Any) -> Any:
    # numpy scalars that slipped into metrics.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
