"""Parallel trials: speedup and idle time of `kte launch`, written to results/parallel.md.

    python benchmarks/parallel.py            # about 10 minutes on 2 CPU cores

1. Digits, 24 trials (population 8, 2 epochs each), 1 worker then 2 workers, one CPU share
   each: wall-clock speedup and the fraction of worker time spent idle.
2. Trials of deliberately uneven durations (a sleep of 1x, 2x or 4x `--seconds`, no CPU
   contention), 24 trials on 4 workers, generational then asynchronous evolution.

Every configuration runs the real launcher on `tests/scripts/parallel_search.py`, whose workers
log when each trial begins and ends. Definitions:

- wall: the whole `kte launch` command, process start-up included;
- search: from the first trial's start to the last trial's end;
- idle: per worker, the time from its first trial's start to its end of search not spent in a
  trial (waiting for the oracle: IDLE answers and requests), summed over workers and divided by
  the summed spans;
- utilisation: trial time / (workers x search), which also counts the workers that have
  finished while the last trials run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "scripts", "parallel_search.py")
OUTPUT = os.path.join(ROOT, "benchmarks", "results", "parallel.md")


def run_launch(workers: int, script_args: list[str]) -> dict:
    """Runs one launch and returns its measurements."""
    folder = tempfile.mkdtemp(prefix="kte-parallel-")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    command = [
        sys.executable, "-m", "keras_tuner_evolution", "launch", "--workers", str(workers),
        "--devices", "cpu", SCRIPT, "--dir", folder, *script_args,
    ]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"launch failed ({done.returncode}):\n{done.stderr[-3000:]}")
    try:
        return {"wall": wall, **measure(folder)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(folder: str) -> dict:
    """Search time, idle fraction and utilisation from the workers' event logs."""
    with open(os.path.join(folder, "result.json")) as handle:
        result = json.load(handle)
    spans, busy, begins, ends, per_worker = [], [], [], [], {}
    for name in sorted(os.listdir(os.path.join(folder, "events"))):
        with open(os.path.join(folder, "events", name)) as handle:
            events = [json.loads(line) for line in handle]
        started = {}
        worker_busy = 0.0
        trials = 0
        for event in events:
            if event["event"] == "trial_begin":
                started[event["trial"]] = event["t"]
                begins.append(event["t"])
            elif event["event"] == "trial_end":
                worker_busy += event["t"] - started.pop(event["trial"])
                ends.append(event["t"])
                trials += 1
        first = min(e["t"] for e in events if e["event"] == "trial_begin")
        last = max(e["t"] for e in events if e["event"] in ("trial_end", "search_end"))
        spans.append(last - first)
        busy.append(worker_busy)
        per_worker[name.removesuffix(".jsonl")] = trials
    search = max(ends) - min(begins)
    statuses = [t["status"] for t in result["trials"].values()]
    return {
        "search": search,
        "idle": 1.0 - sum(busy) / sum(spans),
        "utilisation": sum(busy) / (len(spans) * search),
        "mean_trial": sum(busy) / len(ends),
        "trials": statuses.count("COMPLETED"),
        "duplicates": result["duplicates"],
        "per_worker": per_worker,
        "generations": result["generations"],
    }


def row(name: str, m: dict, speedup: str = "") -> str:
    split = "/".join(str(n) for n in m["per_worker"].values())
    return (
        f"| {name} | {m['wall']:.1f} | {m['search']:.1f} | {speedup} | {100 * m['idle']:.1f}% "
        f"| {100 * m['utilisation']:.0f}% | {m['mean_trial']:.2f} | {m['trials']} ({split}) "
        f"| {m['duplicates']} | {m['generations']} |"
    )


HEADER = (
    "| configuration | wall s | search s | speedup (wall / search) | idle | utilisation "
    "| mean trial s | trials (per worker) | duplicates | generations |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=2, help="digits epochs per trial")
    parser.add_argument("--seconds", type=float, default=0.5, help="uneven: base trial time")
    parser.add_argument("--output", default=OUTPUT)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    digits = ["--trials", str(args.trials), "--population", "8", "--epochs", str(args.epochs)]
    one = run_launch(1, digits)
    print("digits, 1 worker:", one, flush=True)
    two = run_launch(2, digits)
    print("digits, 2 workers:", two, flush=True)

    uneven = [
        "--workload", "sleep", "--uneven", "--seconds", str(args.seconds),
        "--trials", str(args.trials), "--population", "8",
    ]  # fmt: skip
    generational = run_launch(4, [*uneven, "--generational"])
    print("uneven, 4 workers, generational:", generational, flush=True)
    asynchronous = run_launch(4, uneven)
    print("uneven, 4 workers, asynchronous:", asynchronous, flush=True)
    load_after = os.getloadavg()

    def ratio(a: dict, b: dict) -> str:
        return f"{a['wall'] / b['wall']:.2f}x / {a['search'] / b['search']:.2f}x"

    from importlib.metadata import version

    lines = [
        "# Parallel trials with `kte launch`",
        "",
        f"Generated by `python benchmarks/parallel.py` on {time.strftime('%Y-%m-%d %H:%M')}: "
        f"{os.cpu_count()} CPU cores, no GPU, Python {platform.python_version()}, "
        f"TensorFlow {version('tensorflow')}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (the machine is shared: other loads slow the runs).",
        "",
        "Definitions (see the script): *wall* is the whole launch, start-up of every process "
        "included; *search* runs from the first trial's start to the last trial's end; *idle* "
        "is the share of each worker's time in the search (first trial to its stop) spent "
        "waiting for the oracle; *utilisation* is trial time / (workers x search).",
        "",
        f"## Digits, {args.trials} trials (population 8, {args.epochs} epochs), CPU shares",
        "",
        HEADER,
        row("1 worker", one),
        row("2 workers", two, ratio(one, two)),
        "",
        f"## Uneven trials (sleep {args.seconds:g} s x 1, 2 or 4), {args.trials} trials, 4 workers",
        "",
        HEADER,
        row("generational (`asynchronous=False`)", generational),
        row("asynchronous (default)", asynchronous, ratio(generational, asynchronous)),
        "",
    ]
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
