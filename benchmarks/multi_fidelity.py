"""Multi-fidelity tuners at equal epoch budgets, on replayed learning curves (issue 14's proof).

Run (all methods, problems, budgets and seeds; resumable; about 10 minutes on one core):

    nice -n 10 python benchmarks/multi_fidelity.py --resume

Writes `benchmarks/results/multi_fidelity.md` and the raw runs, one JSON object per line, to
`benchmarks/results/multi_fidelity_runs.json`. `--resume` keeps the stored runs and runs only
the missing ones; `--reuse` rebuilds the tables from the stored runs without running anything.
`--quick` is a smoke run (2 seeds, budgets 3 and 10, synthetic problems) into /tmp. Needs
`pip install -e ".[bench]"` and DEHB: `pip install --no-deps dehb==0.1.2` then
`pip install ConfigSpace loguru dask distributed pandas pyarrow` (DEHB 0.1.2 pins
`numpy<2`, which a plain `pip install dehb` would downgrade to; it runs here on numpy 2).
The real curves are in `benchmarks/data/` (`curves.py` says how they were recorded).

Problems (maximised; a configuration trained `e` epochs scores `value(config, e)`; a full
training is `MAX_EPOCHS` = 27 epochs; short training ranks configurations differently from
long training, see the Spearman columns of the report):

- `dense_crossing`: the 15-hyperparameter dense space of `sample_efficiency.py` whose final
  score is `dense_deceptive` (optimum 18); `value(c, e) = q(c) - gap(c) * s(e, b(c))` with
  `s` falling from 1 at one epoch to 0 at 27 as `e**-b`. The gap grows with the final quality
  and with slow-training genes (dropout, width, batch size): fast starters plateau low.
- `conditional_crossing`: `compare.py`'s conditional architecture space (`conditional_arch`,
  optimum 4.5), same curve shape: the mlp branch and high learning rates start fast, the best
  branch (cnn) and low learning rates start slow.
- `dense_real`: real validation-accuracy curves of 288 `DenseHyperModel` configurations (a grid
  over its hyperparameters, `curves.py`), replayed: a configuration scores its best validation
  accuracy of epochs `1..e`. Held out: nothing here was tuned on it.
- `mixed_crossing`: `compare.py`'s mixed MLP space (`mixed_mlp`, optimum 0.9614), same curve
  shape: low learning rates, large batches and high dropout start slow. Added to check a
  start-rung rule chosen on the two problems above (since reverted) and written once before
  any run: held out from every choice.
- `conditional_fast_best` and `conditional_even`: `conditional_crossing`'s space and final
  scores, with the best branch (cnn) learning fastest and mlp slowest, and with every branch
  learning at the same speed (only low learning rates start slow). Added on 2026-12-01 to
  check `promote_by_family` (promotions within a model family, chosen on
  `conditional_crossing`), written before it ran on them: where families learn alike, the
  rule only splits the promotions.
- `optimizer_crossing`: a space of its own, written on 2026-12-01 before any run of it to check
  `promote_by_family="auto"` (chosen on the three problems above): three optimizer families
  (sgd, adam, rmsprop), each with its own hyperparameters, and five shared network genes;
  sgd ends best (optimum 6) and learns slowest, adam fastest, weighing 0.4 of the slowness,
  low learning rates and large batches the rest. Held out from every choice.

Methods, each given `B` full trainings = `27 * B` epochs (B = 10, 30, 100), seeds 1..10
(Keras Tuner treats seed 0 as "no seed"), one worker; every epoch is counted:

- `hyperband`: `keras_tuner.oracles.HyperbandOracle(27, factor=3)`, iterations unbounded, cut
  when the next trial's epochs (`tuner/epochs - tuner/initial_epoch`) would pass the budget;
- `dehb`: DEHB 0.1.2 through `ask`/`tell` on the unit hypercube (each coordinate mapped with
  `space.prob_to_value`; inactive conditional values are ignored), fidelities 1..27, eta 3;
  every job trains from scratch and costs its full fidelity; cut when the next job does not fit;
- `tpe_hyperband`: Optuna's `TPESampler` with `HyperbandPruner(1, 27, 3)`, one value reported
  per epoch; a pruned trial costs the epochs it ran; cut mid-trial at the budget;
- `random`, `evolution`: Keras Tuner's `RandomSearchOracle` and `EvolutionaryOracle` (its
  defaults), `max_trials=B`, every trial a full training;
- `evolutionary_hyperband`: `EvolutionaryHyperbandOracle(27, factor=3,
  max_epochs_total=27 * B)`, its defaults otherwise.

A method's incumbent is its best configuration among those trained for the most epochs it
reached (for `evolutionary_hyperband`, `oracle.get_best_trials(1)`, which ranks the same way),
scored by its full-training value. Normalised regret = `(best - incumbent) / (best - median)`,
`best` the best full-training value of the problem, `median` that of a uniformly random
configuration (10,000 draws, seed 0; all 288 for `dense_real`): 0 is the best, 1 is typical.
Oracles run with Keras Tuner's file saving on, in a temporary directory, unchanged; no
method's settings were tuned for this benchmark (each runs with its defaults).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import curves  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
from compare import OBJECTIVE, _peak, _suggest, make_conditional_arch, make_mixed_mlp  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402
from provenance import forked_runs, oracle_source  # noqa: E402
from sample_efficiency import make_dense_deceptive  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402
from seeds import keras_tuner_seed  # noqa: E402

from keras_tuner_evolution import space as space_lib  # noqa: E402
from keras_tuner_evolution.hyperband import EvolutionaryHyperbandOracle  # noqa: E402
from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

RESULTS = os.path.join(HERE, "results")
MAX_EPOCHS = curves.MAX_EPOCHS
FACTOR = 3
BUDGETS = (10, 30, 100)
SEEDS = tuple(range(1, 11))
REFERENCE_SAMPLES = 10_000
METHODS = ("hyperband", "dehb", "tpe_hyperband", "random", "evolution", "evolutionary_hyperband")
LABELS = {
    "hyperband": "KT Hyperband",
    "dehb": "DEHB",
    "tpe_hyperband": "Optuna TPE + HyperbandPruner",
    "random": "KT RandomSearch (full)",
    "evolution": "EvolutionaryOracle (full)",
    "evolutionary_hyperband": "EvolutionaryHyperbandOracle",
}
OURS = "evolutionary_hyperband"
OUR_METHODS = (OURS, "evolution")  # runs record `oracle_source()`; --resume reruns stale ones


@dataclass
class Problem:
    """A learning-curve problem: a space and the score of a configuration after `e` epochs."""

    name: str
    space: kt.HyperParameters
    value: Callable[[dict, int], float]
    optimum: float | None = None  # None: the best of `reference_genomes`
    genomes: list[dict] | None = None  # every configuration, when the space is a small grid

    def full(self, genome: dict) -> float:
        """The full-training value of a configuration."""
        return self.value(genome, MAX_EPOCHS)


# Problems -------------------------------------------------------------------------------------


def _decay(epochs: int, speed: float) -> float:
    """1 after one epoch, 0 after `MAX_EPOCHS`, falling as `epochs ** -speed` in between."""
    floor = MAX_EPOCHS**-speed
    return (epochs**-speed - floor) / (1.0 - floor)


def _slow_learning_rate(genome: dict) -> float:
    """How slowly a configuration's learning rate trains: 0 at 1e-1, 1 at 1e-5 (log scale)."""
    return (-1.0 - math.log10(genome["learning_rate"])) / 4.0


