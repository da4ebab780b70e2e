"""Tries EvolutionaryOracle settings on the `compare.py` problems; one markdown row each.

Run: `python benchmarks/tune.py '{"mutation_rate": 0.2}' '{"selection_pressure": 4}' ...`
(10 seeds x 200 trials per setting, about a minute each on two cores). Prints, per setting, the
mean normalised regret at 200 trials on each problem, their mean, and the duplicates; the
results of the tried settings are recorded in `benchmarks/results/tuning.md`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics

import compare


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", default=["{}"], help="JSON oracle arguments")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    problems = list(compare.PROBLEMS)
    refs = {p: compare.reference(p) for p in problems}
    print("| setting | " + " | ".join(problems) + " | mean | duplicates |")
    print("|---|" + "---:|" * (len(problems) + 2))
    context = multiprocessing.get_context("fork")
    with context.Pool(args.workers) as pool:
        for setting in args.settings:
            kwargs = json.loads(setting)
            jobs = [
                ("evolution", p, s, args.trials, kwargs)
                for p in problems
                for s in range(args.seeds)
            ]
            runs = pool.map(compare.run_one, jobs)
            regrets, dups = [], 0
            for problem in problems:
                mine = [r for r in runs if r["problem"] == problem]
                curves = compare.regret_curves(mine, refs[problem], args.trials)
                regrets.append(float(curves[:, -1].mean()))
                dups += sum(r["duplicates"] for r in mine)
            cells = " | ".join(f"{r:.3f}" for r in regrets)
            print(
                f"| `{setting}` | {cells} | {statistics.fmean(regrets):.3f} | {dups} |", flush=True
            )


if __name__ == "__main__":
    main()
