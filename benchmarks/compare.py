"""EvolutionaryOracle against the usual baselines, on zero-cost problems with known optima.

Run: `python benchmarks/compare.py` (10 seeds x 200 trials; `--quick` for a smoke run). Needs
`pip install -e ".[bench]"` (Optuna). Writes `benchmarks/results/compare.md`,
`benchmarks/results/compare.png` and the raw per-run data, one JSON line per run, under
`benchmarks/results/runs/` (`runs-seed{N}/` for `--first-seed N`). `--reuse` reads the other
methods' runs back, so that a tuning run recomputes only the methods it names; `--resume` keeps
the named methods' stored runs and runs only the missing ones, so that KT BayesianOptimization
(up to 20 minutes per run here) gains seeds across sessions:
`python benchmarks/compare.py --methods bayesian --resume` and, for the report,
`python benchmarks/compare.py --methods evolution,random,tpe,nsga2,naturalselection --reuse`.

Problems (all maximised, each over a Keras Tuner `HyperParameters` space, optimum known):

- `dense_deceptive`: the 15-hyperparameter dense-network space, mixed Choice/stepped Float,
  with a deceptive trap on the three categorical genes (see `sample_efficiency.py`).
- `conditional_arch`: an architecture space built with `conditional_scope`: an `arch` Choice
  (mlp / cnn / transformer) whose genes (layer counts, per-layer widths under nested scopes,
  kernel, pooling, heads, ...) are only active for that architecture, plus a shared optimizer
  Choice and a log-sampled continuous learning rate. The best architecture (cnn) is the
  hardest to get right. Optimum 4.5 (a supremum: the learning rate is continuous).
- `int_rastrigin`: negated Rastrigin on 6 `Int` in [-50, 50] (see `sample_efficiency.py`).
- `grid_rosenbrock`: negated 5-d Rosenbrock on `Float(-2, 2, step=0.01)` genes, optimum 0 at
  (1, ..., 1), a continuous ill-conditioned valley on a stepped grid.

HELD OUT: the evolution's defaults were tuned on the four problems above (`PROBLEMS`, which
`tune.py` reads); these three (`HELD_OUT_PROBLEMS`) were added afterwards and are never used to
tune them:

- `hartmann6`: the classic Hartmann 6-d function, sign flipped (maximised), on 6 continuous
  `Float(0, 1)` genes without step; optimum 3.32237 (`HARTMANN6_OPTIMUM`) at
  (0.2017, 0.1500, 0.4769, 0.2753, 0.3117, 0.6573). Smooth, multimodal; median random 0.098.
- `mixed_mlp`: an MLP on tabular data as a zero-cost validation accuracy: log learning rate
  (1e-5..1e-1), optimizer (adam / sgd / rmsprop), batch size (16..512), 1-5 layers with a
  units Choice each under `conditional_scope`, dropout in [0, 0.6], log weight decay
  (1e-7..1e-2), batch norm, activation. The best learning rate depends on the optimizer
  (sgd: 20x adam's, and less tolerant), grows with the batch size and with batch norm; depth
  pays only when the narrowest layer is wide; the best dropout grows with the width; weight
  decay, activation and batch size matter little. Optimum 0.96138 (a supremum: the
  continuous genes must hit their best values), adam, batch 64, batch norm, gelu, 3 x 256
  units; median random 0.638, best of 10,000 random 0.930.
- `nas_cell`: a NAS-Bench-201-shaped cell: six edges of a four-node DAG, each one of none /
  skip / conv1x1 / conv3x3 / avgpool (`Choice`), scored by per-edge effects (convolutions
  better, `none` worse) plus all pairwise interactions, drawn once from
  `numpy.random.default_rng(2026)` and rounded to 0.001; a cell with no path from input to
  output scores -6 (chance accuracy). Rugged: optimum 7.442 by enumerating all 5**6 cells,
  the next best 7.406, 7.305; median random 1.237.

Methods, all in this process, one worker, same budget, seeds 0..n-1 (`--first-seed` moves them):

- `evolution`: `EvolutionaryOracle` with its defaults (or `--evo-kwargs`).
- `random`, `bayesian`: Keras Tuner's `RandomSearchOracle` and `BayesianOptimizationOracle`
  with their defaults; `random` gets the seed `seeds.keras_tuner_seed(seed)`, so that its
  seeds are independent searches (`bayesian` keeps `seed`, see `run_bayesian`). BO's GP
  `predict` skips scikit-learn's per-call input checks (`posterior_predict`: same arithmetic,
  same proposals, 2-3x faster); its oracle ms per trial is therefore lower than stock KT's.
- `tpe`, `nsga2`: Optuna's `TPESampler` and `NSGAIISampler` with their defaults, through
  ask/tell; the Keras Tuner space is mapped define-by-run (Choice/Boolean -> categorical,
  Int -> int, Float -> float with its step or log), suggesting only the active
  hyperparameters, so conditional spaces are conditional for Optuna too.
- `naturalselection`: the original NaturalSelection 0.6 algorithm (`naturalselection_ga.py`),
  population 20, its defaults otherwise. Its roulette needs positive fitness: it gets
  `score - floor`, `floor` the worst score among the 10,000 random reference configurations
  (clipped at 1e-12).

Oracles are driven directly (`create_trial`, `update_trial`, `end_trial`) with Keras Tuner's
file saving switched off, as `sample_efficiency.py` does.

Metrics:

- normalised regret `(optimum - best so far) / (optimum - median)`, `median` the median score
  of 10,000 uniformly random configurations (seed 0): 0 is the optimum, 1 is as good as a
  typical random configuration; reported at 25, 50, 100 and 200 trials (`CHECKPOINTS`), mean
  and median over seeds;
- mean rank: per problem and seed, methods ranked by best score within the first B trials
  (1 = best, ties share the mean rank), averaged over problems and seeds, for B = 25, 50, 100,
  200. Only methods with every seed on every problem are ranked: one cut short (KT
  BayesianOptimization, `--bayesian-seeds`) gets no mean rank and is compared with the
  evolution on its own seeds instead;
- duplicates: evaluations of a configuration (its active values) already evaluated in the run;
- oracle ms per trial: CPU time (`time.process_time`, so that other jobs on the machine do not
  count) inside the method's ask/tell calls (saving off), per trial.

Issue #15's early targets are checked at the end of the report: mean rank first at every
budget from 50 trials on, at 25 trials no worse than TPE's, regret at the full budget at most
TPE's on every problem, zero duplicates, oracle time per trial at most twice RandomSearch's.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras_tuner as kt  # noqa: E402
import naturalselection_ga  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from keras_tuner.engine import hyperparameters as hp_module  # noqa: E402
from keras_tuner.engine.trial import TrialStatus  # noqa: E402
from provenance import forked_runs, oracle_source  # noqa: E402
from sample_efficiency import make_dense_deceptive, make_int_rastrigin  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402
from seeds import keras_tuner_seed  # noqa: E402
from sklearn.gaussian_process.kernels import Matern  # noqa: E402

from keras_tuner_evolution import space as space_lib  # noqa: E402
from keras_tuner_evolution.oracle import EvolutionaryOracle  # noqa: E402

RESULTS = os.path.join(HERE, "results")
OBJECTIVE = kt.Objective("score", "max")
CHECKPOINTS = (25, 50, 100, 200)
REFERENCE_SAMPLES = 10_000
METHODS = ("evolution", "random", "bayesian", "tpe", "nsga2", "naturalselection")
LABELS = {
    "evolution": "EvolutionaryOracle",
    "random": "KT RandomSearch",
    "bayesian": "KT BayesianOptimization",
    "tpe": "Optuna TPE",
    "nsga2": "Optuna NSGA-II",
    "naturalselection": "NaturalSelection 0.6",
}

Problem = tuple[kt.HyperParameters, Callable[[dict], float], float]


# Problems -------------------------------------------------------------------------------------


def _peak(value: float, target: float, width: float) -> float:
    """1 at `target`, falling linearly to 0 at distance `width`."""
    return max(0.0, 1.0 - abs(value - target) / width)


def make_conditional_arch() -> Problem:
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop", "adagrad"])
    hp.Float("learning_rate", 1e-5, 1e-1, sampling="log")
    hp.Choice("arch", ["mlp", "cnn", "transformer"])
    with hp.conditional_scope("arch", "mlp"):
        hp.Int("mlp_layers", 1, 4)
        for i in range(4):
            with hp.conditional_scope("mlp_layers", list(range(i + 1, 5))):
                hp.Choice(f"mlp_units{i}", [32, 64, 128, 256, 512, 1024])
        hp.Choice("mlp_activation", ["relu", "tanh", "gelu", "selu"])
    with hp.conditional_scope("arch", "cnn"):
        hp.Int("cnn_blocks", 1, 4)
        for i in range(4):
            with hp.conditional_scope("cnn_blocks", list(range(i + 1, 5))):
                hp.Choice(f"cnn_filters{i}", [8, 16, 32, 64, 128, 256])
        hp.Choice("cnn_kernel", [3, 5, 7])
        hp.Choice("cnn_pooling", ["max", "avg", "none"])
        hp.Float("cnn_dropout", 0.0, 0.5, step=0.05)
    with hp.conditional_scope("arch", "transformer"):
        hp.Choice("heads", [1, 2, 4, 8, 16])
        hp.Int("depth", 1, 8)
        hp.Float("tf_dropout", 0.0, 0.5, step=0.1)

    optimizer = {"adam": 1.0, "sgd": 0.3, "rmsprop": 0.7, "adagrad": 0.1}
    units = {32: 0, 64: 1, 128: 2, 256: 3, 512: 4, 1024: 5}
    filters = {8: 0, 16: 1, 32: 2, 64: 3, 128: 4, 256: 5}
    mlp_target = [4, 3, 2, 1]  # index into the unit choices, per layer
    cnn_target = [1, 2, 3, 4]

    def score(v: dict) -> float:
        total = optimizer[v["optimizer"]] + _peak(math.log10(v["learning_rate"]), -2.5, 3.0)
        if v["arch"] == "mlp":  # at most 1.5
            n = v["mlp_layers"]
            widths = [_peak(units[v[f"mlp_units{i}"]], mlp_target[i], 5) for i in range(n)]
            parts = [
                _peak(n, 3, 3),
                sum(widths) / n,
                {"relu": 0.6, "tanh": 0.3, "gelu": 1.0, "selu": 0.5}[v["mlp_activation"]],
            ]
            return total + 1.5 * sum(parts) / 3
        if v["arch"] == "transformer":  # at most 2.0
            parts = [
                {1: 0.2, 2: 0.5, 4: 1.0, 8: 0.7, 16: 0.3}[v["heads"]],
                _peak(v["depth"], 6, 7),
                _peak(v["tf_dropout"], 0.1, 0.5),
            ]
            return total + 2.0 * sum(parts) / 3
        n = v["cnn_blocks"]  # at most 2.5: four blocks, each width right
        widths = [_peak(filters[v[f"cnn_filters{i}"]], cnn_target[i], 5) for i in range(n)]
        parts = [
            _peak(n, 4, 3),
            sum(widths) / 4,
            {3: 1.0, 5: 0.6, 7: 0.2}[v["cnn_kernel"]],
            {"max": 0.4, "avg": 1.0, "none": 0.0}[v["cnn_pooling"]],
            _peak(v["cnn_dropout"], 0.25, 0.5),
        ]
        return total + 2.5 * sum(parts) / 5

    return hp, score, 4.5


def make_grid_rosenbrock(dims: int = 5) -> Problem:
    hp = kt.HyperParameters()
    for i in range(dims):
        hp.Float(f"x{i}", -2.0, 2.0, step=0.01)

    def score(v: dict) -> float:
        x = [v[f"x{i}"] for i in range(dims)]
        return -sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(dims - 1))

    return hp, score, 0.0


# Held-out problems: never used to tune the evolution's defaults. --------------------------

HARTMANN6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
HARTMANN6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
# The global maximiser (L-BFGS-B from the published point, tolerance 1e-15) and its value.
HARTMANN6_BEST = (0.2016895, 0.1500107, 0.4768740, 0.2753324, 0.3116516, 0.6573005)
HARTMANN6_OPTIMUM = 3.322368011415514


def hartmann6(x) -> float:
    """The Hartmann 6-d function, sign flipped (maximised): about 3.32237 at its optimum."""
    x = np.asarray(x, dtype=float)
    inner = (HARTMANN6_A * (x - HARTMANN6_P) ** 2).sum(axis=-1)
    return float(HARTMANN6_ALPHA @ np.exp(-inner))


def make_hartmann6() -> Problem:
    hp = kt.HyperParameters()
    for i in range(6):
        hp.Float(f"x{i}", 0.0, 1.0)

    def score(v: dict) -> float:
        return hartmann6([v[f"x{i}"] for i in range(6)])

    return hp, score, HARTMANN6_OPTIMUM


# mixed_mlp: per optimizer, the best log10 learning rate at batch size 64 without batch norm,
# the tolerance around it (decades, a Gaussian's sigma) and the accuracy it can reach.
MLP_OPTIMIZERS = {
    "adam": (-3.0, 0.7, 1.0),
    "rmsprop": (-3.3, 0.55, 0.985),
    "sgd": (-1.7, 0.45, 1.0),
}
MLP_UNITS = [32, 64, 128, 256, 512]
MLP_ACTIVATIONS = {"relu": 0.0, "gelu": 0.004, "swish": 0.003, "tanh": -0.01}
# Its optimum (a supremum: learning rate, dropout and weight decay are continuous), found by
# enumerating every discrete configuration with each continuous gene at its best value
# (`test_compare_benchmark.py` repeats the enumeration); reached, e.g., by MIXED_MLP_BEST.
MIXED_MLP_OPTIMUM = 0.9613849851714517
MIXED_MLP_BEST = {
    "learning_rate": 10**-2.6,
    "optimizer": "adam",
    "batch_size": 64,
    "num_layers": 3,
    "units0": 256,
    "units1": 256,
    "units2": 256,
    "dropout": 0.24,
    "weight_decay": 10**-4.5,
    "batch_norm": True,
    "activation": "gelu",
}


def _gauss(value: float, target: float, sigma: float) -> float:
    return math.exp(-0.5 * ((value - target) / sigma) ** 2)


def mixed_mlp_targets(v: dict) -> dict[str, float]:
    """The best value of each continuous gene, given the discrete ones (before clipping)."""
    centre = MLP_OPTIMIZERS[v["optimizer"]][0]
    widths = [math.log2(v[f"units{i}"] / 32) for i in range(v["num_layers"])]
    return {
        # Larger batches want larger steps; batch norm tolerates larger ones.
        "learning_rate": centre + 0.5 * math.log10(v["batch_size"] / 64) + 0.4 * v["batch_norm"],
        # Wider layers overfit more and want more dropout; batch norm regularises a little.
        "dropout": 0.05 + 0.08 * statistics.fmean(widths) - 0.05 * v["batch_norm"],
        "weight_decay": -4.0 if v["optimizer"] == "sgd" else -4.5,
    }


def make_mixed_mlp() -> Problem:
    """An MLP on tabular data, as a zero-cost validation accuracy (at most about 0.9614)."""
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-5, 1e-1, sampling="log")
    hp.Choice("optimizer", list(MLP_OPTIMIZERS))
    hp.Choice("batch_size", [16, 32, 64, 128, 256, 512])
    hp.Int("num_layers", 1, 5)
    for i in range(5):
        with hp.conditional_scope("num_layers", list(range(i + 1, 6))):
            hp.Choice(f"units{i}", MLP_UNITS)
    hp.Float("dropout", 0.0, 0.6)
    hp.Float("weight_decay", 1e-7, 1e-2, sampling="log")
    hp.Boolean("batch_norm")
    hp.Choice("activation", list(MLP_ACTIVATIONS))

    def score(v: dict) -> float:
        n, bn = v["num_layers"], v["batch_norm"]
        target = mixed_mlp_targets(v)
        _, sigma, ceiling = MLP_OPTIMIZERS[v["optimizer"]]
        sigma *= 1.25 if bn else 1.0
        lr = ceiling * _gauss(math.log10(v["learning_rate"]), target["learning_rate"], sigma)
        widths = [math.log2(v[f"units{i}"] / 32) for i in range(n)]  # 0 (32) .. 4 (512)
        # Each layer is best at 256 units; depth pays only when the narrowest layer is wide.
        width = statistics.fmean(_gauss(w, 3.0, 1.5) for w in widths)
        depth = _gauss(n, 1.0 + 0.75 * min(widths), 1.0) * (0.7 + 0.1 * min(n, 3))
        # Without the right dropout a wide network overfits.
        miss = 1.0 - _gauss(v["dropout"], target["dropout"], 0.12)
        regularised = 1.0 - (0.2 + 0.3 * statistics.fmean(widths) / 4) * miss
        activation = MLP_ACTIVATIONS[v["activation"]]
        if v["activation"] == "tanh" and not bn:
            activation -= 0.006 * (n - 1)  # saturates in deep networks without batch norm
        decay = _gauss(math.log10(v["weight_decay"]), target["weight_decay"], 1.5)
        return (
            0.55
            + 0.25 * lr
            + 0.15 * width * depth * regularised
            + activation
            + 0.003 * (n - 1) * bn
            + 0.006 * decay
            - 0.004 * abs(math.log2(v["batch_size"] / 64)) / 3
        )

    return hp, score, MIXED_MLP_OPTIMUM


NAS_OPS = ["none", "skip", "conv1x1", "conv3x3", "avgpool"]
# NAS-Bench-201's cell: edges (from node, to node) of a four-node DAG, node 0 in, node 3 out.
NAS_EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NAS_DISCONNECTED = -6.0  # a cell with no path from input to output: chance accuracy


def nas_cell_table() -> np.ndarray:
    """Scores of all 5**6 cells, indexed by their six op indices (edge 0 first)."""
    rng = np.random.default_rng(2026)
    # Convolutions help, `none` hurts, per edge; then every pair of edges interacts.
    base = np.array([-1.0, 0.0, 0.6, 1.0, 0.2])
    unary = np.round(base + rng.normal(0.0, 0.4, size=(6, 5)), 3)
    pairwise = np.round(rng.normal(0.0, 0.3, size=(6, 6, 5, 5)), 3)
    cells = np.array(np.meshgrid(*[range(5)] * 6, indexing="ij")).reshape(6, -1).T
    scores = unary[np.arange(6), cells].sum(axis=1)
    for i in range(6):
        for j in range(i + 1, 6):
            scores += pairwise[i, j, cells[:, i], cells[:, j]]
    connected = np.zeros((len(cells), 4), dtype=bool)
    connected[:, 0] = True
    for e, (a, b) in enumerate(NAS_EDGES):  # edges in topological order of their heads
        connected[:, b] |= connected[:, a] & (cells[:, e] != 0)
    scores = np.where(connected[:, 3], np.round(scores, 3), NAS_DISCONNECTED)
    return scores.reshape((5,) * 6)


def make_nas_cell() -> Problem:
    hp = kt.HyperParameters()
    for e in range(len(NAS_EDGES)):
        hp.Choice(f"edge{e}", NAS_OPS)
    table = nas_cell_table()

    def score(v: dict) -> float:
        return float(table[tuple(NAS_OPS.index(v[f"edge{e}"]) for e in range(len(NAS_EDGES)))])

    return hp, score, float(table.max())


# The problems the evolution's defaults were tuned on (`tune.py` reads this dict) ...
PROBLEMS: dict[str, Callable[[], Problem]] = {
    "dense_deceptive": make_dense_deceptive,
    "conditional_arch": make_conditional_arch,
    "int_rastrigin": make_int_rastrigin,
    "grid_rosenbrock": make_grid_rosenbrock,
}
# ... and those it never saw while tuning.
HELD_OUT_PROBLEMS: dict[str, Callable[[], Problem]] = {
    "hartmann6": make_hartmann6,
    "mixed_mlp": make_mixed_mlp,
    "nas_cell": make_nas_cell,
}
ALL_PROBLEMS = {**PROBLEMS, **HELD_OUT_PROBLEMS}


def reference(problem: str) -> dict[str, float]:
    """Median and worst score of uniformly random configurations (seed 0)."""
    space, score, optimum = ALL_PROBLEMS[problem]()
    rng = np.random.default_rng(0)
    scores = [score(space_lib.random_genome(space, rng)) for _ in range(REFERENCE_SAMPLES)]
    return {"optimum": optimum, "median": float(np.median(scores)), "worst": float(min(scores))}


# Methods --------------------------------------------------------------------------------------


class Recorder:
    """Scores in evaluation order, duplicates, and the problem's objective."""

    def __init__(self, problem: str, budget: int):
        self.space, self._score, _ = ALL_PROBLEMS[problem]()
        self.budget = budget
        self.scores: list[float] = []
        self.seen: set[str] = set()
        self.duplicates = 0

    def evaluate(self, values: dict) -> float:
        genome = space_lib.repair(self.space, values)
        key = space_lib.genome_hash(genome)
        if key in self.seen:
            self.duplicates += 1
        self.seen.add(key)
        value = float(self._score(genome))
        self.scores.append(value)
        return value

    @property
    def done(self) -> bool:
        return len(self.scores) >= self.budget


