"""Moved to `keras_tuner_evolution.space` (0.2.0); this name keeps 0.1.0 imports working."""

from keras_tuner_evolution.space import (  # noqa: F401
    Genome,
    active_hyperparameter,
    canonical_value,
    count_configurations,
    ensure_active_values,
    enumerate_genomes,
    finite_domain,
    genome_hash,
    hyperparameters_by_name,
    is_active,
    is_valid_value,
    prob_to_value,
    random_genome,
    repair,
    sample_value,
    value_to_prob,
)
