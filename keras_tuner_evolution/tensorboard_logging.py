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
"""

from __future__ import annotations

import glob
import itertools
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import genome as genome_lib
from keras_tuner_evolution.history import History

logger = logging.getLogger("keras_tuner_evolution")

EVOLUTION_RUN = "evolution"
EXPERIMENT_SUFFIX = ".kte-experiment"
SESSION_SUFFIX = ".kte-session"
EVOLUTION_SUFFIX = ".kte-evolution"
# Hyperparameter names under which each session records its lineage.
LINEAGE_FIELDS = ("generation", "origin", "parents", "mutated")
ORIGINS = ("random", "child", "initial")
# Scalar tags of the evolution run.
TAG_BEST = "fitness/best"
TAG_MEAN = "fitness/mean"
TAG_STD = "fitness/std"
TAG_DIVERSITY = "population/diversity"


# Pure helpers ------------------------------------------------------------------------------


def population_diversity(space, genomes: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean distance between two members of a population, in `[0, 1]`.

    The distance of two genomes is the mean, over the hyperparameters active in either, of a
    per-gene distance: for ordered ones (Int, Float, ordered Choice) the gap of their
    probability-space coordinates; for categorical ones (unordered Choice, Boolean) 0 if equal
    else 1; 1 when the gene is active in one genome only. 0: all members alike.

    Args:
        space: The `keras_tuner.HyperParameters` search space.
        genomes: The members' values.

    Returns:
        The mean pairwise distance, or None for fewer than two members.
    """
    if len(genomes) < 2:
        return None
    by_name = genome_lib.hyperparameters_by_name(space)
    total, pairs = 0.0, 0
    for a, b in itertools.combinations(genomes, 2):
        names = set(a) | set(b)
        distance = 0.0
        for name in names:
            if name not in a or name not in b:
                distance += 1.0
            elif name not in by_name:
                distance += float(a[name] != b[name])
            else:
                hp = genome_lib.active_hyperparameter(by_name, name, a)
                distance += _gene_distance(hp, a[name], b[name])
        total += distance / len(names) if names else 0.0
        pairs += 1
    return total / pairs


def _gene_distance(hp, a: Any, b: Any) -> float:
    if a == b:
        return 0.0
    categorical = isinstance(hp, hp_module.Boolean) or (
        isinstance(hp, hp_module.Choice) and not hp.ordered
    )
    if categorical or isinstance(hp, hp_module.Fixed):
        return 1.0
    try:
        return abs(genome_lib.value_to_prob(hp, a) - genome_lib.value_to_prob(hp, b))
    except (TypeError, ValueError):
        return 1.0


