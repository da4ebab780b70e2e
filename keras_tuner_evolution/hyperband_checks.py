"""The argument checks of `EvolutionaryHyperbandOracle`: its schedule (`max_epochs`, `factor`,
`hyperband_iterations`, `min_epochs`, `max_epochs_total`, `brackets`) and the evolution's
arguments that mean nothing across epoch counts. Each error names the argument and what it
accepts. Apart from the oracle so that `hyperband.py` keeps to one job, handing out trials.
"""

from __future__ import annotations

from typing import Any

from keras_tuner_evolution import fidelity
from keras_tuner_evolution.checks import check_int
from keras_tuner_evolution.config import EvolutionConfig


def check_arguments(
    max_epochs: Any,
    factor: Any,
    iterations: Any,
    min_epochs: Any,
    max_epochs_total: Any,
    brackets: Any,
) -> None:
    """Raises a ValueError naming the first schedule argument out of its accepted range."""
    check_int(max_epochs, "max_epochs", 1)
    check_int(factor, "factor", 2)
    check_int(iterations, "hyperband_iterations", 1)
    check_int(min_epochs, "min_epochs", 1)
    if min_epochs > max_epochs:
        raise ValueError(
            f"`min_epochs` must be in [1, max_epochs] = [1, {max_epochs}], got {min_epochs!r}."
        )
    check_int(max_epochs_total, "max_epochs_total", 1, allow_none=True)
    if max_epochs_total is not None:
        one_bracket = fidelity.bracket_epochs(max_epochs, factor, min_epochs)
        if max_epochs_total < one_bracket:
            raise ValueError(
                f"`max_epochs_total` must be at least the epochs of one successive-halving "
                f"bracket ({one_bracket} for max_epochs={max_epochs}, factor={factor}, "
                f"min_epochs={min_epochs}), got {max_epochs_total!r}."
            )
    check_int(brackets, "brackets", 1, allow_none=True)
    rung_count = len(fidelity.rung_epochs(max_epochs, factor, min_epochs))
    if brackets is not None and brackets > rung_count:
        raise ValueError(
            f"`brackets` must be in [1, {rung_count}] (the rungs of max_epochs={max_epochs}, "
            f"factor={factor}, min_epochs={min_epochs}) or None for all, got {brackets!r}."
        )


def check_config(config: EvolutionConfig) -> None:
    """Rejects the evolution's arguments that have no meaning across epoch counts."""
    if config.warm_start_from is not None:
        raise ValueError(
            "`warm_start_from` is not supported by EvolutionaryHyperband yet: an earlier "
            "project's scores were measured at unknown epochs. Pass its best "
            "configurations as `initial_population` instead."
        )
    if config.patience is not None:
        raise ValueError(
            "`patience` is not supported by EvolutionaryHyperband: scores of different "
            "epoch counts make no single series. Use `max_epochs_total`, `max_trials`, "
            "`max_search_time` or `goal`."
        )
