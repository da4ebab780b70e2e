"""Warm starts: an initial population given by the user, or an earlier project's best trials."""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import scores as scores_lib
from keras_tuner_evolution import space as space_lib


def check_initial_population(
    space: HyperParameters, population: Sequence[Mapping[str, Any]]
) -> None:
    """Raises a ValueError naming the first unknown name or out-of-space value.

    Args:
        space: The search space.
        population: Partial configurations: `{name: value}` dicts.
    """
    if isinstance(population, Mapping) or not isinstance(population, Sequence):
        raise ValueError(
            "`initial_population` must be a list of {name: value} dicts, "
            f"got {type(population).__name__}."
        )
    by_name = space_lib.hyperparameters_by_name(space)
    for index, member in enumerate(population):
        if not isinstance(member, Mapping):
            raise ValueError(
                f"`initial_population[{index}]` must be a dict of hyperparameter values, "
                f"got {member!r}."
            )
        for name, value in member.items():
            if name not in by_name:
                raise ValueError(
                    f"`initial_population[{index}]` names {name!r}, which is not in the search "
                    f"space ({sorted(by_name)})."
                )
            if not any(space_lib.is_valid_value(hp, value) for hp in by_name[name]):
                raise ValueError(
                    f"`initial_population[{index}]`: value {value!r} of {name!r} is outside its "
                    f"domain {describe_domain(by_name[name][0])}."
                )


def describe_domain(hp) -> str:
    """A short human description of a hyperparameter's domain, for error messages."""
    domain = space_lib.finite_domain(hp)
    if domain is not None and len(domain) <= 12:
        return str(domain)
    return f"[{getattr(hp, 'min_value', '?')}, {getattr(hp, 'max_value', '?')}]"


def initial_genomes(
    space: HyperParameters,
    population: Sequence[Mapping[str, Any]],
    rng: np.random.Generator,
) -> list[space_lib.Genome]:
    """Completes partial configurations with seeded samples (after checking them)."""
    check_initial_population(space, population)
    return [space_lib.repair(space, member, rng) for member in population]


def load_completed_trials(
    directory: str, project_name: str, objective: str
) -> list[tuple[str, dict[str, Any], float]]:
    """Reads the completed trials of any Keras Tuner project from its trial files.

    Args:
        directory: The earlier tuner's `directory`.
        project_name: The earlier tuner's `project_name`.
        objective: Name of the metric to score them by.

    Returns:
        `(trial_id, hyperparameter values, best value of the objective)` per completed trial
        that recorded the objective.

    Raises:
        FileNotFoundError: if the project has no trial files.
        ValueError: if no completed trial recorded `objective`.
    """
    folder = os.path.join(directory, project_name)
    paths = sorted(glob.glob(os.path.join(folder, "trial_*", "trial.json")))
    if not paths:
        raise FileNotFoundError(f"`warm_start_from`: no Keras Tuner trials in {folder!r}.")
    found, other_metrics = [], set()
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)  # plain JSON: nothing from disk is unpickled
        if data.get("status") != TrialStatus.COMPLETED:
            continue
        metrics = data.get("metrics", {}).get("metrics", {})
        other_metrics.update(metrics)
        if objective not in metrics:
            continue
        direction = metrics[objective].get("direction", "max")
        values = [v for entry in metrics[objective].get("observations", []) for v in entry["value"]]
        values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        if not values:
            continue
        score = scores_lib.best(values, direction)
        found.append((str(data["trial_id"]), dict(data["hyperparameters"]["values"]), score))
    if not found:
        raise ValueError(
            f"`warm_start_from`: no completed trial in {folder!r} recorded the objective "
            f"{objective!r}; metrics found: {sorted(other_metrics)}."
        )
    return found


def fits_space(space: HyperParameters, values: Mapping[str, Any]) -> bool:
    """Whether a configuration is exactly a genome of `space`: same active set, valid values.

    Only then is its score the score this search would measure, so it may be reused.
    """
    by_name = space_lib.hyperparameters_by_name(space)
    for name, value in values.items():
        if name not in by_name or not any(
            space_lib.is_valid_value(hp, value) for hp in by_name[name]
        ):
            return False
    return space_lib.repair(space, values) == {
        name: space_lib.canonical_value(
            space_lib.active_hyperparameter(by_name, name, values), value
        )
        for name, value in values.items()
    }
