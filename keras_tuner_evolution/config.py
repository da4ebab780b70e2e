"""`EvolutionConfig`: the evolution's arguments, their defaults, checks and docs, written once.

`EvolutionaryOracle`, `EvolutionaryTuner`, `EvolutionaryHyperband`-style adapters and
`maximize`/`minimize` all take these arguments as keywords and hand them to this dataclass,
which checks them (a `ValueError` naming the argument and what is accepted) and derives the
numbers the engine needs (`population_size`, elites and breeders as counts, the trial budget).
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from typing import Any

from keras_tuner_evolution.checks import (
    check_choice,
    check_fraction,
    check_int,
    check_number,
)
from keras_tuner_evolution.guidance import DensityGuidance
from keras_tuner_evolution.selection import RankSelection, TournamentSelection
from keras_tuner_evolution.variation import Mutation, UniformCrossover

SELECTIONS = ("rank", "tournament")
PARENT_POOLS = ("generation", "best")
INITIAL_SAMPLINGS = ("latin", "random")
GUIDANCES = ("density",)


def default_population_size(max_trials: int | None) -> int:
    """Population size for a budget: a twenty-fifth of the trials, between 4 and 20.

    Small populations bred hard win on a fixed budget (see `benchmarks/results/tuning.md`):
    200 trials get 8 members (25 generations), 500 trials or more get 20.
    """
    if max_trials is None:
        return 20
    return int(min(20, max(4, max_trials // 25)))


def default_initial_size(population_size: int) -> int:
    """Generation 0's size when the population is chosen from the budget: at least 8, so
    that the model that guides breeding starts from a spread of results even when small
    budgets make small populations (see `benchmarks/results/tuning.md`)."""
    return int(max(population_size, 8))


def resolve_count(value: int | float, total: int, name: str, minimum: int = 0) -> int:
    """Turns an int count or a float fraction of `total` into a count."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be an int or a float fraction, got {value!r}.")
    if isinstance(value, numbers.Integral):
        return int(value)
    count = int(round(float(value) * total))
    return max(minimum, count) if value > 0 else count


def _check_warm_start(value: Any) -> None:
    if value is not None and not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(part, (str, os.PathLike)) for part in value)
    ):
        raise ValueError(
            f"`warm_start_from` must be a (directory, project_name) pair, got {value!r}."
        )


@dataclasses.dataclass(frozen=True)
class Shape:
    """The numbers an evolution runs with, derived from an `EvolutionConfig` and a budget."""

    population_size: int
    initial_size: int
    elites: int
    breeders: int
    max_trials: int | None