def _drive_oracle(oracle: kt.Oracle, rec: Recorder) -> float:
    """Runs a Keras Tuner oracle to the budget; returns the seconds spent in the oracle."""
    oracle._set_project_dir(tempfile.mkdtemp(prefix="kte-compare-"), "p")
    oracle.verbose = 0
    oracle.save = lambda: None
    oracle._save_trial = lambda trial: None
    spent = 0.0
    while not rec.done:
        t0 = time.process_time()
        trial = oracle.create_trial("tuner0")
        spent += time.process_time() - t0
        if trial.status == TrialStatus.STOPPED:
            break
        if trial.status != TrialStatus.RUNNING:
            raise RuntimeError(f"{type(oracle).__name__} answered {trial.status}.")
        value = rec.evaluate(trial.hyperparameters.values)
        t0 = time.process_time()
        oracle.update_trial(trial.trial_id, {"score": value})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
        spent += time.process_time() - t0
    return spent


def run_evolution(rec: Recorder, seed: int, evo_kwargs: dict) -> float:
    oracle = EvolutionaryOracle(
        objective=OBJECTIVE,
        hyperparameters=rec.space,
        max_trials=rec.budget,
        seed=seed,
        **evo_kwargs,
    )
    return _drive_oracle(oracle, rec)


def run_random(rec: Recorder, seed: int, _: dict) -> float:
    oracle = kt.oracles.RandomSearchOracle(
        objective=OBJECTIVE,
        hyperparameters=rec.space,
        max_trials=rec.budget,
        seed=keras_tuner_seed(seed),
    )
    return _drive_oracle(oracle, rec)


