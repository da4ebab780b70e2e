"""How the evolution makes new members: children bred from breeders (guided by a model of the
results when `guidance` is on), generation 0's Latin hypercube, and fresh random members.

`Breeding` is a mixin of `engine.Evolution`: it reads the engine's space, generator, operators
and results, and returns genomes with their lineage records; the engine decides when to call it.
"""

from __future__ import annotations

from typing import Any

from keras_tuner_evolution import guidance as guidance_lib
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.gene_pool import GenePool
from keras_tuner_evolution.selection import best_indices
from keras_tuner_evolution.space import Genome
from keras_tuner_evolution.variation import pick_parents

# A duplicate child is mutated again this many times before a fresh random member replaces it.
MAX_REMUTATIONS = 10
# Random draws tried before the unseen configurations of a finite space are enumerated.
MAX_RANDOM_DRAWS = 50
# Finite spaces up to this size are enumerated to find an unseen configuration exactly.
MAX_ENUMERATION = 200_000
# The guidance model is refitted once the results grew by 1/REFIT_FRACTION since its last fit
# (at every result below REFIT_FRACTION of them): a fit reads every result, so this keeps its
# cost per trial flat. (A twentieth was cheaper, 2.1x instead of 2.5x RandomSearch's oracle
# time in one compare.py run, but its mean rank at 200 trials was 1.47 instead of 1.33.)
REFIT_FRACTION = 100


