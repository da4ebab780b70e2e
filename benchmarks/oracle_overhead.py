"""How long the oracle takes to propose a trial, next to Keras Tuner's RandomSearchOracle.

Run: `python benchmarks/oracle_overhead.py` (about three minutes; `--profile` adds a cProfile of the
evolutionary oracle at the largest size). Writes benchmarks/results/oracle_overhead.md.

Both oracles search the same 15-hyperparameter mixed space shaped like the dense-network space
(Choice optimizer/initializer/activation/batch size, 5 neuron Choices, 6 dropout Floats with a
step) on a seeded random objective, in one process. Each oracle is first filled with `n`
completed trials (with saving switched off, which leaves the same state and is much faster),
then timed over further trials, one worker, the two oracles taking turns trial by trial (so
that the machine's drift hits both alike), in three ways:

- saving on: the full `create_trial` + `update_trial` + `end_trial` cycle, and `create_trial`
  alone, as a tuner sees them. Keras Tuner's base `Oracle` writes `oracle.json` (which lists
  every trial) and a `trial.json` on every call, so this part grows with `n` for any oracle;
- saving off: the same cycle with `save()` and `_save_trial()` made no-ops: the bookkeeping;
- `populate_space` alone (timed inside the saving-off cycles): the oracle's own algorithm.

Medians are reported; the mean of `populate_space` is given too, because the evolutionary
oracle does more work once per generation (planning elites and breeders) than per trial.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # sample_efficiency

import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402
from sample_efficiency import dense_space  # noqa: E402

from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "oracle_overhead.md")
OBJECTIVE = kt.Objective("score", "max")


ORACLES: dict[str, Callable[[int], kt.Oracle]] = {
    "EvolutionaryOracle": lambda seed: EvolutionaryOracle(
        objective=OBJECTIVE, hyperparameters=dense_space(), max_trials=None, seed=seed
    ),
    # The same evolution without the model that guides breeding: the difference is its cost.
    "EvolutionaryOracle, guidance=None": lambda seed: EvolutionaryOracle(
        objective=OBJECTIVE,
        hyperparameters=dense_space(),
        max_trials=None,
        seed=seed,
        guidance=None,
    ),
    "RandomSearchOracle": lambda seed: kt.oracles.RandomSearchOracle(
        objective=OBJECTIVE, hyperparameters=dense_space(), max_trials=None, seed=seed
    ),
}


class Saving:
    """Switches an oracle's file writing off and on (instance attributes shadow the methods)."""

    def __init__(self, oracle: kt.Oracle):
        self.oracle = oracle

    def off(self) -> None:
        self.oracle.save = lambda: None
        self.oracle._save_trial = lambda trial: None

    def on(self) -> None:
        for name in ("save", "_save_trial"):
            self.oracle.__dict__.pop(name, None)


def one_trial(oracle: kt.Oracle, rng: np.random.Generator) -> tuple[float, float]:
    """Runs one trial; returns the seconds of the whole cycle and of `create_trial` alone."""
    start = time.perf_counter()
    trial = oracle.create_trial("tuner0")
    created = time.perf_counter()
    if trial.status != TrialStatus.RUNNING:
        raise RuntimeError(f"The oracle answered {trial.status}.")
    oracle.update_trial(trial.trial_id, {"score": float(rng.random())})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)
    return time.perf_counter() - start, created - start


def measure(n: int, repeats: int, seed: int, profile: bool) -> dict[str, dict[str, float]]:
    """Fills one oracle of each kind with `n` trials, then times `repeats` more in each mode.

    The oracles take turns trial by trial, so that the machine's drift (other processes, clock
    changes) hits both alike: their ratio, which this benchmark is for, stays steady even where
    the absolute times do not.
    """
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kte-bench-") as folder:
        for name, make in ORACLES.items():
            oracle = make(seed)
            oracle._set_project_dir(folder, name)
            oracle.verbose = 0
            rng = np.random.default_rng(seed)
            saving = Saving(oracle)
            saving.off()
            for _ in range(n):
                one_trial(oracle, rng)
            runs[name] = {"oracle": oracle, "rng": rng, "saving": saving, "populate": []}

        # The populate_space-only numbers: timed inside cycles with saving off.
        for run in runs.values():
            run["oracle"].populate_space = _timed(run["oracle"].populate_space, run["populate"])
        off = _take_turns(runs, repeats)
        for run in runs.values():
            del run["oracle"].populate_space
            run["saving"].on()
            run["oracle"].save()  # the first save writes everything the filling skipped
        on = _take_turns(runs, repeats)

        evolution = runs["EvolutionaryOracle"]
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(repeats):
                one_trial(evolution["oracle"], evolution["rng"])
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(30)
            print(f"\n--- cProfile: EvolutionaryOracle, n={n}, {repeats} cycles, saving on ---")
            print(text.getvalue())

        ms = 1000.0
        results = {}
        for name, run in runs.items():
            project = os.path.join(folder, name)
            sizes = {
                entry: os.path.getsize(os.path.join(project, entry))
                for entry in ("oracle.json", "history.json")
                if os.path.exists(os.path.join(project, entry))
            }
            results[name] = {
                "cycle_on": statistics.median(c for c, _ in on[name]) * ms,
                "create_on": statistics.median(c for _, c in on[name]) * ms,
                "cycle_off": statistics.median(c for c, _ in off[name]) * ms,
                "create_off": statistics.median(c for _, c in off[name]) * ms,
                "populate_median": statistics.median(run["populate"]) * ms,
                "populate_mean": statistics.fmean(run["populate"]) * ms,
                "oracle_json_kb": sizes.get("oracle.json", 0) / 1024,
                "history_json_kb": sizes.get("history.json", 0) / 1024,
            }
    return results