def make_dense_crossing() -> Problem:
    """`dense_deceptive`'s final scores; dropout, width and large batches learn slowly."""
    space, final, optimum = make_dense_deceptive()
    by_name = space_lib.hyperparameters_by_name(space)
    batches, neurons = by_name["batch_size"][0].values, by_name["neurons0"][0].values
    speed_of = dict(
        zip(["adam", "sgd", "rmsprop", "adagrad", "adamax", "nadam"], np.linspace(1.4, 0.6, 6))
    )

    def value(genome: dict, epochs: int) -> float:
        q = final(genome)
        dropout = statistics.fmean(genome[f"dropout{i}"] for i in range(6)) / 0.5
        width = statistics.fmean(neurons.index(genome[f"neurons{i}"]) for i in range(5)) / 6
        batch = batches.index(genome["batch_size"]) / (len(batches) - 1)
        slowness = 0.4 * dropout + 0.3 * width + 0.3 * batch
        gap = 30.0 * (0.3 + 0.7 * slowness) * (0.4 + 0.6 * max(q, 0.0) / optimum)
        return q - gap * _decay(epochs, speed_of.get(genome["optimizer"], 1.0))

    return Problem("dense_crossing", space, value, optimum)


def _conditional_curves(name: str, arch_slowness: dict, arch_weight: float) -> Problem:
    """`conditional_arch`'s final scores (best branch: cnn); a branch and low learning rates
    learn slowly, the branch weighing `arch_weight` of the slowness, the learning rate the
    rest."""
    space, final, optimum = make_conditional_arch()
    lr_weight = 1.0 - arch_weight

    def value(genome: dict, epochs: int) -> float:
        slowness = arch_weight * arch_slowness[genome["arch"]] + lr_weight * _slow_learning_rate(
            genome
        )
        gap = 8.0 * (0.2 + 0.8 * slowness)
        return final(genome) - gap * _decay(epochs, 1.5 - slowness)

    return Problem(name, space, value, optimum)


def make_conditional_crossing() -> Problem:
    """The best branch (cnn) and low learning rates learn slowly, mlp fastest."""
    slowness = {"mlp": 0.1, "transformer": 0.5, "cnn": 1.0}
    return _conditional_curves("conditional_crossing", slowness, 0.6)


