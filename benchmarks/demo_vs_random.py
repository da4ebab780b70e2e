"""`kte demo`'s evolution against Keras Tuner's RandomSearch, written to results/demo_vs_random.md.

    python benchmarks/demo_vs_random.py        # about 15 minutes on 2 CPU cores

For each of 5 seeds, both searches tune the default `DenseHyperModel` (15 hyperparameters) on
the demo's digits split with the demo's defaults: the evolution with population 6 and 4
generations (21 trained networks: the elite carried into a generation is not retrained), and
RandomSearch with as many trials as the evolution trained, with the same epochs per trial. The
score is the best validation accuracy of any trial; the final training of the demo is left
out, as it is the same for both.

Each search runs in its own Python process, one after the other: Keras Tuner is known to slow
down as trials pile up in one process, which would otherwise favour whichever ran first.
Wall time is the search alone (from building the tuner to the end of `search`), without the
process start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_tuner_evolution import cli  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "demo_vs_random.md")
SEEDS = (1, 2, 3, 4, 5)


def search(method: str, seed: int, trials: int | None, args: argparse.Namespace) -> dict:
    """Runs one search in this process; returns its best score, trial count and wall time."""
    import tempfile

    import keras
    import keras_tuner

    from keras_tuner_evolution.hypermodels import DenseHyperModel
    from keras_tuner_evolution.tuner import EvolutionaryTuner

    x, y, x_val, y_val = cli.load_dataset("digits")
    keras.utils.set_random_seed(seed)
    with tempfile.TemporaryDirectory() as directory:
        start = time.monotonic()
        hypermodel = DenseHyperModel.from_data(x, y)
        common = dict(objective=cli.OBJECTIVE, seed=seed, directory=directory, overwrite=True)
        if method == "evolution":
            tuner = EvolutionaryTuner(
                hypermodel,
                population_size=args.population,
                generations=args.generations,
                **common,
            )
        else:
            tuner = keras_tuner.RandomSearch(hypermodel, max_trials=trials, **common)
        tuner.search(x, y, validation_data=(x_val, y_val), epochs=args.epochs, verbose=0)
        seconds = time.monotonic() - start
        completed = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    return {
        "method": method,
        "seed": seed,
        "best": max(t.score for t in completed),
        "trials": len(tuner.oracle.trials),
        "completed": len(completed),
        "seconds": seconds,
    }


def run_in_subprocess(method: str, seed: int, trials: int | None, args) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", method, "--seed", str(seed),
               "--population", str(args.population), "--generations", str(args.generations),
               "--epochs", str(args.epochs)]  # fmt: skip
    if trials is not None:
        command += ["--trials", str(trials)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{method} seed {seed} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(rows: list[dict], args: argparse.Namespace, total_seconds: float) -> str:
    by_seed = {}
    for row in rows:
        by_seed.setdefault(row["seed"], {})[row["method"]] = row
    lines = [
        "# `kte demo` evolution vs RandomSearch on digits",
        "",
        f"Written by `python benchmarks/demo_vs_random.py` ({time.strftime('%Y-%m-%d')}, "
        f"{total_seconds / 60:.0f} min in all).",
        "",
        f"Default `DenseHyperModel` space (15 hyperparameters), digits split of `kte demo` "
        f"(1437 training, 360 validation samples), {args.epochs} epochs per trial. Evolution: "
        f"population {args.population}, {args.generations} generations; RandomSearch: as many "
        "trials as the evolution trained. Score: best validation accuracy of any trial. Wall: "
        "the search alone, each in its own process, one after the other.",
        "",
        f"Machine: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}. Other processes may have shared the cores; "
        "compare the two columns of a row rather than rows.",
        "",
        "| seed | trials | evolution best | evolution wall (s) | random best | random wall (s) "
        "| winner |",
        "|---:|---:|---:|---:|---:|---:|:---|",
    ]
    wins = ties = 0
    for seed in sorted(by_seed):
        evolution, random = by_seed[seed]["evolution"], by_seed[seed]["random"]
        if evolution["best"] > random["best"]:
            winner, wins = "evolution", wins + 1
        elif evolution["best"] < random["best"]:
            winner = "random"
        else:
            winner, ties = "tie", ties + 1
        lines.append(
            f"| {seed} | {evolution['trials']} | {evolution['best']:.4f} | "
            f"{evolution['seconds']:.0f} | {random['best']:.4f} | {random['seconds']:.0f} | "
            f"{winner} |"
        )

    def median(method: str, key: str) -> float:
        return statistics.median(by_seed[s][method][key] for s in by_seed)

    lines += [
        f"| **median** | | **{median('evolution', 'best'):.4f}** | "
        f"**{median('evolution', 'seconds'):.0f}** | **{median('random', 'best'):.4f}** | "
        f"**{median('random', 'seconds'):.0f}** | |",
        "",
        f"Evolution won {wins} of {len(by_seed)} seeds" + (f" ({ties} tied)." if ties else "."),
        "",
        "One validation sample is 1/360 = 0.0028 of accuracy, so most differences are one to "
        "four samples: with this few trials the two searches are close.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--population", type=int, default=cli.DEFAULT_POPULATION)
    parser.add_argument("--generations", type=int, default=cli.DEFAULT_GENERATIONS)
    parser.add_argument("--epochs", type=int, default=cli.DEFAULT_EPOCHS)
    parser.add_argument("--output", default=RESULTS)
    # Internal: run one search in this process and print its result as JSON.
    parser.add_argument("--worker", choices=("evolution", "random"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trials", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(search(args.worker, args.seed, args.trials, args)))
        return 0

    start = time.monotonic()
    rows = []
    for seed in args.seeds:
        evolution = run_in_subprocess("evolution", seed, None, args)
        random = run_in_subprocess("random", seed, evolution["trials"], args)
        rows += [evolution, random]
        print(
            f"seed {seed}: evolution {evolution['best']:.4f} ({evolution['seconds']:.0f} s, "
            f"{evolution['trials']} trials), random {random['best']:.4f} "
            f"({random['seconds']:.0f} s, {random['trials']} trials)",
            flush=True,
        )
    text = table(rows, args, time.monotonic() - start)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
