"""Tries EvolutionaryOracle settings against the stored baselines; one block of rows each.

Run: `python benchmarks/tune.py '{}' '{"mutation_rate": 0.1}' '{"guidance": null}' ...`
(10 seeds x 200 trials per setting and problem, about a minute per setting on two cores).

Problems: the four original problems of `compare.py` and the three tuning-only continuous
problems of `tuning_problems.py` (`--problems` picks others; never tune on `compare.py`'s
held-out problems, they are there to check the chosen defaults). For each setting and budget
(25, 50, 100, 200 trials, read off the same 200-trial runs) it prints the mean rank of the
setting among it and the stored baselines (KT RandomSearch, Optuna TPE, Optuna NSGA-II,
NaturalSelection; per problem and seed, by best score within the budget), TPE's mean rank in
the same ranking, and the mean normalised regret per problem next to TPE's. `--own-budgets`
runs a search of `max_trials=B` for each budget B instead (so that whatever depends on the
budget, such as the population size, is measured as a B-trial search would have it); the
baselines depend on no budget, so their 200-trial runs serve for every B. Baselines of the
tuning-only problems are run once and kept in `results/runs/tuning_baselines.jsonl`.

Settings are JSON `EvolutionaryOracle` arguments; two shortcuts build objects:
`{"guide": {"candidates": 4}}` is `guidance=kte.DensityGuidance(candidates=4)` and
`{"blend": 0.5}` is `crossover=kte.UniformCrossover(blend=0.5)`. The results of the tried
settings are recorded in `benchmarks/results/tuning.md`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import statistics
import sys
import time

import compare
import tuning_problems

from keras_tuner_evolution.guidance import DensityGuidance
from keras_tuner_evolution.variation import UniformCrossover

BUDGETS = compare.CHECKPOINTS  # (25, 50, 100, 200): the report's budgets
BASELINES = ("random", "tpe", "nsga2", "naturalselection")
TUNING_SET = [*compare.PROBLEMS, *tuning_problems.TUNING_PROBLEMS]
BASELINE_FILE = os.path.join(compare.RESULTS, "runs", "tuning_baselines.jsonl")

# `compare.run_one` and `compare.reference` look problems up here: register the tuning-only
# ones so they run like the others (they never appear in compare.py's own report).
compare.ALL_PROBLEMS.update(tuning_problems.TUNING_PROBLEMS)


def oracle_kwargs(setting: str) -> dict:
    """The `EvolutionaryOracle` arguments of a JSON setting, shortcuts expanded."""
    kwargs = json.loads(setting)
    if "guide" in kwargs:
        kwargs["guidance"] = DensityGuidance(**kwargs.pop("guide"))
    if "blend" in kwargs:
        kwargs["crossover"] = UniformCrossover(blend=kwargs.pop("blend"))
    return kwargs


def baselines(problems: list[str], seeds: range, pool) -> dict[tuple, list[float]]:
    """Score sequences of the baselines by (method, problem, seed), run where missing."""
    found: dict[tuple, list[float]] = {}
    for method in BASELINES:
        path = os.path.join(compare.RESULTS, "runs", f"{method}.jsonl")
        stored = compare._read_runs(path) if os.path.exists(path) else []
        for run in filter(compare.is_current, stored):
            found[(method, run["problem"], run["seed"])] = run["scores"]
    if os.path.exists(BASELINE_FILE):
        for run in filter(compare.is_current, compare._read_runs(BASELINE_FILE)):
            found[(run["method"], run["problem"], run["seed"])] = run["scores"]
    jobs = [
        (method, problem, seed, max(BUDGETS), {"worst": compare.reference(problem)["worst"]})
        for method in BASELINES
        for problem in problems
        for seed in seeds
        if (method, problem, seed) not in found
    ]
    for run in pool.imap(compare.run_one, jobs):
        found[(run["method"], run["problem"], run["seed"])] = run["scores"]
        with open(BASELINE_FILE, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(run) + "\n")
    return found


def _rank(value: float, values: list[float]) -> float:
    """1 for the best of `values` (maximised), ties sharing their mean rank."""
    return 1 + sum(v > value for v in values) + 0.5 * (sum(v == value for v in values) - 1)


def report(
    setting: str, runs_by_budget: dict[int, list[dict]], base: dict, refs: dict, problems: list[str]
) -> str:
    """The rows of one setting: mean ranks and regrets at every budget, each read off the runs
    of that budget (`runs_by_budget[budget]`), or of the largest where it has none."""
    duplicates = sum(r["duplicates"] for runs in runs_by_budget.values() for r in runs)
    lines = [f"{setting}: {duplicates} duplicates"]
    for budget in BUDGETS:
        runs = runs_by_budget.get(budget, runs_by_budget[max(BUDGETS)])
        ranks, tpe_ranks = [], []
        regret: dict[str, list[float]] = {p: [] for p in problems}
        tpe_regret: dict[str, list[float]] = {p: [] for p in problems}
        for run in runs:
            problem, seed = run["problem"], run["seed"]
            mine = max(run["scores"][:budget])
            others = [max(base[(m, problem, seed)][:budget]) for m in BASELINES]
            ranks.append(_rank(mine, [mine, *others]))
            tpe = others[BASELINES.index("tpe")]
            tpe_ranks.append(_rank(tpe, [mine, *others]))
            ref = refs[problem]
            scale = ref["optimum"] - ref["median"]
            regret[problem].append((ref["optimum"] - mine) / scale)
            tpe_regret[problem].append((ref["optimum"] - tpe) / scale)
        cells = "/".join(f"{statistics.fmean(regret[p]):.3f}" for p in problems)
        tpe_cells = "/".join(f"{statistics.fmean(tpe_regret[p]):.3f}" for p in problems)
        lines.append(
            f"  @{budget}: rank {statistics.fmean(ranks):.2f} "
            f"(TPE {statistics.fmean(tpe_ranks):.2f})"
            f"  regret {cells}  (TPE {tpe_cells})"
        )
    return "\n".join(lines)


def write_report(path: str, argv: list[str] | None, problems: list[str], reports: list[str]):
    """Writes the printed report to a markdown file, with the command that made it."""
    command = " ".join(["python benchmarks/tune.py", *map(shlex.quote, argv or sys.argv[1:])])
    held_out = [p for p in problems if p in compare.HELD_OUT_PROBLEMS]
    text = (
        f"# tune.py report\n\nWritten {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        f"`{command}`.\n\nProblems (regrets in this order): {', '.join(problems)}"
        f"{'; held out from tuning: ' + ', '.join(held_out) if held_out else ''}. Rank: mean "
        f"rank among the setting and the stored baselines ({', '.join(BASELINES)}), per "
        "problem and seed; TPE's rank in the same ranking in brackets. Regret: mean normalised "
        "regret per problem, TPE's after it.\n\n```\n" + "\n".join(reports) + "\n```\n"
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", default=["{}"], help="JSON oracle arguments")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--problems", default=",".join(TUNING_SET))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", help="also write the report to this markdown file")
    parser.add_argument(
        "--own-budgets",
        action="store_true",
        help="run a search of max_trials=B for each budget B (budget-aware sizes apply) instead "
        "of reading every budget off 200-trial runs",
    )
    args = parser.parse_args(argv)
    problems = [p for p in args.problems.split(",") if p]
    seeds = range(args.seeds)
    refs = {p: compare.reference(p) for p in problems}
    print("problems: " + "/".join(problems))
    reports: list[str] = []
    context = multiprocessing.get_context("fork")
    with context.Pool(args.workers) as pool:
        base = baselines(problems, seeds, pool)
        for setting in args.settings:
            kwargs = oracle_kwargs(setting)
            runs_by_budget = {}
            for budget in compare._budgets("evolution", max(BUDGETS), args.own_budgets):
                jobs = [("evolution", p, s, budget, kwargs) for p in problems for s in seeds]
                runs_by_budget[budget] = pool.map(compare.run_one, jobs)
            reports.append(report(setting, runs_by_budget, base, refs, problems))
            print(reports[-1], flush=True)
    if args.output:
        write_report(args.output, argv, problems, reports)


if __name__ == "__main__":
    main()