def make_conditional_fast_best() -> Problem:
    """The best branch (cnn) learns fastest, mlp slowest; low learning rates slowly."""
    slowness = {"mlp": 1.0, "transformer": 0.5, "cnn": 0.1}
    return _conditional_curves("conditional_fast_best", slowness, 0.6)


def make_conditional_even() -> Problem:
    """Every branch learns at the same speed; only low learning rates learn slowly."""
    return _conditional_curves(
        "conditional_even", dict.fromkeys(("mlp", "transformer", "cnn"), 0.0), 0.0
    )


def make_mixed_crossing() -> Problem:
    """`mixed_mlp`'s final scores; low learning rates, large batches and dropout learn slowly.

    Added to check a start-rung rule chosen on the two problems above (since reverted, see
    `docs/multi_fidelity.md`), from the same template as `conditional_crossing` and written
    once before any run: held out from every choice.
    """
    space, final, optimum = make_mixed_mlp()
    batches = space_lib.hyperparameters_by_name(space)["batch_size"][0].values

    def value(genome: dict, epochs: int) -> float:
        batch = batches.index(genome["batch_size"]) / (len(batches) - 1)
        slowness = 0.4 * _slow_learning_rate(genome) + 0.3 * batch + 0.3 * genome["dropout"] / 0.6
        gap = 1.2 * (0.2 + 0.8 * slowness)
        return final(genome) - gap * _decay(epochs, 1.5 - slowness)

    return Problem("mixed_crossing", space, value, optimum)


OPTIMIZER_SLOWNESS = {"adam": 0.1, "rmsprop": 0.5, "sgd": 1.0}


def optimizer_families_space() -> kt.HyperParameters:
    """Three optimizer families with their own hyperparameters, and shared network genes."""
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-5, 1e-1, sampling="log")
    hp.Choice("batch_size", [16, 32, 64, 128, 256])
    hp.Int("layers", 1, 6)
    hp.Int("units", 16, 512, step=16)
    hp.Float("dropout", 0.0, 0.5, step=0.05)
    hp.Choice("optimizer", ["sgd", "adam", "rmsprop"])
    with hp.conditional_scope("optimizer", "sgd"):
        hp.Float("momentum", 0.0, 0.99)
        hp.Boolean("nesterov")
    with hp.conditional_scope("optimizer", "adam"):
        hp.Float("beta_1", 0.8, 0.99)
        hp.Int("epsilon_exponent", -9, -3)
    with hp.conditional_scope("optimizer", "rmsprop"):
        hp.Float("rho", 0.8, 0.99)
        hp.Boolean("centered")
    return hp


def optimizer_final(v: dict) -> float:
    """Final score, at most 6: five shared genes (1 each) and the optimizer's own part (sgd
    at most 1, adam 0.8, rmsprop 0.6)."""
    batches = [16, 32, 64, 128, 256]
    total = (
        _peak(math.log10(v["learning_rate"]), -2.5, 3.0)
        + _peak(batches.index(v["batch_size"]), 2, 4)
        + _peak(v["layers"], 4, 5)
        + _peak(v["units"], 256, 400)
        + _peak(v["dropout"], 0.1, 0.6)
    )
    if v["optimizer"] == "sgd":
        return total + 0.5 * _peak(v["momentum"], 0.9, 0.9) + (0.5 if v["nesterov"] else 0.2)
    if v["optimizer"] == "adam":
        part = _peak(v["beta_1"], 0.9, 0.2) + _peak(v["epsilon_exponent"], -7, 6)
        return total + 0.4 * part
    return total + 0.3 * _peak(v["rho"], 0.9, 0.2) + (0.3 if v["centered"] else 0.1)


def make_optimizer_crossing() -> Problem:
    """Optimizer families (sgd, adam, rmsprop, each with its own genes; sgd best): sgd learns
    slowest and adam fastest, weighing 0.4 of the slowness; low learning rates and large
    batches the rest. Held out: written for `promote_by_family="auto"` before any run of it,
    from no other problem's template but the curve shape."""
    space = optimizer_families_space()
    batches = [16, 32, 64, 128, 256]

    def value(genome: dict, epochs: int) -> float:
        batch = batches.index(genome["batch_size"]) / (len(batches) - 1)
        slowness = (
            0.4 * OPTIMIZER_SLOWNESS[genome["optimizer"]]
            + 0.3 * _slow_learning_rate(genome)
            + 0.3 * batch
        )
        gap = 8.0 * (0.2 + 0.8 * slowness)
        return optimizer_final(genome) - gap * _decay(epochs, 1.5 - slowness)

    return Problem("optimizer_crossing", space, value, 6.0)


def make_dense_real(path: str = curves.PACKED) -> Problem:
    """Replayed `DenseHyperModel` curves: the best validation accuracy of epochs `1..e`."""
    grid, recorded = curves.load_curves(path)
    best_so_far = [np.maximum.accumulate(curve).tolist() for curve in recorded]
    space = curves.grid_space(grid)

    def value(genome: dict, epochs: int) -> float:
        return best_so_far[curves.config_index(genome, grid)][epochs - 1]

    genomes = [space_lib.repair(space, c) for c in curves.grid_configs(grid)]
    return Problem("dense_real", space, value, None, genomes)


