"""A search script for `kte launch`: the workload of the launch tests and of the benchmark.

Not a test module. Run under the launcher, unchanged in every process:

    python -m keras_tuner_evolution launch --workers 2 tests/scripts/parallel_search.py --dir D

Records what the tests and the benchmark check:

- ``D/pids/<tuner id>.pid``: the process id, written first thing;
- ``D/events/<tuner id>.jsonl``: a worker's search and trial begin/end times (wall clock);
- ``D/result.json``: written by the chief after the search: every trial's status, score and
  values, the number of duplicated configurations and the History's summary.

Workloads: ``digits`` trains `DenseHyperModel` on scikit-learn's digits; ``sleep`` sleeps
`--seconds` per trial (times 1, 2 or 4 with `--uneven`) and scores a smooth function, to
measure scheduling without CPU contention.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

PROJECT = "search"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="the tuner's directory and the records")
    parser.add_argument("--workload", choices=("digits", "sleep"), default="digits")
    parser.add_argument("--trials", type=int, default=6, help="max_trials")
    parser.add_argument("--population", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1, help="digits: epochs per trial")
    parser.add_argument("--seconds", type=float, default=1.0, help="sleep: seconds per trial")
    parser.add_argument("--uneven", action="store_true", help="sleep: 1x, 2x or 4x --seconds")
    parser.add_argument("--generational", action="store_true", help="asynchronous=False")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="overwrite=False")
    parser.add_argument(
        "--hyperband", type=int, default=0, metavar="MAX_EPOCHS",
        help="EvolutionaryHyperband(max_epochs=MAX_EPOCHS) instead of EvolutionaryTuner",
    )  # fmt: skip
    return parser.parse_args(argv)


def tuner_id() -> str:
    return os.environ.get("KERASTUNER_TUNER_ID", "tuner0")


def record_pid(folder: str) -> None:
    os.makedirs(os.path.join(folder, "pids"), exist_ok=True)
    with open(os.path.join(folder, "pids", f"{tuner_id()}.pid"), "w") as handle:
        handle.write(str(os.getpid()))


def main(argv=None) -> int:
    args = parse_args(argv)
    record_pid(args.dir)  # before the slow imports: the interrupt test may stop us early

    import keras_tuner as kt

    from keras_tuner_evolution import EvolutionaryHyperband, EvolutionaryTuner
    from keras_tuner_evolution import space as genome

    events_dir = os.path.join(args.dir, "events")
    os.makedirs(events_dir, exist_ok=True)
    events_path = os.path.join(events_dir, f"{tuner_id()}.jsonl")

    def log(event: str, **fields) -> None:
        with open(events_path, "a") as handle:
            handle.write(json.dumps({"event": event, "t": time.time(), **fields}) + "\n")

    base = EvolutionaryHyperband if args.hyperband else EvolutionaryTuner

    class TimedTuner(base):
        """Logs when a worker searches and trains; the sleep workload trains nothing."""

        def on_search_begin(self):
            log("search_begin", pid=os.getpid())
            super().on_search_begin()

        def on_trial_begin(self, trial):
            log("trial_begin", trial=trial.trial_id, pid=os.getpid())
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)  # reports to the chief
            log("trial_end", trial=trial.trial_id, status=trial.status)

        def on_search_end(self):
            super().on_search_end()
            log("search_end")

        def run_trial(self, trial, *fit_args, **fit_kwargs):
            if args.workload == "digits":
                return super().run_trial(trial, *fit_args, **fit_kwargs)
            hp = trial.hyperparameters
            epochs = hp.values.get("tuner/epochs", 1) - hp.values.get("tuner/initial_epoch", 0)
            time.sleep(args.seconds * hp.get("cost") * epochs)
            # Learning curves that cross: wide |x| learns fast and ends low.
            final = 1.0 - hp.get("x") ** 2 - hp.get("y") ** 2
            speed = 1.0 + 4.0 * (1.0 - abs(hp.get("x")))
            return {"score": final * (1.0 - 0.5 ** (hp.values.get("tuner/epochs", 1) / speed))}

    common = dict(
        max_trials=args.trials,
        **({"max_epochs": args.hyperband} if args.hyperband else {}),
        population_size=args.population,
        seed=args.seed,
        directory=args.dir,
        project_name=PROJECT,
        overwrite=not args.resume,
    )
    if args.workload == "digits":
        import keras

        from keras_tuner_evolution.cli import load_dataset
        from keras_tuner_evolution.hypermodels import DenseHyperModel

        keras.utils.set_random_seed(args.seed)
        x, y, x_val, y_val = load_dataset("digits")
        tuner = TimedTuner(DenseHyperModel.from_data(x, y), objective="val_accuracy", **common)
        fit = dict(validation_data=(x_val, y_val), epochs=args.epochs, verbose=0)
        fit_args = (x, y)
    else:
        space = kt.HyperParameters()
        space.Float("x", -1.0, 1.0)
        space.Float("y", -1.0, 1.0)
        space.Choice("cost", [1, 2, 4] if args.uneven else [1])
        tuner = TimedTuner(objective=kt.Objective("score", "max"), hyperparameters=space, **common)
        fit, fit_args = {"verbose": 0}, ()
    if args.generational and hasattr(tuner.oracle, "asynchronous"):
        tuner.oracle.asynchronous = False

    tuner.search(*fit_args, **fit)

    if tuner_id() == "chief":
        oracle = tuner.oracle
        space = oracle.get_space()
        hashes = [
            genome.genome_hash(genome.repair(space, trial.hyperparameters.values))
            for trial in oracle.trials.values()
        ]
        history = tuner.history
        result = {
            "trials": {
                tid: {
                    "status": trial.status,
                    "score": trial.score,
                    "values": trial.hyperparameters.values,
                }
                for tid, trial in oracle.trials.items()
            },
            "duplicates": len(hashes) - len(set(hashes)),
            "generations": len(history.generations),
            "best": history.best,
            "stop_reason": history.stop_reason,
        }
        with open(os.path.join(args.dir, "result.json"), "w") as handle:
            json.dump(result, handle, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
