"""`TensorBoardLogger`: writes an evolutionary search to TensorBoard from the tuner's hooks.

The logger holds the tuner only and reads it when a hook runs, through public attributes: the
oracle's trials, objective, space and end order (Keras Tuner's), its `history` snapshot (ours),
and `keras_tuner_evolution._keras_tuner.retry_queue` for Keras Tuner's retry queue. So it can
be made in the tuner's `__init__` before the tuner is fully built.
"""

from __future__ import annotations

import glob
import math
import os
import time
from collections.abc import Iterable
from typing import Any

from keras_tuner.engine.trial import TrialStatus

from keras_tuner_evolution import _keras_tuner
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.history import History
from keras_tuner_evolution.tensorboard.diversity import population_diversity
from keras_tuner_evolution.tensorboard.events import EventWriter, remove_own_files, written_steps
from keras_tuner_evolution.tensorboard.hparams import (
    fidelity_hparams,
    fidelity_infos,
    hparam_infos,
    lineage_names,
    metric_infos,
    session_hparams,
)
from keras_tuner_evolution.tensorboard.summaries import (
    experiment_summary,
    scalar_summary,
    session_end_summary,
    session_start_summary,
)

EVOLUTION_RUN = "evolution"
EXPERIMENT_SUFFIX = ".kte-experiment"
SESSION_SUFFIX = ".kte-session"
EVOLUTION_SUFFIX = ".kte-evolution"
# Scalar tags of the evolution run.
TAG_BEST = "fitness/best"
TAG_MEAN = "fitness/mean"
TAG_STD = "fitness/std"
TAG_DIVERSITY = "population/diversity"