PROBLEMS: dict[str, Callable[[], Problem]] = {
    "dense_crossing": make_dense_crossing,
    "conditional_crossing": make_conditional_crossing,
    "dense_real": make_dense_real,
    "mixed_crossing": make_mixed_crossing,
    "conditional_fast_best": make_conditional_fast_best,
    "conditional_even": make_conditional_even,
    "optimizer_crossing": make_optimizer_crossing,
}


def reference(problem: Problem) -> dict:
    """Best and median full-training value, and how short training ranks configurations."""
    genomes = problem.genomes
    if genomes is None:
        rng = np.random.default_rng(0)
        genomes = [space_lib.random_genome(problem.space, rng) for _ in range(REFERENCE_SAMPLES)]
    full = np.asarray([problem.full(g) for g in genomes])
    spearman = {}
    for epochs in (1, 3, 9):
        short = [problem.value(g, epochs) for g in genomes]
        spearman[epochs] = float(spearmanr(short, full).statistic)
    best = problem.optimum if problem.optimum is not None else float(full.max())
    return {
        "best": best,
        "median": float(np.median(full)),
        "configurations": len(problem.genomes) if problem.genomes else None,
        "spearman": spearman,
    }


# Driving the methods --------------------------------------------------------------------------


class Tracker:
    """Counts epochs against the budget and remembers each configuration's furthest training."""

    def __init__(self, problem: Problem, budget_epochs: int):
        self.problem, self.budget = problem, budget_epochs
        self.spent = 0
        self.trials = 0
        self.oracle_s = 0.0
        self.reached: dict[str, tuple[int, float, int]] = {}  # key -> (epochs, score, order)
        self.genomes: dict[str, dict] = {}

    @property
    def left(self) -> int:
        return self.budget - self.spent

    def train(
        self, values: dict, epochs: int, initial_epoch: int = 0, new_trial: bool = True
    ) -> float:
        """Trains a configuration from `initial_epoch` to `epochs`; returns its score.

        `new_trial` False: one more epoch of the same trial (Optuna reports every epoch).
        """
        cost = epochs - initial_epoch
        if cost < 0 or cost > self.left:
            raise RuntimeError(f"{cost} epochs asked with {self.left} left.")
        self.spent += cost
        self.trials += new_trial
        genome = space_lib.repair(self.problem.space, values)
        key = space_lib.genome_hash(genome)
        score = float(self.problem.value(genome, epochs))
        if epochs >= self.reached.get(key, (0, 0.0, 0))[0]:
            self.reached[key] = (epochs, score, len(self.reached))
            self.genomes[key] = genome
        return score

    def incumbent(self) -> tuple[str, int]:
        """The best configuration among those trained the most epochs, and those epochs."""
        top = max(epochs for epochs, _, _ in self.reached.values())
        key = max(
            (k for k, (epochs, _, _) in self.reached.items() if epochs == top),
            key=lambda k: (self.reached[k][1], -self.reached[k][2]),
        )
        return key, top


def _timed(tracker: Tracker, call: Callable, *args):
    started = time.perf_counter()
    result = call(*args)
    tracker.oracle_s += time.perf_counter() - started
    return result


def _drive_kt(oracle: kt.Oracle, tr: Tracker) -> None:
    """Runs a Keras Tuner oracle until it stops or the next trial does not fit the budget."""
    oracle._set_project_dir(tempfile.mkdtemp(prefix="kte-mf-"), "p")
    oracle.verbose = 0
    while True:
        trial = _timed(tr, oracle.create_trial, "w0")
        if trial.status != TrialStatus.RUNNING:
            break
        values = trial.hyperparameters.values
        epochs = values.get("tuner/epochs", MAX_EPOCHS)
        initial = values.get("tuner/initial_epoch", 0)
        if epochs - initial > tr.left:
            break
        score = tr.train(values, epochs, initial)
        _timed(tr, oracle.update_trial, trial.trial_id, {"score": score})
        trial.status = TrialStatus.COMPLETED
        _timed(tr, oracle.end_trial, trial)


def run_hyperband(tr: Tracker, seed: int) -> None:
    oracle = kt.oracles.HyperbandOracle(
        objective=OBJECTIVE,
        max_epochs=MAX_EPOCHS,
        factor=FACTOR,
        hyperband_iterations=10**6,
        seed=keras_tuner_seed(seed),
        hyperparameters=tr.problem.space,
    )
    _drive_kt(oracle, tr)


def run_random(tr: Tracker, seed: int) -> None:
    oracle = kt.oracles.RandomSearchOracle(
        objective=OBJECTIVE,
        max_trials=tr.budget // MAX_EPOCHS,
        seed=keras_tuner_seed(seed),
        hyperparameters=tr.problem.space,
    )
    _drive_kt(oracle, tr)


