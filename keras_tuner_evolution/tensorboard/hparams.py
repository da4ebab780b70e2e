"""The HParams infos of an evolutionary search: what the experiment declares and each session.

Pure functions from a Keras Tuner space, a trial's values and its lineage record to the
`tensorboard.plugins.hparams.api_pb2` protos (`HParamInfo`, `MetricInfo`) and to a session's
`{name: value}` dict. No files, no tuner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import history
from keras_tuner_evolution import space as space_lib

# Hyperparameter names under which each session records its lineage: the History's fields;
# its origins, and "promoted" for a multi-fidelity trial that continues an earlier one.
LINEAGE_FIELDS = history.LINEAGE_FIELDS
ORIGINS = (*history.ORIGINS, "promoted")
# Keras Tuner's Hyperband values that a multi-fidelity trial carries (see `fidelity_infos`).
FIDELITY_FIELDS = ("tuner/epochs", "tuner/initial_epoch", "tuner/trial_id")

_RANGED = (hp_module.Int, hp_module.Float)


def plain_value(value: Any) -> bool | float | str:
    """A value the HParams protos accept: bool, float or str."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def hparam_infos(
    space: Any, lineage_names: Mapping[str, str], generations: int | None
) -> list[Any]:
    """HParams `HParamInfo`s for a Keras Tuner space and the lineage fields.

    Choice, Boolean and Fixed get their values as a discrete domain; Int and Float their
    `[min_value, max_value]` interval. Names declared twice (under several conditions) get the
    union of their domains.

    `differs` is set on the tuned hyperparameters, the generation and the parents: the
    dashboard lists those first and shows the first five of them as table columns.

    Args:
        space: The `keras_tuner.HyperParameters` search space.
        lineage_names: The lineage fields' names (see `lineage_names`).
        generations: The search's number of generations (the generation's domain), or None.

    Returns:
        One `HParamInfo` per hyperparameter name, then the four lineage fields.
    """
    infos = [
        _space_info(name, hps) for name, hps in space_lib.hyperparameters_by_name(space).items()
    ]
    return infos + _lineage_infos(lineage_names, generations)


def _space_info(name: str, hps: list[Any]) -> Any:
    """The `HParamInfo` of one hyperparameter name, declared once or more (`hps`)."""
    from tensorboard.plugins.hparams import api_pb2

    info = api_pb2.HParamInfo(name=name, display_name=name)
    if isinstance(hps[0], _RANGED):
        info.type = api_pb2.DATA_TYPE_FLOAT64
        ranged = [h for h in hps if isinstance(h, _RANGED)]
        info.domain_interval.min_value = float(min(h.min_value for h in ranged))
        info.domain_interval.max_value = float(max(h.max_value for h in ranged))
    else:
        values = _discrete_values(hps)
        kinds = {type(v) for v in values}
        if kinds == {bool}:
            info.type = api_pb2.DATA_TYPE_BOOL
            info.domain_discrete.extend(values)
        elif kinds == {float}:
            info.type = api_pb2.DATA_TYPE_FLOAT64
            info.domain_discrete.extend(values)
        else:  # mixed kinds: the dashboard compares them as text
            info.type = api_pb2.DATA_TYPE_STRING
            info.domain_discrete.extend([str(v) for v in values])
    info.differs = not all(isinstance(h, hp_module.Fixed) for h in hps)
    return info


def _discrete_values(hps: list[Any]) -> list[bool | float | str]:
    """The union of the values of Choice, Boolean and Fixed declarations, in order."""
    values: list[Any] = []
    for h in hps:
        if isinstance(h, hp_module.Boolean):
            found = [False, True]
        elif isinstance(h, hp_module.Choice):
            found = list(h.values)
        elif isinstance(h, hp_module.Fixed):
            found = [h.value]
        else:
            found = []
        values += [plain_value(v) for v in found if plain_value(v) not in values]
    return values