def run_bayesian(rec: Recorder, seed: int, _: dict) -> float:
    # Keeps Keras Tuner's consecutive seeds, whose initial random points overlap (seeds.py):
    # its stored runs took up to 20 minutes each, and a rerun would not fit a session.
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=OBJECTIVE, hyperparameters=rec.space, max_trials=rec.budget, seed=seed
    )
    oracle.gpr.predict = posterior_predict(oracle.gpr)
    return _drive_oracle(oracle, rec)


def posterior_predict(gpr) -> Callable:
    """`gpr.predict`, with the fitted-posterior `return_std` case done without input checks.

    KT's BayesianOptimizationOracle minimises its acquisition with L-BFGS-B and numerical
    gradients from 50 starts, calling `predict` on one point about 7,000 times per trial.
    scikit-learn validates the input on every call (array and dataframe checks, feature
    names), which was two thirds of a BO run's time here, and its kernel and triangular solve
    add wrapper checks of their own. This is the same arithmetic as scikit-learn 1.x's
    `GaussianProcessRegressor.predict` on that path, with KT's kernel (`Matern(nu=2.5)`) and
    the LAPACK solve that `solve_triangular` calls, in the same order, so it returns the same
    numbers and BO proposes the same trials (`test_compare_benchmark.py` checks it against
    `predict`); every other call goes to the original.
    """
    original = gpr.predict

    def predict(X, return_std=False, return_cov=False):
        fitted = hasattr(gpr, "X_train_")
        plain = isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == np.float64
        if not (fitted and plain and return_std and not return_cov):
            return original(X, return_std=return_std, return_cov=return_cov)
        kernel = gpr.kernel_
        if type(kernel) is Matern and kernel.nu == 2.5 and gpr.L_.flags.f_contiguous:
            # Matern.__call__(X, Y) for nu = 2.5, and solve_triangular's LAPACK call.
            scaled = math.sqrt(5) * cdist(
                X / kernel.length_scale, gpr.X_train_ / kernel.length_scale, "euclidean"
            )
            k_trans = (1.0 + scaled + scaled**2 / 3.0) * np.exp(-scaled)
            v, info = scipy.linalg.lapack.dtrtrs(gpr.L_, k_trans.T, lower=1)
            if info != 0:
                return original(X, return_std=return_std, return_cov=return_cov)
            y_var = np.ones(X.shape[0])  # Matern.diag
        else:
            k_trans = kernel(X, gpr.X_train_)
            v = scipy.linalg.solve_triangular(gpr.L_, k_trans.T, lower=True, check_finite=False)
            y_var = kernel.diag(X).copy()
        y_mean = gpr._y_train_std * (k_trans @ gpr.alpha_) + gpr._y_train_mean
        if y_mean.ndim > 1 and y_mean.shape[1] == 1:
            y_mean = np.squeeze(y_mean, axis=1)
        y_var -= np.einsum("ij,ji->i", v.T, v)
        y_var[y_var < 0] = 0.0  # as scikit-learn does, for rounding below zero
        y_var = np.outer(y_var, gpr._y_train_std**2).reshape(*y_var.shape, -1)
        if y_var.shape[1] == 1:
            y_var = np.squeeze(y_var, axis=1)
        return y_mean, np.sqrt(y_var)

    return predict