def run_evolution(tr: Tracker, seed: int) -> dict:
    oracle = EvolutionaryOracle(
        objective=OBJECTIVE,
        max_trials=tr.budget // MAX_EPOCHS,
        seed=seed,
        hyperparameters=tr.problem.space,
    )
    _drive_kt(oracle, tr)
    return {"source": oracle_source()}


# Settings to try (`--ehb-options '{"brackets": null}'`): arguments of the oracle; empty for
# the report, which measures every method with its defaults.
EHB_OPTIONS: dict = {}


def run_evolutionary_hyperband(tr: Tracker, seed: int) -> dict:
    oracle = EvolutionaryHyperbandOracle(
        objective=OBJECTIVE,
        max_epochs=MAX_EPOCHS,
        factor=FACTOR,
        seed=seed,
        hyperparameters=tr.problem.space,
        max_epochs_total=tr.budget,
        **EHB_OPTIONS,
    )
    _drive_kt(oracle, tr)
    best = oracle.get_best_trials(1)[0]
    genome = space_lib.repair(tr.problem.space, best.hyperparameters.values)
    return {
        "oracle_epochs": oracle.epochs_spent(),
        "best_trial_epochs": best.hyperparameters.values["tuner/epochs"],
        "best_trial_key": space_lib.genome_hash(genome),
        "population_size": oracle.config.population_size,
        "source": oracle_source(),
    }


def run_dehb(tr: Tracker, seed: int) -> None:
    from dehb import DEHB
    from loguru import logger

    hps = list(tr.problem.space.space)
    optimizer = DEHB(
        f=None,
        dimensions=len(hps),
        configspace=False,
        min_fidelity=1,
        max_fidelity=MAX_EPOCHS,
        eta=FACTOR,
        seed=seed,
        n_workers=1,
        output_path=tempfile.mkdtemp(prefix="kte-dehb-"),
        save_freq="end",
        log_level="ERROR",
    )
    while True:
        job = _timed(tr, optimizer.ask)
        epochs = int(round(float(job["fidelity"])))
        if epochs > tr.left:
            break
        values = {hp.name: space_lib.prob_to_value(hp, p) for hp, p in zip(hps, job["config"])}
        score = tr.train(values, epochs)  # DEHB retrains from scratch: all `epochs` count
        _timed(tr, optimizer.tell, job, {"fitness": -score, "cost": float(epochs)})
    logger.remove()  # DEHB adds a log file sink per instance


def run_tpe_hyperband(tr: Tracker, seed: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=MAX_EPOCHS, reduction_factor=FACTOR
        ),
    )
    while tr.left > 0:
        trial = _timed(tr, study.ask)
        values = _timed(tr, _suggest, trial, tr.problem.space)
        for epochs in range(1, MAX_EPOCHS + 1):
            if tr.left == 0:
                return  # cut mid-trial: its epochs so far count, its last score is kept
            score = tr.train(values, epochs, epochs - 1, new_trial=epochs == 1)
            _timed(tr, trial.report, score, epochs)
            if epochs < MAX_EPOCHS and _timed(tr, trial.should_prune):
                _timed(tr, study.tell, trial, None, optuna.trial.TrialState.PRUNED)
                break
        else:
            _timed(tr, study.tell, trial, score)


RUNNERS = {
    "hyperband": run_hyperband,
    "dehb": run_dehb,
    "tpe_hyperband": run_tpe_hyperband,
    "random": run_random,
    "evolution": run_evolution,
    "evolutionary_hyperband": run_evolutionary_hyperband,
}

_PROBLEM_CACHE: dict[str, tuple[Problem, dict]] = {}


def problem_and_reference(name: str) -> tuple[Problem, dict]:
    """The problem and its reference values (cached per process)."""
    if name not in _PROBLEM_CACHE:
        problem = PROBLEMS[name]()
        _PROBLEM_CACHE[name] = (problem, reference(problem))
    return _PROBLEM_CACHE[name]


def run_one(job: tuple) -> dict:
    """One `(method, problem, seed, budget)` run, as a JSON-able record."""
    method, name, seed, budget = job
    problem, ref = problem_and_reference(name)
    tracker = Tracker(problem, budget * MAX_EPOCHS)
    started = time.perf_counter()
    extra = RUNNERS[method](tracker, seed) or {}
    key, top = tracker.incumbent()
    full = problem.full(tracker.genomes[key])
    return {
        "method": method,
        "problem": name,
        "seed": seed,
        "budget": budget,
        "budget_epochs": tracker.budget,
        "epochs": tracker.spent,
        "trials": tracker.trials,
        "configurations": len(tracker.reached),
        "top_epochs": top,
        "incumbent_full": full,
        "regret": (ref["best"] - full) / (ref["best"] - ref["median"]),
        "oracle_s": tracker.oracle_s,
        "total_s": time.perf_counter() - started,
        **(
            {"incumbent_agrees": extra.pop("best_trial_key") == key}
            if "best_trial_key" in extra
            else {}
        ),
        **extra,
    }