def _lineage_infos(names: Mapping[str, str], generations: int | None) -> list[Any]:
    """The `HParamInfo`s of the lineage fields: generation, origin, parents, mutated."""
    from tensorboard.plugins.hparams import api_pb2

    generation = api_pb2.HParamInfo(
        name=names["generation"],
        display_name=names["generation"],
        description="Generation in which the trial was bred (0: the random population).",
        type=api_pb2.DATA_TYPE_FLOAT64,
        differs=True,
    )
    if generations is not None:
        generation.domain_interval.min_value = 0.0
        generation.domain_interval.max_value = float(max(generations - 1, 0))
    origin = api_pb2.HParamInfo(
        name=names["origin"],
        display_name=names["origin"],
        description=(
            "How the trial was made: random, child (crossover and mutation), initial, "
            "warm_start, or promoted (continued to more epochs)."
        ),
        type=api_pb2.DATA_TYPE_STRING,
    )
    origin.domain_discrete.extend(ORIGINS)
    parents = api_pb2.HParamInfo(
        name=names["parents"],
        display_name=names["parents"],
        description="Trial ids of the parents, comma-separated.",
        type=api_pb2.DATA_TYPE_STRING,
        differs=True,
    )
    mutated = api_pb2.HParamInfo(
        name=names["mutated"],
        display_name=names["mutated"],
        description="Genes mutated when the trial was bred, comma-separated.",
        type=api_pb2.DATA_TYPE_STRING,
    )
    return [generation, origin, parents, mutated]


def fidelity_infos(rungs: Sequence[int]) -> list[Any]:
    """`HParamInfo`s of a multi-fidelity trial's epochs and the trial it continued."""
    from tensorboard.plugins.hparams import api_pb2

    epochs = api_pb2.HParamInfo(
        name="tuner/epochs",
        display_name="tuner/epochs",
        description="Epochs the trial's model was trained to (its rung).",
        type=api_pb2.DATA_TYPE_FLOAT64,
        differs=True,
    )
    epochs.domain_discrete.extend(float(e) for e in rungs)
    initial = api_pb2.HParamInfo(
        name="tuner/initial_epoch",
        display_name="tuner/initial_epoch",
        description="Epoch the trial started from (0 for a new configuration).",
        type=api_pb2.DATA_TYPE_FLOAT64,
    )
    initial.domain_discrete.extend(float(e) for e in [0, *rungs[:-1]])
    continued = api_pb2.HParamInfo(
        name="tuner/trial_id",
        display_name="tuner/trial_id",
        description="The trial whose checkpoint this one continued (empty for a new one).",
        type=api_pb2.DATA_TYPE_STRING,
    )
    return [epochs, initial, continued]


def fidelity_hparams(values: Mapping[str, Any]) -> dict[str, float | str]:
    """A multi-fidelity session's epochs and continued trial (empty for other trials)."""
    if "tuner/epochs" not in values:
        return {}
    return {
        "tuner/epochs": float(values["tuner/epochs"]),
        "tuner/initial_epoch": float(values.get("tuner/initial_epoch", 0)),
        "tuner/trial_id": str(values.get("tuner/trial_id", "")),
    }


def metric_infos(names: Sequence[str], descriptions: Mapping[str, str] | None = None) -> list:
    """HParams `MetricInfo`s: one scalar tag per name, read from the session's own run.

    Args:
        names: The metric names (scalar tags).
        descriptions: Optional description by metric name.

    Returns:
        One `MetricInfo` per name; names starting with "val_" are validation metrics.
    """
    from tensorboard.plugins.hparams import api_pb2

    descriptions = descriptions or {}
    infos = []
    for name in names:
        dataset = (
            api_pb2.DATASET_VALIDATION if name.startswith("val_") else api_pb2.DATASET_TRAINING
        )
        infos.append(
            api_pb2.MetricInfo(
                name=api_pb2.MetricName(group="", tag=name),
                display_name=name,
                description=descriptions.get(name, ""),
                dataset_type=dataset,
            )
        )
    return infos


def lineage_names(space_names: Iterable[str]) -> dict[str, str]:
    """Names of the lineage fields, prefixed with "kte." where a hyperparameter has the name."""
    taken = set(space_names)
    return {f: f"kte.{f}" if f in taken else f for f in LINEAGE_FIELDS}


def session_hparams(
    values: Mapping[str, Any], record: Mapping[str, Any], names: Mapping[str, str]
) -> dict[str, bool | float | str]:
    """A session's hparams: the trial's active values and its lineage record.

    Args:
        values: The trial's active hyperparameter values.
        record: The trial's lineage record (generation, origin, parents, mutated).
        names: The lineage fields' names (see `lineage_names`).

    Returns:
        Values the HParams protos accept, by hparam name.
    """
    hparams = {name: plain_value(value) for name, value in values.items()}
    if "generation" in record:
        hparams[names["generation"]] = float(record["generation"])
    hparams[names["origin"]] = str(record.get("origin", "random"))
    hparams[names["parents"]] = ",".join(str(p) for p in record.get("parents", []))
    hparams[names["mutated"]] = ",".join(str(g) for g in record.get("mutated", []))
    return hparams
