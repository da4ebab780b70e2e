"""Independent seeds for Keras Tuner's oracles.

Keras Tuner's oracles draw their `i`-th random value with `random.Random(seed + i)`
(`Oracle._seed_state` starts at `seed` and goes up by one per value drawn), so a search with
seed 2 reuses the random numbers of the search with seed 1, shifted by one value: seeds 1..10
are not ten independent searches. On `multi_fidelity.py`'s `mixed_crossing`, 9 of 10 Keras
Tuner Hyperband searches with seeds 1..10 ended at the same configuration, and on
`conditional_crossing` all 10 did at 100 full trainings. A median over such seeds is nearly
one draw, lucky or not.

The benchmarks give Keras Tuner `keras_tuner_seed(seed)` instead: seeds `SPACING` apart, more
values than any search here draws, so no two searches share a random number. Our oracles,
Optuna and DEHB seed a generator of their own and take the seed as it is.
"""

SPACING = 1_000_003


def keras_tuner_seed(seed: int) -> int:
    """The seed to give a Keras Tuner oracle for the benchmark's `seed` (never 0, which Keras
    Tuner reads as "no seed")."""
    return 1 + seed * SPACING