def _suggest(trial, space: kt.HyperParameters) -> dict:
    """Define-by-run: suggests the active hyperparameters of `space` in declaration order."""
    values: dict = {}
    for hp in space.space:
        if hp.name in values or not space_lib.is_active(hp, values):
            continue
        if isinstance(hp, hp_module.Fixed):
            values[hp.name] = hp.value
        elif isinstance(hp, hp_module.Boolean):
            values[hp.name] = trial.suggest_categorical(hp.name, [False, True])
        elif isinstance(hp, hp_module.Choice):
            values[hp.name] = trial.suggest_categorical(hp.name, list(hp.values))
        elif isinstance(hp, hp_module.Int):
            values[hp.name] = trial.suggest_int(
                hp.name, hp.min_value, hp.max_value, step=hp.step or 1, log=hp.sampling == "log"
            )
        elif isinstance(hp, hp_module.Float):
            log = hp.sampling == "log"
            values[hp.name] = trial.suggest_float(
                hp.name, hp.min_value, hp.max_value, step=None if log else hp.step, log=log
            )
        else:
            raise TypeError(f"No Optuna mapping for {type(hp).__name__}.")
    return values


def _run_optuna(rec: Recorder, sampler) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    spent = 0.0
    while not rec.done:
        t0 = time.process_time()
        trial = study.ask()
        values = _suggest(trial, rec.space)
        spent += time.process_time() - t0
        value = rec.evaluate(values)
        t0 = time.process_time()
        study.tell(trial, value)
        spent += time.process_time() - t0
    return spent


def run_tpe(rec: Recorder, seed: int, _: dict) -> float:
    import optuna

    return _run_optuna(rec, optuna.samplers.TPESampler(seed=seed))


def run_nsga2(rec: Recorder, seed: int, _: dict) -> float:
    import optuna

    return _run_optuna(rec, optuna.samplers.NSGAIISampler(seed=seed))


def _gene_values(hp) -> list:
    domain = space_lib.finite_domain(hp)
    if domain is not None:
        return domain
    return [space_lib.prob_to_value(hp, p) for p in np.linspace(0.0, 1.0, 101)]


