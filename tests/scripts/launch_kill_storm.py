"""Kills a `kte launch --workers 3` search with SIGKILL again and again, then lets it finish.

Not a test module: `tests/test_kill_storm.py` runs it in a subprocess.

    python tests/scripts/launch_kill_storm.py DIRECTORY --kills 20 --seed 11

One search (`tests/scripts/parallel_search.py`, sleep workload, ``overwrite=False``) is
launched, and at seeded random moments of its running (0.3-2.5 s after its workers started
trials) one process is killed with SIGKILL: a worker mid-trial (its last event is a trial's
begin), a worker between trials (waiting for its last trial's end, then killed at once), the
chief, or the launcher itself. After a chief or launcher kill the launch ends (its children
stop with it) and is started again with the same command, as a user would. Then the last launch
runs to the end. Everything goes to ``DIRECTORY/report.json``; the workers' trial events are in
``DIRECTORY/run/events``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEARCH = os.path.join(ROOT, "tests", "scripts", "parallel_search.py")
WORKERS = ("worker0", "worker1", "worker2")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def events(folder: str, tuner_id: str) -> list[dict]:
    path = os.path.join(folder, "events", f"{tuner_id}.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.endswith("\n")]


def read_pid(folder: str, tuner_id: str) -> int:
    with open(os.path.join(folder, "pids", f"{tuner_id}.pid")) as handle:
        return int(handle.read())


def launch(folder: str, trials: int, seconds: float, log) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "keras_tuner_evolution", "launch", "--workers", "3",
        "--devices", "cpu", "--max-restarts", "10", SEARCH, "--dir", folder,
        "--workload", "sleep", "--seconds", str(seconds), "--trials", str(trials),
        "--population", "6", "--resume",
    ]  # fmt: skip
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def running_trials(folder: str, since: float) -> bool:
    return any(
        e["event"] == "trial_begin" and e["t"] > since for w in WORKERS for e in events(folder, w)
    )


def kill_one(folder: str, target: str, process: subprocess.Popen, rng: random.Random) -> dict:
    """Kills one process of the launch; what was killed."""
    if target in ("chief", "launcher"):
        pid = process.pid if target == "launcher" else read_pid(folder, "chief")
        os.kill(pid, signal.SIGKILL)
        return {"target": target, "pid": pid}
    worker = rng.choice(WORKERS)
    wanted = "trial_begin" if target == "worker-mid-trial" else "trial_end"

    def ready():
        if process.poll() is not None:
            return {"ended": True}  # the search ended first
        evs = events(folder, worker)
        return evs[-1] if evs and evs[-1]["event"] == wanted else None

    last = wait_for(ready, 300, f"{worker} {wanted}")
    if last.get("ended"):
        return {"target": target, "worker": worker, "pid": None, "trial": None}
    pid = read_pid(folder, worker)
    os.kill(pid, signal.SIGKILL)
    return {"target": target, "worker": worker, "pid": pid, "trial": last.get("trial")}


def storm(directory: str, kills: int, seed: int, trials: int, seconds: float) -> dict:
    rng = random.Random(seed)
    plan = ["worker-mid-trial"] * 9 + ["worker-between"] * 5 + ["chief"] * 3 + ["launcher"] * 3
    rng.shuffle(plan)
    plan = (plan * (kills // len(plan) + 1))[:kills]
    folder = os.path.join(directory, "run")
    log = open(os.path.join(directory, "launch.log"), "ab")
    report = {"kills": [], "launches": 1}
    process = launch(folder, trials, seconds, log)
    for target in plan:
        started = time.time()
        if process.poll() is not None:
            break  # the search ended before this kill

        def up(started=started, process=process):
            return running_trials(folder, started) or process.poll() is not None

        wait_for(up, 300, "trials")
        time.sleep(rng.uniform(0.3, 2.5))
        if process.poll() is not None:
            break
        report["kills"].append(kill_one(folder, target, process, rng))
        if target in ("chief", "launcher"):
            process.wait(timeout=120)
            pids = [read_pid(folder, name) for name in ("chief", *WORKERS)]
            wait_for(lambda pids=pids: not any(map(alive, pids)), 120, "every child to end")
            process = launch(folder, trials, seconds, log)
            report["launches"] += 1
    report["last_status"] = process.wait(timeout=900)
    log.close()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    report = storm(args.directory, args.kills, args.seed, args.trials, args.seconds)
    with open(os.path.join(args.directory, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