def _timed(populate: Callable, times: list[float]) -> Callable:
    def timed_populate(trial_id):
        start = time.perf_counter()
        try:
            return populate(trial_id)
        finally:
            times.append(time.perf_counter() - start)

    return timed_populate


def _take_turns(runs: dict[str, dict], repeats: int) -> dict[str, list[tuple[float, float]]]:
    """Runs `repeats` trials on each oracle, one oracle after the other for every trial."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(one_trial(run["oracle"], run["rng"]))
    return times


def markdown(results: dict[tuple[str, int], dict[str, float]], repeats: int) -> str:
    sizes = sorted({n for _, n in results})
    lines = [
        "# Oracle overhead: EvolutionaryOracle vs RandomSearchOracle",
        "",
        f"Written {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; load average "
        f"{os.getloadavg()[0]:.1f} at the end (other jobs share the two cores: absolute times "
        "are noisy, the oracles take turns so their ratios are not).",
        "",
        "`python benchmarks/oracle_overhead.py`. Median milliseconds per trial over "
        f"{repeats} trials, one worker, the oracles taking turns trial by trial, "
        "15-hyperparameter dense-like space, seeded random objective, after `n` completed "
        "trials. *Saving on*: Keras Tuner writes "
        "`oracle.json` and `trial.json` on every call, as in a real search. *Saving off*: "
        "`save()`/`_save_trial()` no-ops. *populate_space*: the oracle's own proposal, timed "
        "inside the saving-off cycles (mean includes the once-per-generation planning).",
        "",
        "| n | oracle | cycle, saving on | create_trial, saving on | cycle, saving off "
        "| create_trial, saving off | populate_space median | populate_space mean "
        "| oracle.json KiB | history.json KiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        for name in ORACLES:
            r = results[(name, n)]
            lines.append(
                f"| {n} | {name} | {r['cycle_on']:.2f} | {r['create_on']:.2f} "
                f"| {r['cycle_off']:.3f} | {r['create_off']:.3f} | {r['populate_median']:.3f} "
                f"| {r['populate_mean']:.3f} | {r['oracle_json_kb']:.0f} "
                f"| {r['history_json_kb']:.0f} |"
            )
    lines += ["", "Ratio to RandomSearchOracle:", ""]
    lines += [
        "| n | oracle | cycle, saving on | create_trial, saving on | cycle, saving off "
        "| populate_space median | populate_space mean |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    keys = ["cycle_on", "create_on", "cycle_off", "populate_median", "populate_mean"]
    for n in sizes:
        rnd = results[("RandomSearchOracle", n)]
        for name in [name for name in ORACLES if name != "RandomSearchOracle"]:
            evo = results[(name, n)]
            cells = " | ".join(f"{evo[k] / rnd[k]:.2f}x" for k in keys)
            lines.append(f"| {n} | {name} | {cells} |")
    lines += [
        "",
        "The model that guides breeding (breeding 6 candidate children, fitting the density "
        "ratio, scoring the candidates) costs per trial, as the difference of the two "
        "evolutions' populate_space means:",
        "",
        "| n | ms per trial |",
        "|---:|---:|",
    ]
    for n in sizes:
        guided = results[("EvolutionaryOracle", n)]["populate_mean"]
        plain = results[("EvolutionaryOracle, guidance=None", n)]["populate_mean"]
        lines.append(f"| {n} | {guided - plain:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args(argv)
    logging.getLogger("keras_tuner_evolution").setLevel(logging.ERROR)

    results = {}
    for n in args.sizes:
        started = time.perf_counter()
        profile = args.profile and n == max(args.sizes)
        for name, numbers in measure(n, args.repeats, args.seed, profile).items():
            results[(name, n)] = numbers
            print(f"{name:>20} n={n:<5} {numbers}")
        print(f"n={n}: {time.perf_counter() - started:.1f} s")
    text = markdown(results, args.repeats)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
