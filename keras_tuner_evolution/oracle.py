"""`EvolutionaryOracle`: a Keras Tuner oracle that evolves a population of configurations."""

from __future__ import annotations

import itertools
import json
import logging
import math
import numbers
import os
import time
from typing import Any

import keras_tuner
import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine.trial import Trial, TrialStatus
from keras_tuner.src.backend import io as kt_io

from keras_tuner_evolution import genome as genome_lib
from keras_tuner_evolution import operators, stopping, storage, warm_start
from keras_tuner_evolution.history import HISTORY_FILE, Generation, History

logger = logging.getLogger("keras_tuner_evolution")

# A duplicate child is mutated again this many times before a fresh random member replaces it.
MAX_REMUTATIONS = 10
# Random draws tried before the unseen configurations of a finite space are enumerated.
MAX_RANDOM_DRAWS = 50
# Finite spaces up to this size are enumerated to find an unseen configuration exactly.
MAX_ENUMERATION = 200_000
# Seconds a tuner waits after an IDLE answer, so that workers do not spin on the oracle.
IDLE_WAIT = 0.2
# A lineage record's fields, in the order oracle.json stores them.
LINEAGE_FIELDS = ("generation", "origin", "parents", "mutated")
# history.json is derived from oracle.json, so it is rewritten at most this often (and always
# when the search stops): a long search's History is megabytes, too much to write per trial.
HISTORY_SAVE_SECONDS = 2.0


