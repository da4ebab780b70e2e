"""The one module that uses Keras Tuner internals.

Everything else in the package uses only Keras Tuner's public names (`keras_tuner.Oracle`,
`keras_tuner.Tuner`, `keras_tuner.synchronized`, `keras_tuner.engine.trial.TrialStatus`, ...).
Each function here says which private name it uses, why, and for which Keras Tuner version it
was checked (1.4.7 and 1.4.8, whose wheels keep their code under `keras_tuner.src`).

It imports Keras Tuner (and so TensorFlow): the launcher of `kte launch`, which must not take a
GPU for itself, never imports it (the environment names live in `distribute.environment`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings
from typing import Any

import keras_tuner
from keras_tuner import HyperParameters
from keras_tuner.engine.trial import Trial, TrialStatus
from keras_tuner.engine.tuner import maybe_distribute

from keras_tuner_evolution import persistence
from keras_tuner_evolution import space as space_lib
from keras_tuner_evolution.durability import DeferredSync
from keras_tuner_evolution.space_copy import FastCopySearchSpace

logger = logging.getLogger("keras_tuner_evolution")


def has_chief_oracle() -> bool:
    """Whether this process takes part in a distributed search (chief or worker).

    Uses `keras_tuner.src.distribute.utils.has_chief_oracle` (1.4.x; not exported publicly),
    which also checks that the port and tuner id are set.
    """
    from keras_tuner.src.distribute import utils

    return utils.has_chief_oracle()


def is_chief_oracle() -> bool:
    """Whether this process is the chief of a distributed search (its tuner id has "chief")."""
    from keras_tuner.src.distribute import utils

    return utils.is_chief_oracle()


def is_worker() -> bool:
    """Whether this process is a worker of a distributed search (it trains, the chief plans)."""
    return has_chief_oracle() and not is_chief_oracle()


def grpc_modules() -> tuple[Any, Any]:
    """`(protos, oracle_chief)`: Keras Tuner's gRPC service definitions and chief servicer.

    The chief serves Keras Tuner's own protocol, so workers run unchanged Keras Tuner code
    (1.4.x: `keras_tuner.src.protos` and `keras_tuner.src.distribute.oracle_chief`).
    """
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    return protos, oracle_chief


def override_compile_args(tuner: Any, model: Any) -> None:
    """Applies a tuner's `optimizer`/`loss`/`metrics` overrides to a model it did not build.

    `Tuner._override_compile_args` (1.4.x) is what Keras Tuner applies to each trial's model;
    `train_best` rebuilds the fittest model outside a trial and must compile it the same way.
    """
    override = getattr(tuner, "_override_compile_args", None)
    if override is not None:
        override(model)


# Keras's warning when a checkpoint's optimizer variables meet an optimizer not built yet.
_OPTIMIZER_SKIPPED = "Skipping variable loading for optimizer"


def without_optimizer_warning(call: Any, *args: Any) -> Any:
    """`call(*args)` with Keras's warning about skipped optimizer variables silenced (they
    are loaded afterwards by `load_optimizer_state`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_OPTIMIZER_SKIPPED)
        return call(*args)


