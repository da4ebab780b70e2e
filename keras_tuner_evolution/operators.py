"""Moved to `selection` and `variation` (0.2.0); this name keeps 0.1.0 imports working."""

from keras_tuner_evolution.selection import (  # noqa: F401
    best_indices as select_elites,
)
from keras_tuner_evolution.selection import (  # noqa: F401
    select_breeders,
    selection_weights,
    tournament_select,
)
from keras_tuner_evolution.variation import (  # noqa: F401
    mutate,
    mutate_value,
    pick_parents,
    success_rule,
    uniform_crossover,
)