def _job(job: tuple) -> dict:
    import logging

    logging.getLogger("keras_tuner_evolution").setLevel(logging.ERROR)
    return run_one(job)


# Tables ---------------------------------------------------------------------------------------


def _mean_ranks(values: list[float]) -> list[float]:
    """1-based ranks, highest value first, ties sharing their mean rank."""
    return [
        1.0 + sum(other > value for other in values) + (sum(o == value for o in values) - 1) / 2
        for value in values
    ]


def summarise(runs: list[dict], methods: list[str], problems: list[str], budgets: list[int]):
    """Median regret per (method, problem, budget), mean ranks per (method, budget)."""
    by_key: dict[tuple, list[dict]] = {}
    for run in runs:
        by_key.setdefault((run["method"], run["problem"], run["budget"]), []).append(run)
    median = {key: statistics.median(r["regret"] for r in rs) for key, rs in by_key.items()}
    ranks: dict[tuple, list[float]] = {}
    for problem in problems:
        for budget in budgets:
            seeds = set.intersection(
                *({r["seed"] for r in by_key.get((m, problem, budget), [])} for m in methods)
            )
            for seed in sorted(seeds):
                finals = [
                    next(
                        r["incumbent_full"]
                        for r in by_key[(m, problem, budget)]
                        if r["seed"] == seed
                    )
                    for m in methods
                ]
                for method, rank in zip(methods, _mean_ranks(finals)):
                    ranks.setdefault((method, budget), []).append(rank)
    mean_rank = {key: statistics.fmean(values) for key, values in ranks.items()}
    return by_key, median, mean_rank


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def regret_table(median, mean_rank, by_key, methods, problems, budgets) -> list[str]:
    """Median normalised regret per method, problem and budget; mean ranks; ms per trial."""
    columns = [(p, b) for p in problems for b in budgets]
    header = " | ".join(f"{p} @{b}" for p, b in columns)
    ranks = " | ".join(f"rank @{b}" for b in budgets)
    lines = [
        f"| method | {header} | {ranks} | oracle ms / trial | trials @{budgets[-1]} |",
        "|---|" + "---:|" * (len(columns) + len(budgets) + 2),
    ]
    for method in methods:
        cells = []
        for problem, budget in columns:
            value = median[(method, problem, budget)]
            best = min(median[(m, problem, budget)] for m in methods)
            cells.append(f"**{_fmt(value)}**" if value == best else _fmt(value))
        rank_cells = [f"{mean_rank.get((method, b), float('nan')):.2f}" for b in budgets]
        runs = [r for (m, _, _), rs in by_key.items() if m == method for r in rs]
        ms = 1000.0 * sum(r["oracle_s"] for r in runs) / max(1, sum(r["trials"] for r in runs))
        top = [
            r["trials"]
            for (m, _, b), rs in by_key.items()
            if m == method
            for r in rs
            if b == budgets[-1]
        ]
        trials = f"{statistics.fmean(top):.0f}" if top else "–"
        lines.append(
            f"| {LABELS[method]} | " + " | ".join(cells + rank_cells) + f" | {ms:.2f} | {trials} |"
        )
    return lines