def load_optimizer_state(tuner: Any, model: Any, trial_id: str) -> Any:
    """Loads the optimizer's variables of trial `trial_id`'s checkpoint into `model`.

    Keras 3 saves them in the checkpoint, but loading them into a model whose optimizer is not
    built yet skips them (with a warning): the model would be trained on with fresh moment
    estimates and its step count back at 0 (a learning-rate schedule started over), not from
    where it stopped. So the optimizer is built and the checkpoint loaded again, optimizer
    included, under the tuner's distribution strategy as Keras Tuner loads it.
    `Tuner._get_checkpoint_fname` (1.4.x) is where Keras Tuner keeps a trial's checkpoint.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or optimizer.built or not model.built:
        return model
    with maybe_distribute(getattr(tuner, "distribution_strategy", None)):
        optimizer.build(model.trainable_variables)
        model.load_weights(tuner._get_checkpoint_fname(trial_id))
    return model


def continued_model(tuner: Any, build: Any, hp: HyperParameters) -> Any:
    """The model of a trial, built by `build` (`keras_tuner.Hyperband._build_hypermodel`,
    1.4.x, which loads the checkpoint of `tuner/trial_id`), with that checkpoint's optimizer
    state too (`load_optimizer_state`): a promoted model goes on from where it stopped."""
    if "tuner/trial_id" not in hp.values:
        return build(hp)
    model = without_optimizer_warning(build, hp)
    return load_optimizer_state(tuner, model, hp.values["tuner/trial_id"])


def write_remote_text(path: str, text: str) -> None:
    """Writes a file on a remote file system (gs://, ...) through Keras Tuner's `io.File`.

    `keras_tuner.src.backend.io` (1.4.x) wraps `tf.io.gfile`; local files never come here.
    """
    from keras_tuner.src import backend

    with backend.io.File(path, "w") as handle:
        handle.write(text)


def load_remote_json(path: str) -> Any:
    """Reads a JSON file on a remote file system through `keras_tuner.src.utils.load_json`."""
    from keras_tuner.src import utils

    return utils.load_json(path)


def glob(pattern: str) -> list[str]:
    """Paths matching `pattern`, local or remote (`keras_tuner.src.backend.io.glob`, 1.4.x)."""
    if "://" not in pattern:
        import glob as local_glob

        return local_glob.glob(pattern)
    from keras_tuner.src import backend

    return list(backend.io.glob(pattern))


def retry_queue(oracle: Any) -> list[str]:
    """Ids of the trials an oracle will run again (`Oracle._retry_queue`, 1.4.x)."""
    return list(getattr(oracle, "_retry_queue", []))


def retrying_client_class() -> type:
    """Keras Tuner's worker client whose requests survive a slow chief and broken connections.

    Subclasses `keras_tuner.src.distribute.oracle_client.OracleClient` (1.4.x; the class a
    worker's `BaseTuner.__init__` looks up in that module when it is created) and replaces its
    `stub` with `distribute.client.RetryingStub` on a channel that reconnects within 2 s.
    Every request of the client goes through its `stub` attribute, unchanged otherwise.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_client

    from keras_tuner_evolution.distribute import client as client_lib
    from keras_tuner_evolution.distribute.environment import chief_address

    class RetryingOracleClient(oracle_client.OracleClient):
        """`OracleClient` whose requests are retried with backoff, with heartbeats."""

        def __init__(self, oracle):
            super().__init__(oracle)
            address = chief_address(os.environ)
            channel = grpc.insecure_channel(address, options=client_lib.CHANNEL_OPTIONS)
            self.stub = client_lib.RetryingStub(
                protos.get_service_grpc().OracleStub(channel),
                self.tuner_id,
                address,
                client_lib.RetryPolicy(os.environ),
                lambda trial_id: protos.get_service().GetTrialRequest(trial_id=trial_id),
                protos.get_proto().TrialStatus.RUNNING,
            )

    return RetryingOracleClient


def use_retrying_client(oracle_client_module: Any) -> None:
    """Makes workers created from now on use `retrying_client_class()`.

    Sets `OracleClient` in `keras_tuner.src.distribute.oracle_client` (1.4.x), which
    `BaseTuner.__init__` reads when it creates a worker's client; `distribute.worker` calls it
    as that module is first imported in a worker started by `kte launch`.
    """
    if not getattr(oracle_client_module.OracleClient, "kte_retrying", False):
        client_class = retrying_client_class()
        client_class.kte_retrying = True
        oracle_client_module.OracleClient = client_class


def release_trial(oracle: Any, tuner_id: str) -> str | None:
    """Takes a worker's trial back: it goes to the next worker that asks; returns its id.

    Call under the oracle's lock. Moves the trial from `ongoing_trials` to the front of
    `Oracle._retry_queue` (1.4.x: popped from its end by the next `create_trial`, as a resumed
    search does with trials that were running) without counting a run, and forgets the tuner
    id in `oracle.tuner_ids`, so that the chief does not wait for it to end the search.
    """
    oracle.tuner_ids.discard(tuner_id)
    trial = oracle.ongoing_trials.pop(tuner_id, None)
    if trial is None:
        return None
    if trial.trial_id not in oracle._retry_queue:
        oracle._retry_queue.append(trial.trial_id)
    oracle.save()
    return trial.trial_id


# The oracle base: durable files, a robust reload -----------------------------------------


class DurableOracle(DeferredSync, FastCopySearchSpace, keras_tuner.Oracle):
    """A `keras_tuner.Oracle` whose files survive a crash at any moment (keras-tuner 1.4.x).

    Overrides these private hooks of `keras_tuner.Oracle`:

    - `_save_trial`: trial.json written atomically (Keras Tuner writes in place, and a killed
      process can leave it empty); only the write with the result is forced to disk.
    - `_record_values`: Keras Tuner calls `HyperParameters.ensure_active_values()` there, which
      drops the value of a name declared under several conditional scopes.
    - `reload`: unreadable trial files are reported and their trials run again; see `reload`.

    Its search space copies itself for every new trial without Keras' deserializer
    (`space_copy.FastCopySearchSpace`).

    Subclasses write their own state with `state_json()` and may name where the values of a
    trial whose file was lost are kept, with `lost_trial_values(state)`.
    """

    # Set by tuners whose trials report their result once, at the end (see `reload`).
    results_reported_at_end = False
    # Trials ended when oracle.json was last written: a write after more ended records a result.
    _ended_at_last_save = 0

    @property
    def project_dir(self) -> str | None:
        """The project folder, None before a tuner has set it (`Oracle._project_dir`)."""
        if getattr(self, "_directory", None) is None:
            return None
        return self._project_dir

    @property
    def oracle_file(self) -> str:
        """Path of oracle.json (`Oracle._get_oracle_fname`)."""
        return self._get_oracle_fname()

    @property
    def retry_queue(self) -> list[str]:
        """Ids of the trials that will run again (`Oracle._retry_queue`), a copy."""
        return retry_queue(self)

    def state_json(self) -> str:
        """oracle.json's text: `get_state()` encoded (subclasses may encode faster)."""
        return json.dumps(self.get_state())

    def save(self) -> None:
        """Writes oracle.json atomically; forced to disk when it records a new result.

        A write that records a trial's result is forced to disk, so a finished trial survives
        a power cut. The others (when a trial starts) are not: a power cut can at worst roll
        the search back to the last result, and the running trial runs again either way.
        """
        ended = len(self.end_order)
        sync = "all" if ended != self._ended_at_last_save else "none"
        self._write_state(self.oracle_file, self.state_json(), sync)
        self._ended_at_last_save = ended

    def _save_trial(self, trial) -> None:
        """Writes a trial's trial.json atomically; only its final write is forced to disk."""
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        sync = "none" if trial.status == TrialStatus.RUNNING else "all"
        self._write_state(path, json.dumps(trial.get_state()), sync)

    def _record_values(self, trial) -> None:
        """As Keras Tuner's, keeping values of names declared under several scopes."""
        hyperparameters = trial.hyperparameters
        # Keras Tuner calls `ensure_active_values()` first, which drops such values (a bug
        # RandomSearch shares): shadow it on this instance with the right rule.
        hyperparameters.ensure_active_values = lambda: space_lib.ensure_active_values(
            hyperparameters
        )
        try:
            super()._record_values(trial)
        finally:
            del hyperparameters.ensure_active_values

    def score_trial(self, trial) -> None:
        """As Keras Tuner's, but an infinite score (a diverged loss) fails the trial too.

        Keras Tuner marks a NaN score INVALID (retried, then FAILED); an infinite one would
        otherwise count as completed, and +inf would even look like the best maximised score.
        """
        super().score_trial(trial)
        if trial.score is not None and not math.isfinite(float(trial.score)):
            trial.score = math.nan

    def lost_trial_values(self, state: dict[str, Any]) -> dict[str, Any]:
        """Values by trial id of started trials, for those whose trial.json is lost."""
        return {}

    def reload(self) -> None:
        """Reloads the search from its project folder, surviving a crash at any moment.

        Unlike Keras Tuner's `Oracle.reload`:

        - an unreadable oracle.json raises a `persistence.StateFileError` naming it, and
          nothing is changed in the folder;
        - an unreadable (empty, truncated, corrupt) or missing trial.json of a started trial
          is reported by name, kept aside as `trial.json.unreadable`, and its trial runs
          again with the configuration recorded elsewhere (`lost_trial_values`);
        - a trial.json written just before a crash, for a trial that oracle.json does not know
          yet, is ignored: the trial was never handed out, and is proposed again;
        - a running trial whose trial.json already says it ended (the process died between
          writing the two files) is ended, not trained again;
        - temporary files left by writes that were killed midway are removed.
        """
        state = persistence.load_json(self.oracle_file)
        if not isinstance(state, dict) or "start_order" not in state:
            raise persistence.StateFileError(
                f"Cannot read the search state file {self.oracle_file}: it is not an oracle's "
                "state."
            )
        started = [str(tid) for tid in state["start_order"]]
        unreadable = self._load_trial_files(set(started))
        rerun = self._rebuild_lost_trials(state, started, unreadable)
        try:
            self.set_state(state)
        except KeyError as error:
            raise RuntimeError(
                "Error reloading `Oracle` from existing project. If you did not mean to reload "
                "from an existing project, change the `project_name` or pass `overwrite=True` "
                f"when creating the `Tuner`. Found existing project at: {self._project_dir}"
            ) from error
        for trial_id in rerun:
            self._requeue(trial_id)
        self._end_trials_that_ended()
        # As Keras Tuner: trials that were running are retried, from scratch.
        for trial in self.ongoing_trials.values():
            if trial.trial_id not in self._retry_queue:
                self._retry_queue.append(trial.trial_id)
        self.ongoing_trials = {}
        persistence.remove_orphaned_temporaries(self._project_dir)  # left by killed writes

    def _load_trial_files(self, known: set[str]) -> dict[str, tuple[str, str]]:
        """Loads the readable trial.json of every known trial; returns the unreadable ones."""
        pattern = os.path.join(self._project_dir, "trial_*", "trial.json")
        unreadable: dict[str, tuple[str, str]] = {}
        for fname in sorted(glob(pattern)):
            trial_id = os.path.basename(os.path.dirname(fname))[len("trial_") :]
            if trial_id not in known:
                continue  # written before a crash, before oracle.json recorded the trial
            try:
                trial = Trial.from_state(persistence.load_json(fname))
            except (persistence.StateFileError, KeyError, TypeError, ValueError) as error:
                unreadable[trial_id] = (fname, f"{type(error).__name__}: {error}")
                continue
            self.trials[trial.trial_id] = trial
        return unreadable

    def _rebuild_lost_trials(
        self, state: dict[str, Any], started: list[str], unreadable: dict[str, tuple[str, str]]
    ) -> list[str]:
        """Rebuilds the started trials whose trial.json is unreadable or missing, to rerun."""
        missing = [tid for tid in started if tid not in self.trials]
        values_by_id = self.lost_trial_values(state) if missing else {}
        for trial_id in missing:
            default = os.path.join(self._project_dir, f"trial_{trial_id}", "trial.json")
            fname, reason = unreadable.get(trial_id, (default, "the file is missing"))
            values = values_by_id.get(trial_id)
            if values is None:
                raise persistence.StateFileError(
                    f"Cannot read the trial state file {fname} ({reason}), and the "
                    f"configuration of trial {trial_id} is recorded nowhere else. Restore the "
                    "file, or start a new search (another `project_name` or `overwrite=True`)."
                )
            kept = persistence.set_aside(fname) if os.path.exists(fname) else None
            logger.warning(
                "Cannot read the trial state file %s (%s)%s: trial %s runs again.",
                fname,
                reason,
                f"; kept as {kept}" if kept else "",
                trial_id,
            )
            hyperparameters = HyperParameters.from_config(state["hyperparameters"])
            hyperparameters.values = dict(values)
            self.trials[trial_id] = Trial(
                hyperparameters=hyperparameters, trial_id=trial_id, status=TrialStatus.RUNNING
            )
        return missing

    def _requeue(self, trial_id: str) -> None:
        """Puts a rebuilt trial back on the retry queue, as if it had never run."""
        if trial_id in self.end_order:
            self.end_order.remove(trial_id)
        self._run_times[trial_id] = 0
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing.trial_id == trial_id:
                del self.ongoing_trials[tuner_id]
        if trial_id not in self._retry_queue:
            self._retry_queue.append(trial_id)
        self._save_trial(self.trials[trial_id])

    def _end_trials_that_ended(self) -> None:
        """Ends the running trials whose trial.json says they ended for good.

        An INVALID one may be an earlier failed run now being retried: it is retried again.
        With a tuner that reports a trial's result once, at its end, a running trial whose
        trial.json holds the objective has finished too: it is ended, not trained again.
        """
        for tuner_id, trial in list(self.ongoing_trials.items()):
            reported = (
                self.results_reported_at_end
                and trial.status == TrialStatus.RUNNING
                and trial.metrics.exists(self.objective.name)
            )
            if trial.status not in (TrialStatus.COMPLETED, TrialStatus.FAILED) and not reported:
                continue
            del self.ongoing_trials[tuner_id]
            self.update_space(trial.hyperparameters)
            if reported:
                trial.status = TrialStatus.COMPLETED
                self.score_trial(trial)
                if math.isnan(float(trial.score)):
                    trial.status = TrialStatus.INVALID
            self._record_values(trial)
            self._run_times[trial.trial_id] += 1
            if not self._retry(trial) and trial.trial_id not in self.end_order:
                self.end_order.append(trial.trial_id)
            if reported:
                self._save_trial(trial)


class DurableTunerState:
    """Mixin for `keras_tuner.Tuner` subclasses: the tuner's own file written atomically.

    Overrides `Tuner.save`, `Tuner.reload` and the private hooks `_populate_initial_space` and
    `_configure_tensorboard_dir` (1.4.x; the latter calls `configure_tensorboard`, which
    subclasses override). `_populate_initial_space` also resumes a search whose process was
    killed before the tuner first wrote its own file (Keras Tuner resumes only when that file
    exists, and would otherwise start over in the project folder, running again the trials the
    oracle had already recorded).
    """

    def save(self) -> None:
        if not self._is_worker():
            self.oracle.save()
        persistence.save_json(self._get_tuner_fname(), self.get_state())

    def reload(self) -> None:
        if not self._is_worker():
            self.oracle.reload()
        path = self._get_tuner_fname()
        if not os.path.exists(path):
            return
        try:
            state = persistence.load_json(path)
        except persistence.StateFileError as error:
            kept = persistence.set_aside(path)
            logger.warning("%s; kept as %s, the tuner's state is rebuilt.", error, kept)
            state = {}
        self.set_state(state)

    def configure_tensorboard(self, callbacks: list, trial: Any, execution: int = 0) -> None:
        """Points the trial's `TensorBoard` callbacks at their folders (Keras Tuner's way)."""
        super()._configure_tensorboard_dir(callbacks, trial, execution)

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        self.configure_tensorboard(callbacks, trial, execution)

    def _populate_initial_space(self) -> None:
        oracle_file = self.oracle._get_oracle_fname()
        if not self._is_worker() and os.path.exists(oracle_file):
            # `overwrite=True` would have removed the project folder: this is a resume.
            print(f"Reloading Oracle from {oracle_file}")
            self.reload()
            return
        super()._populate_initial_space()
