"""A faithful re-implementation of the original NaturalSelection 0.6 genetic algorithm.

`pip install naturalselection` fails on current Python: the package requires the `sklearn`
PyPI name, which now refuses to install. Its algorithm (`naturalselection/core.py`,
`Population.evolve`) is re-implemented here with its defaults and its quirks, drawing from a
`numpy.random.RandomState` in the same order as the original draws from the global numpy
generator, so the same seed gives the same organisms (checked against the 0.6 wheel's
`core.py`, loaded directly: same seed, same evaluated genomes over 6 generations, 3 seeds):

- the population (size given) is drawn uniformly from each gene's list of values;
- every generation the fitness of each distinct genome in the population is computed (again for
  genomes seen in earlier generations, elites included: the memo that avoids this is off by
  default and crashes on numpy >= 1.24);
- `elitism_rate=0.05`: `ceil(0.05 * size)` elites are *sampled* by the roulette below, not the
  best ones, so the best organism can be lost;
- `breeding_rate=0.8`: `max(2, ceil(0.8 * size))` breeders are sampled by the same roulette;
- the roulette is fitness-proportional (`fitness / sum(fitness)`) with the original's
  off-by-one: members are sorted by probability, best first, and a uniform draw `r` picks index
  `#{j >= 1 : cumsum_j <= r}`, so the best is picked with the first two members' probability
  and the worst never;
- `size - elites` children, each of two parents drawn uniformly (with replacement) from the
  breeders, by single-point crossover over the gene order: `mother[:k] + father[k:]`,
  `k` uniform in `[0, genes)`;
- `mutation_rate=0.2` of the children mutate; a mutating child redraws each gene with
  probability `1 / genes` (`mutation_factor="default"`), uniformly from its values (possibly the
  same value);
- the children plus the elites are the next generation.

Differences forced by the benchmark, not by the algorithm: a continuous `Float` gene gets a list
of 101 values evenly spaced in Keras Tuner's probability space (NaturalSelection only knows lists
of values); conditional hyperparameters are all genes (NaturalSelection has no conditions), the
objective ignores the inactive ones; fitness must be positive for the roulette, so the benchmark
passes `score - floor` (see `compare.py`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class BudgetExhausted(Exception):
    """Raised by the fitness wrapper when the evaluation budget is used up."""


def roulette(rs: np.random.RandomState, fitnesses: np.ndarray, amount: int) -> np.ndarray:
    """`Population.sample`: indices drawn by the original's fitness-proportional roulette."""
    probs = np.divide(fitnesses, sum(fitnesses))
    sorted_idx = np.argsort(probs)[::-1]
    probs = probs[sorted_idx]
    draws = rs.random_sample(amount)
    picked = []
    for r in draws:
        # The original's reduce(): counts the members j >= 1 whose running sum is <= r.
        count, total = 1, probs[0]
        for p in probs[1:]:
            if total + p > r:
                total = total + p
            else:
                count, total = count + 1, total + p
        picked.append(sorted_idx[count - 1])
    return np.asarray(picked, dtype=int)


def evolve(
    genes: Sequence[tuple[str, Sequence[Any]]],
    fitness: Callable[[dict[str, Any]], float],
    size: int,
    seed: int,
    breeding_rate: float = 0.8,
    mutation_rate: float = 0.2,
    elitism_rate: float = 0.05,
    max_generations: int = 10**6,
) -> None:
    """Runs the NaturalSelection GA until `fitness` raises `BudgetExhausted`.

    Args:
        genes: `(name, values)` per gene, in the order the genome lists them.
        fitness: Positive fitness of a genome `{name: value}`; called once per distinct genome
            per generation, as the original does.
        size: Population size.
        seed: Seed of the `RandomState` standing in for the global numpy generator.
    """
    rs = np.random.RandomState(seed)
    names = [name for name, _ in genes]
    domains = [list(values) for _, values in genes]
    k = len(names)

    def random_organism() -> list[int]:
        return [int(rs.choice(range(len(domain)))) for domain in domains]

    population = [random_organism() for _ in range(size)]
    rs.choice(len(population))  # `self.fittest = np.random.choice(self.population)`
    try:
        for _ in range(max_generations):
            scores: dict[tuple[int, ...], float] = {}
            for organism in population:
                key = tuple(organism)
                if key not in scores:
                    scores[key] = fitness(
                        {n: domains[i][v] for i, (n, v) in enumerate(zip(names, organism))}
                    )
            fitnesses = np.asarray([scores[tuple(o)] for o in population], dtype=float)

            elites_amt = int(math.ceil(size * elitism_rate))
            elites = []
            if elitism_rate:
                elites = [list(population[i]) for i in roulette(rs, fitnesses, elites_amt)]
            breeders_amt = max(2, int(math.ceil(size * breeding_rate)))
            breeders = [population[i] for i in roulette(rs, fitnesses, breeders_amt)]

            children_amt = size - elites_amt
            parents = rs.choice(len(breeders), (size, 2))
            children = []
            for i in range(children_amt):
                point = int(rs.choice(k))
                mother, father = breeders[parents[i, 0]], breeders[parents[i, 1]]
                children.append(list(mother[:point]) + list(father[point:]))
            mutators = np.less(rs.random_sample(children_amt), mutation_rate)
            for child, mutates in zip(children, mutators):
                if not mutates:
                    continue
                chosen = np.less(rs.random_sample(k), 1.0 / k)
                for i in np.flatnonzero(chosen):
                    child[i] = int(rs.choice(range(len(domains[i]))))
            population = children + elites if elitism_rate else children
    except BudgetExhausted:
        return