@dataclasses.dataclass
class EvolutionConfig:
    """The arguments of the evolution, shared by every oracle, tuner and `maximize`.

    Args:
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
            0.2 (0.1 until 0.2.0: with guidance on, bolder children pay, the model weeds them).
        mutation_scale: Standard deviation of a mutation's step in probability space for
            ordered hyperparameters (Int, Float, ordered Choice), in `(0, 1]`. Defaults to 0.2.
        selection_pressure: How much fitter members are favoured as breeders, >= 0 (at most
            50): with `p` the best member is `e**p` times likelier to breed than the worst; 0
            is uniform. Only the ranking of scores matters, so it works for any objective
            direction, sign or scale. Defaults to 5.0. Used when `selection="rank"`.
        selection: How breeders are drawn: "rank" (default: `RankSelection(selection_pressure)`),
            "tournament" (`TournamentSelection(tournament_size)`), or a strategy object such as
            `kte.TournamentSelection(3)`: a callable `(rng, scores, count, direction) -> indices`.
        tournament_size: Contenders per tournament when `selection="tournament"`, an integer
            >= 1 (1 is uniform selection). Defaults to 3.
        parent_pool: Which completed members breeders are drawn from: "generation" (default:
            the previous generation, carried elites included) or "best" (the
            `population_size` fittest configurations found so far, a (mu + lambda) scheme).
        adaptive_mutation: False (default): the mutation rate and scale stay fixed. True: both
            are multiplied by a factor that follows the 1/5 success rule, raised when more than
            a fifth of the last generation's children beat both parents, lowered otherwise (the
            factor stays in [0.25, 4]; the rate is capped at 1).
        crossover: How two parents make a child: None (default) is `UniformCrossover()`; any
            callable `(rng, space, mother, father) -> genome` works.
        mutation: How a child mutates: None (default) is
            `Mutation(mutation_rate, mutation_scale)`; any object with the methods of
            `kte.Mutation` works (and then its own rate and scale are used).
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
        asynchronous: True (default): with parallel workers, the next generation is bred as
            soon as the previous one is handed out and one of its members has completed, so
            no worker waits for a generation's slowest trial. False: classic generations, a
            worker waits (IDLE) until every member of the previous generation has finished.
            With one worker both are the same.
        initial_sampling: How generation 0's random members are drawn: "latin" (default: a
            Latin hypercube in probability space, drawn gene by gene, so that each gene's range
            is covered evenly by the first population, conditional genes included) or "random"
            (independent uniform draws, as in 0.1.0).
        initial_population_size: Members of generation 0, >= 2. None: `population_size` when
            that is given; when it is chosen from the budget, at least 8 (small budgets get
            populations of 4: a larger generation 0 gives the guidance a spread to learn from).
        guidance: How a child is chosen: "density" (default: `kte.DensityGuidance()`, several
            candidate children are bred by the evolution's operators and the one a density
            ratio of good to other configurations prefers is trained, as TPE ranks its
            candidates), None (the first child bred, as in 0.1.0), or an object with the
            methods of `kte.DensityGuidance`.
    """

    population_size: int | None = None
    generations: int | None = None
    elites: int | float = 0.3
    breeders: float = 0.3
    mutation_rate: float = 0.2
    mutation_scale: float = 0.2
    selection_pressure: float = 5.0
    selection: Any = "rank"
    tournament_size: int = 3
    parent_pool: str = "generation"
    adaptive_mutation: bool = False
    crossover: Any = None
    mutation: Any = None
    goal: float | None = None
    patience: int | None = None
    min_delta: float = 0.0
    max_search_time: float | None = None
    initial_population: list[dict[str, Any]] | None = None
    warm_start_from: tuple[str, str] | None = None
    asynchronous: bool = True
    initial_sampling: str = "latin"
    initial_population_size: int | None = None
    guidance: Any = "density"

    def __post_init__(self) -> None:
        check_int(self.population_size, "population_size", 2, allow_none=True)
        check_int(self.generations, "generations", 1, allow_none=True)
        check_fraction(self.breeders, "breeders", 0.0, 1.0, open_low=True)
        check_fraction(self.mutation_rate, "mutation_rate", 0.0, 1.0, open_low=False)
        check_fraction(self.mutation_scale, "mutation_scale", 0.0, 1.0, open_low=True)
        check_fraction(self.selection_pressure, "selection_pressure", 0.0, 50.0, False)
        if isinstance(self.selection, str) or not callable(self.selection):
            check_choice(self.selection, "selection", SELECTIONS)
        check_int(self.tournament_size, "tournament_size", 1)
        check_choice(self.parent_pool, "parent_pool", PARENT_POOLS)
        check_choice(self.initial_sampling, "initial_sampling", INITIAL_SAMPLINGS)
        check_int(self.initial_population_size, "initial_population_size", 2, allow_none=True)
        self._check_flags_and_objects()
        check_int(self.patience, "patience", 1, allow_none=True)
        check_number(self.goal, "goal", allow_none=True)
        check_number(self.min_delta, "min_delta", minimum=0.0)
        check_number(self.max_search_time, "max_search_time", 0.0, allow_none=True, strict=True)
        _check_warm_start(self.warm_start_from)
        if isinstance(self.elites, float) and not 0.0 <= self.elites < 1.0:
            raise ValueError(f"`elites` as a fraction must be in [0, 1), got {self.elites!r}.")
        resolve_count(self.elites, 2, "elites")  # type check only: the count needs the size

    def _check_flags_and_objects(self) -> None:
        for name in ("adaptive_mutation", "asynchronous"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"`{name}` must be True or False, got {getattr(self, name)!r}.")
        if self.crossover is not None and not callable(self.crossover):
            raise ValueError(
                "`crossover` must be None or a callable (rng, space, mother, father) -> genome, "
                f"got {self.crossover!r}."
            )
        if self.mutation is not None and not (
            callable(self.mutation) and callable(getattr(self.mutation, "scaled", None))
        ):
            raise ValueError(
                "`mutation` must be None or an object like `kte.Mutation(rate, scale)` "
                f"(callable, with a `scaled` method), got {self.mutation!r}."
            )
        if isinstance(self.guidance, str):
            check_choice(self.guidance, "guidance", GUIDANCES)
        elif self.guidance is not None and not (
            callable(getattr(self.guidance, "fit", None)) and hasattr(self.guidance, "candidates")
        ):
            raise ValueError(
                "`guidance` must be 'density', None or an object like `kte.DensityGuidance()` "
                f"(with `fit` and `candidates`), got {self.guidance!r}."
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of the evolution's arguments."""
        return tuple(field.name for field in dataclasses.fields(cls))

    @classmethod
    def split(cls, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Splits keyword arguments into the evolution's and the rest (for Keras Tuner)."""
        names = set(cls.field_names())
        mine = {key: value for key, value in kwargs.items() if key in names}
        rest = {key: value for key, value in kwargs.items() if key not in names}
        return mine, rest

    def shape(self, max_trials: int | None) -> Shape:
        """The population's numbers and the trial budget for `max_trials`.

        Raises:
            ValueError: `elites` does not leave room for one child.
        """
        size = self.population_size
        if size is None:
            size = default_population_size(max_trials)
        initial = self.initial_population_size
        if initial is None:
            initial = size if self.population_size is not None else default_initial_size(size)
        n_elites = resolve_count(self.elites, size, "elites", minimum=1)
        if not 0 <= n_elites < size:
            raise ValueError(
                f"`elites` must be in [0, population_size) = [0, {size}), got {self.elites!r}."
            )
        n_breeders = max(2, resolve_count(float(self.breeders), size, "breeders"))
        if self.generations is not None:
            by_generations = initial + (self.generations - 1) * (size - n_elites)
            max_trials = by_generations if max_trials is None else min(max_trials, by_generations)
        return Shape(size, initial, n_elites, n_breeders, max_trials)

    def selection_strategy(self) -> Any:
        """The breeder selection as a strategy object."""
        if self.selection == "rank":
            return RankSelection(self.selection_pressure)
        if self.selection == "tournament":
            return TournamentSelection(self.tournament_size)
        return self.selection

    def guidance_strategy(self) -> Any:
        """The breeding guidance as a strategy object, or None for none."""
        if self.guidance == "density":
            return DensityGuidance()
        return self.guidance

    def crossover_operator(self) -> Any:
        """The crossover as a callable `(rng, space, mother, father) -> genome`."""
        return UniformCrossover() if self.crossover is None else self.crossover

    def mutation_operator(self) -> Any:
        """The mutation as a `Mutation`-like object."""
        if self.mutation is None:
            return Mutation(self.mutation_rate, self.mutation_scale)
        return self.mutation