def run_naturalselection(rec: Recorder, seed: int, extra: dict) -> float:
    floor = extra["worst"]
    genes = [(hp.name, _gene_values(hp)) for hp in rec.space.space]
    inside = 0.0

    def fitness(values: dict) -> float:
        nonlocal inside
        if rec.done:
            raise naturalselection_ga.BudgetExhausted
        t0 = time.process_time()
        value = rec.evaluate(values)
        inside += time.process_time() - t0
        return max(value - floor, 1e-12)

    t0 = time.process_time()
    naturalselection_ga.evolve(genes, fitness, size=20, seed=seed)
    return time.process_time() - t0 - inside


RUNNERS = {
    "evolution": run_evolution,
    "random": run_random,
    "bayesian": run_bayesian,
    "tpe": run_tpe,
    "nsga2": run_nsga2,
    "naturalselection": run_naturalselection,
}


def _read_runs(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _key(run: dict) -> tuple:
    return run["method"], run["problem"], run["seed"], run["budget"]


def run_one(job: tuple) -> dict:
    method, problem, seed, budget, extra = job
    logging.getLogger("keras_tuner_evolution").setLevel(logging.ERROR)
    rec = Recorder(problem, budget)
    t0 = time.perf_counter()
    oracle_s = RUNNERS[method](rec, seed, extra)
    return {
        "method": method,
        "problem": problem,
        "seed": seed,
        "budget": budget,
        "scores": [float(f"{v:.7g}") for v in rec.scores],
        "duplicates": rec.duplicates,
        "oracle_s": oracle_s,
        "total_s": time.perf_counter() - t0,
        **({"keras_tuner_seed": keras_tuner_seed(seed)} if method == "random" else {}),
        **({"source": oracle_source()} if method == "evolution" else {}),
    }


def is_current(run: dict) -> bool:
    """False for a stored run that would not be made again today, which is run again rather
    than mixed with the new ones: an evolution run made by other code than the installed
    package's (`provenance.oracle_source`), or a KT RandomSearch run from before its seeds
    were spaced (seeds.py)."""
    if run["method"] == "evolution":
        return run.get("source") == oracle_source()
    return run["method"] != "random" or "keras_tuner_seed" in run


def _current_runs(path: str) -> list[dict]:
    """The stored runs of `path` that `is_current`; says how many others it leaves out."""
    runs = _read_runs(path)
    current = [run for run in runs if is_current(run)]
    if len(current) < len(runs):
        print(
            f"{len(runs) - len(current)} runs in {os.path.basename(path)} were made by other "
            "code (or with old Keras Tuner seeds): left out (--resume with their method runs "
            "them again).",
            flush=True,
        )
    return current


# Metrics and report ---------------------------------------------------------------------------


def _budgets(method: str, trials: int, own_budgets: bool) -> list[int]:
    """The budgets a method runs at: the full one, and for the evolution with `--own-budgets`
    each smaller checkpoint too."""
    if method == "evolution" and own_budgets:
        return [c for c in CHECKPOINTS if c < trials] + [trials]
    return [trials]


def _with_own_budgets(run: dict, cached: dict, trials: int) -> dict:
    """The full run with `own`: the best score of each smaller checkpoint's own search, and
    `own_duplicates`: those searches' duplicate evaluations."""
    shorter = [
        cached[(run["method"], run["problem"], run["seed"], c)]
        for c in CHECKPOINTS
        if c < trials and (run["method"], run["problem"], run["seed"], c) in cached
    ]
    own = {short["budget"]: max(short["scores"]) for short in shorter}
    return {**run, "own": own, "own_duplicates": sum(short["duplicates"] for short in shorter)}


def method_label(method: str, seed_counts: list[int], seeds: int) -> str:
    """The method's name, with its number of seeds when it was cut short on some problem."""
    fewer, most = min(seed_counts), max(seed_counts)
    if fewer >= seeds:
        return LABELS[method]
    span = f"{fewer} to {most}" if most > fewer else str(fewer)
    return f"{LABELS[method]} ({span} seed{'s' if most > 1 else ''})"


def best_so_far(scores: list[float], budget: int) -> np.ndarray:
    curve = np.maximum.accumulate(np.asarray(scores, dtype=float))
    if len(curve) < budget:  # a method that stopped early keeps its best
        curve = np.concatenate([curve, np.full(budget - len(curve), curve[-1])])
    return curve[:budget]


def checkpoint_curve(run: dict, budget: int, own: bool = True) -> np.ndarray:
    """`best_so_far` of a run, where at each checkpoint with a search of its own budget
    (`run["own"]`, `--own-budgets`) the best of that search replaces the read-off value."""
    curve = best_so_far(run["scores"], budget)
    if own and run.get("own"):
        curve = curve.copy()
        for checkpoint, best in run["own"].items():
            curve[int(checkpoint) - 1] = best
    return curve


def regret_curves(runs: list[dict], ref: dict, budget: int, own: bool = True) -> np.ndarray:
    span = ref["optimum"] - ref["median"]
    return np.asarray([(ref["optimum"] - checkpoint_curve(r, budget, own)) / span for r in runs])


def summarise(results: dict, refs: dict, methods: list[str], problems: list[str], budget: int):
    """Per (method, problem): regret at checkpoints, duplicates, ms per trial; mean ranks.

    Returns the table, the mean ranks at `budget` and the mean ranks at each checkpoint up to
    `budget` (and at `budget`): `{trials: {method: rank}}`, None for a method cut short.
    """
    table: dict = {}
    for problem in problems:
        for method in methods:
            runs = results[(method, problem)]
            curves = regret_curves(runs, refs[problem], budget)
            trials = sum(len(r["scores"]) for r in runs)
            table[(method, problem)] = {
                "seeds": len(runs),
                # The plot's curve: one search's best so far (never mixed with other searches).
                "curve": regret_curves(runs, refs[problem], budget, own=False).mean(axis=0),
                "at": {c: float(curves[:, c - 1].mean()) for c in CHECKPOINTS if c <= budget},
                "final_std": float(curves[:, -1].std()),
                "final_median": float(np.median(curves[:, -1])),
                "median_at": {
                    c: float(np.median(curves[:, c - 1])) for c in CHECKPOINTS if c <= budget
                },
                "duplicates": statistics.fmean(
                    r["duplicates"] + r.get("own_duplicates", 0) for r in runs
                ),
                "own_budgets": any(r.get("own") for r in runs),
                "ms_per_trial": 1000.0 * sum(r["oracle_s"] for r in runs) / max(1, trials),
                "ms_by_seed": {
                    r["seed"]: 1000.0 * r["oracle_s"] / max(1, len(r["scores"])) for r in runs
                },
            }
    # Methods cut short (fewer seeds) are left out of the ranks, and compared with the
    # evolution on their own seeds instead (paired).
    most = max(table[(m, p)]["seeds"] for m in methods for p in problems)
    ranked = [m for m in methods if all(table[(m, p)]["seeds"] == most for p in problems)]
    budgets = sorted({c for c in CHECKPOINTS if c <= budget} | {budget})
    ranks: dict[int, dict[str, list[float]]] = {b: {m: [] for m in ranked} for b in budgets}
    for problem in problems:
        common = set.intersection(*({r["seed"] for r in results[(m, problem)]} for m in ranked))
        for seed in sorted(common):
            curves = []
            for method in ranked:
                run = next(r for r in results[(method, problem)] if r["seed"] == seed)
                curves.append(checkpoint_curve(run, budget))
            for b in budgets:
                order = -np.asarray([curve[b - 1] for curve in curves])
                for method, rank in zip(ranked, _mean_ranks(order)):
                    ranks[b][method].append(rank)
        if "evolution" not in methods:
            continue
        for method in set(methods) - set(ranked):
            seeds = {r["seed"] for r in results[(method, problem)]}
            paired = [r for r in results[("evolution", problem)] if r["seed"] in seeds]
            curves = regret_curves(paired, refs[problem], budget)
            table[(method, problem)]["evolution_same_seeds"] = float(curves[:, -1].mean())
            own = regret_curves(results[(method, problem)], refs[problem], budget)
            evolution_by_seed = dict(zip((r["seed"] for r in paired), curves[:, -1]))
            table[(method, problem)]["per_seed"] = [
                (run["seed"], float(evolution_by_seed[run["seed"]]), float(curve[-1]))
                for run, curve in zip(results[(method, problem)], own)
                if run["seed"] in evolution_by_seed
            ]
    rank_at = {
        b: {m: statistics.fmean(ranks[b][m]) if m in ranked else None for m in methods}
        for b in budgets
    }
    return table, rank_at[budget], rank_at


def _by_rank(mean_rank: dict) -> list[str]:
    """Methods by mean rank; those cut short (no rank) last."""
    return sorted(mean_rank, key=lambda m: (mean_rank[m] is None, mean_rank[m] or 0.0))


def _mean_ranks(values: np.ndarray) -> list[float]:
    """1-based ranks of `values` (smallest first), ties sharing their mean rank."""
    ranks = np.empty(len(values))
    order = values.argsort(kind="stable")
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return [float(r) for r in ranks]


def targets(table: dict, problems: list[str], methods: list[str], budget: int) -> list[str]:
    if "evolution" not in methods or budget not in CHECKPOINTS:
        return []
    lines = []

    def regret(method, problem):
        return table[(method, problem)]["at"][budget]

    def evolution_against(method, problem):
        entry = table[(method, problem)]
        return entry.get("evolution_same_seeds", regret("evolution", problem))

    checks = [
        ("random", "at most half of KT RandomSearch's regret", lambda e, b: e <= 0.5 * b, 1.0),
        ("nsga2", "lower than Optuna NSGA-II", lambda e, b: e < b, 1.0),
        ("naturalselection", "lower than NaturalSelection 0.6", lambda e, b: e < b, 1.0),
        ("tpe", "lower than Optuna TPE", lambda e, b: e < b, 0.5),
        ("bayesian", "lower than KT BayesianOptimization", lambda e, b: e < b, 0.5),
    ]
    for method, text, ok, share in checks:
        if method not in methods:
            continue
        good = [p for p in problems if ok(evolution_against(method, p), regret(method, p))]
        need = "every problem" if share == 1.0 else "at least half of the problems"
        met = len(good) >= math.ceil(share * len(problems))
        paired = "evolution_same_seeds" in table[(method, problems[0])]
        lines.append(
            f"- {'met' if met else 'NOT met'}: {text} on {need}: "
            f"{len(good)}/{len(problems)} ({', '.join(good) or 'none'})"
            + (
                " (on its seeds only; the evolution's regret there: "
                + " / ".join(f"{evolution_against(method, p):.3f}" for p in problems)
                + ")"
                if paired
                else ""
            )
        )
    dups = sum(table[("evolution", p)]["duplicates"] for p in problems)
    lines.append(f"- {'met' if dups == 0 else 'NOT met'}: zero duplicate evaluations ({dups:g})")
    return lines


def early_targets(table: dict, rank_at: dict, problems: list[str], methods: list[str]) -> list[str]:
    """Issue #15's targets: first early, from 25 trials on, at TPE's cost or less."""
    if "evolution" not in methods:
        return []
    budget = max(rank_at)
    lines = []
    ranked_evolution = rank_at[budget]["evolution"] is not None  # None: cut short
    later = [b for b in rank_at if b >= 50] if ranked_evolution else []
    if later:
        first = []
        for b in later:
            ranked = {m: r for m, r in rank_at[b].items() if r is not None}
            if ranked["evolution"] == min(ranked.values()):
                first.append(b)
        lines.append(
            f"- {'met' if len(first) == len(later) else 'NOT met'}: mean rank first at every "
            f"budget from 50 trials on: first at {', '.join(map(str, first)) or 'none'} of "
            + ", ".join(map(str, later))
        )
    if ranked_evolution and "tpe" in methods and 25 in rank_at and rank_at[25]["tpe"] is not None:
        ours, tpe = rank_at[25]["evolution"], rank_at[25]["tpe"]
        lines.append(
            f"- {'met' if ours <= tpe else 'NOT met'}: mean rank at 25 trials no worse than "
            f"Optuna TPE's ({ours:.2f} against {tpe:.2f})"
        )
    if "tpe" in methods:
        entries = {p: table[("tpe", p)] for p in problems}
        worse = [
            p
            for p, e in entries.items()
            if e.get("evolution_same_seeds", table[("evolution", p)]["at"][budget])
            > e["at"][budget]
        ]
        lines.append(
            f"- {'met' if not worse else 'NOT met'}: regret at {budget} trials at most Optuna "
            f"TPE's on every problem (worse on: {', '.join(worse) or 'none'})"
        )
    if "random" in methods:
        ms = {m: statistics.fmean(table[(m, p)]["ms_per_trial"] for p in problems) for m in methods}
        ratio = ms["evolution"] / ms["random"] if ms["random"] > 0 else math.inf
        lines.append(
            f"- {'met' if ratio <= 2.0 else 'NOT met'}: oracle time per trial at most twice KT "
            f"RandomSearch's ({ms['evolution']:.2f} ms against {ms['random']:.2f}: {ratio:.2f}x; "
            + overhead_by_problem(table, problems)
            + ")"
        )
    return lines


def overhead_by_problem(table: dict, problems: list[str]) -> str:
    """The evolution's oracle time per trial over RandomSearch's, problem by problem: the mean
    over problems weighs the large spaces, where Keras Tuner's own work per trial (copying the
    space) is largest, and hides the small ones, where the evolution's share is largest."""
    ratios = {
        p: table[("evolution", p)]["ms_per_trial"] / table[("random", p)]["ms_per_trial"]
        for p in problems
        if table[("random", p)]["ms_per_trial"] > 0
    }
    if not ratios:
        return "per problem: no RandomSearch time"
    above = [p for p, r in ratios.items() if r > 2.0]
    return (
        f"per problem {min(ratios.values()):.2f}x to {max(ratios.values()):.2f}x, above 2x on "
        f"{len(above)} of {len(ratios)}"
        + (f": {', '.join(above)}" if above else "")
        + paired_overhead(table, problems)
    )


def paired_overhead(table: dict, problems: list[str]) -> str:
    """The median over problems and seeds of the evolution's oracle time per trial over
    RandomSearch's on the same problem and seed: every problem weighs alike, where the mean
    time per trial (the target) is dominated by the large spaces. Empty without seeds."""
    ratios = [
        ms / random_ms
        for p in problems
        for seed, ms in table[("evolution", p)].get("ms_by_seed", {}).items()
        if (random_ms := table[("random", p)].get("ms_by_seed", {}).get(seed, 0)) > 0
    ]
    if not ratios:
        return ""
    return f"; median of the paired ratios per problem and seed {statistics.median(ratios):.2f}x"


def markdown(
    table, mean_rank, refs, methods, problems, budget, seeds, seconds, evo_kwargs, rank_at=None
):
    checkpoints = [c for c in CHECKPOINTS if c <= budget]
    rank_at = rank_at or {budget: mean_rank}
    held_out = [p for p in problems if p in HELD_OUT_PROBLEMS]
    settings = f" with `{json.dumps(evo_kwargs)}`" if evo_kwargs else " with its defaults"
    first = f" --first-seed {seeds.start}" if seeds.start else ""
    evolution = [table[("evolution", p)] for p in problems if ("evolution", p) in table]
    own = any(entry.get("own_budgets") for entry in evolution)
    first += " --own-budgets" if own else ""
    lines = [
        "# EvolutionaryOracle vs baselines",
        "",
        f"`python benchmarks/compare.py --trials {budget} --seeds {len(seeds)}{first}`: "
        f"{budget} trials, {len(seeds)} seeds ({seeds.start}..{seeds.stop - 1}) per method and "
        f"problem, one worker. EvolutionaryOracle{settings}, every run by the package of "
        f"code digest `{oracle_source()}` (`benchmarks/provenance.py`: stored runs of other "
        "code are run again). "
        "Normalised regret = (optimum - best so far) / (optimum - median random score): "
        "0 is the optimum, 1 a typical random configuration; lower is better; mean over seeds. "
        "See the script's docstring for the problems and methods. "
        + (
            "With `--own-budgets`: the evolution's values at 25, 50 and 100 trials come from "
            "searches with `max_trials` of that budget (its budget-aware defaults apply, as "
            "for a user with that budget), the plot's curves and the 200-trial values from the "
            "full searches; no other method depends on its budget, so their full runs give "
            "every budget. "
            if own
            else ""
        )
        + f"Took {seconds:.0f} s of compute.",
        "",
        "| problem | optimum | median random |",
        "|---|---:|---:|",
    ]
    for problem in problems:
        lines.append(
            f"| {problem}{' (held out)' if problem in held_out else ''} | "
            f"{refs[problem]['optimum']:.4g} | {refs[problem]['median']:.4g} |"
        )
    if held_out:
        lines += [
            "",
            "Held out: never used to tune the evolution's defaults (`tune.py` tunes on the "
            "others).",
        ]
    header = " | ".join(f"{p} @{c}" for p in problems for c in checkpoints)
    lines += [
        "",
        "## Normalised regret (lower is better)",
        "",
        f"| method | {header} | mean rank | duplicates / run | oracle ms / trial |",
        "|---|" + "---:|" * (len(problems) * len(checkpoints) + 3),
    ]
    for method in _by_rank(mean_rank):
        cells = []
        for problem in problems:
            best_at = {c: min(table[(m, problem)]["at"][c] for m in methods) for c in checkpoints}
            for c in checkpoints:
                value = table[(method, problem)]["at"][c]
                text = f"{value:.3f}"
                cells.append(f"**{text}**" if value == best_at[c] else text)
        dups = statistics.fmean(table[(method, p)]["duplicates"] for p in problems)
        ms = statistics.fmean(table[(method, p)]["ms_per_trial"] for p in problems)
        label = method_label(method, [table[(method, p)]["seeds"] for p in problems], len(seeds))
        rank = "–" if mean_rank[method] is None else f"{mean_rank[method]:.2f}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {rank} | {dups:.1f} | {ms:.2f} |")
    lines += [
        "",
        "Bold: best mean regret in the column. Mean rank: per problem and seed, by best score "
        f"at {budget} trials (1 = best), averaged (at other budgets below). Duplicates: "
        "evaluations of "
        "an already evaluated configuration, mean per run over the problems. A method marked "
        "with fewer seeds was cut short (Keras Tuner's BayesianOptimization took 3 to 20 "
        "minutes per 200-trial run here, on two shared cores, with the GP prediction "
        "shortcut of `posterior_predict`, 2-3 times that without: its oracle ms per trial "
        "mixes runs timed with and without it; `--methods bayesian --resume` adds seeds); "
        "its mean is over those seeds, it has no mean rank, and the targets "
        "compare it with the evolution on the same seeds, also shown seed by seed below."
        + (
            " Keras Tuner's BayesianOptimization oracle takes seed 0 for 'no seed' (`seed or "
            "random.randint(...)`), so its seed-0 runs are not reproducible; the other seeds "
            "are."
            if seeds.start == 0
            else ""
        )
        + " Keras Tuner's RandomSearch gets `seeds.keras_tuner_seed(seed)` (since 2026-11-30): "
        "Keras Tuner draws value i with `random.Random(seed + i)`, so consecutive seeds replay "
        "each other's draws. BayesianOptimization keeps the consecutive seeds (its runs took "
        "hours), so its initial random points overlap from seed to seed.",
    ]

    def per_problem(title: str, cell) -> None:
        """A table of one `cell(method, problem)` per method (by rank) and problem."""
        lines.extend(["", title, "", "| method | " + " | ".join(problems) + " |"])
        lines.append("|---|" + "---:|" * len(problems))
        for method in _by_rank(mean_rank):
            cells = [cell(method, p) for p in problems]
            lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")

    def mean_std(method: str, problem: str) -> str:
        entry = table[(method, problem)]
        return f"{entry['at'][checkpoints[-1]]:.3f} ± {entry['final_std']:.3f}"

    def median_ratio(method: str, problem: str) -> str:
        median = table[(method, problem)]["final_median"]
        base = table[("random", problem)]["final_median"] if "random" in methods else 0.0
        return f"{median:.3f}" + (f" ({median / base:.2f}x)" if base > 0 else "")

    ranked = [m for m in _by_rank(mean_rank) if mean_rank[m] is not None]
    budgets = sorted(rank_at)
    lines += [
        "",
        "## Mean rank by budget",
        "",
        "Per problem and seed, the methods with every seed ranked by best score within the "
        "first B trials (1 = best, ties share their mean rank), averaged over problems and "
        "seeds. Methods cut short have none.",
        "",
        "| method | " + " | ".join(f"@{b}" for b in budgets) + " |",
        "|---|" + "---:|" * len(budgets),
    ]
    for method in ranked:
        cells = []
        for b in budgets:
            best = min(rank_at[b][m] for m in ranked)
            text = f"{rank_at[b][method]:.2f}"
            cells.append(f"**{text}**" if rank_at[b][method] == best else text)
        lines.append(f"| {LABELS[method]} | " + " | ".join(cells) + " |")
    for c in checkpoints:
        lines += [
            "",
            f"## Median regret at {c} trials (over seeds)",
            "",
            "| method | " + " | ".join(problems) + f" | mean rank @{c} |",
            "|---|" + "---:|" * (len(problems) + 1),
        ]
        for method in _by_rank(mean_rank):
            cells = []
            for problem in problems:
                value = table[(method, problem)]["median_at"][c]
                best = min(table[(m, problem)]["median_at"][c] for m in methods)
                cells.append(f"**{value:.3f}**" if value == best else f"{value:.3f}")
            rank = rank_at.get(c, {}).get(method)
            label = method_label(
                method, [table[(method, p)]["seeds"] for p in problems], len(seeds)
            )
            cells.append("–" if rank is None else f"{rank:.2f}")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    per_problem(f"## Regret at {budget} trials per problem (mean ± std over seeds)", mean_std)
    per_problem(
        f"## Median regret at {budget} trials over seeds (ratio to KT RandomSearch's median)",
        median_ratio,
    )
    for method in [m for m in methods if "per_seed" in table[(m, problems[0])]]:
        lines += [
            "",
            f"## {LABELS[method]} and the evolution, seed by seed (regret at {budget} trials)",
            "",
            f"Each cell: the evolution's regret / {LABELS[method]}'s, on the same seed.",
            "",
            "| seed | " + " | ".join(problems) + " |",
            "|---:|" + "---:|" * len(problems),
        ]
        by_seed: dict[int, dict[str, str]] = {}
        for problem in problems:
            for seed, evolution, other in table[(method, problem)].get("per_seed", []):
                by_seed.setdefault(seed, {})[problem] = f"{evolution:.3f} / {other:.3f}"
        for seed in sorted(by_seed):
            cells = [by_seed[seed].get(p, "–") for p in problems]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    checks = targets(table, problems, methods, budget)
    if checks:
        lines += ["", f"## Targets (regret at {budget} trials)", "", *checks]
    early = early_targets(table, rank_at, problems, methods)
    if early:
        lines += [
            "",
            "## Early targets (issue #15)",
            "",
            "Mean ranks as in the table by budget (methods cut short not ranked); regret: mean "
            "over seeds (TPE cut short: the evolution on TPE's seeds); oracle time: mean of the "
            "problems' ms per trial.",
            "",
            *early,
        ]
    return "\n".join(lines) + "\n"


