"""`History`: what an evolution did, generation by generation."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

HISTORY_FILE = "history.json"


def atomic_write_text(path: str, text: str) -> None:
    """Writes a file so that a reader (or a crash) never sees it half written.

    The text goes to a temporary file in the same folder, is flushed and fsynced, then
    renamed over `path` (an atomic step on POSIX and Windows).
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


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
            parents' trial ids and the genes that were mutated.
    """

    objective: str = "score"
    direction: str = "max"
    generations: list[Generation] = field(default_factory=list)
    genomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_reason: str | None = None
    lineage: dict[str, dict[str, Any]] = field(default_factory=dict)

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
        """The family tree of a trial: `{"trial_id", "parents": [subtrees], ...lineage}`."""
        seen: set[str] = set()

        def tree(tid: str) -> dict[str, Any]:
            record = dict(self.lineage.get(tid, {}))
            parents = record.pop("parents", [])
            node = {"trial_id": tid, **record, "parents": []}
            if tid not in seen:
                seen.add(tid)
                node["parents"] = [tree(parent) for parent in parents]
            return node

        return tree(trial_id)

    # Serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = {
            "best": self.best,
            "mean": self.mean,
            "std": self.std,
            "fittest": self.fittest,
        }
        return data

    def to_json(self) -> str:
        """The History as JSON (with derived statistics included for other tools)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(
            objective=data["objective"],
            direction=data["direction"],
            generations=[Generation(**g) for g in data["generations"]],
            genomes=data.get("genomes", {}),
            stop_reason=data.get("stop_reason"),
            lineage=data.get("lineage", {}),
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
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        if show:
            plt.show()
        else:
            plt.close(fig)
        return fig


def _json_default(value: Any) -> Any:
    # numpy scalars that slipped into metrics.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
