"""Real training: the evolution against RandomSearch, BayesianOptimization and Hyperband.

    python benchmarks/real_training.py              # 44 minutes on 2 shared CPU cores
    python benchmarks/real_training.py --quick      # smoke run (5 minutes), in /tmp
    python benchmarks/real_training.py --methods evolution,random --seeds 1 2 --workers 2

Writes `benchmarks/results/real_training.md` (or `--output`) and the raw results next to it
(`real_training.json`), which `--reuse` reads back to rewrite the markdown without training.

Every method tunes the default `DenseHyperModel.from_data(x, y)` (15 hyperparameters, depth
through conditional scopes) on the digits split of `kte demo` (`cli.load_dataset("digits")`:
1437 training, 360 validation samples), maximising `val_accuracy`, with the same seeds:

- `evolution`: `EvolutionaryTuner(max_trials=T, seed=seed)` with its default evolution
  settings (the population follows `max_trials`; carried elites are not retrained, so every
  trial is a trained network);
- `random`: `keras_tuner.RandomSearch(max_trials=T, seed=seed)`;
- `bayesian`: `keras_tuner.BayesianOptimization(max_trials=T, seed=seed)` with its defaults
  (`--bo-initial-points` overrides `num_initial_points`);
- `hyperband`: `keras_tuner.Hyperband(max_epochs, factor, hyperband_iterations, seed=seed)`.
  Keras Tuner's three tuners get `seeds.keras_tuner_seed(seed)` as their seed (since
  2026-11-30): its consecutive seeds share their random draws.
  Hyperband has no trial budget, so it gets the same epoch budget, T trials x E epochs: the
  settings are chosen by `hyperband_settings` (at least two brackets, total epochs closest to
  T x E and at most E over it; ties: fewer iterations, then factor 3, then more epochs), from
  the schedule of Keras Tuner 1.4's `HyperbandOracle`, which does not depend on the scores.
  Its continuation trials resume from the checkpoint of the trial they continue, training
  only `tuner/epochs - tuner/initial_epoch` epochs. The epochs it actually trained are
  counted and reported, as for every method.

The fixed-epoch methods train E epochs per trial (`search(..., epochs=E)`). Measured per
search:

- best: the best validation accuracy of any completed trial (Keras Tuner scores a trial by its
  best epoch);
- wall: seconds from building the tuner to the end of `search`, without process start-up;
- epochs: epochs actually trained, counted by a callback;
- trials: trials that trained a network;
- configurations: distinct configurations (active hyperparameter values) trained. Duplicates
  are trials that trained a configuration already trained from scratch in the same search;
  Hyperband's continuation trials, which resume a configuration by design, are not
  duplicates. A digest of the configurations, in order, tells whether two searches trained
  the same ones.

Each search runs in its own Python process (Keras Tuner slows down as trials pile up in one
process, which would favour whichever ran first), one at a time unless `--workers N` runs N
at once (then they share the CPU cores, which slows each). Searches are interleaved by seed,
so a slower period of the machine affects all methods. TensorFlow's threading is left at its
defaults.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from seeds import keras_tuner_seed  # noqa: E402

from keras_tuner_evolution import cli  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "real_training.md")
METHODS = ("evolution", "random", "bayesian", "hyperband")
BASELINES = ("random", "bayesian", "hyperband")
DEFAULTS = {"trials": 24, "epochs": 2, "seeds": [1, 2, 3, 4, 5]}
QUICK = {"trials": 6, "epochs": 1, "seeds": [1, 2]}
QUICK_RESULTS = os.path.join(tempfile.gettempdir(), "real_training_quick.md")
HYPERBAND_FACTORS = (3, 2, 4)
VALIDATION_SAMPLES = 360


def hyperband_schedule(max_epochs: int, factor: int, iterations: int) -> dict:
    """The sequential schedule of Keras Tuner 1.4's `HyperbandOracle`, without training.

    Mirrors `HyperbandOracle._get_num_brackets`, `_get_size` and `_get_epochs`: the number of
    trials and epochs of every round of every bracket depends only on the settings.

    Args:
        max_epochs: Hyperband's `max_epochs`.
        factor: Hyperband's `factor`.
        iterations: Hyperband's `hyperband_iterations`.

    Returns:
        A dict with `epochs` (epochs trained in all), `trials`, `configurations` (new random
        configurations, one per first-round trial) and `brackets` (per iteration).
    """
    brackets, remaining = 0, max_epochs
    while remaining >= 1:
        remaining /= factor
        brackets += 1
    last_round_size = math.ceil(1 + math.log(max_epochs, factor))

    def size(bracket: int, round_: int) -> int:
        return math.ceil(last_round_size / (bracket + 1) * factor ** (bracket - round_))

    def epochs(bracket: int, round_: int) -> int:
        return math.ceil(max_epochs / factor ** (bracket - round_))

    total = trials = configurations = 0
    for bracket in range(brackets):
        for round_ in range(bracket + 1):
            started = epochs(bracket, round_ - 1) if round_ else 0
            total += size(bracket, round_) * (epochs(bracket, round_) - started)
            trials += size(bracket, round_)
            configurations += 0 if round_ else size(bracket, round_)
    return {
        "epochs": total * iterations,
        "trials": trials * iterations,
        "configurations": configurations * iterations,
        "brackets": brackets,
    }


def hyperband_settings(budget: int, slack: int) -> dict:
    """Hyperband settings whose schedule spends an epoch budget.

    Among factors 2 to 4, `max_epochs` up to 4 x `budget` and any number of iterations,
    keeps the schedules with at least two brackets (one bracket is random search) and at most
    `budget + slack` epochs, and picks the one closest to `budget`; ties go to fewer
    iterations, then factor 3 (Keras Tuner's default), then the larger `max_epochs`. When no
    schedule of two brackets fits, one bracket is allowed.

    Args:
        budget: Epochs to spend, the trials x epochs of the fixed-epoch methods.
        slack: Epochs the schedule may exceed `budget` by (one fixed-epoch trial's worth).

    Returns:
        A dict with `max_epochs`, `factor`, `hyperband_iterations` and the schedule's
        `epochs`, `trials`, `configurations` and `brackets`.
    """
    for min_brackets in (2, 1):
        candidates = []
        for factor in HYPERBAND_FACTORS:
            for max_epochs in range(1, 4 * budget + 1):
                one = hyperband_schedule(max_epochs, factor, 1)
                if one["brackets"] < min_brackets:
                    continue
                for iterations in range(1, (budget + slack) // one["epochs"] + 1):
                    schedule = hyperband_schedule(max_epochs, factor, iterations)
                    key = (abs(schedule["epochs"] - budget), iterations, factor != 3, -max_epochs)
                    candidates.append((key, max_epochs, factor, iterations, schedule))
        if candidates:
            _, max_epochs, factor, iterations, schedule = min(candidates, key=lambda c: c[0])
            return {
                "max_epochs": max_epochs,
                "factor": factor,
                "hyperband_iterations": iterations,
                **schedule,
            }
    raise ValueError(f"No Hyperband schedule fits a budget of {budget} epochs.")


def search(method: str, seed: int, args: argparse.Namespace) -> dict:
    """Runs one search in this process.

    Args:
        method: One of `METHODS`.
        seed: Seed of Keras (weights, dropout, shuffling) and of the tuner.
        args: Parsed arguments (`trials`, `epochs`, `bo_initial_points`, and the Hyperband
            settings `hb_max_epochs`, `hb_factor`, `hb_iterations`).

    Returns:
        A JSON-serialisable dict: `best`, `seconds`, `epochs`, `trials`, `completed`,
        `configurations`, `duplicates`, and method-specific details.
    """
    import keras
    import keras_tuner

    from keras_tuner_evolution.hypermodels import DenseHyperModel
    from keras_tuner_evolution.tuners import EvolutionaryTuner

    class EpochCounter(keras.callbacks.Callback):
        """Counts epochs in a class attribute: Keras Tuner deep-copies callbacks per trial."""

        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            EpochCounter.epochs += 1

    x, y, x_val, y_val = cli.load_dataset("digits")
    keras.utils.set_random_seed(seed)
    extra: dict = {}
    with tempfile.TemporaryDirectory() as directory:
        start = time.monotonic()
        hypermodel = DenseHyperModel.from_data(x, y)
        common = dict(objective=cli.OBJECTIVE, seed=seed, directory=directory, overwrite=True)
        kt_common = {**common, "seed": keras_tuner_seed(seed)}  # see seeds.py
        if method == "evolution":
            tuner = EvolutionaryTuner(hypermodel, max_trials=args.trials, **common)
            extra["population_size"] = tuner.oracle.population_size
        elif method == "random":
            tuner = keras_tuner.RandomSearch(hypermodel, max_trials=args.trials, **kt_common)
        elif method == "bayesian":
            tuner = keras_tuner.BayesianOptimization(
                hypermodel,
                max_trials=args.trials,
                num_initial_points=args.bo_initial_points,
                **kt_common,
            )
        elif method == "hyperband":
            tuner = keras_tuner.Hyperband(
                hypermodel,
                max_epochs=args.hb_max_epochs,
                factor=args.hb_factor,
                hyperband_iterations=args.hb_iterations,
                **kt_common,
            )
        else:
            raise ValueError(f"Unknown method {method!r}.")
        tuner.search(
            x,
            y,
            validation_data=(x_val, y_val),
            epochs=args.epochs,
            verbose=0,
            callbacks=[EpochCounter()],
        )
        seconds = time.monotonic() - start
        trials = list(tuner.oracle.trials.values())
        completed = [t for t in trials if t.status == "COMPLETED"]
        fresh = [  # configurations trained from scratch (not Hyperband continuations)
            configuration_key(trial.hyperparameters)
            for trial in trials
            if "tuner/trial_id" not in trial.hyperparameters.values
        ]
        if method == "bayesian":
            dimensions = len(tuner.oracle.hyperparameters.space)
            extra["initial_points"] = args.bo_initial_points or max(3 * dimensions, 3)
            extra["dimensions"] = dimensions
    return {
        "method": method,
        "seed": seed,
        "best": max(t.score for t in completed),
        "seconds": seconds,
        "epochs": EpochCounter.epochs,
        "trials": len(trials),
        "completed": len(completed),
        "configurations": len(set(fresh)),
        "duplicates": len(fresh) - len(set(fresh)),
        "config_digest": hashlib.sha256("\n".join(fresh).encode()).hexdigest()[:16],
        **extra,
    }


def configuration_key(hps) -> str:
    """A trial's configuration as sorted JSON: its active values, without the `tuner/` ones."""
    active = {
        hp.name: hps.values[hp.name]
        for hp in hps.space
        if hp.name in hps.values and not hp.name.startswith("tuner/") and hps.is_active(hp)
    }
    return json.dumps(active, sort_keys=True, default=str)


def run_in_subprocess(method: str, seed: int, args: argparse.Namespace) -> dict:
    """Runs `search` in a fresh Python process and returns its result."""
    command = [
        sys.executable, os.path.abspath(__file__), "--worker", method, "--seed", str(seed),
        "--trials", str(args.trials), "--epochs", str(args.epochs),
        "--hyperband-max-epochs", str(args.hb_max_epochs),
        "--hyperband-factor", str(args.hb_factor),
        "--hyperband-iterations", str(args.hb_iterations),
    ]  # fmt: skip
    if args.bo_initial_points is not None:
        command += ["--bo-initial-points", str(args.bo_initial_points)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{method} seed {seed} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _median(values) -> float:
    return statistics.median(list(values))


def _compare(a: float, b: float) -> int:
    return (a > b) - (a < b)


def report(
    rows: list[dict], args: argparse.Namespace, command: str, seconds: float, written: str
) -> str:
    """The results as markdown; every figure comes from `rows`."""
    methods = [m for m in METHODS if m in args.methods]
    seeds = sorted({row["seed"] for row in rows})
    run = {(row["method"], row["seed"]): row for row in rows}

    def median(method: str, key: str) -> float:
        return _median(run[method, s][key] for s in seeds)

    budget = args.trials * args.epochs
    lines = [
        "# Real training: evolution vs RandomSearch, BayesianOptimization and Hyperband",
        "",
        f"Command: `{command}`",
        "",
        f"Written {written}, {seconds / 60:.1f} "
        f"min in all. Machine: {os.cpu_count()} CPU cores "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"{args.workers} search(es) at a time. "
        + (args.note or "Other processes may have shared the cores."),
        "",
        f"Default `DenseHyperModel.from_data(x, y)` space (15 hyperparameters) on the digits "
        f"split of `kte demo` (1437 training, {VALIDATION_SAMPLES} validation samples), "
        f"objective `{cli.OBJECTIVE}`, seeds {', '.join(map(str, seeds))}. Fixed-epoch "
        f"methods: {args.trials} trials of {args.epochs} epoch(s) each, budget {budget} "
        "epochs. Methods:",
    ]
    lines.append("")
    if "evolution" in methods:
        populations = sorted({run["evolution", s].get("population_size") for s in seeds})
        lines.append(
            f"- evolution: `EvolutionaryTuner(max_trials={args.trials})` with its default "
            f"settings (population {', '.join(map(str, populations))})."
        )
    if "random" in methods:
        lines.append(f"- random: `RandomSearch(max_trials={args.trials})`.")
    if "bayesian" in methods:
        initial = sorted({run["bayesian", s]["initial_points"] for s in seeds})
        dimensions = sorted({run["bayesian", s]["dimensions"] for s in seeds})
        text = (
            f"- bayesian: `BayesianOptimization(max_trials={args.trials})`, "
            f"`num_initial_points` "
            f"{'default' if args.bo_initial_points is None else args.bo_initial_points} = "
            f"{', '.join(map(str, initial))} random trials before the Gaussian process is used "
            f"({', '.join(map(str, dimensions))} hyperparameters registered)."
        )
        if min(initial) >= args.trials:
            text += (
                f" With {args.trials} trials every trial is one of these random points, drawn "
                "by the same seeded generator as RandomSearch's: with the same seed both train "
                "the same configurations in the same order, so `bayesian` is a rerun of "
                "`random` and their difference is training noise (TensorFlow on CPU is not "
                "bit-reproducible)."
            )
            same = [
                s
                for s in seeds
                if "random" in methods
                and "config_digest" in run["bayesian", s]
                and run["bayesian", s]["config_digest"]
                == run.get(("random", s), {}).get("config_digest")
            ]
            if "random" in methods:
                gap = max(abs(run["bayesian", s]["best"] - run["random", s]["best"]) for s in seeds)
                text += (
                    f" Here that noise reaches {gap:.4f} "
                    f"({round(gap * VALIDATION_SAMPLES)} validation samples) on one seed."
                )
            if same or any("config_digest" in run["bayesian", s] for s in seeds):
                text += f" Same configurations in this run: {len(same)} of {len(seeds)} seeds."
        lines.append(text)
    if "hyperband" in methods:
        lines.append(
            f"- hyperband: `Hyperband(max_epochs={args.hb_max_epochs}, factor={args.hb_factor}, "
            f"hyperband_iterations={args.hb_iterations})`, whose schedule is "
            f"{args.hb_schedule['epochs']} epochs in {args.hb_schedule['trials']} trials of "
            f"{args.hb_schedule['configurations']} configurations "
            f"({args.hb_schedule['brackets']} brackets), for the {budget}-epoch budget. Its "
            f"networks train up to {args.hb_max_epochs} epochs, the other methods' "
            f"{args.epochs}: the budget in epochs is equal, not the training of each network, "
            "so its best score is that of a longer-trained network."
        )
    lines += [
        "",
        "Score: best validation accuracy of any completed trial. Wall: the search alone, each "
        "in its own process. Epochs: epochs actually trained. Configurations: distinct "
        "configurations trained from scratch; duplicates: trials that retrained one of them "
        "(Hyperband's continuations are not counted as duplicates).",
        "",
        "## Per seed: best validation accuracy",
        "",
        "| seed | " + " | ".join(methods) + " | winner |",
        "|---:|" + "---:|" * len(methods) + ":---|",
    ]
    for seed in seeds:
        scores = {m: run[m, seed]["best"] for m in methods}
        top = max(scores.values())
        winners = [m for m in methods if scores[m] == top]
        lines.append(
            f"| {seed} | "
            + " | ".join(f"{scores[m]:.4f}" for m in methods)
            + f" | {' = '.join(winners)} |"
        )
    lines += [
        "",
        "## Summary (medians over seeds)",
        "",
        "| method | best val accuracy | wall (s) | wall / random | epochs | trials "
        "| configurations | duplicates (all seeds) | evolution better / tied / worse |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for method in methods:
        ratio = (
            f"{median(method, 'seconds') / median('random', 'seconds'):.2f}"
            if "random" in methods
            else "-"
        )
        versus = "-"
        if "evolution" in methods and method != "evolution":
            outcomes = [
                _compare(run["evolution", s]["best"], run[method, s]["best"]) for s in seeds
            ]
            versus = f"{outcomes.count(1)} / {outcomes.count(0)} / {outcomes.count(-1)}"
        lines.append(
            f"| {method} | {median(method, 'best'):.4f} | {median(method, 'seconds'):.0f} | "
            f"{ratio} | {median(method, 'epochs'):g} | {median(method, 'trials'):g} | "
            f"{median(method, 'configurations'):g} | "
            f"{sum(run[method, s]['duplicates'] for s in seeds)} | {versus} |"
        )
    lines += [
        "",
        f"One validation sample is 1/{VALIDATION_SAMPLES} = {1 / VALIDATION_SAMPLES:.4f} of "
        "accuracy, so differences of a few thousandths are one or two samples; with "
        f"{len(seeds)} seeds, wins and medians say little unless the gap is several samples "
        "wide.",
        "",
        "## Every search",
        "",
        "| seed | method | best | wall (s) | epochs | trials | completed | configurations "
        "| duplicates |",
        "|---:|:---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for seed in seeds:
        for method in methods:
            row = run[method, seed]
            lines.append(
                f"| {seed} | {method} | {row['best']:.4f} | {row['seconds']:.1f} | "
                f"{row['epochs']} | {row['trials']} | {row['completed']} | "
                f"{row['configurations']} | {row['duplicates']} |"
            )
    lines.append("")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parses the command line; `--quick` changes the defaults of the options not given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, help="trials per fixed-epoch search (24)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (2)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (1 2 3 4 5)")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated subset of {','.join(METHODS)}",
    )
    parser.add_argument("--workers", type=int, default=1, help="searches run at once")
    parser.add_argument(
        "--output",
        help=f"markdown file to write (default {os.path.relpath(RESULTS, ROOT)}; with --quick "
        f"{QUICK_RESULTS}, so that a smoke run never overwrites the results)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 seeds, 6 trials of 1 epoch"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="rewrite the markdown from the raw results of an earlier run, without training",
    )
    parser.add_argument("--note", default="", help="a sentence to add to the machine line")
    parser.add_argument(
        "--bo-initial-points",
        type=int,
        default=None,
        help="BayesianOptimization num_initial_points (default: Keras Tuner's)",
    )
    chosen = "default: chosen from the epoch budget, see hyperband_settings"
    parser.add_argument("--hyperband-max-epochs", dest="hb_max_epochs", type=int, help=chosen)
    parser.add_argument("--hyperband-factor", dest="hb_factor", type=int, help=chosen)
    parser.add_argument("--hyperband-iterations", dest="hb_iterations", type=int, help=chosen)
    # Internal: run one search in this process and print its result as JSON.
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    fill_defaults(
        args, {**QUICK, "output": QUICK_RESULTS} if args.quick else {**DEFAULTS, "output": RESULTS}
    )
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(args.methods) - set(METHODS))
    if unknown or not args.methods:
        parser.error(f"--methods: unknown {unknown}; choose from {','.join(METHODS)}")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    chosen = hyperband_settings(args.trials * args.epochs, slack=args.epochs)
    args.hb_max_epochs = args.hb_max_epochs or chosen["max_epochs"]
    args.hb_factor = args.hb_factor or chosen["factor"]
    args.hb_iterations = args.hb_iterations or chosen["hyperband_iterations"]
    args.hb_schedule = hyperband_schedule(args.hb_max_epochs, args.hb_factor, args.hb_iterations)
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark (or, with the internal `--worker`, one search).

    Args:
        argv: Arguments without the program name; None reads `sys.argv`.

    Returns:
        The exit status.
    """
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(search(args.worker, args.seed, args)))
        return 0
    raw_path = os.path.splitext(os.path.abspath(args.output))[0] + ".json"
    if args.reuse:
        with open(raw_path, encoding="utf-8") as handle:
            raw = json.load(handle)
        note = args.note
        vars(args).update(raw["args"])
        args.note = note or raw["args"].get("note", "")
        text = report(raw["rows"], args, raw["command"], raw["seconds"], raw["written"])
        write(text, args.output)
        return 0

    command = "python benchmarks/real_training.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv)
    )
    print(
        f"{len(args.seeds)} seeds x {len(args.methods)} methods, {args.trials} trials x "
        f"{args.epochs} epochs; Hyperband max_epochs={args.hb_max_epochs} "
        f"factor={args.hb_factor} iterations={args.hb_iterations} {args.hb_schedule}",
        flush=True,
    )
    start = time.monotonic()
    jobs = [(method, seed) for seed in args.seeds for method in args.methods]

    saved = ("trials", "epochs", "seeds", "methods", "workers", "bo_initial_points", "note")
    saved += ("hb_max_epochs", "hb_factor", "hb_iterations", "hb_schedule")
    finished: list[dict] = []
    lock = threading.Lock()

    def save_raw() -> dict:
        """The raw results so far: an interrupted run keeps them (`--reuse` renders them)."""
        raw = {
            "command": command,
            "seconds": time.monotonic() - start,
            "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "args": {key: getattr(args, key) for key in saved},
            "rows": list(finished),
        }
        os.makedirs(os.path.dirname(raw_path), exist_ok=True)
        with open(raw_path, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, indent=1)
        return raw

    def one(job: tuple[str, int]) -> dict:
        row = run_in_subprocess(*job, args)
        with lock:
            finished.append(row)
            save_raw()
        print(
            f"seed {row['seed']} {row['method']:<9} best {row['best']:.4f}  "
            f"{row['seconds']:.0f} s  {row['epochs']} epochs  {row['trials']} trials  "
            f"{row['configurations']} configurations  {row['duplicates']} duplicates",
            flush=True,
        )
        return row

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        rows = list(pool.map(one, jobs))
    finished[:] = rows  # in job order
    raw = save_raw()
    write(report(rows, args, command, raw["seconds"], raw["written"]), args.output)
    return 0


def fill_defaults(args: argparse.Namespace, defaults: dict) -> None:
    """Sets each argument the command line left at None to its value in `defaults`."""
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)


def write(text: str, path: str) -> None:
    """Writes the markdown and prints it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