def plot(table, methods, problems, budget, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 2
    rows = math.ceil(len(problems) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(11, 4 * rows), squeeze=False)
    x = np.arange(1, budget + 1)
    for ax, problem in zip(axes.flat, problems):
        for method in methods:
            curve = np.maximum(table[(method, problem)]["curve"], 1e-4)
            style = {"linewidth": 2.5, "color": "black"} if method == "evolution" else {}
            ax.plot(x, curve, label=LABELS[method], **style)
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("trials")
        ax.set_ylabel("normalised regret (mean)")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _run_jobs(jobs: list[tuple], workers: int, cached: dict, files: dict[str, str]) -> None:
    """Runs `jobs` in forked workers, adding each run to `cached` and its method's file."""
    for run in forked_runs(run_one, jobs, workers, per_child=20):
        cached[_key(run)] = run
        with open(files[run["method"]], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(run) + "\n")
        print(
            f"{run['method']:>16} {run['problem']:>16} seed {run['seed']}: best "
            f"{max(run['scores']):.4g}, {run['duplicates']} dup, {run['total_s']:.1f} s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="budget per run")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first..first+n-1 (held-out checks)"
    )
    parser.add_argument(
        "--bayesian-seeds",
        type=int,
        default=None,
        help="run KT BayesianOptimization on only the first N seeds (minutes per run)",
    )
    parser.add_argument("--quick", action="store_true", help="3 seeds x 50 trials, smoke test")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--problems", default=",".join(ALL_PROBLEMS))
    parser.add_argument("--evo-kwargs", default="{}", help="JSON EvolutionaryOracle arguments")
    parser.add_argument(
        "--reuse", action="store_true", help="take the other methods' runs from results/runs/"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the named methods' stored runs and run only the missing ones",
    )
    parser.add_argument("--tag", default="", help="file name of this run's evolution runs")
    parser.add_argument(
        "--own-budgets",
        action="store_true",
        help="the evolution's value at each smaller checkpoint B comes from a search with "
        "max_trials=B (its budget-aware defaults apply), not from the full run",
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--output", default=os.path.join(RESULTS, "compare"))
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.seeds = 50, 3
    evo_kwargs = json.loads(args.evo_kwargs)
    requested = [m for m in args.methods.split(",") if m]
    problems = [p for p in args.problems.split(",") if p]
    for name in requested:
        if name not in RUNNERS:
            parser.error(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    for name in problems:
        if name not in ALL_PROBLEMS:
            parser.error(f"unknown problem {name!r}; choose from {', '.join(ALL_PROBLEMS)}")

    refs = {p: reference(p) for p in problems}
    # Held-out seeds keep their runs apart, so `--reuse` never mixes seed ranges.
    store = os.path.join(RESULTS, "runs" + (f"-seed{args.first_seed}" if args.first_seed else ""))
    os.makedirs(store, exist_ok=True)
    # Runs are appended as they finish, one file per method (the evolution's under --tag).
    files = {
        m: os.path.join(store, f"{args.tag if m == 'evolution' and args.tag else m}.jsonl")
        for m in requested
    }
    cached: dict = {}
    if args.reuse:
        for name in sorted(os.listdir(store)):
            method = name[: -len(".jsonl")]
            if method in METHODS and method not in requested:
                for run in _current_runs(os.path.join(store, name)):
                    cached[_key(run)] = run
    for path in files.values():
        if args.resume and os.path.exists(path):
            kept = _current_runs(path)
            with open(path, "w", encoding="utf-8") as handle:  # without the runs left out
                handle.writelines(json.dumps(run) + "\n" for run in kept)
            for run in kept:
                cached[_key(run)] = run
        elif os.path.exists(path):
            os.remove(path)
    jobs = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    for seed in seeds:  # seed-major: an interrupted run still covers every problem
        for method in requested:
            if method == "bayesian" and args.bayesian_seeds is not None:
                if seed >= args.first_seed + args.bayesian_seeds:
                    continue
            for problem in problems:
                extra = evo_kwargs if method == "evolution" else {"worst": refs[problem]["worst"]}
                for budget in _budgets(method, args.trials, args.own_budgets):
                    if (method, problem, seed, budget) not in cached:  # --resume: stored
                        jobs.append((method, problem, seed, budget, extra))
    started = time.perf_counter()
    _run_jobs(jobs, args.workers, cached, files)
    results = {}
    for method in METHODS:
        for problem in problems:
            runs = [
                cached[(method, problem, s, args.trials)]
                for s in seeds
                if (method, problem, s, args.trials) in cached
            ]
            if runs and method == "evolution" and args.own_budgets:
                runs = [_with_own_budgets(run, cached, args.trials) for run in runs]
            if runs:
                results[(method, problem)] = runs
    methods = [m for m in METHODS if all((m, p) in results for p in problems)]
    compute = sum(r["total_s"] for runs in results.values() for r in runs)
    table, mean_rank, rank_at = summarise(results, refs, methods, problems, args.trials)
    text = markdown(
        table, mean_rank, refs, methods, problems, args.trials, seeds, compute, evo_kwargs, rank_at
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output + ".md", "w", encoding="utf-8") as handle:
        handle.write(text)
    plot(table, methods, problems, args.trials, args.output + ".png")
    print(text)
    print(f"Wall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
