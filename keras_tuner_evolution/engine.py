"""`Evolution`: the evolutionary search as a pure ask/tell object over plain values and scores.

The engine plans generations (elites carried over with their scores, breeders drawn by the
selection strategy, children made by crossover and mutation), remembers every configuration
ever started so that none is proposed twice, notices when a finite space is exhausted, and
applies the stop rules. It knows no Keras Tuner trials and writes no files: an adapter (the
`EvolutionaryOracle`) asks it for configurations, tells it the scores, and saves `to_dict()`.

With one worker and a fixed seed the sequence of proposals is exactly reproducible: every
random draw comes from one `numpy.random.Generator` whose state is part of `to_dict()`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from keras_tuner_evolution import scores as scores_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution import stopping
from keras_tuner_evolution.breeding import Breeding
from keras_tuner_evolution.config import EvolutionConfig, Shape
from keras_tuner_evolution.history import LINEAGE_FIELDS, Generation, History
from keras_tuner_evolution.persistence import GrowingJSON, json_object
from keras_tuner_evolution.selection import best_indices
from keras_tuner_evolution.space import Genome
from keras_tuner_evolution.variation import success_rule

RUN, IDLE, STOP = "run", "idle", "stop"


def lineage_row(record: Mapping[str, Any]) -> list[Any]:
    """A lineage record as saved: a list in `LINEAGE_FIELDS` order (the lineage is the largest
    part of the state, and lists spare repeating the field names in every record)."""
    return [record[field] for field in LINEAGE_FIELDS]


@dataclasses.dataclass
class Decision:
    """The engine's answer to `ask`.

    Attributes:
        action: "run" (train `values`), "idle" (nothing to hand out yet: ask again later) or
            "stop" (the search is over, for `reason`).
        values: The configuration to train, when `action == "run"`.
        reason: Why the search stopped (a key of `stopping.STOP_MESSAGES`).
        newly_stopped: True the first time the search stops for this reason.
    """

    action: str
    values: Genome | None = None
    reason: str | None = None
    newly_stopped: bool = False


class Evolution(Breeding):
    """The evolution of a population of configurations, asked and told.

    Args:
        config: The evolution's arguments.
        shape: The population's numbers (`config.shape(max_trials)`).
        direction: "max" or "min": which scores are better.
        seed: Seed of the evolution's random generator (None: fresh entropy).
        space: The search space (`keras_tuner.HyperParameters`); the adapter replaces it when
            the space grows.
        clock: Seconds of a monotonic clock (for `max_search_time`).

    The trial budget (`shape.max_trials`) is the driver's to enforce: Keras Tuner counts trials
    before it asks. Scores are not part of `to_dict()`: the driver keeps them with its trials and
    tells them again (`remember`) after `load_dict`.
    """

    def __init__(
        self,
        config: EvolutionConfig,
        shape: Shape,
        direction: str,
        seed: int | None,
        space: Any,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.shape = shape
        self.direction = direction
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.selection = config.selection_strategy()
        self.crossover = config.crossover_operator()
        self.mutation = config.mutation_operator()
        self.guidance = config.guidance_strategy()
        self.clock = clock
        self.plans: list[dict[str, Any]] = []
        self.lineage: dict[str, dict[str, Any]] = {}
        self.stop_reason: str | None = None
        self.pending: list[Genome] = []  # configurations waiting to enter generation 0
        self.imported: dict[str, dict[str, Any]] = {}  # scored elsewhere: id -> genome, score
        self.seconds_before = 0.0  # search time spent in earlier sessions
        self.clock_start: float | None = None
        self._goal_met = False  # kept current by `tell` and `remember`: no rescan per trial
        self.genomes: dict[str, Genome] = {}  # every started configuration, in start order
        self.results: dict[str, float | None] = {}  # finished ones: score, None if it failed
        self._seen: dict[str, str] = {}
        self._space_size: tuple[int, int | None] = (-1, None)
        self._encoded = (GrowingJSON(), GrowingJSON())  # generations, lineage
        # The guidance model and (space size, scored count) when it was fitted; None: refit.
        self._model: tuple[tuple[int, int], Any] | None = None
        # What the guidance model is fitted to: `(ids, scores, direction)`. None: every scored
        # member's fitness. A driver whose fitness is relative (ranks across rungs) gives the
        # raw scores of comparable trials instead.
        self.guidance_results: Callable[[], tuple[list[str], list[float], str]] | None = None

    # Members and scores ----------------------------------------------------------------------

    def remember(self, genomes: Mapping[str, Genome], results: Mapping[str, float | None]):
        """Replaces what the engine knows of started configurations (after a reload, or when
        the space grew and every genome's active values may have changed).

        Args:
            genomes: Every started configuration by id, in start order.
            results: The finished ones: their score, or None when they failed.
        """
        self.genomes = dict(genomes)
        self.results = {tid: scores_lib.usable(score) for tid, score in results.items()}
        self._model = None
        self._seen = {space_lib.genome_hash(g): tid for tid, g in self.genomes.items()}
        for trial_id, record in self.imported.items():
            self._seen[space_lib.genome_hash(record["genome"])] = trial_id
        self._goal_met = any(self._reaches_goal(score) for _, score in self.everyone())

    def tell(self, trial_id: str, score: float | None) -> None:
        """Records that a trial finished: its score, or None when it failed."""
        self.results[trial_id] = scores_lib.usable(score)
        self._goal_met = self._goal_met or self._reaches_goal(self.results[trial_id])

    def retell(self, results: Mapping[str, float | None]) -> None:
        """Replaces every score at once (when scores are relative, e.g. ranks across rungs)."""
        self.results = {tid: scores_lib.usable(score) for tid, score in results.items()}
        self._model = None
        self._goal_met = any(self._reaches_goal(score) for _, score in self.everyone())

    def score(self, trial_id: str) -> float | None:
        """The score of a finished (or imported) member, None while running or if it failed."""
        if trial_id in self.imported:
            return self.imported[trial_id]["score"]
        return self.results.get(trial_id)

    def completed(self, trial_ids) -> list[tuple[str, float]]:
        """`(id, score)` of the scored members among `trial_ids`, in their order."""
        scores = self.results  # `score` of each, without a call per member (read at every trial)
        if self.imported:
            scores = {**scores, **{key: entry["score"] for key, entry in self.imported.items()}}
        return [(tid, score) for tid in trial_ids if (score := scores.get(tid)) is not None]

    def everyone(self) -> list[tuple[str, float]]:
        """Every scored member: trials in start order, then imported ones."""
        return self.completed([*self.genomes, *self.imported])

    def is_seen(self, genome: Genome) -> bool:
        """Whether this configuration was ever started (or imported)."""
        return space_lib.genome_hash(genome) in self._seen

    def _running(self, generation: dict[str, Any], running: Collection[str] | None) -> bool:
        if running is None:
            running = [tid for tid in self.genomes if tid not in self.results]
        return any(trial_id in running for trial_id in generation["members"])

    # Generation zero -------------------------------------------------------------------------

    def seed_generation_zero(
        self, initial: list[Genome], warm: list[tuple[str, Mapping[str, Any], float, bool]]
    ) -> tuple[list[str], list[str]]:
        """Queues the initial population and imports a warm start, once, before generation 0.

        Args:
            initial: Partial configurations given by the user (completed from the generator).
            warm: An earlier project's completed trials: `(key, values, score, fits)`; those
                that fit this space are imported with their score, the others retrained.

        Returns:
            The keys reused without retraining, and those queued to be trained again.
        """
        self.pending = [space_lib.repair(self.space, member, self.rng) for member in initial]
        order = best_indices(
            [score for _, _, score, _ in warm], self.shape.population_size, self.direction
        )
        reused, retrained = [], []
        for index in order:
            key, values, score, fits = warm[index]
            if fits:
                genome = space_lib.repair(self.space, values)
                self.imported[key] = {"genome": genome, "score": score}
                self.lineage[key] = {"generation": 0, **self._record_fields("warm_start")}
                self._seen[space_lib.genome_hash(genome)] = key
                self._goal_met = self._goal_met or self._reaches_goal(score)
                reused.append(key)
            else:
                self.pending.append(space_lib.repair(self.space, values, self.rng))
                retrained.append(key)
        return reused, retrained

    # Asking ----------------------------------------------------------------------------------

    def ask(
        self, trial_id: str, running: Collection[str] | None = None, space_may_grow: bool = False
    ) -> Decision:
        """Proposes the configuration of trial `trial_id`, or says to wait or stop.

        Args:
            trial_id: The id the new member will have.
            running: Ids of the members still running. None: those asked for and not told.
                (An adapter knows better: a member it will never run again is not running.)
            space_may_grow: A running trial may still declare new hyperparameters: when the
                space looks exhausted, wait for it (IDLE) instead of stopping.
        """
        if self.clock_start is None:
            self.clock_start = self.clock()
        if not self.plans:
            self._start_generation()
        reason = self._stop_rule()
        if reason is not None:
            return self.stop(reason)
        generation = self.plans[-1]
        if self._children_left(generation) <= 0:
            reason = self._generation_limit_rule()
            if reason is not None:
                return self.stop(reason)
            if self._running(generation, running) and not (
                self.config.asynchronous and self.completed(generation["members"])
            ):
                return Decision(IDLE)
            generation = self._start_generation()
        proposal = self._propose(generation)
        if proposal is None:
            return Decision(IDLE) if space_may_grow else self.stop("exhausted")
        genome, record = proposal
        generation["members"].append(trial_id)
        self.genomes[trial_id] = genome
        self._seen[space_lib.genome_hash(genome)] = trial_id
        self.lineage[trial_id] = {"generation": generation["index"], **record}
        return Decision(RUN, values=dict(genome))

    def stop(self, reason: str) -> Decision:
        """Stops the search for `reason` (a key of `stopping.STOP_MESSAGES`)."""
        newly = self.stop_reason != reason
        self.stop_reason = reason
        return Decision(STOP, reason=reason, newly_stopped=newly)

    def search_seconds(self) -> float:
        """Wall-clock seconds the search has run, summed over resumed sessions."""
        if self.clock_start is None:
            return self.seconds_before
        return self.seconds_before + self.clock() - self.clock_start

    def _stop_rule(self) -> str | None:
        """The goal and time rules, checked before every new trial."""
        limit = self.config.max_search_time
        if limit is not None and self.search_seconds() >= limit:
            return "time"
        return "goal" if self._goal_met else None

    def _reaches_goal(self, score: float | None) -> bool:
        goal = self.config.goal
        return (
            goal is not None
            and score is not None
            and scores_lib.at_least(score, goal, self.direction)
        )

    def _generation_limit_rule(self) -> str | None:
        """The rules checked when a generation is fully handed out."""
        if self.config.generations is not None and len(self.plans) >= self.config.generations:
            return "generations"
        if self.config.patience is not None and stopping.patience_exhausted(
            self.best_per_generation(),
            self.config.patience,
            self.config.min_delta,
            self.direction,
        ):
            return "patience"
        return None

    def best_per_generation(self) -> list[float | None]:
        """The best score of each generation so far (None for a generation without one)."""
        return [
            scores_lib.best([s for _, s in self.completed(plan["members"])], self.direction)
            for plan in self.plans
        ]

    @staticmethod
    def _children_left(generation: dict[str, Any]) -> int:
        return generation["n_children"] - (len(generation["members"]) - len(generation["elites"]))

    # Planning and breeding -------------------------------------------------------------------

    def _start_generation(self) -> dict[str, Any]:
        """Plans the next generation: elites carried over, breeders drawn."""
        index = len(self.plans)
        elites, breeders = [], []
        if index == 0:
            elites = list(self.imported)  # scored in an earlier project: carried, not trained
        else:
            elites, breeders = self._select(self.everyone())
        size = self.shape.initial_size if index == 0 else self.shape.population_size
        generation = {
            "index": index,
            "members": list(elites),
            "elites": elites,
            "breeders": breeders,
            "n_children": size - len(elites),
        }
        if index == 0 and self.config.initial_sampling == "latin":
            # Saved with the generation: a resumed search draws the same hypercube.
            generation["latin_key"] = int(self.rng.integers(2**62))
        if self.config.adaptive_mutation and index > 0:
            # Saved with the generation, so a resumed search mutates as the original did.
            previous = self.plans[-1]
            generation["mutation_factor"] = success_rule(
                previous.get("mutation_factor", 1.0), self._success_rate(previous)
            )
        self.plans.append(generation)
        return generation

    def _select(self, everyone: list[tuple[str, float]]) -> tuple[list[str], list[str]]:
        """The elites (best of all time) and the breeders of the next generation."""
        shape, direction = self.shape, self.direction
        scores = [score for _, score in everyone]
        elites = [everyone[i][0] for i in best_indices(scores, shape.elites, direction)]
        if self.config.parent_pool == "best":
            pool = [everyone[i] for i in best_indices(scores, shape.population_size, direction)]
        else:
            pool = self.completed(self.plans[-1]["members"])
        if len(pool) < 2:
            # Too few survivors in the last generation: let the best of all time breed.
            extra = [everyone[i] for i in best_indices(scores, shape.breeders, direction)]
            pool += [member for member in extra if member not in pool]
        picked = self.selection(self.rng, [s for _, s in pool], shape.breeders, direction)
        return elites, [pool[i][0] for i in picked]

    def _success_rate(self, generation: dict[str, Any]) -> float:
        """Fraction of a generation's completed children that scored better than both parents."""
        wins = total = 0
        for trial_id in generation["members"]:
            record = self.lineage.get(trial_id, {})
            child = self.score(trial_id)
            parents = [self.score(p) for p in record.get("parents", [])]
            if record.get("origin") != "child" or child is None or not parents or None in parents:
                continue
            total += 1
            wins += all(scores_lib.better(child, parent, self.direction) for parent in parents)
        return wins / total if total else 0.0

    def _propose(self, generation: dict[str, Any]) -> tuple[Genome, dict[str, Any]] | None:
        """A new unseen genome and its lineage record, or None if the space is exhausted."""
        while generation["index"] == 0 and self.pending:
            candidate = space_lib.repair(self.space, self.pending.pop(0), self.rng)
            if not self.is_seen(candidate):
                return candidate, self._record_fields("initial")
        breeders = [tid for tid in generation["breeders"] if tid in self.genomes]
        if breeders:
            child = self._guided_child(breeders, generation.get("mutation_factor", 1.0))
            if child is not None:
                return child
        fresh = self._latin_genome(generation) if "latin_key" in generation else None
        fresh = fresh or self._fresh_genome()
        return None if fresh is None else (fresh, self._record_fields("random"))

    # Snapshots and state ---------------------------------------------------------------------

    def history(self, objective: str) -> History:
        """The `History` of the search so far (a snapshot: later changes do not show in it)."""
        generations = [
            Generation(
                index=plan["index"],
                members=list(plan["members"]),
                elites=list(plan["elites"]),
                scores=[self.score(trial_id) for trial_id in plan["members"]],
            )
            for plan in self.plans
        ]
        genomes = {tid: dict(genome) for tid, genome in self.genomes.items()}
        genomes.update({tid: dict(record["genome"]) for tid, record in self.imported.items()})
        return History(
            objective=objective,
            direction=self.direction,
            generations=generations,
            genomes=genomes,
            stop_reason=self.stop_reason,
            lineage={tid: dict(record) for tid, record in self.lineage.items()},
        )

    def _summary(self) -> dict[str, Any]:
        """The state but for the two parts that grow with every trial."""
        return {
            "population_size": self.shape.population_size,
            "initial_size": self.shape.initial_size,
            "elites": self.shape.elites,
            "breeders": self.shape.breeders,
            "stop_reason": self.stop_reason,
            "rng_state": self.rng.bit_generator.state,
            "pending": self.pending,
            "imported": self.imported,
            "search_seconds": self.search_seconds(),
        }

    def _lineage_rows(self) -> dict[str, list[Any]]:
        """The lineage as saved (see `lineage_row`)."""
        return {tid: lineage_row(record) for tid, record in self.lineage.items()}

    def to_dict(self) -> dict[str, Any]:
        """The engine's state as plain JSON-able values (scores are not part of it: the
        adapter keeps them with its trials and tells them again after `from_dict`)."""
        return {**self._summary(), "generations": self.plans, "lineage": self._lineage_rows()}

    def to_json(self) -> str:
        """`json.dumps(self.to_dict())`, but the finished generations and the lineage records
        are encoded once, when they first appear (the state is rewritten twice per trial)."""
        generations, lineage = self._encoded
        encoded = {key: json.dumps(value) for key, value in self._summary().items()}
        encoded["generations"] = generations.list_text(self.plans, len(self.plans) - 1)
        encoded["lineage"] = lineage.dict_text(self.lineage, lineage_row)
        return json_object(encoded)

    def load_dict(self, state: Mapping[str, Any]) -> None:
        """Restores a state saved by `to_dict` (or by keras-tuner-evolution 0.1.0).

        The population's numbers of a running evolution are kept from the state; limits may
        have been raised on resume, so only exhaustion is a final stop.
        """
        self.shape = Shape(
            state["population_size"],
            state.get("initial_size", state["population_size"]),  # 0.1.0 had no other size
            state["elites"],
            state["breeders"],
            self.shape.max_trials,
        )
        self.plans = state["generations"]
        self.lineage = {
            tid: record if isinstance(record, dict) else dict(zip(LINEAGE_FIELDS, record))
            for tid, record in state["lineage"].items()
        }
        reason = state["stop_reason"]
        self.stop_reason = reason if reason == "exhausted" else None
        self.rng.bit_generator.state = state["rng_state"]
        self.pending = state.get("pending", [])
        self.imported = state.get("imported", {})
        self.seconds_before = state.get("search_seconds", 0.0)
        self.clock_start = None
        self._encoded = (GrowingJSON(), GrowingJSON())
        self._model = None