def _plain(value: Any) -> bool | float | str:
    """A value the HParams protos accept: bool, float or str."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def hparam_infos(space, lineage_names: Mapping[str, str], generations: int | None) -> list:
    """HParams `HParamInfo`s for a Keras Tuner space and the lineage fields.

    Choice, Boolean and Fixed get their values as a discrete domain; Int and Float their
    `[min_value, max_value]` interval. Names declared twice (under several conditions) get the
    union of their domains.

    `differs` is set on the tuned hyperparameters, the generation and the parents: the
    dashboard lists those first and shows the first five of them as table columns.
    """
    from tensorboard.plugins.hparams import api_pb2

    infos = []
    for name, hps in genome_lib.hyperparameters_by_name(space).items():
        info = api_pb2.HParamInfo(name=name, display_name=name)
        hp = hps[0]
        if isinstance(hp, (hp_module.Int, hp_module.Float)):
            info.type = api_pb2.DATA_TYPE_FLOAT64
            ranged = [h for h in hps if isinstance(h, (hp_module.Int, hp_module.Float))]
            info.domain_interval.min_value = float(min(h.min_value for h in ranged))
            info.domain_interval.max_value = float(max(h.max_value for h in ranged))
        else:
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
                values += [_plain(v) for v in found if _plain(v) not in values]
            kinds = {type(v) for v in values}
            if kinds == {bool}:
                info.type = api_pb2.DATA_TYPE_BOOL
                info.domain_discrete.extend(values)
            elif kinds == {float}:
                info.type = api_pb2.DATA_TYPE_FLOAT64
                info.domain_discrete.extend(values)
            else:
                info.type = api_pb2.DATA_TYPE_STRING
                info.domain_discrete.extend([str(v) for v in values])
        info.differs = not all(isinstance(h, hp_module.Fixed) for h in hps)
        infos.append(info)

    generation = api_pb2.HParamInfo(
        name=lineage_names["generation"],
        display_name=lineage_names["generation"],
        description="Generation in which the trial was bred (0: the random population).",
        type=api_pb2.DATA_TYPE_FLOAT64,
        differs=True,
    )
    if generations is not None:
        generation.domain_interval.min_value = 0.0
        generation.domain_interval.max_value = float(max(generations - 1, 0))
    origin = api_pb2.HParamInfo(
        name=lineage_names["origin"],
        display_name=lineage_names["origin"],
        description="How the trial was made: random, child (crossover and mutation), initial.",
        type=api_pb2.DATA_TYPE_STRING,
    )
    origin.domain_discrete.extend(ORIGINS)
    parents = api_pb2.HParamInfo(
        name=lineage_names["parents"],
        display_name=lineage_names["parents"],
        description="Trial ids of the parents, comma-separated.",
        type=api_pb2.DATA_TYPE_STRING,
        differs=True,
    )
    mutated = api_pb2.HParamInfo(
        name=lineage_names["mutated"],
        display_name=lineage_names["mutated"],
        description="Genes mutated when the trial was bred, comma-separated.",
        type=api_pb2.DATA_TYPE_STRING,
    )
    return infos + [generation, origin, parents, mutated]


def metric_infos(names: Sequence[str], descriptions: Mapping[str, str] | None = None) -> list:
    """HParams `MetricInfo`s: one scalar tag per name, read from the session's own run."""
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
    """A session's hparams: the trial's active values and its lineage record."""
    hparams = {name: _plain(value) for name, value in values.items()}
    if "generation" in record:
        hparams[names["generation"]] = float(record["generation"])
    hparams[names["origin"]] = str(record.get("origin", "random"))
    hparams[names["parents"]] = ",".join(str(p) for p in record.get("parents", []))
    hparams[names["mutated"]] = ",".join(str(g) for g in record.get("mutated", []))
    return hparams


# Summaries and files -----------------------------------------------------------------------


def _hparams_summary(tag: str, **plugin_data):
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData(**plugin_data)
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR
    )
    return summary


def experiment_summary(hparams: list, metrics: list, time_created_secs: float | None = None):
    """The `Summary` holding an HParams experiment config."""
    from tensorboard.plugins.hparams import api_pb2, metadata

    experiment = api_pb2.Experiment(
        hparam_infos=hparams,
        metric_infos=metrics,
        time_created_secs=time.time() if time_created_secs is None else time_created_secs,
    )
    return _hparams_summary(metadata.EXPERIMENT_TAG, experiment=experiment)


def session_start_summary(hparams: Mapping[str, Any], start_time_secs: float | None = None):
    """The `Summary` opening an HParams session with these values."""
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionStartInfo(
        start_time_secs=time.time() if start_time_secs is None else start_time_secs
    )
    for name, value in hparams.items():
        value = _plain(value)
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, float):
            info.hparams[name].number_value = value
        else:
            info.hparams[name].string_value = value
    return _hparams_summary(metadata.SESSION_START_INFO_TAG, session_start_info=info)


