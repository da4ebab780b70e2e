"""Moved: TensorBoard logging now lives in the package `keras_tuner_evolution.tensorboard`.

This module re-exports its public names so that code written for 0.1.0 keeps working:
`TensorBoardLogger` and the tags and suffixes are in `tensorboard.writer`; the HParams infos
(`hparam_infos`, `metric_infos`, `lineage_names`, `session_hparams`) in `tensorboard.hparams`;
the `Summary` builders in `tensorboard.summaries`; `EventWriter`, `remove_own_files` and
`written_steps` in `tensorboard.events`; `population_diversity` in `tensorboard.diversity`.
Import from `keras_tuner_evolution.tensorboard` in new code.
"""

from __future__ import annotations

from keras_tuner_evolution.tensorboard import (  # noqa: F401 (re-exported)
    EVOLUTION_RUN,
    EVOLUTION_SUFFIX,
    EXPERIMENT_SUFFIX,
    LINEAGE_FIELDS,
    ORIGINS,
    SESSION_SUFFIX,
    TAG_BEST,
    TAG_DIVERSITY,
    TAG_MEAN,
    TAG_STD,
    EventWriter,
    TensorBoardLogger,
    experiment_summary,
    hparam_infos,
    lineage_names,
    metric_infos,
    population_diversity,
    remove_own_files,
    scalar_summary,
    session_end_summary,
    session_hparams,
    session_start_summary,
    written_steps,
)
from keras_tuner_evolution.tensorboard.events import logger  # noqa: F401 (re-exported)