def default_population_size(max_trials: int | None) -> int:
    """Population size for a budget: a twenty-fifth of the trials, between 4 and 20.

    Small populations bred hard win on a fixed budget (see `benchmarks/results/tuning.md`):
    200 trials get 8 members (25 generations), 500 trials or more get 20.
    """
    if max_trials is None:
        return 20
    return int(min(20, max(4, max_trials // 25)))


def resolve_count(value: int | float, total: int, name: str, minimum: int = 0) -> int:
    """Turns an int count or a float fraction of `total` into a count."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be an int or a float fraction, got {value!r}.")
    if isinstance(value, numbers.Integral):
        return int(value)
    count = int(round(float(value) * total))
    return max(minimum, count) if value > 0 else count


def _check_int(value: Any, name: str, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")


def _check_number(
    value: Any,
    name: str,
    minimum: float | None = None,
    allow_none: bool = False,
    strict: bool = False,
) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        bound = "" if minimum is None else (f" > {minimum}" if strict else f" >= {minimum}")
        raise ValueError(f"`{name}` must be a finite number{bound}, got {value!r}.")


def _check_fraction(value: Any, name: str, low: float, high: float, open_low: bool) -> None:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low < value if open_low else low <= value) and value <= high
    if not ok:
        bracket = "(" if open_low else "["
        raise ValueError(f"`{name}` must be a number in {bracket}{low}, {high}], got {value!r}.")


def _lineage_row(record: dict[str, Any]) -> list[Any]:
    """A lineage record as saved: a list, not a dict (the lineage is oracle.json's largest)."""
    return [record[field] for field in LINEAGE_FIELDS]


def _check_choice(value: Any, name: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        options = ", ".join(repr(option) for option in accepted)
        raise ValueError(f"`{name}` must be one of {options}, got {value!r}.")


class EvolutionaryOracle(keras_tuner.Oracle):
    """Evolves a population of hyperparameter configurations ("natural selection").

    Generation 0 is `population_size` distinct random configurations. Each next generation
    carries over the `elites` fittest configurations found so far with their scores (they are
    never trained again), draws `breeders` from the previous generation with a probability
    that rises with fitness, and fills the population with children: uniform crossover of two
    breeders, then mutation in probability space. Every configuration ever started is
    remembered, so none is trained twice; when the space runs out the search stops.

    Generations are planned as soon as the previous one is fully handed out, from the members
    that have completed by then, so parallel workers never wait for a generation's slowest trial.
    With one worker this is exactly the classic generational algorithm.

    Args:
        objective: As for `keras_tuner.Oracle`: a metric name, a `keras_tuner.Objective`, or a
            list of them.
        max_trials: Maximum number of trials (configurations trained). Elites carried over are
            not trials. None with `generations` given: derived from it. None and no
            `generations`: unlimited, until the space is exhausted.
        population_size: Members per generation, >= 2. None chooses from the budget: a
            twenty-fifth of `max_trials` between 4 and 20 (20 when only `generations` is
            given).
        generations: Maximum number of generations, >= 1. When both `generations` and
            `max_trials` are given, both are limits: the search stops at whichever is reached
            first.
        elites: Fittest configurations carried into each next generation: an int in
            `[0, population_size)`, or a fraction of `population_size` in `[0, 1)` (a positive
            fraction keeps at least one). Defaults to 0.3.
        breeders: Fraction of the population drawn as parents, in `(0, 1]` (at least 2 are
            drawn). Defaults to 0.3.
        mutation_rate: Probability that each gene of a child mutates, in `[0, 1]`. Defaults to
            0.1.
        mutation_scale: Standard deviation of a mutation's step in probability space for
            ordered hyperparameters (Int, Float, ordered Choice), in `(0, 1]`. Defaults to 0.2.
        selection_pressure: How much fitter members are favoured as breeders, >= 0: with `p`
            the best member is `e**p` times likelier to breed than the worst; 0 is uniform.
            Only the ranking of scores matters, so it works for any objective direction, sign
            or scale. Defaults to 5.0. Used when `selection="rank"`.
        selection: How breeders are drawn: "rank" (default: rank-based weights set by
            `selection_pressure`) or "tournament" (each breeder is the fittest of
            `tournament_size` members drawn at random).
        tournament_size: Contenders per tournament when `selection="tournament"`, an integer
            >= 1 (1 is uniform selection). Defaults to 3.
        parent_pool: Which completed members breeders are drawn from: "generation" (default:
            the previous generation, carried elites included) or "best" (the
            `population_size` fittest configurations found so far, a (mu + lambda) scheme).
        adaptive_mutation: False (default): `mutation_rate` and `mutation_scale` stay fixed.
            True: both are multiplied by a factor that follows the 1/5 success rule, raised
            when more than a fifth of the last generation's children beat both parents,
            lowered otherwise (the factor stays in [0.25, 4]; the rate is capped at 1).
        goal: Stop as soon as a completed trial reaches this score (>= for a maximised
            objective, <= for a minimised one). None: no goal.
        patience: Stop after this many generations without an improvement of the best score
            by more than `min_delta`, >= 1. None: no patience rule.
        min_delta: Smallest improvement that resets `patience`, >= 0. Defaults to 0.
        max_search_time: Wall-clock budget of the whole search in seconds (summed over
            resumed sessions), > 0. Running trials finish; no trial starts after it.
        initial_population: Configurations to put in generation 0 before random members:
            a list of `{name: value}` dicts, possibly partial (the rest is drawn from the
            seeded generator). A value outside the space raises a ValueError naming it.
        warm_start_from: `(directory, project_name)` of an earlier Keras Tuner project
            (RandomSearch, BayesianOptimization, an evolution, ...). Its best completed
            trials (up to `population_size`) seed generation 0: when their configurations
            fit this search space their scores are reused without retraining; otherwise they
            are trained again as an initial population. The log says which were reused.
        seed: Int seed of the evolution's own random generator (0 is a valid seed).
        hyperparameters: As for `keras_tuner.Oracle`.
        allow_new_entries: As for `keras_tuner.Oracle`.
        tune_new_entries: As for `keras_tuner.Oracle`.
        max_retries_per_trial: As for `keras_tuner.Oracle`.
        max_consecutive_failed_trials: As for `keras_tuner.Oracle`.
        asynchronous: True (default): with parallel workers, the next generation is bred as
            soon as the previous one is handed out and one of its members has completed, so
            no worker waits for a generation's slowest trial. False: classic generations, a
            worker waits (IDLE) until every member of the previous generation has finished.
            With one worker both are the same.
    """

    def __init__(
        self,
        objective=None,
        max_trials: int | None = None,
        population_size: int | None = None,
        generations: int | None = None,
        elites: int | float = 0.3,
        breeders: float = 0.3,
        mutation_rate: float = 0.1,
        mutation_scale: float = 0.2,
        selection_pressure: float = 5.0,
        selection: str = "rank",
        tournament_size: int = 3,
        parent_pool: str = "generation",
        adaptive_mutation: bool = False,
        goal: float | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        max_search_time: float | None = None,
        initial_population: list[dict[str, Any]] | None = None,
        warm_start_from: tuple[str, str] | None = None,
        seed: int | None = None,
        hyperparameters=None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        asynchronous: bool = True,
    ):
        _check_int(max_trials, "max_trials", 1, allow_none=True)
        _check_int(population_size, "population_size", 2, allow_none=True)
        _check_int(generations, "generations", 1, allow_none=True)
        _check_fraction(breeders, "breeders", 0.0, 1.0, open_low=True)
        _check_fraction(mutation_rate, "mutation_rate", 0.0, 1.0, open_low=False)
        _check_fraction(mutation_scale, "mutation_scale", 0.0, 1.0, open_low=True)
        _check_fraction(selection_pressure, "selection_pressure", 0.0, 50.0, open_low=False)
        _check_choice(selection, "selection", ("rank", "tournament"))
        _check_int(tournament_size, "tournament_size", 1)
        _check_choice(parent_pool, "parent_pool", ("generation", "best"))
        if not isinstance(adaptive_mutation, bool):
            raise ValueError(
                f"`adaptive_mutation` must be True or False, got {adaptive_mutation!r}."
            )
        _check_int(seed, "seed", 0, allow_none=True)
        _check_int(patience, "patience", 1, allow_none=True)
        _check_number(goal, "goal", allow_none=True)
        _check_number(min_delta, "min_delta", minimum=0.0)
        _check_number(max_search_time, "max_search_time", minimum=0.0, allow_none=True, strict=True)
        if warm_start_from is not None and not (
            isinstance(warm_start_from, (tuple, list))
            and len(warm_start_from) == 2
            and all(isinstance(part, (str, os.PathLike)) for part in warm_start_from)
        ):
            raise ValueError(
                "`warm_start_from` must be a (directory, project_name) pair, "
                f"got {warm_start_from!r}."
            )
        _check_int(max_retries_per_trial, "max_retries_per_trial", 0)
        _check_int(max_consecutive_failed_trials, "max_consecutive_failed_trials", 1)

        if population_size is None:
            population_size = 20 if max_trials is None else default_population_size(max_trials)
        if isinstance(elites, float) and not 0.0 <= elites < 1.0:
            raise ValueError(f"`elites` as a fraction must be in [0, 1), got {elites!r}.")
        n_elites = resolve_count(elites, population_size, "elites", minimum=1)
        if not 0 <= n_elites < population_size:
            raise ValueError(
                f"`elites` must be in [0, population_size) = [0, {population_size}), "
                f"got {elites!r}."
            )
        if generations is not None:
            by_generations = population_size + (generations - 1) * (population_size - n_elites)
            max_trials = by_generations if max_trials is None else min(max_trials, by_generations)

        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        if seed is not None:
            self.seed = seed  # the base class treats 0 as "no seed"
        self.population_size = population_size
        self.generations = generations
        self.elites = n_elites
        self.breeders = max(2, resolve_count(float(breeders), population_size, "breeders"))
        self.mutation_rate = float(mutation_rate)
        self.mutation_scale = float(mutation_scale)
        self.selection_pressure = float(selection_pressure)
        self.selection = selection
        self.tournament_size = int(tournament_size)
        self.parent_pool = parent_pool
        self.adaptive_mutation = adaptive_mutation
        self.asynchronous = bool(asynchronous)
        self.goal = goal
        self.patience = patience
        self.min_delta = float(min_delta)
        self.max_search_time = max_search_time
        self.initial_population = initial_population or []
        self.warm_start_from = (
            None if warm_start_from is None else tuple(str(p) for p in warm_start_from)
        )
        # Check what can be checked now; a space declared while building is checked later.
        space = self.hyperparameters if len(self.hyperparameters.space) else HyperParameters()
        if len(space.space) or not self.initial_population:
            warm_start.check_initial_population(space, self.initial_population)

        self._rng = np.random.default_rng(self.seed)
        self._generations: list[dict[str, Any]] = []
        self._lineage: dict[str, dict[str, Any]] = {}
        # The lineage's records encoded so far, and how many: records are only ever added.
        self._lineage_text: tuple[int, str] = (0, "")
        self._stop_reason: str | None = None
        # Configurations waiting to enter generation 0 (initial population, warm start).
        self._pending: list[genome_lib.Genome] = []
        # Scored configurations from an earlier project, never trained here: id -> record.
        self._imported: dict[str, dict[str, Any]] = {}
        self._seconds_before = 0.0  # search time spent in earlier sessions
        self._clock_start: float | None = None
        # Derived, rebuilt when the space grows or the state is reloaded.
        self._genomes: dict[str, genome_lib.Genome] = {}
        self._seen: dict[str, str] | None = {}
        self._space_size: tuple[int, int | None] | None = None
        self._goal_met: bool | None = None  # None: not known, scan the trials
        # Set by tuners whose trials report their result once, at the end (see `reload`).
        self.results_reported_at_end = False
        self._proposed = 0  # trials whose genome is in `_genomes` (see `_ensure_seen`)
        self._history_due = 0.0  # monotonic time after which history.json may be rewritten
        self._ending_trial = False  # set while `end_trial` records a result (see `save`)
        # Encoded JSON of the finished generations (only the last one still changes).
        self._generations_cache: list[str] = []

    # Keras Tuner hooks -----------------------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Proposes the next member of the population (called under the oracle's lock).

        Returns:
            `{"status": RUNNING, "values": {...}}`, `{"status": IDLE}` while the next generation
            cannot be bred yet, or `{"status": STOPPED}` when the search is over.
        """
        self._ensure_seen()
        if self._clock_start is None:
            self._clock_start = time.monotonic()
        if not self._generations:
            self._seed_generation_zero()
            self._start_generation()
        reason = self._stop_rule()
        if reason is not None:
            return self._stop(reason)
        generation = self._generations[-1]
        if self._children_left(generation) <= 0:
            if self.generations is not None and len(self._generations) >= self.generations:
                return self._stop("generations")
            if self.patience is not None and stopping.patience_exhausted(
                self._best_per_generation(), self.patience, self.min_delta, self.objective.direction
            ):
                return self._stop("patience")
            running = self._running_members(generation)
            if running and not (self.asynchronous and self._pool(generation)):
                return {"status": TrialStatus.IDLE, "values": None}
            generation = self._start_generation()

        proposal = self._propose(generation)
        if proposal is None:
            if self.ongoing_trials and self.allow_new_entries and self.tune_new_entries:
                # A running trial may still register new hyperparameters and grow the space.
                return {"status": TrialStatus.IDLE, "values": None}
            return self._stop("exhausted")
        genome, record = proposal

        generation["members"].append(trial_id)
        self._genomes[trial_id] = genome
        self._proposed += 1
        self._seen[genome_lib.genome_hash(genome)] = trial_id
        self._lineage[trial_id] = {"generation": generation["index"], **record}
        return {"status": TrialStatus.RUNNING, "values": dict(genome)}

    def create_trial(self, tuner_id: str):
        """Creates a trial; after an IDLE answer waits briefly, outside the lock."""
        trial = self._create_trial_locked(tuner_id)
        if trial.status == TrialStatus.IDLE:
            time.sleep(IDLE_WAIT)
        return trial

    @keras_tuner.synchronized
    def _create_trial_locked(self, tuner_id: str):
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            if self._stop_reason is None:
                self._stop("max_trials")
            self.flush_history()
        return trial

    @keras_tuner.synchronized
    def end_trial(self, trial) -> None:
        self._ending_trial = True
        try:
            super().end_trial(trial)
        finally:
            self._ending_trial = False
        if self._goal_met is False and self.goal is not None:
            # Only the trial that just ended can newly reach the goal: no rescan of them all.
            score = self._score(trial.trial_id)
            if score is not None:
                self._goal_met = stopping.goal_reached([score], self.goal, self.objective.direction)

    def _record_values(self, trial) -> None:
        """As Keras Tuner's, keeping values of names declared under several scopes."""
        hyperparameters = trial.hyperparameters
        # Keras Tuner calls `ensure_active_values()` first, which drops such values (a bug
        # RandomSearch shares): shadow it on this instance with the right rule.
        hyperparameters.ensure_active_values = lambda: genome_lib.ensure_active_values(
            hyperparameters
        )
        try:
            super()._record_values(trial)
        finally:
            del hyperparameters.ensure_active_values

    @keras_tuner.synchronized
    def update_space(self, hyperparameters) -> None:
        before = len(self.hyperparameters.space)
        super().update_space(hyperparameters)
        if len(self.hyperparameters.space) != before:
            # New hyperparameters change every genome's active values: rehash lazily.
            self._seen = None
            self._space_size = None

    def save(self) -> None:
        """Writes oracle.json atomically (see `storage`), then the History.

        The write that records a trial's result is forced to disk, so that a finished trial
        survives even a power cut. The others (when a trial starts) are not: a power cut can
        at worst roll the search back to the last result, when that trial was running, and it
        runs again either way. A killed process never leaves a partial file in any case.
        """
        sync = "all" if self._ending_trial else "none"
        storage.save_json_text(self._get_oracle_fname(), self._state_json(), sync)
        self._save_history()

    def _state_json(self) -> str:
        """`get_state()` as JSON text, encoding what no longer changes once.

        oracle.json is rewritten twice per trial, and its evolution part grows with every
        trial: the finished generations and the lineage records are encoded when they first
        appear and spliced into the text.
        """
        state = super().get_state()
        state["evolution"] = self._evolution_state()
        del state["evolution"]["generations"]
        text = json.dumps(state)  # "evolution" is the last key: the text ends with "}}"
        generations, lineage = self._generations_json(), self._lineage_json()
        return f'{text[:-2]}, "generations": {generations}, "lineage": {lineage}}}}}'

    def _generations_json(self) -> str:
        cache = self._generations_cache
        for generation in self._generations[len(cache) : -1]:
            cache.append(json.dumps(generation))
        last = [json.dumps(self._generations[-1])] if self._generations else []
        return "[" + ", ".join(cache + last) + "]"

    def _lineage_json(self) -> str:
        known, text = self._lineage_text
        if known != len(self._lineage):
            new = itertools.islice(self._lineage.items(), known, None)
            parts = [f"{json.dumps(tid)}: {json.dumps(_lineage_row(rec))}" for tid, rec in new]
            text = ", ".join([text, *parts] if known else parts)
            self._lineage_text = (len(self._lineage), text)
        return "{" + text + "}"

    def _save_trial(self, trial) -> None:
        """Writes a trial's trial.json atomically (Keras Tuner's write can leave it empty).

        Only its final write, with the result, is forced to disk: an earlier one lost in a
        power cut is a running trial's file, which `reload` repairs by running it again.
        """
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        sync = "none" if trial.status == TrialStatus.RUNNING else "all"
        storage.save_json(path, trial.get_state(), sync)

    def score_trial(self, trial) -> None:
        """As Keras Tuner's, but an infinite score (a diverged loss) fails the trial too.

        Keras Tuner marks a NaN score INVALID (retried, then FAILED); an infinite one would
        otherwise count as completed, and +inf would even look like the best maximised score.
        """
        super().score_trial(trial)
        if trial.score is not None and not math.isfinite(float(trial.score)):
            trial.score = math.nan

    def reload(self) -> None:
        """Reloads the search from its project folder, surviving a crash at any moment.

        Unlike Keras Tuner's `Oracle.reload`:

        - an unreadable oracle.json raises a `storage.StateFileError` naming it, and nothing
          is changed in the folder;
        - an unreadable (empty, truncated, corrupt) or missing trial.json of a started trial
          is reported by name, kept aside as `trial.json.unreadable`, and its trial runs
          again with the configuration recorded in oracle.json;
        - a trial.json written just before a crash, for a trial that oracle.json does not know
          yet, is ignored: the trial was never handed out, and is proposed again;
        - a running trial whose trial.json already says it ended (the process died between
          writing the two files) is ended, not trained again.
        """
        oracle_file = self._get_oracle_fname()
        state = storage.load_json(oracle_file)
        if not isinstance(state, dict) or "start_order" not in state:
            raise storage.StateFileError(
                f"Cannot read the search state file {oracle_file}: it is not an oracle's state."
            )
        started = [str(tid) for tid in state["start_order"]]
        known = set(started)
        pattern = os.path.join(self._project_dir, "trial_*", "trial.json")
        unreadable: dict[str, tuple[str, str]] = {}
        for fname in sorted(kt_io.glob(pattern)):
            trial_id = os.path.basename(os.path.dirname(fname))[len("trial_") :]
            if trial_id not in known:
                continue  # written before a crash, before oracle.json recorded the trial
            try:
                trial = Trial.from_state(storage.load_json(fname))
            except (storage.StateFileError, KeyError, TypeError, ValueError) as error:
                unreadable[trial_id] = (fname, f"{type(error).__name__}: {error}")
                continue
            self.trials[trial.trial_id] = trial
        rerun = self._recover_trials(state, started, unreadable)
        try:
            self.set_state(state)
        except KeyError as error:
            raise RuntimeError(
                "Error reloading `Oracle` from existing project. If you did not mean to reload "
                "from an existing project, change the `project_name` or pass `overwrite=True` "
                f"when creating the `Tuner`. Found existing project at: {self._project_dir}"
            ) from error
        for trial_id in rerun:
            if trial_id in self.end_order:
                self.end_order.remove(trial_id)
            self._run_times[trial_id] = 0
            for tuner_id, ongoing in list(self.ongoing_trials.items()):
                if ongoing.trial_id == trial_id:
                    del self.ongoing_trials[tuner_id]
            if trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)
            self._save_trial(self.trials[trial_id])
        # Running trials whose trial.json says they ended for good: finish ending them. (An
        # INVALID one may be an earlier failed run now being retried: it is retried again.)
        # With a tuner that reports a trial's result once, at its end, a running trial whose
        # trial.json holds the objective has finished too: it is ended, not trained again.
        for tuner_id, trial in list(self.ongoing_trials.items()):
            reported = (
                self.results_reported_at_end
                and trial.status == TrialStatus.RUNNING
                and trial.metrics.exists(self.objective.name)
            )
            if trial.status not in (TrialStatus.COMPLETED, TrialStatus.FAILED) and not reported:
                continue
            del self.ongoing_trials[tuner_id]
            self.update_space(trial.hyperparameters)
            if reported:
                trial.status = TrialStatus.COMPLETED
                self.score_trial(trial)
                if math.isnan(float(trial.score)):
                    trial.status = TrialStatus.INVALID
            self._record_values(trial)
            self._run_times[trial.trial_id] += 1
            if not self._retry(trial) and trial.trial_id not in self.end_order:
                self.end_order.append(trial.trial_id)
            if reported:
                self._save_trial(trial)
        # As Keras Tuner: trials that were running are retried, from scratch.
        for trial in self.ongoing_trials.values():
            if trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
        self.ongoing_trials = {}

    def _recover_trials(
        self, state: dict[str, Any], started: list[str], unreadable: dict[str, tuple[str, str]]
    ) -> list[str]:
        """Rebuilds the started trials whose trial.json is unreadable or missing, to rerun."""
        evolution = state.get("evolution") or {}
        # Not in oracle.json (it would double its size, and it is rewritten twice per trial):
        # a lost trial's configuration is read from history.json, which lags by at most
        # HISTORY_SAVE_SECONDS. `trial_values` was saved by development versions.
        values_by_id = evolution.get("trial_values") or {}
        missing = [tid for tid in started if tid not in self.trials]
        if missing and not values_by_id:
            values_by_id = self._genomes_from_history()
        rerun = []
        for trial_id in missing:
            fname, reason = unreadable.get(
                trial_id,
                (
                    os.path.join(self._project_dir, f"trial_{trial_id}", "trial.json"),
                    "the file is missing",
                ),
            )
            values = values_by_id.get(trial_id)
            if values is None:
                raise storage.StateFileError(
                    f"Cannot read the trial state file {fname} ({reason}), and the "
                    f"configuration of trial {trial_id} is recorded nowhere else. Restore the "
                    "file, or start a new search (another `project_name` or `overwrite=True`)."
                )
            kept = storage.set_aside(fname) if os.path.exists(fname) else None
            logger.warning(
                "Cannot read the trial state file %s (%s)%s: trial %s runs again.",
                fname,
                reason,
                f"; kept as {kept}" if kept else "",
                trial_id,
            )
            hyperparameters = HyperParameters.from_config(state["hyperparameters"])
            hyperparameters.values = dict(values)
            self.trials[trial_id] = Trial(
                hyperparameters=hyperparameters, trial_id=trial_id, status=TrialStatus.RUNNING
            )
            rerun.append(trial_id)
        return rerun

    def _genomes_from_history(self) -> dict[str, Any]:
        """Configurations by trial id from history.json (see `_recover_trials`)."""
        path = os.path.join(self._project_dir, HISTORY_FILE)
        try:
            genomes = storage.load_json(path).get("genomes", {})
        except (storage.StateFileError, AttributeError):
            return {}
        return genomes if isinstance(genomes, dict) else {}

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        lineage = {tid: _lineage_row(record) for tid, record in self._lineage.items()}
        state["evolution"] = {**self._evolution_state(), "lineage": lineage}
        return state

    def _evolution_state(self) -> dict[str, Any]:
        """The evolution's part of oracle.json, but for the lineage."""
        return {
            "population_size": self.population_size,
            "elites": self.elites,
            "breeders": self.breeders,
            "generations": self._generations,
            "stop_reason": self._stop_reason,
            "rng_state": self._rng.bit_generator.state,
            "pending": self._pending,
            "imported": self._imported,
            "search_seconds": self._search_seconds(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        evolution = state.get("evolution")
        if evolution is None:
            return  # a project made by another oracle: its trials still count as seen
        # The population's shape is part of a running evolution: keep the saved one.
        self.population_size = evolution["population_size"]
        self.elites = evolution["elites"]
        self.breeders = evolution["breeders"]
        self._generations = evolution["generations"]
        self._lineage = {
            tid: record if isinstance(record, dict) else dict(zip(LINEAGE_FIELDS, record))
            for tid, record in evolution["lineage"].items()
        }
        self._lineage_text = (0, "")
        self._generations_cache = []
        # Limits may have been raised on resume, so only exhaustion is final.
        reason = evolution["stop_reason"]
        self._stop_reason = reason if reason == "exhausted" else None
        self._rng.bit_generator.state = evolution["rng_state"]
        self._pending = evolution.get("pending", [])
        self._imported = evolution.get("imported", {})
        self._seconds_before = evolution.get("search_seconds", 0.0)
        self._clock_start = None
        self._seen = None
        self._goal_met = None

    # The population --------------------------------------------------------------------------

    @property
    def generation_plans(self) -> list[dict[str, Any]]:
        """A copy of every generation's plan so far, oldest first (a public snapshot).

        Each plan is a dict: `index`, `members` (trial ids, carried elites first), `elites`,
        `breeders` (the parents drawn for it), `n_children`, and `mutation_factor` when
        `adaptive_mutation` is on.
        """
        return [
            {key: list(value) if isinstance(value, list) else value for key, value in plan.items()}
            for plan in self._generations
        ]

    @property
    def current_generation(self) -> int | None:
        """Index of the generation being handed out, None before the first trial."""
        return len(self._generations) - 1 if self._generations else None

    @property
    def stop_reason(self) -> str | None:
        """Why the search stopped (a key of `stopping.STOP_MESSAGES`), None while it runs."""
        return self._stop_reason

    def trial_score(self, trial_id: str) -> float | None:
        """The score of a completed trial (or of a warm-started one), None otherwise."""
        return self._score(trial_id)


    @property
    def history(self) -> History:
        """The `History` of this search so far."""
        self._ensure_seen()
        generations = []
        for plan in self._generations:
            scores = [self._score(trial_id) for trial_id in plan["members"]]
            generations.append(
                Generation(
                    index=plan["index"],
                    members=list(plan["members"]),
                    elites=list(plan["elites"]),
                    scores=scores,
                )
            )
        return History(
            objective=self._objective_name(),
            direction=self.objective.direction,
            generations=generations,
            genomes={tid: dict(g) for tid, g in self._genomes.items()},
            stop_reason=self._stop_reason,
            lineage={tid: dict(r) for tid, r in self._lineage.items()},
        )

    def _objective_name(self) -> str:
        name = getattr(self.objective, "name", None)
        return name if isinstance(name, str) else "multi_objective"

    def _score(self, trial_id: str) -> float | None:
        if trial_id in self._imported:
            return self._imported[trial_id]["score"]
        trial = self.trials.get(trial_id)
        if trial is None or trial.status != TrialStatus.COMPLETED or trial.score is None:
            return None
        score = float(trial.score)
        return score if math.isfinite(score) else None

    def _completed(self, trial_ids) -> list[tuple[str, float]]:
        found = []
        for trial_id in trial_ids:
            score = self._score(trial_id)
            if score is not None:
                found.append((trial_id, score))
        return found

    def _children_left(self, generation: dict[str, Any]) -> int:
        return generation["n_children"] - (len(generation["members"]) - len(generation["elites"]))

    def _pool(self, generation: dict[str, Any]) -> list[tuple[str, float]]:
        return self._completed(generation["members"])

    def _running_members(self, generation: dict[str, Any]) -> list[str]:
        running = {trial.trial_id for trial in self.ongoing_trials.values()}
        running.update(self._retry_queue)
        return [tid for tid in generation["members"] if tid in running]

    def _start_generation(self) -> dict[str, Any]:
        """Plans the next generation: elites carried over, breeders drawn."""
        index = len(self._generations)
        elites: list[str] = []
        breeders: list[str] = []
        if index > 0:
            direction = self.objective.direction
            everyone = self._completed([*self.trials, *self._imported])
            scores = [score for _, score in everyone]
            ranked = operators.select_elites(scores, self.elites, direction)
            elites = [everyone[i][0] for i in ranked]
            if self.parent_pool == "best":
                best = operators.select_elites(scores, self.population_size, direction)
                pool = [everyone[i] for i in best]
            else:
                pool = self._pool(self._generations[-1])
            if len(pool) < 2:
                # Too few survivors in the last generation: let the best of all time breed.
                extra = [
                    everyone[i] for i in operators.select_elites(scores, self.breeders, direction)
                ]
                pool += [member for member in extra if member not in pool]
            if self.selection == "tournament":
                picked = operators.tournament_select(
                    self._rng, [s for _, s in pool], self.breeders, self.tournament_size, direction
                )
            else:
                picked = operators.select_breeders(
                    self._rng,
                    [s for _, s in pool],
                    self.breeders,
                    direction,
                    self.selection_pressure,
                )
            breeders = [pool[i][0] for i in picked]
        if index == 0:
            elites = list(self._imported)  # scored in an earlier project: carried, not trained
        generation = {
            "index": index,
            "members": list(elites),
            "elites": elites,
            "breeders": breeders,
            "n_children": self.population_size - len(elites),
        }
        if self.adaptive_mutation and index > 0:
            # Saved with the generation, so a resumed search mutates as the original did.
            previous = self._generations[-1]
            generation["mutation_factor"] = operators.success_rule(
                previous.get("mutation_factor", 1.0), self._success_rate(previous)
            )
        self._generations.append(generation)
        return generation

    def _success_rate(self, generation: dict[str, Any]) -> float:
        """Fraction of a generation's completed children that scored better than both parents."""
        sign = 1.0 if self.objective.direction == "max" else -1.0
        wins = total = 0
        for trial_id in generation["members"]:
            record = self._lineage.get(trial_id, {})
            child = self._score(trial_id)
            parents = [self._score(p) for p in record.get("parents", [])]
            if record.get("origin") != "child" or child is None or not parents or None in parents:
                continue
            total += 1
            wins += all(sign * child > sign * parent for parent in parents)
        return wins / total if total else 0.0

    def _propose(self, generation: dict[str, Any]):
        """A new unseen genome and its lineage record, or None if the space is exhausted."""
        space = self.hyperparameters
        factor = generation.get("mutation_factor", 1.0)
        rate = min(1.0, self.mutation_rate * factor)
        scale = min(1.0, self.mutation_scale * factor)
        while generation["index"] == 0 and self._pending:
            candidate = genome_lib.repair(space, self._pending.pop(0), self._rng)
            if not self._is_seen(candidate):
                return candidate, {"origin": "initial", "parents": [], "mutated": []}
        breeders = [tid for tid in generation["breeders"] if tid in self._genomes]
        if breeders:
            mother, father = operators.pick_parents(self._rng, breeders)
            child, _ = operators.uniform_crossover(
                self._rng, self._genomes[mother], self._genomes[father]
            )
            child = genome_lib.repair(space, child, self._rng)
            child, mutated = operators.mutate(self._rng, space, child, rate, scale)
            for _ in range(MAX_REMUTATIONS):
                if not self._is_seen(child):
                    parents = sorted({mother, father})
                    return child, {"origin": "child", "parents": parents, "mutated": mutated}
                child, more = operators.mutate(
                    self._rng, space, child, rate, scale, at_least_one=True
                )
                mutated = sorted(set(mutated) | set(more))
        fresh = self._fresh_genome()
        if fresh is None:
            return None
        return fresh, {"origin": "random", "parents": [], "mutated": []}

    def _fresh_genome(self) -> genome_lib.Genome | None:
        """A random configuration never seen before, or None when there is none left."""
        space = self.hyperparameters
        for _ in range(MAX_RANDOM_DRAWS):
            candidate = genome_lib.random_genome(space, self._rng)
            if not self._is_seen(candidate):
                return candidate
        size = self._count_space()
        if size is None or size > MAX_ENUMERATION:
            for _ in range(20 * MAX_RANDOM_DRAWS):
                candidate = genome_lib.random_genome(space, self._rng)
                if not self._is_seen(candidate):
                    return candidate
            return None
        if len(self._seen) >= size:
            return None
        unseen = [g for g in genome_lib.enumerate_genomes(space) if not self._is_seen(g)]
        if not unseen:
            return None
        return unseen[int(self._rng.integers(len(unseen)))]

    def _count_space(self) -> int | None:
        n_hps = len(self.hyperparameters.space)
        if self._space_size is None or self._space_size[0] != n_hps:
            self._space_size = (n_hps, genome_lib.count_configurations(self.hyperparameters))
        return self._space_size[1]

    def _is_seen(self, genome: genome_lib.Genome) -> bool:
        return genome_lib.genome_hash(genome) in self._seen

    def _ensure_seen(self) -> None:
        """Rebuilds the genomes and hashes of all trials ever started, when stale.

        Stale: the space grew, the state was reloaded, or a trial was put into `self.trials`
        without `create_trial` (as Keras Tuner's own tests seed an oracle): a trial we did not
        propose makes `self.trials` outgrow the genomes we know.
        """
        if self._seen is not None and len(self.trials) <= self._proposed:
            return
        self._genomes = {
            trial_id: genome_lib.repair(self.hyperparameters, trial.hyperparameters.values)
            for trial_id, trial in self.trials.items()
        }
        for trial_id, record in self._imported.items():
            self._genomes[trial_id] = genome_lib.repair(self.hyperparameters, record["genome"])
        self._seen = {genome_lib.genome_hash(g): tid for tid, g in self._genomes.items()}
        self._proposed = len(self.trials)

    def _search_seconds(self) -> float:
        if self._clock_start is None:
            return self._seconds_before
        return self._seconds_before + time.monotonic() - self._clock_start

    def _stop_rule(self) -> str | None:
        """The goal and time rules, checked before every new trial."""
        if self.max_search_time is not None and self._search_seconds() >= self.max_search_time:
            return "time"
        if self.goal is None:
            return None
        if self._goal_met is None:
            # Once per session (resume, warm start); `end_trial` keeps it current after that.
            scores = [score for _, score in self._completed([*self.trials, *self._imported])]
            self._goal_met = stopping.goal_reached(scores, self.goal, self.objective.direction)
        return "goal" if self._goal_met else None

    def _best_per_generation(self) -> list[float | None]:
        best = []
        for plan in self._generations:
            scores = [score for _, score in self._completed(plan["members"])]
            pick = max if self.objective.direction == "max" else min
            best.append(pick(scores) if scores else None)
        return best

    def _stop(self, reason: str) -> dict[str, Any]:
        if self._stop_reason != reason:
            self._stop_reason = reason
            fittest = self.history.fittest
            name = self._objective_name()
            best = "" if fittest is None else f" Best {name}: {fittest['fitness']}."
            logger.warning(
                "%s Stopping after %d trials.%s",
                stopping.STOP_MESSAGES[reason],
                len(self.trials),
                best,
            )
        return {"status": TrialStatus.STOPPED, "values": None}

    def _seed_generation_zero(self) -> None:
        """Queues the initial population and imports a warm start, once, before generation 0."""
        space = self.hyperparameters
        self._pending = warm_start.initial_genomes(space, self.initial_population, self._rng)
        if self.warm_start_from is None:
            return
        directory, project = self.warm_start_from
        found = warm_start.load_completed_trials(directory, project, self._objective_name())
        best_first = operators.select_elites(
            [score for _, _, score in found], self.population_size, self.objective.direction
        )
        reused, retrained = [], []
        for index in best_first:
            trial_id, values, score = found[index]
            if warm_start.fits_space(space, values):
                key = f"warm:{project}/{trial_id}"
                self._imported[key] = {"genome": genome_lib.repair(space, values), "score": score}
                self._lineage[key] = {
                    "generation": 0,
                    "origin": "warm_start",
                    "parents": [],
                    "mutated": [],
                }
                reused.append(trial_id)
            else:
                self._pending.append(genome_lib.repair(space, values, self._rng))
                retrained.append(trial_id)
        self._seen = None  # rehash with the imported genomes
        self._ensure_seen()
        logger.warning(
            "Warm start from %s: reused %d trials without retraining (%s); %d to retrain "
            "because they do not fit this search space (%s).",
            os.path.join(directory, project),
            len(reused),
            ", ".join(reused) or "none",
            len(retrained),
            ", ".join(retrained) or "none",
        )

    def _save_history(self, force: bool = False) -> None:
        """Writes history.json, at most every `HISTORY_SAVE_SECONDS` unless `force`."""
        if getattr(self, "_directory", None) is None:
            return
        started = time.monotonic()
        if not force and started < self._history_due:
            return
        self.history.save(os.path.join(self._project_dir, HISTORY_FILE))
        # Writing never takes more than a tenth of the search's time, however long it grows.
        spent = time.monotonic() - started
        self._history_due = time.monotonic() + max(HISTORY_SAVE_SECONDS, 9 * spent)

    def flush_history(self) -> None:
        """Writes history.json now (the tuner calls it when a search ends)."""
        self._save_history(force=True)
