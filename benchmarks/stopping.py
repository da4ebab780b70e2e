"""Issue 8 measurements: what `patience` saves, and what a warm start buys.

Run: `python benchmarks/stopping.py` (about a minute). Writes benchmarks/results/stopping.md.

Problem: a 15-hyperparameter mixed space shaped like the default dense-network space, with a
deterministic fitness whose optimum is known (1.0). Everything runs in one process, 10 seeds.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras_tuner as kt  # noqa: E402
from seeds import keras_tuner_seed  # noqa: E402

from keras_tuner_evolution.functions import FunctionTuner  # noqa: E402
from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

SEEDS = range(10)
BUDGET = 200
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "stopping.md")


def dense_like_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "adamax", "nadam"])
    hp.Choice(
        "initializer",
        [
            "lecun_uniform",
            "lecun_normal",
            "glorot_uniform",
            "glorot_normal",
            "he_uniform",
            "he_normal",
        ],
    )
    hp.Choice("activation", ["relu", "elu"])
    hp.Choice("batch_size", [16, 32, 64])
    for i in range(5):
        hp.Choice(f"neurons{i}", [16, 32, 64, 128, 256, 512, 1024])
    for i in range(6):
        hp.Float(f"dropout{i}", 0.0, 0.5, step=0.1)
    return hp


def fitness(hp) -> float:
    """1.0 at the optimum; each gene contributes a smooth share of the distance to it."""
    target = {
        "optimizer": "nadam",
        "initializer": "he_normal",
        "activation": "elu",
        "batch_size": 32,
    }
    score = sum(hp[name] == value for name, value in target.items()) / len(target) * 0.4
    units = (
        sum(1 - abs(math.log2(hp[f"neurons{i}"]) - math.log2(256 >> i)) / 6 for i in range(5)) / 5
    )
    drops = sum(1 - abs(hp[f"dropout{i}"] - 0.1 * (i % 3)) / 0.5 for i in range(6)) / 6
    return score + 0.35 * units + 0.25 * drops


def run(seed: int, folder: str, name: str, oracle_cls=EvolutionaryOracle, **kwargs):
    oracle = oracle_cls(
        objective=kt.Objective("score", "max"),
        hyperparameters=dense_like_space(),
        # seeds.py: Keras Tuner's consecutive seeds replay each other's draws.
        seed=keras_tuner_seed(seed) if oracle_cls is kt.oracles.RandomSearchOracle else seed + 1,
        **kwargs,
    )
    FunctionTuner(fitness, oracle, directory=folder, project_name=name).search(verbose=0)
    return oracle


def best_curve(oracle) -> list[float]:
    best, curve = -math.inf, []
    for trial_id in oracle.start_order:
        score = oracle.trials[trial_id].score
        best = max(best, score if score is not None else -math.inf)
        curve.append(best)
    return curve


def main() -> None:
    logging.getLogger("keras_tuner_evolution").setLevel(logging.ERROR)
    start = time.perf_counter()
    rows_patience, rows_warm = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in SEEDS:
            full = run(seed, folder, f"full{seed}", max_trials=BUDGET, population_size=20)
            early = run(
                seed,
                folder,
                f"early{seed}",
                max_trials=BUDGET,
                population_size=20,
                patience=3,
                min_delta=0.001,
            )
            rows_patience.append(
                (len(full.trials), best_curve(full)[-1], len(early.trials), best_curve(early)[-1])
            )

            random_project = f"random{seed}"
            random_oracle = run(
                seed, folder, random_project, kt.oracles.RandomSearchOracle, max_trials=30
            )
            target = random_oracle.get_best_trials(1)[0].score
            cold = best_curve(
                run(seed, folder, f"cold{seed}", max_trials=BUDGET, population_size=20)
            )
            warm = best_curve(
                run(
                    seed,
                    folder,
                    f"warm{seed}",
                    max_trials=BUDGET,
                    population_size=20,
                    warm_start_from=(folder, random_project),
                )
            )

            def trials_to_reach(curve, target=target):
                return next((i + 1 for i, best in enumerate(curve) if best >= target), None)

            rows_warm.append((target, trials_to_reach(cold), trials_to_reach(warm) or 0))
    elapsed = time.perf_counter() - start

    def mean(values):
        values = [v for v in values if v is not None]
        return statistics.mean(values) if values else float("nan")

    lines = [
        "# Stopping rules and warm starts",
        "",
        f"Problem: 15-hyperparameter dense-like space, deterministic fitness (optimum 1.0), "
        f"{len(SEEDS)} seeds, population 20, budget {BUDGET} trials. Generated by "
        f"`python benchmarks/stopping.py` in {elapsed:.0f} s.",
        "",
        "## patience=3, min_delta=0.001 versus the full budget",
        "",
        "| seed | trials (full) | best (full) | trials (patience) | best (patience) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for seed, (nf, bf, ne, be) in zip(SEEDS, rows_patience):
        lines.append(f"| {seed} | {nf} | {bf:.4f} | {ne} | {be:.4f} |")
    saved = mean([1 - ne / nf for nf, _, ne, _ in rows_patience])
    lost = mean([bf - be for _, bf, _, be in rows_patience])
    lines += [
        "",
        f"Mean trials saved by patience: **{saved:.0%}**; mean best value lost: "
        f"**{lost:.4f}** (on a 0-1 scale).",
        "",
        "## Warm start from a 30-trial RandomSearch project",
        "",
        "Trained trials until one of the evolution's own trials matches the RandomSearch",
        "project's best score. The warm start also carries that project's best trials over as",
        "elites without retraining them, so its best-so-far starts at the target; the column",
        "counts how soon its children (bred from them) match it.",
        "",
        "| seed | RandomSearch best (30 trials) | cold start: trials | warm start: trials |",
        "| --- | --- | --- | --- |",
    ]
    for seed, (target, cold, warm) in zip(SEEDS, rows_warm):
        lines.append(f"| {seed} | {target:.4f} | {cold} | {warm} |")
    lines += [
        "",
        "Mean trials to reach RandomSearch's best: "
        f"cold start **{mean([r[1] for r in rows_warm]):.1f}**, "
        f"warm start **{mean([r[2] for r in rows_warm]):.1f}**.",
        "",
    ]
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