class Breeding:
    """Breeding, sampling and the guidance model of `engine.Evolution` (a mixin)."""

    def _latin_genome(self, generation: dict[str, Any]) -> Genome | None:
        """Generation 0's next point of its Latin hypercube, None if taken or past its end."""
        size = generation["n_children"] + len(generation["elites"])
        slot = len(generation["members"])
        if slot >= size:
            return None
        genome = space_lib.latin_genome(self.space, generation["latin_key"], slot, size)
        return None if self.is_seen(genome) else genome

    def _guided_child(self, breeders: list[str], factor: float):
        """A child bred as `_breed` does; with guidance, the one the model prefers of several.

        While the guidance's first `gene_pool_until` results come in, the candidates are
        children of the model's whole good group instead (`_gene_pool`). While there is no
        model yet (too few results to learn from), one child is bred, as without guidance:
        the first of several candidates would be the same child drawn from a longer stream.
        """
        unguided = self.guidance is None or self.guidance.candidates <= 1
        if unguided or self._fitted_model() is None:
            child = self._breed(breeders, factor)
            return None if child is None else child[:2]
        pool = self._gene_pool()
        candidates: dict[str, tuple[Genome, dict[str, Any]]] = {}
        for _ in range(self.guidance.candidates):
            if pool is None:
                child = self._breed(breeders, factor)
            else:
                child = self._pool_child(*pool, factor)
            if child is not None:
                candidates.setdefault(child[2], child[:2])  # by the hash computed for dedup
        if not candidates:
            return None
        children = list(candidates.values())
        return children[guidance_lib.choose(self._fitted_model(), [g for g, _ in children])]

    def _model_results(self) -> tuple[list[str], list[float], str]:
        """The trial ids, scores and direction the guidance model learns from."""
        if self.guidance_results is not None:
            return self.guidance_results()
        scored = self.everyone()
        return [t for t, _ in scored], [s for _, s in scored], self.direction

    def _fitted_model(self) -> Any:
        """The guidance model of the scores so far.

        It is refitted when a result arrived, but once more than `REFIT_FRACTION` are in, only
        when they grew by a `REFIT_FRACTION`th: a fit reads every result, so the cost per trial
        stays flat.
        """
        finished = len(self.results) + len(self.imported)  # counted without a scan
        n_hps = len(self.space.space)
        if self._model is not None:
            (fitted_hps, fitted_count), model = self._model
            grown = finished - fitted_count
            if fitted_hps == n_hps and grown < max(1, finished // REFIT_FRACTION):
                return model
        ids, scores, direction = self._model_results()
        genomes = [self._genome_of(trial_id) for trial_id in ids]
        model = self.guidance.fit(self.space, genomes, scores, direction)
        self._model = ((n_hps, finished), model)
        return model

    def _gene_pool(self) -> tuple[GenePool, list[str]] | None:
        """The gene pool of the model's good group, and its trial ids, while the guidance
        breeds from one: fewer than its `gene_pool_until` results in, `min_scored` or more.

        Why: early on, two breeders hold little of what the results know, and a child of the
        whole good group, each gene moved by the group's own spread, is likelier to be good;
        later it narrows the search too soon (benchmarks/results/tuning.md, section 7).
        """
        guidance = self.guidance
        finished = len(self.results) + len(self.imported)
        # A guidance of the user's own (any object with `candidates` and `fit`) has none.
        pool_results = getattr(guidance, "gene_pool_results", None)
        if pool_results is None or finished >= pool_results(self.shape.max_trials):
            return None
        ids, scores, direction = self._model_results()
        # Parents come from earlier generations only, as for two breeders (the lineage keeps
        # its order); the model still learns from every result.
        current = self.plans[-1]["index"]
        earlier = [i for i, trial_id in enumerate(ids) if self._generation_of(trial_id) < current]
        ids, scores = [ids[i] for i in earlier], [scores[i] for i in earlier]
        if len(ids) < guidance.min_scored:
            return None
        good = guidance_lib.good_count(len(ids), guidance.good_fraction)
        pool_ids = [ids[i] for i in best_indices(scores, good, direction)]
        parents = [self._genome_of(trial_id) for trial_id in pool_ids]
        pool = GenePool(self.space, parents, guidance.gene_pool_bandwidth, guidance.prior)
        return pool, pool_ids

    def _pool_child(self, pool: GenePool, pool_ids: list[str], factor: float):
        """A child of the gene pool, mutated until unseen (None after `MAX_REMUTATIONS`): the
        child, its lineage record and its `genome_hash`."""
        child, used, mutated = pool.child(self.rng)
        mutation = self.mutation.scaled(factor)
        for _ in range(MAX_REMUTATIONS):
            key = space_lib.genome_hash(child)
            if key not in self._seen:
                parents = [pool_ids[i] for i in used]
                # Every gene redrawn (rare): a random member, not anyone's child.
                origin = "child" if parents else "random"
                return child, self._record_fields(origin, parents, mutated), key
            child, more = mutation(self.rng, self.space, child, at_least_one=True)
            mutated = sorted(set(mutated) | set(more))
        return None

    def _generation_of(self, trial_id: str) -> int:
        """The generation a trial was bred for (an imported one counts as generation 0)."""
        return self.lineage.get(trial_id, {}).get("generation", 0)

    def _genome_of(self, trial_id: str) -> Genome:
        if trial_id in self.imported:
            return self.imported[trial_id]["genome"]
        return self.genomes[trial_id]

    def _breed(self, breeders: list[str], factor: float):
        """A child of two breeders, mutated until unseen (None after `MAX_REMUTATIONS`): the
        child, its lineage record and its `genome_hash`."""
        mutation = self.mutation.scaled(factor)
        mother, father = pick_parents(self.rng, breeders)
        child = self.crossover(self.rng, self.space, self.genomes[mother], self.genomes[father])
        child, mutated = mutation(self.rng, self.space, child)
        for _ in range(MAX_REMUTATIONS):
            key = space_lib.genome_hash(child)
            if key not in self._seen:  # `is_seen`, keeping the hash for the guided choice
                parents = sorted({mother, father})
                return child, self._record_fields("child", parents, mutated), key
            child, more = mutation(self.rng, self.space, child, at_least_one=True)
            mutated = sorted(set(mutated) | set(more))
        return None

    @staticmethod
    def _record_fields(origin: str, parents=(), mutated=()) -> dict[str, Any]:
        return {"origin": origin, "parents": list(parents), "mutated": list(mutated)}

    def _fresh_genome(self) -> Genome | None:
        """A random configuration never seen before, or None when there is none left."""
        for _ in range(MAX_RANDOM_DRAWS):
            candidate = space_lib.random_genome(self.space, self.rng)
            if not self.is_seen(candidate):
                return candidate
        size = self._count_space()
        if size is None or size > MAX_ENUMERATION:
            for _ in range(20 * MAX_RANDOM_DRAWS):
                candidate = space_lib.random_genome(self.space, self.rng)
                if not self.is_seen(candidate):
                    return candidate
            return None
        if len(self._seen) >= size:
            return None
        unseen = [g for g in space_lib.enumerate_genomes(self.space) if not self.is_seen(g)]
        if not unseen:
            return None
        return unseen[int(self.rng.integers(len(unseen)))]

    def _count_space(self) -> int | None:
        n_hps = len(self.space.space)
        if self._space_size[0] != n_hps:
            self._space_size = (n_hps, space_lib.count_configurations(self.space))
        return self._space_size[1]
