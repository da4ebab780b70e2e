"""Multi-fidelity evolution: `EvolutionaryHyperbandOracle` and `EvolutionaryHyperband`.

New configurations come from the evolution engine and are trained briefly (the lowest rung);
the best of each rung are promoted, asynchronously, to train longer by continuing their
checkpoint, up to `max_epochs`. Selection ranks configurations by the highest rung they reached,
then by their score there, so scores of different epoch counts are never compared. Trials speak
Keras Tuner's Hyperband protocol (`tuner/epochs`, `tuner/initial_epoch`, `tuner/bracket`,
`tuner/round`, `tuner/trial_id`), so the tuner side is `keras_tuner.Hyperband`'s own. The
algorithm is written down in `docs/multi_fidelity.md`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import fidelity, persistence
from keras_tuner_evolution import scores as scores_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.checks import check_bool
from keras_tuner_evolution.config import (
    EvolutionConfig,
    default_population_size,
)
from keras_tuner_evolution.durability import synchronized
from keras_tuner_evolution.engine import IDLE, RUN, STOP, Decision
from keras_tuner_evolution.history import Generation, History, id_order
from keras_tuner_evolution.hyperband_checks import check_arguments, check_config
from keras_tuner_evolution.oracle import EvolutionaryOracle, make_config
from keras_tuner_evolution.rung_view import RungView
from keras_tuner_evolution.scores import at_least

logger = logging.getLogger("keras_tuner_evolution")


# Defaults that differ from `EvolutionaryOracle`'s: the Latin generation 0 and the bolder
# mutation that help the fixed-epoch evolution made this oracle worse on the multi-fidelity
# benchmark. Breeders come from the fittest configurations of all time ("best"), not from the
# last generation, whose new members mostly have a short training's score only when the next
# generation is planned (docs/multi_fidelity.md, "Parents from the best of all time"). The
# guidance is on, as there, but learns from the top two rungs only (`_guidance_results`).
BREEDING_DEFAULTS = {
    "initial_sampling": "random",
    "guidance": "density",
    "mutation_rate": 0.1,
    "parent_pool": "best",
}

# The smallest population chosen from the budget (when it buys three generations): parents
# picked on short, noisy trainings, 4 at a time, narrowed the search (`docs/multi_fidelity.md`).
MIN_POPULATION = 8


class EvolutionaryHyperbandOracle(EvolutionaryOracle):
    """The evolution with successive halving of epochs (asynchronous, checkpoints continued).

    Args:
        objective: As for `keras_tuner.oracles.HyperbandOracle`.
        max_epochs: The most epochs one model is trained (the top rung), >= 1. As for
            `keras_tuner.Hyperband`; defaults to 100.
        factor: Only the top `1 / factor` of a rung is promoted, and each rung trains `factor`
            times longer than the one below, >= 2. Defaults to 3.
        hyperband_iterations: Sets the default budget: the epochs that
            `keras_tuner.Hyperband(max_epochs, factor, hyperband_iterations)` trains. >= 1.
        seed: Int seed of the evolution (one worker + same seed = same trials).
        hyperparameters: As for `keras_tuner.Oracle`.
        allow_new_entries: As for `keras_tuner.Oracle`.
        tune_new_entries: As for `keras_tuner.Oracle`.
        max_retries_per_trial: As for `keras_tuner.Oracle`.
        max_consecutive_failed_trials: As for `keras_tuner.Oracle`.
        max_epochs_total: The budget in epochs, summed over all trials (a promoted model pays
            only its extra epochs). None: the same as Keras Tuner's Hyperband with these
            arguments. At least one bracket's epochs.
        max_trials: Optional cap on the number of trials (promotions count as trials).
        min_epochs: The fewest epochs a new configuration is trained (the lowest rung), in
            `[1, max_epochs]`. Defaults to 1, as Keras Tuner's Hyperband.
        brackets: How many of Hyperband's brackets new configurations start in, the most
            exploratory first, in `[1, number of rungs]`, or None for all of them. 1
            (default): every configuration starts at the lowest rung (ASHA). More brackets
            start some configurations at higher rungs, in Hyperband's proportions
            (`fidelity.start_shares`: with all of them for 27/3, of 49 new configurations 27
            start at 1 epoch, 12 at 3, 6 at 9 and 4 at 27), which hedges against short
            training that ranks configurations wrongly; it cost regret at 10 and 30 full
            trainings on the multi-fidelity benchmark (`docs/multi_fidelity.md`).
        promote_by_family: True: compare a configuration for promotion only with those of
            its own family as well as its bracket: the configurations that share its values
            of the space's family genes (`space.family_genes`: unordered choices that open
            conditional scopes, such as `arch` in {"mlp", "cnn", "transformer"}). Kinds of
            model often learn at different speeds, and a few epochs would promote the fast
            starters only; so each family's best go on to be judged trained longer. False:
            within brackets only, as Keras Tuner's Hyperband. "auto" (default): within
            families until the promotions show that the families gain alike from longer
            training (`fidelity.families_learn_alike`), then within brackets only; where
            they learn alike, splitting the promotions only makes each decision on fewer
            results. A space without family genes is not affected.
        config: The evolution's arguments as one `EvolutionConfig` (instead of keywords).
        **evolution: The evolution's arguments (see `EvolutionConfig`); `patience` is not
            supported here (scores of different epoch counts do not make one series). Three
            defaults differ from `EvolutionaryOracle`'s (`BREEDING_DEFAULTS`):
            `initial_sampling="random"`, `mutation_rate=0.1` and `parent_pool="best"`
            (breeders drawn from the `population_size` fittest configurations so far, by rank
            fitness: those that earned the highest rungs), which did better here on the
            multi-fidelity benchmark. The guidance (`"density"`, as there) learns from the
            raw scores of full trainings (`_guidance_results`; the rung below while those
            are too few), never from rank fitness or lower rungs; until one of the two has a
            result per hyperparameter and one more, one child is bred per slot (no model).
            A `population_size` chosen from the budget (None) is that of `EvolutionaryOracle`
            for the `n` new configurations the budget buys, but at least
            `min(MIN_POPULATION, n // 3)`: 8 once the budget buys three generations of 8.
    """

    def __init__(
        self,
        objective=None,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        hyperparameters=None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        max_epochs_total: int | None = None,
        max_trials: int | None = None,
        min_epochs: int = 1,
        brackets: int | None = 1,
        promote_by_family: bool | str = "auto",
        config: EvolutionConfig | None = None,
        **evolution: Any,
    ):
        check_arguments(
            max_epochs, factor, hyperband_iterations, min_epochs, max_epochs_total, brackets
        )
        check_bool(promote_by_family, "promote_by_family", also=("auto",))
        self.promote_by_family = promote_by_family
        evolution = evolution if config is not None else {**BREEDING_DEFAULTS, **evolution}
        config = make_config(config, evolution, type(self).__name__)
        check_config(config)
        self.max_epochs, self.factor, self.min_epochs = max_epochs, factor, min_epochs
        self.hyperband_iterations = hyperband_iterations
        self.rungs = fidelity.rung_epochs(max_epochs, factor, min_epochs)
        self.brackets = len(self.rungs) if brackets is None else brackets
        self.budget = max_epochs_total or fidelity.hyperband_epochs(
            max_epochs, factor, hyperband_iterations
        )
        if config.population_size is None:
            configs = self.budget / fidelity.epochs_per_config(self.rungs, factor, self.shares)
            size = max(min(MIN_POPULATION, int(configs // 3)), default_population_size(configs))
            config = dataclasses.replace(config, population_size=size)
        self.goal_score = config.goal  # on raw scores here: the engine sees rank fitness
        super().__init__(
            objective=objective,
            max_trials=None,
            seed=seed,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            config=dataclasses.replace(config, goal=None),
        )
        self.max_trials = max_trials  # every trial counts, promotions included
        self.config = config
        self.engine.direction = "max"  # the engine is told rank fitness, always maximised
        self.engine.guidance_results = self._guidance_results
        self.fidelity: dict[str, list] = {}  # trial id -> [configuration id, rung]
        self._cached: RungView | None = None
        self._families: dict[str, Any] = {}
        self._encoded_trials = persistence.GrowingJSON()

    # Handing out trials ----------------------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """A promotion when one is due (ASHA), else a new configuration from the evolution.

        Returns Keras Tuner's answer; every RUNNING answer carries the Hyperband values.
        """
        self._sync()
        if self._goal_reached():
            return self._answer(self.engine.stop("goal"))
        left = self.budget - self.epochs_spent()
        promoted = self._next_promotion(left)
        if promoted is not None:
            return self._promote(trial_id, *promoted)
        start = self._next_start(left)
        if start is None:  # no new configuration could reach the top rung: promotions only
            promoted = self._next_promotion(left, everyone=True)
            return self._promote(trial_id, *promoted) if promoted else self._out_of_budget(left)
        decision = self._ask_engine(trial_id)
        if decision.action == STOP and decision.reason in ("exhausted", "generations"):
            # No new configuration: the budget left goes to the next best ones down each
            # rung's ranking, and running trials may still earn promotions.
            promoted = self._next_promotion(left, everyone=True)
            if promoted is not None:
                self.engine.stop_reason = None
                return self._promote(trial_id, *promoted)
            if self._promotions_may_come():
                self.engine.stop_reason = None
                decision = Decision(IDLE)
        if decision.action == RUN:
            self.fidelity[trial_id] = [trial_id, start]
            decision.values.update(self._tuner_values(start, start))
        return self._answer(decision)

    @property
    def shares(self) -> list[float]:
        """The share of new configurations that start at each rung (Hyperband's brackets)."""
        return fidelity.start_shares(len(self.rungs), self.factor, self.brackets)

    def _next_start(self, left: int) -> int | None:
        """The rung the next new configuration starts at (its bracket), None if none may."""
        if not self._reaches_top(0, left):
            return None
        return fidelity.next_start(self._view().started, self.shares)

    def _reaches_top(self, epochs_done: int, left: int) -> bool:
        """Whether the budget left could carry a configuration trained `epochs_done` epochs on
        to `max_epochs`. Only configurations trained `max_epochs` can be the incumbent, so no
        trial starts that could not get there: its epochs would be wasted. The end of the
        budget goes to promotions instead (as Keras Tuner's Hyperband plans every bracket to
        its end), and a few epochs may stay unspent."""
        return self.rungs[-1] - epochs_done <= left

    def _promote(self, trial_id: str, config_id: str, rung: int) -> dict[str, Any]:
        previous = self._trial_at(config_id, rung)
        values = {
            name: value
            for name, value in self.trials[previous].hyperparameters.values.items()
            if not name.startswith("tuner/")
        }
        start = self._view().start[config_id]
        values.update(self._tuner_values(rung + 1, start), **{"tuner/trial_id": previous})
        self.fidelity[trial_id] = [config_id, rung + 1]
        return {"status": TrialStatus.RUNNING, "values": values}

    def _tuner_values(self, rung: int, start: int) -> dict[str, int]:
        # Keras Tuner's bracket b, round r trains to ceil(max_epochs / factor**(b - r)): a
        # configuration that started at our rung `start` is in its bracket `R - start`.
        return {
            "tuner/epochs": self.rungs[rung],
            "tuner/initial_epoch": self.rungs[rung - 1] if rung > start else 0,
            "tuner/bracket": len(self.rungs) - 1 - start,
            "tuner/round": rung - start,
        }

    def _out_of_budget(self, left: int) -> dict[str, Any]:
        if self.ongoing_trials and len(self.rungs) > 1 and self._reaches_top(self.rungs[-2], left):
            return {"status": TrialStatus.IDLE, "values": None}  # a promotion may still fit
        return self._answer(self.engine.stop("budget"))

    def _promotions_may_come(self) -> bool:
        top = len(self.rungs) - 1
        return any(self.fidelity.get(tid, [tid, 0])[1] < top for tid in self._running_trials())

    def _next_promotion(self, left: int, everyone: bool = False) -> tuple[str, int] | None:
        """`(configuration, rung)` to promote next, if the budget left could carry it to the
        top rung (`_reaches_top`)."""
        view = self._view()
        groups = {group: results[:-1] for group, results in view.group_results.items()}
        found = fidelity.bracket_promotion(
            groups, view.promoted, self.factor, self.objective.direction, everyone
        )
        return found if found and self._reaches_top(self.rungs[found[1]], left) else None

    def _goal_reached(self) -> bool:
        if self.goal_score is None:
            return False
        direction = self.objective.direction
        return any(
            at_least(score, self.goal_score, direction)
            for rung_results in self._view().results
            for _, score in rung_results
        )

    @synchronized
    def epochs_spent(self) -> int:
        """Epochs handed out so far (running trials included; a promotion pays its extra)."""
        return self._view().spent

    # What the trials say, by rung ------------------------------------------------------------

    def _view(self) -> RungView:
        """The trials by rung, caught up with the trials started and ended since the last
        call (it is read several times per call: rebuilt from every trial each time, twice
        per trial, it was a fifth of the oracle's time)."""
        # Without family genes every configuration is of one family: nothing to group or test.
        grouped = bool(self.promote_by_family and self._family_genes())
        family = self._family if grouped else None
        token = (grouped, len(self.hyperparameters.space))  # `_family` follows the space
        view = self._cached = RungView.of(
            self.trials, self.fidelity, self.rungs, self.end_order, family, token, self._cached
        )
        if grouped and self.promote_by_family == "auto":
            # Families while the evidence says short training ranks them unfairly.
            view.use_families = view.families_alike() is not True
        return view

    def _family(self, config_id: str) -> tuple:
        """A configuration's family: its values of `space.family_genes` (promotions compare
        configurations only within their family when `promote_by_family`). Cached: a view
        built afresh asks again for every configuration."""
        genes = self._family_genes()
        families = self._families["of"]
        if config_id not in families:
            values = self.trials[config_id].hyperparameters.values
            # As text: groups are sorted, and a trial from before a gene existed has None.
            families[config_id] = tuple(repr(values.get(name)) for name in genes)
        return families[config_id]

    def _family_genes(self) -> list[str]:
        """`space.family_genes` of the space, found again (and the families forgotten) when
        the space grew: its family genes may have too."""
        size = len(self.hyperparameters.space)
        if self._families.get("size") != size:
            genes = space_lib.family_genes(self.hyperparameters)
            self._families = {"size": size, "genes": genes, "of": {}}
        return self._families["genes"]

    def _trial_at(self, config_id: str, rung: int) -> str:
        return self._view().trial_at[(config_id, rung)]

    def _highest(self) -> dict[str, tuple[int, float]]:
        """Per configuration with a result: its highest rung with a result, and that score."""
        return self._view().highest

    # Keeping the engine in step --------------------------------------------------------------

    def _configs(self) -> list[str]:
        return self._view().configs

    def _members_unknown(self) -> bool:
        return len(self._configs()) > len(self.engine.genomes)

    def _rebuild(self) -> None:
        genomes = {
            tid: space_lib.repair(self.hyperparameters, self.trials[tid].hyperparameters.values)
            for tid in self._configs()
        }
        self.engine.remember(genomes, {})
        self._stale = False
        self._tell_new_results()

    def _tell_new_results(self) -> None:
        """Tells the engine every configuration's rank fitness (ranks shift with each result)."""
        fitness: dict[str, float | None] = dict(
            fidelity.rank_fitness(self._highest(), self.objective.direction)
        )
        ended = set(self.end_order)
        for config_id in self.engine.genomes:
            if config_id not in fitness and config_id in ended:
                fitness[config_id] = None  # failed at the lowest rung
        self.engine.retell(fitness)
        self._told = len(self.end_order)

    def _guidance_results(self) -> tuple[list[str], list[float], str]:
        """What the guidance model learns from: the raw scores of the top rung (`max_epochs`)
        once it has a result per hyperparameter and one more; until then those of the rung
        below it if it has as many; none before that.

        Why: short trainings mislead (slow starters, learning rates that start fast and end
        low), and a model of them steers every child towards fast starters, as BOHB's rule
        (the highest rung with enough results, the lowest included) did. The rung below the
        top lets the model start sooner, and won more searches than it lost
        (docs/multi_fidelity.md). Promotions and rank fitness still use every rung.
        """
        need = max(len(self.hyperparameters.space) + 1, self.engine.guidance.min_scored)
        top_two = self._view().results[:-3:-1]  # the top rung first
        chosen = next((rung for rung in top_two if len(rung) >= need), [])
        known = [(config, score) for config, score in chosen if config in self.engine.genomes]
        return [c for c, _ in known], [s for _, s in known], self.objective.direction

    def _running_ids(self) -> set[str]:
        """New configurations still running (promotions do not hold a generation)."""
        return {tid for tid in self._running_trials() if self.fidelity.get(tid, [tid])[0] == tid}

    # State, snapshots ------------------------------------------------------------------------

    def _fidelity_state(self) -> dict[str, Any]:
        return {
            "max_epochs": self.max_epochs,
            "factor": self.factor,
            "min_epochs": self.min_epochs,
            "rungs": self.rungs,
            "brackets": self.brackets,
            "promote_by_family": self.promote_by_family,
            "budget": self.budget,
            "trials": self.fidelity,
        }

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "fidelity": self._fidelity_state()}

    def _encoded_state(self) -> dict[str, str]:
        # The trial map only grows and its rows never change: each is encoded once.
        encoded = {key: json.dumps(value) for key, value in self._fidelity_state().items()}
        encoded["trials"] = self._encoded_trials.dict_text(self.fidelity)
        return {**super()._encoded_state(), "fidelity": persistence.json_object(encoded)}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        saved = state.get("fidelity")
        if saved is not None:  # the schedule of a running search is kept, as its population
            self.max_epochs, self.factor = saved["max_epochs"], saved["factor"]
            self.min_epochs, self.rungs = saved["min_epochs"], saved["rungs"]
            self.brackets = saved.get("brackets", 1)  # saved before brackets: all at rung 0
            # Saved before families: promoted within brackets only.
            self.promote_by_family = saved.get("promote_by_family", False)
            self.budget = max(self.budget, saved["budget"]) if self.budget else saved["budget"]
            self.fidelity = {tid: list(row) for tid, row in saved["trials"].items()}
        self._cached = None
        self._encoded_trials = persistence.GrowingJSON()

    def get_best_trials(self, num_trials: int = 1) -> list:
        """The best completed trials: those trained the most epochs first, then by score.

        Keras Tuner's version ranks a 1-epoch score against a 27-epoch one as if they were
        equal, and pads its answer with trials that did not complete.
        """
        sign = scores_lib.sign(self.objective.direction)
        completed = [t for t in self.trials.values() if self._final_score(t) is not None]
        completed.sort(key=lambda t: (-self._rung_of(t.trial_id), -sign * t.score, *self._order(t)))
        return completed[:num_trials]

    def _order(self, trial) -> tuple:  # ties: the configuration started first, as History's
        return id_order(self.fidelity.get(trial.trial_id, [trial.trial_id])[0]), trial.trial_id

    def _rung_of(self, trial_id: str) -> int:
        return self.fidelity.get(trial_id, [trial_id, 0])[1]

    def _history(self) -> History:
        """The History of configurations: each scored at its highest rung, with those epochs.

        The lineage of a configuration also lists its trials by epochs (`"trials"`), the
        epochs of its score (`"epochs"`) and which trial each promotion continued.
        """
        raw = self.engine.history(self.objective_name)
        highest = self._highest()
        trials_by_config: dict[str, dict[str, str]] = {}
        for trial_id, (config_id, rung) in zip(self.trials, self._view().rows):
            trials_by_config.setdefault(config_id, {})[str(self.rungs[rung])] = trial_id
        for config_id, record in raw.lineage.items():
            record["trials"] = trials_by_config.get(config_id, {})
            if config_id in highest:
                record["epochs"] = self.rungs[highest[config_id][0]]
        raw.generations = [
            Generation(
                index=g.index,
                members=g.members,
                elites=g.elites,
                scores=[highest.get(tid, (0, None))[1] for tid in g.members],
            )
            for g in raw.generations
        ]
        raw.direction = self.objective.direction
        raw.epochs = {cid: self.rungs[rung] for cid, (rung, _) in highest.items()}
        return raw

    def trial_score(self, trial_id: str) -> float | None:
        """The score of a completed trial, at the epochs it was trained for."""
        return self._final_score(self.trials[trial_id]) if trial_id in self.trials else None