def session_end_summary(success: bool, end_time_secs: float | None = None):
    """The `Summary` closing an HParams session as a success or a failure."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    info = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS if success else api_pb2.STATUS_FAILURE,
        end_time_secs=time.time() if end_time_secs is None else end_time_secs,
    )
    return _hparams_summary(metadata.SESSION_END_INFO_TAG, session_end_info=info)


def scalar_summary(tag: str, value: float):
    from tensorboard.plugins.scalar.summary_v2 import scalar_pb

    return scalar_pb(tag, float(value))


class EventWriter:
    """Appends summaries to one new event file of a run folder (our suffix marks it ours)."""

    def __init__(self, folder: str, suffix: str):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.folder = folder
        self._writer = EventFileWriter(folder, filename_suffix=suffix)

    def write(self, summary, step: int = 0) -> None:
        from tensorboard.compat.proto import event_pb2

        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def remove_own_files(folder: str, suffix: str) -> None:
    """Deletes the event files of ours with `suffix` directly in `folder`."""
    for path in glob.glob(os.path.join(glob.escape(folder), f"events.out.tfevents.*{suffix}")):
        try:
            os.remove(path)
        except OSError:  # pragma: no cover - a file already gone
            pass


def written_steps(folder: str, suffix: str, tag: str) -> set[int]:
    """Steps at which our event files in `folder` hold `tag` (to resume without duplicates)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    steps: set[int] = set()
    for path in glob.glob(os.path.join(glob.escape(folder), f"events.out.tfevents.*{suffix}")):
        try:
            for event in EventFileLoader(path).Load():
                if any(value.tag == tag for value in event.summary.value):
                    steps.add(int(event.step))
        except Exception:  # noqa: BLE001 - a truncated file: rewrite what it lacks
            logger.debug("Could not read %s", path, exc_info=True)
    return steps


# The logger --------------------------------------------------------------------------------