class TensorBoardLogger:
    """Writes an evolutionary search to TensorBoard; driven by the tuner's hooks.

    One instance per tuner. Log directories come from the tuner's `tensorboard_dir` and from
    every `keras.callbacks.TensorBoard` passed to `search` (found when Keras Tuner configures
    the callbacks of a trial); each gets the same experiment, sessions and evolution run.

    The oracle is the source of truth for generations and lineage: its `history`, or on a
    worker of a distributed search (whose oracle is a client) the tuner's `history`, which is
    the one saved by the chief.

    A log directory first used by a fresh search (no trial ended yet) is cleared of our own
    files from an earlier search; one used by a resumed search keeps them and is continued.

    Args:
        tuner: The `EvolutionaryTuner` (any `keras_tuner.Tuner` with a `history` property).
            Only stored: it is read when the hooks run, so it may still be under construction.
    """

    def __init__(self, tuner: Any):
        self.tuner = tuner
        self.logdirs: list[str] = []
        self._sessions: dict[str, dict[str, Any]] = {}  # open sessions by trial id
        self._writers: dict[tuple[str, str], EventWriter] = {}  # sessions' writers
        self._evolution_writers: dict[str, EventWriter] = {}
        self._experiment: tuple | None = None  # the config written, as a comparable key
        self._metrics: list[str] = []
        self._written: dict[str, set[int]] = {}  # generations written, by log directory

    @property
    def oracle(self) -> Any:
        """The tuner's oracle, read now (the tuner may have been built after this logger)."""
        return self.tuner.oracle

    # Hooks -----------------------------------------------------------------------------------

    def configure_callbacks(self, callbacks: list, trial: Any, execution: int = 0) -> None:
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
        if self._is_fresh():  # files of an earlier search would show as a second experiment
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

    def trial_begin(self, trial: Any) -> None:
        """Opens the trial's session with its values and lineage."""
        self._sessions[trial.trial_id] = {"trial": trial, "start": time.time(), "hparams": None}
        for logdir in self.logdirs:
            self._start_session(logdir, trial.trial_id)

    def trial_end(self, trial: Any) -> None:
        """Closes the trial's session with its metrics and status; logs finished generations.

        Call after the oracle has ended the trial (after `Tuner.on_trial_end`).
        """
        if not self.logdirs:
            self._sessions.pop(trial.trial_id, None)
            return
        ended = self.oracle.get_trial(trial.trial_id)
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
        """Closes every open event file."""
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
        space = self.oracle.get_space()
        objectives = self._objective_names()
        names = set(self._metric_names_from_trials()) | set(new_metrics) | set(self._metrics)
        metrics = objectives + sorted(names - set(objectives))  # a metric is never dropped
        generations = getattr(self.oracle, "generations", None)
        if not isinstance(generations, int):  # a plain Keras Tuner oracle, or a worker's client
            generations = None
        hparams = hparam_infos(space, lineage_names(h.name for h in space.space), generations)
        rungs = getattr(self.oracle, "rungs", None)  # a multi-fidelity search
        if isinstance(rungs, list):
            hparams += fidelity_infos(rungs)
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
        remove_own_files(logdir, EXPERIMENT_SUFFIX)  # one experiment config per log directory
        writer = EventWriter(logdir, EXPERIMENT_SUFFIX)
        writer.write(experiment_summary(hparams, metrics))
        writer.close()

    def _objective_names(self) -> list[str]:
        objective = self.oracle.objective
        objectives = getattr(objective, "objectives", None)
        if objectives:  # a MultiObjective
            return [o.name for o in objectives]
        return [objective.name]

    def _descriptions(self) -> dict[str, str]:
        objective = self.oracle.objective
        return {name: f"Objective ({objective.direction})" for name in self._objective_names()}

    def _metric_names_from_trials(self) -> list[str]:
        trials = getattr(self.oracle, "trials", None)
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
            space = trial.hyperparameters
            record = self._history().lineage.get(trial_id, {})
            continued = space.values.get("tuner/trial_id")
            if continued is not None:  # a promotion: it continues an earlier trial
                record = {"origin": "promoted", "parents": [continued], "mutated": []}
            values = space_lib.repair(space, space.values)
            names = lineage_names(h.name for h in space.space)
            session["hparams"] = session_hparams(values, record, names)
            session["hparams"].update(fidelity_hparams(space.values))
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
    def _final_metrics(trial: Any) -> dict[str, float]:
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
            if not final and not self._finished(history, position):
                break  # later generations are not finished either
            if not generation.completed_scores:
                continue
            if space is None:
                space = self.oracle.get_space()
            genomes = [history.genomes[t] for t in generation.members if t in history.genomes]
            values = {
                TAG_BEST: history.best[position],
                TAG_MEAN: generation.mean,
                TAG_STD: generation.std,
                TAG_DIVERSITY: population_diversity(space, genomes),
            }
            for logdir in pending:
                self._write_generation(logdir, generation.index, values)

    def _finished(self, history: History, position: int) -> bool:
        """Whether a later generation exists and no unscored member may still report."""
        if position == len(history.generations) - 1:
            return False
        generation = history.generations[position]
        unscored = [t for t, s in zip(generation.members, generation.scores) if s is None]
        return not any(self._running(tid) for tid in unscored)

    def _write_generation(self, logdir: str, index: int, values: dict[str, Any]) -> None:
        writer = self._evolution_writers.get(logdir)
        if writer is None:
            writer = EventWriter(os.path.join(logdir, EVOLUTION_RUN), EVOLUTION_SUFFIX)
            self._evolution_writers[logdir] = writer
        for tag, value in values.items():
            if value is not None:
                writer.write(scalar_summary(tag, value), step=index)
        writer.flush()
        self._written[logdir].add(index)

    def _is_fresh(self) -> bool:
        """Whether no trial of this search has ended (False when unknown, on a worker)."""
        end_order = getattr(self.oracle, "end_order", None)
        return isinstance(end_order, list) and not end_order

    def _running(self, trial_id: str) -> bool:
        """Whether a trial may still report a score (running, or queued for a retry)."""
        oracle = self.oracle
        trials = getattr(oracle, "trials", None)
        if isinstance(trials, dict):
            trial = trials.get(trial_id)
            retrying = trial_id in _keras_tuner.retry_queue(oracle)
            return trial is None or trial.status == TrialStatus.RUNNING or retrying
        try:
            return oracle.get_trial(trial_id).status == TrialStatus.RUNNING
        except Exception:  # noqa: BLE001 - the chief is gone: nothing will change any more
            return False

    def _history(self) -> History:
        """The search's History: the oracle's own, else (a worker) the one the chief saved."""
        history = getattr(self.oracle, "history", None)
        if isinstance(history, History):
            return history
        try:
            return self.tuner.history
        except FileNotFoundError:  # a worker before the chief saved anything
            return History()
