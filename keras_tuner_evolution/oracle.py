"""`EvolutionaryOracle`: a thin Keras Tuner adapter over the evolution engine.

The evolution itself lives in `engine.Evolution`, which knows no Keras Tuner; this module turns
Keras Tuner's oracle calls into asks and tells, keeps the engine in step with the trials (the
source of truth for scores), and saves the engine's state inside oracle.json. Durable files and
the robust reload come from `_keras_tuner.DurableOracle`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from keras_tuner import HyperParameters
from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import persistence, stopping, warm_start
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution._keras_tuner import DurableOracle
from keras_tuner_evolution.checks import check_int
from keras_tuner_evolution.config import (
    EvolutionConfig,
    default_population_size,  # noqa: F401 (0.1.0 imported it from here)
    resolve_count,  # noqa: F401 (0.1.0 imported it from here)
)
from keras_tuner_evolution.durability import synchronized
from keras_tuner_evolution.engine import IDLE, STOP, Decision, Evolution
from keras_tuner_evolution.history import HISTORY_FILE, History

logger = logging.getLogger("keras_tuner_evolution")

# Seconds a tuner waits after an IDLE answer, so that workers do not spin on the oracle.
IDLE_WAIT = 0.2
# history.json is derived from oracle.json, so it is rewritten at most this often (and always
# when the search stops): a long search's History is megabytes, too much to write per trial.
HISTORY_SAVE_SECONDS = 2.0


class EvolutionaryOracle(DurableOracle):
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
        seed: Int seed of the evolution's own random generator (0 is a valid seed).
        hyperparameters: As for `keras_tuner.Oracle`.
        allow_new_entries: As for `keras_tuner.Oracle`.
        tune_new_entries: As for `keras_tuner.Oracle`.
        max_retries_per_trial: As for `keras_tuner.Oracle`.
        max_consecutive_failed_trials: As for `keras_tuner.Oracle`.
        config: The evolution's arguments as one `EvolutionConfig` (instead of keywords).
        **evolution: The evolution's arguments, documented once in `EvolutionConfig`:
            `population_size`, `generations`, `elites`, `breeders`, `mutation_rate`,
            `mutation_scale`, `selection_pressure`, `selection`, `tournament_size`,
            `parent_pool`, `adaptive_mutation`, `crossover`, `mutation`, `goal`, `patience`,
            `min_delta`, `max_search_time`, `initial_population`, `warm_start_from`,
            `asynchronous`, `initial_sampling`, `initial_population_size`, `guidance`.
    """

    def __init__(
        self,
        objective=None,
        max_trials: int | None = None,
        seed: int | None = None,
        hyperparameters=None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        config: EvolutionConfig | None = None,
        **evolution: Any,
    ):
        check_int(max_trials, "max_trials", 1, allow_none=True)
        config = make_config(config, evolution, type(self).__name__)
        check_int(seed, "seed", 0, allow_none=True)
        check_int(max_retries_per_trial, "max_retries_per_trial", 0)
        check_int(max_consecutive_failed_trials, "max_consecutive_failed_trials", 1)
        shape = config.shape(max_trials)
        super().__init__(
            objective=objective,
            max_trials=shape.max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        if seed is not None:
            self.seed = seed  # the base class treats 0 as "no seed"
        self.config = config
        # Check what can be checked now; a space declared while building is checked later.
        space = self.hyperparameters if len(self.hyperparameters.space) else HyperParameters()
        if len(space.space) or not config.initial_population:
            warm_start.check_initial_population(space, config.initial_population or [])
        self.engine = Evolution(
            config, shape, self.objective.direction, self.seed, self.hyperparameters
        )
        self._stale = True  # the engine must be brought in step with the trials
        self._told = 0  # how many of `end_order` the engine has been told
        self._history_due = 0.0  # monotonic time after which history.json may be rewritten

    # Keras Tuner hooks -----------------------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Proposes the next member of the population (called under the oracle's lock).

        Returns:
            `{"status": RUNNING, "values": {...}}`, `{"status": IDLE}` while the next generation
            cannot be bred yet, or `{"status": STOPPED}` when the search is over.
        """
        return self._answer(self._ask_engine(trial_id))

    def _ask_engine(self, trial_id: str) -> Decision:
        """The engine's decision for a new member `trial_id`, the engine brought up to date."""
        self._sync()
        if not self.engine.plans:
            self._seed_generation_zero()
        may_grow = bool(self.ongoing_trials) and self.allow_new_entries and self.tune_new_entries
        return self.engine.ask(trial_id, self._running_ids(), space_may_grow=may_grow)

    def _answer(self, decision: Decision) -> dict[str, Any]:
        """Keras Tuner's answer for an engine decision (a new stop is logged)."""
        if decision.action == STOP:
            if decision.newly_stopped:
                self._log_stop(decision.reason)
            return {"status": TrialStatus.STOPPED, "values": None}
        if decision.action == IDLE:
            return {"status": TrialStatus.IDLE, "values": None}
        return {"status": TrialStatus.RUNNING, "values": decision.values}

    def create_trial(self, tuner_id: str):
        """Creates a trial; after an IDLE answer waits briefly, outside the lock."""
        trial = self._create_trial_locked(tuner_id)
        if trial.status == TrialStatus.IDLE:
            time.sleep(IDLE_WAIT)
        return trial

    @synchronized
    def _create_trial_locked(self, tuner_id: str):
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.STOPPED:
            if self.engine.stop_reason is None:
                self.engine.stop("max_trials")
                self._log_stop("max_trials")
            self.flush_history()
        return trial

    @synchronized
    def update_trial(self, trial_id: str, metrics: dict[str, float], step: int = 0):
        """Keras Tuner's `update_trial`; one that raises (a metric missing from `metrics`, say)
        frees the oracle's lock first (`durability.synchronized`)."""
        return super().update_trial(trial_id, metrics, step=step)

    @synchronized
    def update_space(self, hyperparameters) -> None:
        before = len(self.hyperparameters.space)
        super().update_space(hyperparameters)
        if len(self.hyperparameters.space) != before:
            # New hyperparameters change every genome's active values: rehash them all.
            self._stale = True

    def save(self) -> None:
        """Writes oracle.json atomically (see `DurableOracle.save`), then the History."""
        self._sync()
        super().save()
        self._save_history()

    def state_json(self) -> str:
        """oracle.json's text; the engine encodes its growing parts once (see `to_json`)."""
        return persistence.json_object(self._encoded_state())

    def _encoded_state(self) -> dict[str, str]:
        """`get_state()`'s parts, each already encoded as JSON text."""
        encoded = {key: json.dumps(value) for key, value in super().get_state().items()}
        encoded["evolution"] = self.engine.to_json()
        return encoded

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "evolution": self.engine.to_dict()}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._stale = True
        evolution = state.get("evolution")
        if evolution is not None:  # None: a project made by another oracle; its trials count
            self.engine.load_dict(evolution)

    def lost_trial_values(self, state: dict[str, Any]) -> dict[str, Any]:
        """Values of lost trials: not in oracle.json (it would double its size, and it is
        rewritten twice per trial) but in history.json, which lags by at most
        `HISTORY_SAVE_SECONDS`. `trial_values` was saved by development versions."""
        values = (state.get("evolution") or {}).get("trial_values")
        if values:
            return values
        try:
            genomes = persistence.load_json(os.path.join(self.project_dir, HISTORY_FILE))
            genomes = genomes.get("genomes", {})
        except (persistence.StateFileError, AttributeError):
            return {}
        return genomes if isinstance(genomes, dict) else {}

    # Keeping the engine in step with the trials ----------------------------------------------

    def _sync(self) -> None:
        """Tells the engine what it has not heard yet.

        Usually only the trials that ended since the last call (`end_order` grows). After a
        reload, when the space grew, or when trials were put into `self.trials` from outside
        (as Keras Tuner's own tests seed an oracle), everything is rebuilt from the trials.
        """
        engine = self.engine
        engine.space = self.hyperparameters
        if self._stale or self._members_unknown():
            self._rebuild()
        elif self._told != len(self.end_order):
            self._tell_new_results()

    def _members_unknown(self) -> bool:
        """Trials the engine did not propose (put into `self.trials` from outside)."""
        return len(self.trials) > len(self.engine.genomes)

    def _tell_new_results(self) -> None:
        for trial_id in self.end_order[self._told :]:
            self.engine.tell(trial_id, self._final_score(self.trials[trial_id]))
        self._told = len(self.end_order)

    def _running_trials(self) -> set[str]:
        """Trials that are running or will run again (Keras Tuner's view, not the engine's)."""
        running = {trial.trial_id for trial in self.ongoing_trials.values()}
        running.update(self.retry_queue)
        return running

    def _running_ids(self) -> set[str]:
        """The engine's members still running (here every trial is a member)."""
        return self._running_trials()

    def _rebuild(self) -> None:
        running = self._running_trials()
        genomes = {
            trial_id: space_lib.repair(self.hyperparameters, trial.hyperparameters.values)
            for trial_id, trial in self.trials.items()
        }
        results = {
            trial_id: self._final_score(trial)
            for trial_id, trial in self.trials.items()
            if trial_id not in running
        }
        self.engine.remember(genomes, results)
        self._told = len(self.end_order)
        self._stale = False

    @staticmethod
    def _final_score(trial) -> float | None:
        return trial.score if trial.status == TrialStatus.COMPLETED else None

    def _seed_generation_zero(self) -> None:
        """Queues the initial population and imports a warm start, once, before generation 0."""
        space, initial = self.hyperparameters, self.config.initial_population or []
        warm_start.check_initial_population(space, initial)
        warm, trial_ids = [], {}
        if self.config.warm_start_from is not None:
            directory, project = (str(part) for part in self.config.warm_start_from)
            found = warm_start.load_completed_trials(directory, project, self.objective_name)
            for trial_id, values, score in found:
                key = f"warm:{project}/{trial_id}"
                trial_ids[key] = trial_id
                warm.append((key, values, score, warm_start.fits_space(space, values)))
        reused, retrained = self.engine.seed_generation_zero(initial, warm)
        if self.config.warm_start_from is not None:
            logger.warning(
                "Warm start from %s: reused %d trials without retraining (%s); %d to retrain "
                "because they do not fit this search space (%s).",
                os.path.join(directory, project),
                len(reused),
                ", ".join(trial_ids[key] for key in reused) or "none",
                len(retrained),
                ", ".join(trial_ids[key] for key in retrained) or "none",
            )

    def _log_stop(self, reason: str) -> None:
        fittest = self.history.fittest
        best = "" if fittest is None else f" Best {self.objective_name}: {fittest['fitness']}."
        logger.warning(
            "%s Stopping after %d trials.%s",
            stopping.STOP_MESSAGES[reason],
            len(self.trials),
            best,
        )

    def _save_history(self, force: bool = False) -> None:
        """Writes history.json, at most every `HISTORY_SAVE_SECONDS` unless `force`."""
        if self.project_dir is None:
            return
        started = time.monotonic()
        if not force and started < self._history_due:
            return
        self.history.save(os.path.join(self.project_dir, HISTORY_FILE))
        # Writing never takes more than a tenth of the search's time, however long it grows.
        spent = time.monotonic() - started
        self._history_due = time.monotonic() + max(HISTORY_SAVE_SECONDS, 9 * spent)

    def flush_history(self) -> None:
        """Writes history.json now (the tuner calls it when a search ends)."""
        self._save_history(force=True)

    # Public snapshot -------------------------------------------------------------------------

    @property
    @synchronized
    def history(self) -> History:
        """The `History` of this search so far (under the oracle's lock: any thread may ask)."""
        self._sync()
        return self._history()

    def _history(self) -> History:
        return self.engine.history(self.objective_name)

    @property
    def objective_name(self) -> str:
        """The objective's metric name ("multi_objective" for several objectives)."""
        name = getattr(self.objective, "name", None)
        return name if isinstance(name, str) else "multi_objective"

    @property
    def generation_plans(self) -> list[dict[str, Any]]:
        """A copy of every generation's plan so far, oldest first.

        Each plan is a dict: `index`, `members` (trial ids, carried elites first), `elites`,
        `breeders` (the parents drawn for it), `n_children`, and `mutation_factor` when
        `adaptive_mutation` is on.
        """
        return [
            {key: list(value) if isinstance(value, list) else value for key, value in plan.items()}
            for plan in self.engine.plans
        ]

    @property
    def current_generation(self) -> int | None:
        """Index of the generation being handed out, None before the first trial."""
        return len(self.engine.plans) - 1 if self.engine.plans else None

    @property
    def stop_reason(self) -> str | None:
        """Why the search stopped (a key of `stopping.STOP_MESSAGES`), None while it runs."""
        return self.engine.stop_reason

    @synchronized
    def trial_score(self, trial_id: str) -> float | None:
        """The score of a completed trial (or of a warm-started one), None otherwise."""
        self._sync()
        return self.engine.score(trial_id)

    @property
    def population_size(self) -> int:
        """Members per generation (kept from the saved state on resume)."""
        return self.engine.shape.population_size

    @property
    def elites(self) -> int:
        """Elites carried into each next generation, as a count."""
        return self.engine.shape.elites

    @property
    def breeders(self) -> int:
        """Breeders drawn for each next generation, as a count."""
        return self.engine.shape.breeders

    def __getattr__(self, name: str) -> Any:
        # The other evolution arguments read as attributes, as in 0.1.0 (`oracle.goal`, ...).
        config = self.__dict__.get("config")
        if config is not None and name in EvolutionConfig.field_names():
            return getattr(config, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def make_config(
    config: EvolutionConfig | None, evolution: dict[str, Any], owner: str
) -> EvolutionConfig:
    """The `EvolutionConfig` of `config=` or of keyword arguments (not both).

    Raises:
        TypeError: an unknown keyword argument, or both `config` and keywords.
        ValueError: an argument out of its range (the message names it).
    """
    unknown = sorted(set(evolution) - set(EvolutionConfig.field_names()))
    if unknown:
        raise TypeError(
            f"{owner} got unexpected keyword arguments {unknown}; the evolution's arguments "
            f"are {list(EvolutionConfig.field_names())}."
        )
    if config is None:
        return EvolutionConfig(**evolution)
    if evolution:
        raise TypeError(f"{owner}: pass the evolution's arguments in `config` or as keywords.")
    if not isinstance(config, EvolutionConfig):
        raise ValueError(f"`config` must be an EvolutionConfig, got {config!r}.")
    return config