class TensorBoardLogger:
    """Writes an evolutionary search to TensorBoard; driven by the tuner's hooks.

    One instance per tuner. Log directories come from the tuner's `tensorboard_dir` and from
    every `keras.callbacks.TensorBoard` passed to `search` (found when Keras Tuner configures
    the callbacks of a trial); each gets the same experiment, sessions and evolution run.

    The oracle is the source of truth for generations and lineage: `tuner.history` is the
    oracle's History, or on a worker of a distributed search the one saved by the chief.

    A log directory first used by a fresh search (no trial ended yet) is cleared of our own
    files from an earlier search; one used by a resumed search keeps them and is continued.

    Args:
        tuner: The `EvolutionaryTuner` (any `keras_tuner.Tuner` with a `history` property).
    """

    def __init__(self, tuner):
        self.tuner = tuner
        self.logdirs: list[str] = []
        self._sessions: dict[str, dict[str, Any]] = {}  # open sessions by trial id
        self._writers: dict[tuple[str, str], EventWriter] = {}  # sessions' writers
        self._evolution_writers: dict[str, EventWriter] = {}
        self._experiment: tuple | None = None  # the config written, as a comparable key
        self._metrics: list[str] = []
        self._written: dict[str, set[int]] = {}  # generations written, by log directory

    # Hooks -----------------------------------------------------------------------------------

    def configure_callbacks(self, callbacks: list, trial, execution: int = 0) -> None:
        """Sends each `TensorBoard` callback's logs to its per-trial folder; notes its log dir.

        Replaces `keras_tuner.Tuner._configure_tensorboard_dir`: the same rule (a callback
        whose class is named `TensorBoard`) and layout (`log_dir/<trial_id>/execution<k>`), on
        every backend, without Keras Tuner's per-execution HParams callback (this logger writes
        one session per trial instead).
        """
        for callback in callbacks:
            if type(callback).__name__ == "TensorBoard":
                base = str(callback.log_dir)
                self.add_logdir(base)
                callback.log_dir = os.path.join(base, str(trial.trial_id), f"execution{execution}")

    def add_logdir(self, logdir: str) -> None:
        """Adds a log directory; it receives the experiment and any open session at once."""
        logdir = os.path.abspath(os.path.expanduser(str(logdir)))
        if logdir in self.logdirs:
            return
        self.logdirs.append(logdir)
        os.makedirs(logdir, exist_ok=True)
        evolution = os.path.join(logdir, EVOLUTION_RUN)
        if self._is_fresh():
            remove_own_files(logdir, EXPERIMENT_SUFFIX)
            remove_own_files(evolution, EVOLUTION_SUFFIX)
            for folder in glob.glob(os.path.join(glob.escape(logdir), "*", "")):
                remove_own_files(folder, SESSION_SUFFIX)
        self._written[logdir] = written_steps(evolution, EVOLUTION_SUFFIX, TAG_BEST)
        if self._experiment is not None:
            self._write_experiment(logdir, *self._experiment[-1])
        for trial_id in self._sessions:
            self._start_session(logdir, trial_id)

    def search_begin(self, tensorboard_dir: str | None = None) -> None:
        """Adds `tensorboard_dir`; writes the experiment when metrics are known (a resume)."""
        if tensorboard_dir is not None:
            self.add_logdir(tensorboard_dir)
        if self._metric_names_from_trials():
            self.update_experiment()

    def trial_begin(self, trial) -> None:
        """Opens the trial's session with its values and lineage."""
        self._sessions[trial.trial_id] = {"trial": trial, "start": time.time(), "hparams": None}
        for logdir in self.logdirs:
            self._start_session(logdir, trial.trial_id)

    def trial_end(self, trial) -> None:
        """Closes the trial's session with its metrics and status; logs finished generations.

        Call after the oracle has ended the trial (after `Tuner.on_trial_end`).
        """
        if not self.logdirs:
            self._sessions.pop(trial.trial_id, None)
            return
        ended = self.tuner.oracle.get_trial(trial.trial_id)
        if trial.trial_id not in self._sessions:
            self.trial_begin(ended)
        self._sessions.pop(trial.trial_id)
        success = ended.status == TrialStatus.COMPLETED
        metrics = self._final_metrics(ended) if success else {}
        if success and (self._experiment is None or any(m not in self._metrics for m in metrics)):
            self.update_experiment(metrics)
        for logdir in self.logdirs:
            writer = self._writers.pop((logdir, trial.trial_id), None)
            if writer is None:
                continue
            step = int(ended.best_step or 0)
            for name, value in metrics.items():
                writer.write(scalar_summary(name, value), step=step)
            writer.write(session_end_summary(success))
            writer.close()
        self.log_generations(final=False)

    def search_end(self) -> None:
        """Logs the last generations and closes everything."""
        self.update_experiment()
        self.log_generations(final=True)
        self.close()

    def close(self) -> None:
        for writer in [*self._writers.values(), *self._evolution_writers.values()]:
            writer.close()
        self._writers.clear()
        self._evolution_writers.clear()

    # The experiment --------------------------------------------------------------------------

    def update_experiment(self, new_metrics: Iterable[str] = ()) -> None:
        """(Re)writes the experiment config when the space or the metrics have grown.

        Args:
            new_metrics: Metric names just reported, beyond those of the oracle's trials (a
                worker of a distributed search sees only its own trials).
        """
        if not self.logdirs:
            return
        space = self.tuner.oracle.get_space()
        objectives = self._objective_names()
        names = set(self._metric_names_from_trials()) | set(new_metrics) | set(self._metrics)
        metrics = objectives + sorted(names - set(objectives))  # a metric is never dropped
        generations = getattr(self.tuner.oracle, "generations", None)
        if not isinstance(generations, int):
            generations = None
        hparams = hparam_infos(space, lineage_names(h.name for h in space.space), generations)
        infos = metric_infos(metrics, self._descriptions())
        key = (
            tuple(info.SerializeToString(deterministic=True) for info in hparams),
            tuple(metrics),
        )
        if self._experiment is not None and self._experiment[:2] == key:
            return
        self._metrics = metrics
        self._experiment = (*key, (hparams, infos))
        for logdir in self.logdirs:
            self._write_experiment(logdir, hparams, infos)

    def _write_experiment(self, logdir: str, hparams: list, metrics: list) -> None:
        remove_own_files(logdir, EXPERIMENT_SUFFIX)
        writer = EventWriter(logdir, EXPERIMENT_SUFFIX)
        writer.write(experiment_summary(hparams, metrics))
        writer.close()

    def _objective_names(self) -> list[str]:
        objective = self.tuner.oracle.objective
        objectives = getattr(objective, "objectives", None)
        if objectives:  # a MultiObjective
            return [o.name for o in objectives]
        return [objective.name]

    def _descriptions(self) -> dict[str, str]:
        objective = self.tuner.oracle.objective
        return {name: f"Objective ({objective.direction})" for name in self._objective_names()}

    def _metric_names_from_trials(self) -> list[str]:
        trials = getattr(self.tuner.oracle, "trials", None)
        if not isinstance(trials, dict):  # a worker: only the metrics it has seen
            return list(self._metrics)
        names: list[str] = []
        for trial in trials.values():
            if trial.status == TrialStatus.COMPLETED:
                names += [n for n in trial.metrics.metrics if n not in names]
        return sorted(names)

    # Sessions --------------------------------------------------------------------------------

    def _start_session(self, logdir: str, trial_id: str) -> None:
        session = self._sessions[trial_id]
        if session["hparams"] is None:
            trial = session["trial"]
            record = self._history().lineage.get(trial_id, {})
            space = trial.hyperparameters
            values = genome_lib.repair(space, space.values)
            names = lineage_names(h.name for h in space.space)
            session["hparams"] = session_hparams(values, record, names)
        folder = os.path.join(logdir, str(trial_id))
        old = self._writers.pop((logdir, trial_id), None)
        if old is not None:
            old.close()
        remove_own_files(folder, SESSION_SUFFIX)  # a restarted trial: one session only
        writer = EventWriter(folder, SESSION_SUFFIX)
        writer.write(session_start_summary(session["hparams"], session["start"]))
        writer.flush()
        self._writers[(logdir, trial_id)] = writer

    @staticmethod
    def _final_metrics(trial) -> dict[str, float]:
        """The trial's reported metrics (at its best step), and its score for the objective."""
        found: dict[str, float] = {}
        for name in trial.metrics.metrics:
            value = trial.metrics.get_last_value(name)
            if value is not None and math.isfinite(float(value)):
                found[name] = float(value)
        return found

    # Generations -----------------------------------------------------------------------------

    def log_generations(self, final: bool) -> None:
        """Writes the statistics of every finished generation not yet written.

        A generation is finished when a later one exists and none of its members still runs;
        with `final`, every generation with a score is written.
        """
        if not self.logdirs:
            return
        history = self._history()
        space = None
        for position, generation in enumerate(history.generations):
            pending = [d for d in self.logdirs if generation.index not in self._written[d]]
            if not pending:
                continue
            if not final:
                if position == len(history.generations) - 1:
                    break
                unscored = [t for t, s in zip(generation.members, generation.scores) if s is None]
                if any(self._running(tid) for tid in unscored):
                    break
            if not generation.completed_scores:
                continue
            if space is None:
                space = self.tuner.oracle.get_space()
            genomes = [history.genomes[t] for t in generation.members if t in history.genomes]
            values = {
                TAG_BEST: history.best[position],
                TAG_MEAN: generation.mean,
                TAG_STD: generation.std,
                TAG_DIVERSITY: population_diversity(space, genomes),
            }
            for logdir in pending:
                writer = self._evolution_writers.get(logdir)
                if writer is None:
                    writer = EventWriter(os.path.join(logdir, EVOLUTION_RUN), EVOLUTION_SUFFIX)
                    self._evolution_writers[logdir] = writer
                for tag, value in values.items():
                    if value is not None:
                        writer.write(scalar_summary(tag, value), step=generation.index)
                writer.flush()
                self._written[logdir].add(generation.index)

    def _is_fresh(self) -> bool:
        """Whether no trial of this search has ended (False when unknown, on a worker)."""
        end_order = getattr(self.tuner.oracle, "end_order", None)
        return isinstance(end_order, list) and not end_order

    def _running(self, trial_id: str) -> bool:
        """Whether a trial may still report a score (running, or queued for a retry)."""
        oracle = self.tuner.oracle
        trials = getattr(oracle, "trials", None)
        if isinstance(trials, dict):
            trial = trials.get(trial_id)
            retrying = trial_id in getattr(oracle, "_retry_queue", [])
            return trial is None or trial.status == TrialStatus.RUNNING or retrying
        try:
            return oracle.get_trial(trial_id).status == TrialStatus.RUNNING
        except Exception:  # noqa: BLE001 - the chief is gone: nothing will change any more
            return False

    def _history(self) -> History:
        try:
            return self.tuner.history
        except FileNotFoundError:  # a worker before the chief saved anything
            return History()
