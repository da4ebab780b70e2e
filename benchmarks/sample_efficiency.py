"""Best score found per number of trials: EvolutionaryOracle vs Keras Tuner's RandomSearchOracle.

Run: `python benchmarks/sample_efficiency.py` (about a minute or two on two cores). Writes
benchmarks/results/sample_efficiency.md.

Two maximisation problems over Keras Tuner search spaces, each with a known optimum:

- `dense_deceptive`: the 15-hyperparameter dense-network space (Choice optimizer, initializer,
  activation, batch size, 5 neuron Choices, 6 dropout Floats with a step). Each
  hyperparameter contributes up to 1: categorical ones from a seeded random table, ordered ones
  (batch size, neurons, dropouts) from a peak at a seeded target position. On top, a deceptive
  trap on (optimizer, initializer, activation): every partial match of a target triple costs
  0.5, the full match earns 3, so improving one gene at a time leads away from it. Optimum 18.
- `int_rastrigin`: negated Rastrigin on 6 `Int` hyperparameters in [-50, 50] (scaled by 1/10
  and shifted, so the optimum is off-centre and there are 11**6 local optima on the grid).
  Optimum 0.

Both oracles get the same budget of 200 trials, for 10 seeds each, and are driven directly in a
loop (`create_trial`, `update_trial`, `end_trial`), one worker, with Keras Tuner's file saving
switched off (it does not change the search, only its speed). The evolutionary oracle uses its
defaults (population 20 for 200 trials).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402
from seeds import keras_tuner_seed  # noqa: E402

from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

RESULTS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "results", "sample_efficiency.md"
)
OBJECTIVE = kt.Objective("score", "max")
CHECKPOINTS = (50, 100, 200)


# Problems -------------------------------------------------------------------------------------


def dense_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop", "adagrad", "adamax", "nadam"])
    hp.Choice("initializer", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal"])
    hp.Choice("activation", ["relu", "elu", "tanh", "selu", "gelu"])
    hp.Choice("batch_size", [16, 32, 64, 128, 256])
    for i in range(5):
        hp.Choice(f"neurons{i}", [8, 16, 32, 64, 128, 256, 512])
    for i in range(6):
        hp.Float(f"dropout{i}", 0.0, 0.5, step=0.05)
    return hp


def _domain(hp) -> list:
    if isinstance(hp, kt.engine.hyperparameters.Choice):
        return list(hp.values)
    count = int(round((hp.max_value - hp.min_value) / hp.step)) + 1
    return [round(hp.min_value + i * hp.step, 10) for i in range(count)]


def make_dense_deceptive() -> tuple[kt.HyperParameters, Callable[[dict], float], float]:
    space = dense_space()
    rng = np.random.default_rng(12345)
    categorical = {"optimizer", "initializer", "activation"}
    tables: dict[str, dict] = {}
    for hp in space.space:
        domain = _domain(hp)
        if hp.name in categorical:
            values = rng.random(len(domain))
            values /= values.max()  # each categorical gene's best value is worth exactly 1
        else:
            target = int(rng.integers(len(domain)))
            values = [1.0 - abs(i - target) / (len(domain) - 1) for i in range(len(domain))]
        tables[hp.name] = {
            round(v, 10) if isinstance(v, float) else v: float(s) for v, s in zip(domain, values)
        }
    # The trap's target is the worst value of each of the three categorical genes.
    trap = {name: min(tables[name], key=tables[name].get) for name in sorted(categorical)}

    def score(values: dict) -> float:
        total = 0.0
        for name, table in tables.items():
            value = values[name]
            total += table[round(value, 10) if isinstance(value, float) else value]
        matches = sum(values[name] == target for name, target in trap.items())
        return total + (3.0 if matches == len(trap) else -0.5 * matches)

    # Best: all non-trap genes at their peak, the trap genes at the trap (worth 3 + their table).
    # The 15 other local optima: every categorical gene at its best value, no trap match.
    return space, score, 12.0 + 3.0 + sum(tables[name][trap[name]] for name in trap)


def make_int_rastrigin(dims: int = 6) -> tuple[kt.HyperParameters, Callable[[dict], float], float]:
    space = kt.HyperParameters()
    for i in range(dims):
        space.Int(f"x{i}", -50, 50)
    shift = np.random.default_rng(7).integers(-30, 31, size=dims)

    def score(values: dict) -> float:
        z = [(values[f"x{i}"] - shift[i]) / 10.0 for i in range(dims)]
        return -(10.0 * dims + sum(v * v - 10.0 * math.cos(2 * math.pi * v) for v in z))

    return space, score, 0.0


PROBLEMS = {"dense_deceptive": make_dense_deceptive, "int_rastrigin": make_int_rastrigin}
NOTES = {"dense_deceptive": "; the deceptive local optimum is 15", "int_rastrigin": ""}


# Runs -----------------------------------------------------------------------------------------


def make_oracle(name: str, space: kt.HyperParameters, budget: int, seed: int) -> kt.Oracle:
    if name == "EvolutionaryOracle":
        return EvolutionaryOracle(
            objective=OBJECTIVE, hyperparameters=space, max_trials=budget, seed=seed
        )
    return kt.oracles.RandomSearchOracle(  # seeds.py: Keras Tuner's seeds must be spaced
        objective=OBJECTIVE, hyperparameters=space, max_trials=budget, seed=keras_tuner_seed(seed)
    )


ORACLES = ("EvolutionaryOracle", "RandomSearchOracle")


def run(oracle_name: str, problem: str, budget: int, seed: int) -> list[float]:
    """Best score so far after each trial."""
    space, score, _ = PROBLEMS[problem]()
    oracle = make_oracle(oracle_name, space, budget, seed)
    curve: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kte-bench-") as folder:
        oracle._set_project_dir(folder, "p")
        oracle.verbose = 0
        oracle.save = lambda: None
        oracle._save_trial = lambda trial: None
        while True:
            trial = oracle.create_trial("tuner0")
            if trial.status == TrialStatus.STOPPED:
                break
            if trial.status != TrialStatus.RUNNING:
                raise RuntimeError(f"{oracle_name} answered {trial.status} with one worker.")
            value = score(trial.hyperparameters.values)
            oracle.update_trial(trial.trial_id, {"score": value})
            trial.status = TrialStatus.COMPLETED
            oracle.end_trial(trial)
            curve.append(value if not curve else max(curve[-1], value))
    return curve


def markdown(curves: dict, budget: int, seeds: int, seconds: float) -> str:
    lines = [
        "# Sample efficiency: EvolutionaryOracle vs RandomSearchOracle",
        "",
        f"`python benchmarks/sample_efficiency.py`: {budget} trials, {seeds} seeds per oracle "
        "and problem, one worker, best score so far (maximised; higher is better). "
        "EvolutionaryOracle with its defaults. See the script's docstring for the problems. "
        f"Took {seconds:.0f} s.",
        "",
    ]
    for problem in PROBLEMS:
        optimum = PROBLEMS[problem]()[2]
        lines += [
            f"## {problem} (optimum {optimum:.4g}{NOTES[problem]})",
            "",
            "| oracle | mean best | median best | std | "
            + " | ".join(f"mean best @{c}" for c in CHECKPOINTS if c <= budget)
            + " | seeds at optimum |",
            "|---|---:|---:|---:|" + "---:|" * sum(c <= budget for c in CHECKPOINTS) + "---:|",
        ]
        for name in ORACLES:
            runs = curves[(name, problem)]
            finals = [curve[-1] for curve in runs]
            at = [
                statistics.fmean(curve[c - 1] for curve in runs) for c in CHECKPOINTS if c <= budget
            ]
            hits = sum(abs(f - optimum) < 1e-9 for f in finals)
            lines.append(
                f"| {name} | {statistics.fmean(finals):.3f} | {statistics.median(finals):.3f} "
                f"| {statistics.pstdev(finals):.3f} | "
                + " | ".join(f"{a:.3f}" for a in at)
                + f" | {hits}/{len(runs)} |"
            )
        evo = [c[-1] for c in curves[("EvolutionaryOracle", problem)]]
        rnd = [c[-1] for c in curves[("RandomSearchOracle", problem)]]
        wins = sum(e > r for e, r in zip(evo, rnd))
        ties = sum(e == r for e, r in zip(evo, rnd))
        lines += [
            "",
            f"Same seed, final best: evolution ahead in {wins}/{len(evo)} seeds ({ties} ties).",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args(argv)
    logging.getLogger("keras_tuner_evolution").setLevel(logging.ERROR)

    started = time.perf_counter()
    curves = {}
    for problem in PROBLEMS:
        for name in ORACLES:
            t0 = time.perf_counter()
            curves[(name, problem)] = [
                run(name, problem, args.budget, s) for s in range(args.seeds)
            ]
            finals = [c[-1] for c in curves[(name, problem)]]
            print(
                f"{problem:>16} {name:>20}: mean best {statistics.fmean(finals):.3f} "
                f"({time.perf_counter() - t0:.1f} s)"
            )
    text = markdown(curves, args.budget, args.seeds, time.perf_counter() - started)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
