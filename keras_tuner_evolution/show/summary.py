"""What `kte show` reports about a project: plain data built from its files.

Built from JSON alone, without importing Keras Tuner or TensorFlow, so `kte show` answers in a
fraction of a second beside a running search. A member whose score history.json does not have
yet (it is rewritten at most every few seconds) takes the score its completed trial.json holds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from keras_tuner_evolution import scores as scores_lib
from keras_tuner_evolution.show.reading import ProjectFiles, Trial
from keras_tuner_evolution.stopping import STOP_MESSAGES

EVOLUTION = "evolution"
KERAS_TUNER = "keras_tuner"
FAILED_STATUSES = ("FAILED", "INVALID")
# Keras Tuner's Hyperband (and any oracle speaking its protocol) puts a trial's epochs here.
EPOCHS_VALUE = "tuner/epochs"


@dataclass
class GenerationRow:
    """One line of the generation table."""

    generation: int
    members: int
    completed: int
    running: int
    failures: int
    best: float | None
    mean: float | None


@dataclass
class Summary:
    """Everything `kte show` prints, as plain data (`to_dict` is its `--json` output).

    Attributes:
        folder: The project folder.
        kind: "evolution" (a search of this package) or "keras_tuner" (another tuner's).
        objective, direction: The objective's name and "max" or "min".
        stop_reason, stop_message: Why the search stopped; None while it may go on.
        search_seconds: Seconds of search, summed over resumed sessions (None: not recorded).
        last_update: When a file of the project last changed (seconds since the epoch).
        trials: Number of trials by status ("COMPLETED", "RUNNING", "FAILED", ...).
        population: The evolution's population_size, elites and breeders per generation.
        generations: The generation table.
        fittest: The best trial: trial_id, score, values (and generation, epochs when known).
        best_trials: The `top` best trials, best first, in the same form.
        unreadable: Trial files that could not be read.
    """

    folder: str
    kind: str
    objective: str
    direction: str
    stop_reason: str | None = None
    stop_message: str | None = None
    search_seconds: float | None = None
    last_update: float | None = None
    trials: dict[str, int] = field(default_factory=dict)
    population: dict[str, int] | None = None
    generations: list[GenerationRow] = field(default_factory=list)
    fittest: dict[str, Any] | None = None
    best_trials: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-able data (non-finite numbers become None)."""
        return _finite(asdict(self))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def infer_objective(trials: dict[str, Trial]) -> tuple[str, str] | None:
    """The objective `(name, direction)` of another tuner's trials, from their metrics.

    Keras Tuner's trial.json holds every metric with its direction and the objective's value as
    `score`, but not which metric is the objective: it is the metric whose value at `best_step`
    equals the score. A multi-objective score is a sum, which Keras Tuner minimises.
    """
    multi = False
    for trial in trials.values():
        score = scores_lib.usable(trial.score)
        if trial.status != "COMPLETED" or score is None:
            continue
        for name, metric in trial.metrics.items():
            for observation in metric.get("observations", []):
                value = observation.get("value") or [None]
                if observation.get("step") == trial.best_step and value[0] == score:
                    return name, metric.get("direction") or "max"
        multi = multi or len(trial.metrics) > 1
    return ("multi_objective", "min") if multi else None


def evolution_generations(files: ProjectFiles) -> list[dict[str, Any]]:
    """history.json's generations, each member's score completed from its trial.json."""
    generations = []
    for generation in (files.history or {}).get("generations", []):
        scores = list(generation.get("scores", []))
        for i, trial_id in enumerate(generation.get("members", [])):
            trial = files.trials.get(str(trial_id))
            if i < len(scores) and scores[i] is None and trial and trial.status == "COMPLETED":
                scores[i] = trial.score
        generations.append({**generation, "scores": scores})
    return generations


def _row(generation: dict[str, Any], trials: dict[str, Trial], direction: str) -> GenerationRow:
    members = [str(tid) for tid in generation.get("members", [])]
    scores = generation.get("scores", [])
    usable = [scores_lib.usable(s) for s in scores]
    completed = [s for s in usable if s is not None]
    statuses = [trials[tid].status if tid in trials else "RUNNING" for tid in members]
    return GenerationRow(
        generation=int(generation.get("index", 0)),
        members=len(members),
        completed=len(completed),
        running=sum(s is None and st == "RUNNING" for s, st in zip(usable, statuses)),
        failures=sum(s is None and st in FAILED_STATUSES for s, st in zip(usable, statuses)),
        best=scores_lib.best(completed, direction),
        mean=sum(completed) / len(completed) if completed else None,
    )


def _ranked(
    candidates: dict[str, float], epochs: dict[str, float], direction: str
) -> list[tuple[str, float]]:
    """Trial ids best first; scores measured at more epochs rank above fewer (a 1-epoch score
    is never compared with a 27-epoch one as if they were equal)."""
    sign = scores_lib.sign(direction)
    return sorted(
        candidates.items(), key=lambda item: (-epochs.get(item[0], 0), -sign * item[1], item[0])
    )


def _entry(
    trial_id: str, score: float, values: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    return {"trial_id": trial_id, "score": score, "values": dict(values), **extra}


def _count(trials: dict[str, Trial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials.values():
        counts[trial.status] = counts.get(trial.status, 0) + 1
    return dict(sorted(counts.items()))


def _stop(reason: str | None) -> tuple[str | None, str | None]:
    return reason, (STOP_MESSAGES.get(reason, reason) if reason else None)


def summarise(files: ProjectFiles, top: int = 5, direction: str | None = None) -> Summary:
    """The summary of a project read by `reading.read_project`.

    Args:
        files: The project's files.
        top: How many of the best trials to list.
        direction: "max" or "min", for another tuner's project whose objective cannot be told
            from its trials; None infers it. A search of this package records its own.

    Raises:
        ValueError: For a `direction` other than "max", "min" or None, or a negative `top`.
    """
    if direction not in (None, *scores_lib.DIRECTIONS):
        raise ValueError(f"direction must be 'max', 'min' or None; got {direction!r}.")
    if top < 0:
        raise ValueError(f"top must be >= 0; got {top}.")
    if files.history is not None or "evolution" in files.oracle:
        return _summarise_evolution(files, top, direction)
    return _summarise_keras_tuner(files, top, direction)


def _objective(files: ProjectFiles, direction: str | None) -> tuple[str, str]:
    """The objective recorded in history.json, else inferred from the trials."""
    if files.history is not None:
        return files.history.get("objective", "score"), files.history.get("direction", "max")
    name, inferred = infer_objective(files.trials) or ("score", "max")
    return name, direction or inferred


def _summarise_evolution(files: ProjectFiles, top: int, direction: str | None) -> Summary:
    objective, direction = _objective(files, direction)
    generations = evolution_generations(files)
    history = files.history or {}
    epochs = {str(tid): e for tid, e in (history.get("epochs") or {}).items()}
    lineage = history.get("lineage") or {}
    genomes = history.get("genomes") or {}
    scored: dict[str, float] = {}
    for generation in generations:
        for tid, score in zip(generation.get("members", []), generation.get("scores", [])):
            if scores_lib.usable(score) is not None:
                scored[str(tid)] = float(score)
    ranked = _ranked(scored, epochs, direction)
    entries = []
    for tid, score in ranked[: max(top, 1)]:
        values = genomes.get(tid) or (files.trials[tid].values if tid in files.trials else {})
        extra = {"generation": (lineage.get(tid) or {}).get("generation")}
        if tid in epochs:
            extra["epochs"] = epochs[tid]
        entries.append(_entry(tid, score, values, extra))
    state = files.oracle.get("evolution") or {}
    reason, message = _stop(history.get("stop_reason") or state.get("stop_reason"))
    population = {k: state[k] for k in ("population_size", "elites", "breeders") if k in state}
    return Summary(
        folder=files.folder,
        kind=EVOLUTION,
        objective=objective,
        direction=direction,
        stop_reason=reason,
        stop_message=message,
        search_seconds=state.get("search_seconds"),
        last_update=files.last_update,
        trials=_count(files.trials),
        population=population or None,
        generations=[_row(g, files.trials, direction) for g in generations],
        fittest=entries[0] if entries else None,
        best_trials=entries[:top],
        unreadable=files.unreadable,
    )


def _summarise_keras_tuner(files: ProjectFiles, top: int, direction: str | None) -> Summary:
    objective, direction = _objective(files, direction)
    completed = {
        tid: float(trial.score)
        for tid, trial in files.trials.items()
        if trial.status == "COMPLETED" and scores_lib.usable(trial.score) is not None
    }
    epochs = {
        tid: files.trials[tid].values[EPOCHS_VALUE]
        for tid in completed
        if isinstance(files.trials[tid].values.get(EPOCHS_VALUE), (int, float))
    }
    entries = []
    for tid, score in _ranked(completed, epochs, direction)[: max(top, 1)]:
        extra = {"epochs": epochs[tid]} if tid in epochs else {}
        entries.append(_entry(tid, score, files.trials[tid].values, extra))
    return Summary(
        folder=files.folder,
        kind=KERAS_TUNER,
        objective=objective,
        direction=direction,
        last_update=files.last_update,
        trials=_count(files.trials),
        fittest=entries[0] if entries else None,
        best_trials=entries[:top],
        unreadable=files.unreadable,
    )