def ratio_table(median, methods, problems, budgets) -> list[str]:
    """The evolutionary Hyperband's median regret divided by each other method's."""
    columns = [(p, b) for p in problems for b in budgets]
    lines = [
        "| against | " + " | ".join(f"{p} @{b}" for p, b in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for method in methods:
        if method == OURS:
            continue
        cells = []
        for problem, budget in columns:
            ours, theirs = median[(OURS, problem, budget)], median[(method, problem, budget)]
            cells.append("=" if ours == theirs else f"{ours / theirs:.2f}" if theirs else "inf")
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    return lines


def paired_table(by_key, methods, problems, budgets) -> list[str]:
    """Seeds where the evolutionary Hyperband's incumbent beats / ties / loses to each method's."""
    lines = [
        "| against | " + " | ".join(f"@{b} (win/tie/loss)" for b in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for method in methods:
        if method == OURS:
            continue
        cells = []
        for budget in budgets:
            counts = [0, 0, 0]
            for problem in problems:
                theirs = {r["seed"]: r["incumbent_full"] for r in by_key[(method, problem, budget)]}
                for run in by_key[(OURS, problem, budget)]:
                    if run["seed"] in theirs:
                        diff = run["incumbent_full"] - theirs[run["seed"]]
                        counts[0 if diff > 0 else 1 if diff == 0 else 2] += 1
            cells.append("/".join(map(str, counts)))
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    return lines


def target_lines(median, methods, problems, budgets) -> list[str]:
    """Issue 14's targets: lowest regret at 30 and 100, within 10% of the lowest at 10."""
    lines = []
    for budget in budgets:
        within = 1.0 if budget >= 30 else 1.1
        good, detail = [], []
        for problem in problems:
            lowest = min(median[(m, problem, budget)] for m in methods)
            ours = median[(OURS, problem, budget)]
            if ours <= within * lowest + 1e-12:
                good.append(problem)
            leader = min(methods, key=lambda m: median[(m, problem, budget)])
            detail.append(f"{problem}: {_fmt(ours)} vs {_fmt(lowest)} ({LABELS[leader]})")
        need = "the lowest" if within == 1.0 else "within 10% of the lowest"
        met = "met" if len(good) == len(problems) else "NOT met"
        lines.append(
            f"- {met}: {need} median regret at {budget} full trainings on every problem: "
            f"{len(good)}/{len(problems)}; " + "; ".join(detail)
        )
    return lines


def problem_table(refs: dict, problems: list[str]) -> list[str]:
    """Per problem: best and median full-training value, how short training ranks."""
    lines = [
        "| problem | configurations | best | median | Spearman 1 vs 27 | 3 vs 27 | 9 vs 27 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for problem in problems:
        ref = refs[problem]
        count = ref["configurations"] or "continuous"
        rho = ref["spearman"]
        lines.append(
            f"| {problem} | {count} | {ref['best']:.4g} | {ref['median']:.4g} | "
            + " | ".join(f"{rho[e]:.2f}" for e in (1, 3, 9))
            + " |"
        )
    return lines


def detail_table(by_key, methods, problems, budgets) -> list[str]:
    """Epochs used, trials, configurations and fidelity of the incumbent, means over seeds."""
    lines = [
        "| method | budget | epochs used / budget (min to max) | trials | configurations | "
        "incumbent epochs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method in methods:
        for budget in budgets:
            runs = [r for p in problems for r in by_key.get((method, p, budget), [])]
            if not runs:
                continue
            used = [r["epochs"] / r["budget_epochs"] for r in runs]
            lines.append(
                f"| {LABELS[method]} | {budget} | {min(used):.2f} to {max(used):.2f} | "
                f"{statistics.fmean(r['trials'] for r in runs):.0f} | "
                f"{statistics.fmean(r['configurations'] for r in runs):.0f} | "
                f"{statistics.fmean(r['top_epochs'] for r in runs):.1f} |"
            )
    return lines


def notes(runs: list[dict]) -> list[str]:
    """The Notes section: what was held out, the incumbent rule, the oracle's version."""
    digests = sorted({r.get("source", "?") for r in runs if r["method"] in OUR_METHODS})
    return [
        "## Notes",
        "",
        "- Held out: nothing (no problem design, no method setting) was tuned on `dense_real` "
        "or `mixed_crossing` (written after the defaults were chosen); every method runs "
        "with its defaults.",
        "- Incumbent: the best configuration among those trained the most epochs (DEHB's own "
        "`get_incumbents` compares scores across fidelities; it is not used).",
        f"- Runs of our oracles: package source digest(s) {', '.join(digests)} "
        + (
            "(one digest: every run used the same code)."
            if len(digests) == 1
            else "(runs of different code versions are mixed here)."
        ),
        "- A method may stop before its budget: Keras Tuner's oracles when their random draws "
        "keep colliding with tried configurations, the evolutionary oracles when the space is "
        "exhausted (`dense_real` is a finite grid); see 'epochs used / budget'.",
        "- Keras Tuner's oracles get seed `seeds.keras_tuner_seed(s)` for seed `s`: its "
        "consecutive seeds replay each other's random draws (`benchmarks/seeds.py`; with seeds "
        "1..10, 9 of 10 KT Hyperband searches of `mixed_crossing` ended at one configuration).",
    ]


def markdown(runs, refs, methods, problems, budgets, seeds, command) -> str:
    by_key, median, mean_rank = summarise(runs, methods, problems, budgets)
    compute = sum(r["total_s"] for r in runs)
    lines = [
        "# Multi-fidelity tuners at equal epoch budgets",
        "",
        f"`{command}`: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}) per method, problem and "
        f"budget; a budget of B full trainings is {MAX_EPOCHS} * B epochs; one worker. "
        "Problems, methods and the incumbent rule: see the script's docstring. "
        f"{len(runs)} runs, {compute:.0f} s of compute.",
        "",
        "## Problems",
        "",
        *problem_table(refs, problems),
        "",
        "Spearman: rank correlation of the score after 1, 3 and 9 epochs with the full-training "
        "value, over the reference configurations (1 = short training ranks as long training).",
        "",
        "## Median normalised regret of the incumbent's full-training value (lower is better)",
        "",
        *regret_table(median, mean_rank, by_key, methods, problems, budgets),
        "",
        "Bold: lowest median in the column. Rank @B: per problem and seed, methods ranked by "
        "the incumbent's full-training value (1 = best, ties share), averaged over problems "
        "and seeds. Oracle ms / trial: wall time inside the method's ask/tell calls (Keras "
        "Tuner oracles with their file saving on) per trial, over all runs (a promotion is a "
        "trial for the Hyperband oracles and DEHB; an Optuna trial is one configuration, "
        "however many epochs it reports).",
        "",
        f"## {LABELS[OURS]}'s median regret / each method's (< 1: lower regret)",
        "",
        *ratio_table(median, methods, problems, budgets),
        "",
        "Same seeds, all problems: how often its incumbent's full-training value is higher, "
        "equal, lower:",
        "",
        *paired_table(by_key, methods, problems, budgets),
        "",
        "## Budget use (all problems)",
        "",
        *detail_table(by_key, methods, problems, budgets),
        "",
        "## Issue 14's targets",
        "",
        *target_lines(median, methods, problems, budgets),
        "",
        *notes(runs),
    ]
    return "\n".join(lines) + "\n"


def plot(runs: list[dict], methods, problems, budgets, path: str) -> None:
    """Median regret against the budget, one panel per problem."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, median, _ = summarise(runs, methods, problems, budgets)
    fig, axes = plt.subplots(1, len(problems), figsize=(5 * len(problems), 4), squeeze=False)
    for ax, problem in zip(axes.flat, problems):
        for method in methods:
            style = {"linewidth": 2.5, "color": "black"} if method == OURS else {}
            values = [median[(method, problem, b)] for b in budgets]
            ax.plot(budgets, values, marker="o", label=LABELS[method], **style)
        ax.set_xscale("log")
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.set_title(problem)
        ax.set_xlabel("budget (full trainings)")
        ax.set_ylabel("median normalised regret")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _read_runs(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 1..N")
    parser.add_argument("--quick", action="store_true", help="smoke run into /tmp")
    parser.add_argument("--resume", action="store_true", help="run only the missing runs")
    parser.add_argument("--reuse", action="store_true", help="only rebuild the tables")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--ehb-options",
        default="{}",
        help="JSON arguments of EvolutionaryHyperbandOracle to try (not for the report)",
    )
    parser.add_argument("--output", default=os.path.join(RESULTS, "multi_fidelity"))
    return parser


def _run_jobs(jobs: list[tuple], workers: int, stored: list[dict], path: str) -> None:
    """Runs `jobs` in forked workers, appending each run to `stored` and the runs file."""
    for run in forked_runs(_job, jobs, workers, per_child=50):
        stored.append(run)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(run) + "\n")
        print(
            f"{run['method']:>22} {run['problem']:>20} B={run['budget']:<3} seed "
            f"{run['seed']}: regret {run['regret']:.3f} ({run['total_s']:.1f} s)",
            flush=True,
        )


def _drop_stale(stored: list[dict], path: str) -> list[dict]:
    """Our oracles' runs made by other code than this (`oracle_source`) are run again; the
    runs file is rewritten without them."""
    current = oracle_source()
    kept = [r for r in stored if r["method"] not in OUR_METHODS or r.get("source") == current]
    if len(kept) < len(stored):
        print(f"{len(stored) - len(kept)} stored runs of older code are run again.", flush=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(run) + "\n" for run in kept)
    return kept


def main(argv: list[str] | None = None) -> str:
    """Runs the missing runs, appends them to the runs file, writes and returns the tables."""
    args = _parser().parse_args(argv)
    EHB_OPTIONS.clear()
    EHB_OPTIONS.update(json.loads(args.ehb_options))
    if args.quick:
        args.seeds, args.budgets = 2, "3,10"
        args.problems = "dense_crossing,conditional_crossing"
        args.output = os.path.join(tempfile.gettempdir(), "multi_fidelity_quick")
    methods = [m for m in METHODS if m in args.methods.split(",")]
    problems = [p for p in PROBLEMS if p in args.problems.split(",")]
    budgets = sorted(int(b) for b in args.budgets.split(","))
    seeds = list(range(1, args.seeds + 1))
    path = args.output + "_runs.json"
    stored = _read_runs(path) if (args.resume or args.reuse) else []
    if not (args.resume or args.reuse) and os.path.exists(path):
        os.remove(path)
    if args.resume:
        stored = _drop_stale(stored, path)
    done = {(r["method"], r["problem"], r["seed"], r["budget"]) for r in stored}
    jobs = [
        (m, p, s, b)
        for b in budgets
        for s in seeds
        for p in problems
        for m in methods
        if (m, p, s, b) not in done and not args.reuse
    ]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _run_jobs(jobs, args.workers, stored, path)
    wanted = [
        r
        for r in stored
        if r["method"] in methods
        and r["problem"] in problems
        and r["budget"] in budgets
        and r["seed"] in seeds
    ]
    refs = {p: problem_and_reference(p)[1] for p in problems}
    command = "python benchmarks/multi_fidelity.py" + (" --quick" if args.quick else "")
    text = markdown(wanted, refs, methods, problems, budgets, seeds, command)
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(text)
    if not args.quick:
        plot(wanted, methods, problems, budgets, args.output + ".png")
    return text


if __name__ == "__main__":
    print(main())
