"""TensorBoard logging of an evolutionary search: the HParams dashboard and evolution scalars.

Everything is written with the `tensorboard` package's own protos and event-file writer, so it
works on every Keras 3 backend. In a log directory `logdir` the search leaves:

- `logdir/` (run "."): the HParams experiment config: every hyperparameter with its domain
  from the Keras Tuner space, the lineage fields, and the metrics;
- `logdir/<trial_id>/`: one HParams session per trial: its values, generation, origin, parents
  and mutated genes, its final metrics as scalars, and its status (failed trials are failures);
- `logdir/evolution/`: best, mean and std of fitness and the population's diversity, one step
  per generation (Scalars dashboard);
- `logdir/<trial_id>/execution<k>/`: what a `keras.callbacks.TensorBoard` passed to `search`
  writes (per-epoch curves), in Keras Tuner's per-trial layout.

Keras Tuner, on the TensorFlow backend, adds its own per-execution HParams callback next to a
`TensorBoard` callback; `EvolutionaryTuner` replaces that (see `configure_callbacks`), so each
trial is one session, not one per execution, with the lineage in it.

Our event files carry a `.kte-*` suffix; a file of ours is replaced when it must change (a
trial restarted on resume, a space or metric set that grew), so a freshly started TensorBoard
always sees one experiment and one session per trial.

Modules, one job each:
    writer: `TensorBoardLogger`, driven by the tuner's hooks; the run names, suffixes and tags.
    hparams: the HParams infos (hyperparameter domains, lineage fields, metrics), pure.
    summaries: the `Summary` protos (experiment, session start and end, scalars).
    events: our event files (write, replace, read back the steps written).
    diversity: the population's diversity statistic.

This package is `keras_tuner_evolution.tensorboard`; every module in it imports the real
`tensorboard` package with absolute imports, which this name does not shadow.
"""

from __future__ import annotations

from keras_tuner_evolution.tensorboard.diversity import population_diversity
from keras_tuner_evolution.tensorboard.events import EventWriter, remove_own_files, written_steps
from keras_tuner_evolution.tensorboard.hparams import (
    LINEAGE_FIELDS,
    ORIGINS,
    hparam_infos,
    lineage_names,
    metric_infos,
    plain_value,
    session_hparams,
)
from keras_tuner_evolution.tensorboard.summaries import (
    experiment_summary,
    scalar_summary,
    session_end_summary,
    session_start_summary,
)
from keras_tuner_evolution.tensorboard.writer import (
    EVOLUTION_RUN,
    EVOLUTION_SUFFIX,
    EXPERIMENT_SUFFIX,
    SESSION_SUFFIX,
    TAG_BEST,
    TAG_DIVERSITY,
    TAG_MEAN,
    TAG_STD,
    TensorBoardLogger,
)

__all__ = [
    "EVOLUTION_RUN",
    "EVOLUTION_SUFFIX",
    "EXPERIMENT_SUFFIX",
    "LINEAGE_FIELDS",
    "ORIGINS",
    "SESSION_SUFFIX",
    "TAG_BEST",
    "TAG_DIVERSITY",
    "TAG_MEAN",
    "TAG_STD",
    "EventWriter",
    "TensorBoardLogger",
    "experiment_summary",
    "hparam_infos",
    "lineage_names",
    "metric_infos",
    "plain_value",
    "population_diversity",
    "remove_own_files",
    "scalar_summary",
    "session_end_summary",
    "session_hparams",
    "session_start_summary",
    "written_steps",
]
