"""Search scenarios whose exact trial sequences are recorded in `sequences.json`.

The sequences were recorded with keras-tuner-evolution 0.1.0, before the redesign into one
engine and thin adapters (issue 13). `tests/test_golden.py` replays every scenario and checks
that the same seed still proposes the very same trials, in the same order, with the same
generations, elites and lineage. Regenerate only on purpose: `python -m tests.golden.scenarios`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile

import keras_tuner as kt

from tests.helpers import mixed_score, mixed_space, run_search

HERE = os.path.dirname(os.path.abspath(__file__))
SEQUENCES = os.path.join(HERE, "sequences.json")


def conditional_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    model = hp.Choice("model", ["mlp", "cnn", "linear"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("layers", 1, 4)
        hp.Float("dropout", 0.0, 0.5, step=0.1)
        with hp.conditional_scope("layers", [3, 4]):
            hp.Choice("width", [32, 64, 128])
    with hp.conditional_scope("model", ["cnn"]):
        hp.Int("filters", 8, 128, sampling="log")
        hp.Boolean("pool")
    del model
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    return hp


def conditional_score(hp) -> float:
    values = hp.values
    score = -abs(math.log10(values["lr"]) + 2.5)
    if values["model"] == "mlp":
        score += 1.0 + 0.2 * values["layers"] - abs(values["dropout"] - 0.2)
        score += 0.001 * values.get("width", 0)
    elif values["model"] == "cnn":
        score += 1.5 - abs(math.log2(values["filters"]) - 5) / 4 + 0.3 * values["pool"]
    return score


def small_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Choice("a", [1, 2, 3])
    hp.Int("b", 0, 3)
    return hp


def small_score(hp) -> float:
    return float(hp["a"] * 10 + hp["b"])


def failing_score(hp) -> float:
    if hp["units"] > 200:
        raise RuntimeError("too wide")
    return mixed_score(hp)


SCENARIOS = {
    "mixed_seed0": dict(function=mixed_score, space=mixed_space, max_trials=40, seed=0),
    "mixed_seed7_pop6": dict(
        function=mixed_score, space=mixed_space, max_trials=30, population_size=6, seed=7
    ),
    "mixed_minimize": dict(
        function=mixed_score, space=mixed_space, max_trials=30, seed=2, objective="min"
    ),
    "mixed_tournament_best_adaptive": dict(
        function=mixed_score,
        space=mixed_space,
        max_trials=40,
        population_size=8,
        seed=5,
        selection="tournament",
        tournament_size=2,
        parent_pool="best",
        adaptive_mutation=True,
        elites=2,
        breeders=0.5,
    ),
    "mixed_generations_patience": dict(
        function=mixed_score,
        space=mixed_space,
        max_trials=None,
        generations=6,
        population_size=5,
        patience=2,
        seed=9,
    ),
    "mixed_initial_population": dict(
        function=mixed_score,
        space=mixed_space,
        max_trials=20,
        seed=4,
        initial_population=[{"optimizer": "adamax", "units": 128}, {"lr": 0.01}],
    ),
    "conditional_seed1": dict(
        function=conditional_score, space=conditional_space, max_trials=40, seed=1
    ),
    "conditional_seed3": dict(
        function=conditional_score, space=conditional_space, max_trials=30, seed=3, elites=1
    ),
    "exhausted_small": dict(
        function=small_score, space=small_space, max_trials=30, population_size=4, seed=0
    ),
    "failures": dict(
        function=failing_score,
        space=mixed_space,
        max_trials=25,
        seed=6,
        max_consecutive_failed_trials=30,
    ),
    "patience": dict(
        function=mixed_score,
        space=mixed_space,
        max_trials=80,
        population_size=4,
        patience=1,
        seed=3,
    ),
    "goal": dict(function=small_score, space=small_space, max_trials=30, seed=1, goal=32.0),
}

# Scenario -> max_trials of a first session; the search then resumes to the full budget.
RESUMED = {
    "mixed_seed0_resumed": ("mixed_seed0", 17),
    "conditional_seed1_resumed": ("conditional_seed1", 9),
}


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def record(oracle) -> dict:
    """What a scenario must reproduce: trials in start order, generations, lineage."""
    trials = []
    for trial_id in oracle.start_order:
        trial = oracle.trials[trial_id]
        values = {name: _plain(v) for name, v in trial.hyperparameters.values.items()}
        score = None if trial.score is None else float(trial.score)
        trials.append([trial_id, values, str(trial.status), score])
    history = oracle.history
    return {
        "trials": trials,
        "generations": [[g.members, g.elites] for g in history.generations],
        "lineage": history.lineage,
        "stop_reason": history.stop_reason,
    }


def legacy(options: dict) -> dict:
    """`options` plus those that select 0.1.0's algorithm, which the sequences were recorded
    with: generation 0 drawn at random and as large as the others, children not guided."""
    from keras_tuner_evolution.config import default_population_size

    size = options.get("population_size") or default_population_size(options.get("max_trials"))
    return {
        "initial_sampling": "random",
        "guidance": None,
        "initial_population_size": size,
        "mutation_rate": 0.1,
        **options,
    }


def run_scenario(name: str, directory: str) -> dict:
    """Runs one scenario (resumed ones in two sessions) and returns its record."""
    base, first_budget = RESUMED.get(name, (name, None))
    options = legacy(SCENARIOS[base])
    function, space = options.pop("function"), options.pop("space")
    objective = options.pop("objective", "max")
    if first_budget is not None:
        first = dict(options, max_trials=first_budget)
        run_search(function, directory, space(), "g", objective, **first)
        options["overwrite"] = False
    oracle = _run(function, directory, space(), objective, options)
    return record(oracle)


def _run(function, directory, space, objective, options):
    from keras_tuner_evolution.functions import FunctionTuner
    from keras_tuner_evolution.oracle import EvolutionaryOracle

    overwrite = options.pop("overwrite", True)
    oracle = EvolutionaryOracle(
        objective=kt.Objective("score", objective), hyperparameters=space, **options
    )
    tuner = FunctionTuner(
        function, oracle, directory=str(directory), project_name="g", overwrite=overwrite
    )
    tuner.search(verbose=0)
    return oracle


def all_names() -> list[str]:
    return [*SCENARIOS, *RESUMED]


def main() -> None:
    recorded = {}
    for name in all_names():
        with tempfile.TemporaryDirectory() as directory:
            recorded[name] = run_scenario(name, directory)
        print(name, len(recorded[name]["trials"]), recorded[name]["stop_reason"], file=sys.stderr)
    with open(SEQUENCES, "w") as handle:
        json.dump(recorded, handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
