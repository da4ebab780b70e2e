"""Kills a `kte launch --workers 3` search with SIGKILL again and again, then lets it finish.

Not a test module: `tests/test_kill_storm.py` runs it in a subprocess.

    python tests/scripts/launch_kill_storm.py DIRECTORY --kills 20 --seed 11

One search (`tests/scripts/parallel_search.py`, sleep workload, ``overwrite=False``) is
launched through this same file, which arms seeded failpoints in the launched processes before
running the search script unchanged. The storm is driven by events, not by the clock: before
each kill it waits for a seeded number of trials (1 to 6) to complete, then aims at one moment:

- ``worker-mid-trial``: the first worker to reach a seeded fraction of a trial's training;
- ``worker-between``: the first worker that reported a trial and has not asked for the next;
- ``chief-planning``: the chief while it plans the next generation (just begun, or planned and
  not yet saved);
- ``chief-mid-write``: the chief while it writes a state file (a trial's result in
  ``trial.json``, ``oracle.json`` or ``history.json``; half of the text in the temporary file,
  or just after the rename, before the next file);
- ``launcher``: the launcher itself, 0-0.5 s after the trials counted (its children get
  SIGTERM from the kernel as it dies).

A failpoint that is reached claims the aim (one process only), writes down where it is and
waits; this process then kills it with SIGKILL. After a chief or launcher kill the launch ends
(its children stop with it) and is started again with the same command, as a user would. Then
the last launch runs to the end. Everything goes to ``DIRECTORY/report.json``; the workers'
trial events are in ``DIRECTORY/run/events``, the launches' output in ``DIRECTORY/launch.log``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = ("worker0", "worker1", "worker2")
# The launched processes find the storm's aims here (set in their environment).
CONTROL = "KTE_STORM_CONTROL"
PROJECT = "search"  # parallel_search.py's project name
# Every kind of kill, with its count in a storm of 20.
KINDS = {
    "worker-mid-trial": 6,
    "worker-between": 4,
    "chief-planning": 3,
    "chief-mid-write": 4,
    "launcher": 3,
}
CHIEF_KINDS = ("chief-planning", "chief-mid-write")
RELAUNCHING = (*CHIEF_KINDS, "launcher")
WRITTEN_FILES = ("trial.json", "oracle.json", "history.json")


# In the launched processes: the failpoints ------------------------------------------------


def claim(control: str, kind: str) -> dict | None:
    """Takes the aim of `kind` if there is one and no other process took it first."""
    path = os.path.join(control, f"aim-{kind}.json")
    if not os.path.exists(path):
        return None
    mine = os.path.join(control, f"claimed-{os.getpid()}-{kind}.json")
    try:
        os.rename(path, mine)  # atomic: one claimer only
    except OSError:
        return None
    with open(mine) as handle:
        return json.load(handle)


def caught(control: str, aim: dict, sleep, **where) -> None:
    """Says where this process stands, then waits for the storm's SIGKILL."""
    text = json.dumps({**aim, **where, "pid": os.getpid(), "t": time.time()})
    path = os.path.join(control, f"caught-{aim['n']}.json")
    with open(path + ".tmp", "w") as handle:
        handle.write(text)
    os.replace(path + ".tmp", path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        sleep(0.05)
    os._exit(97)  # never killed: the storm is gone


def arm_worker(control: str, tuner_id: str) -> None:
    """Failpoints of a worker: inside a trial's training, and between two trials."""
    from keras_tuner_evolution import EvolutionaryTuner

    real_sleep = time.sleep
    state = {"trial": None, "reported": 0}
    on_trial_begin = EvolutionaryTuner.on_trial_begin
    on_trial_end = EvolutionaryTuner.on_trial_end
    pre_create_trial = EvolutionaryTuner.pre_create_trial

    def begin(self, trial):
        state["trial"] = trial.trial_id
        on_trial_begin(self, trial)

    def end(self, trial):
        state["trial"] = None
        on_trial_end(self, trial)  # reports the trial to the chief
        state["reported"] += 1

    def between(self):
        if state["reported"]:
            aim = claim(control, "worker-between")
            if aim is not None:
                caught(control, aim, real_sleep, who=tuner_id, after=state["reported"])
        pre_create_trial(self)

    def sleep(seconds):
        # The sleep workload's training is the one sleep of the main thread within a trial.
        if state["trial"] is not None and threading.current_thread() is threading.main_thread():
            aim = claim(control, "worker-mid-trial")
            if aim is not None:
                real_sleep(seconds * aim["fraction"])
                caught(control, aim, real_sleep, who=tuner_id, trial=state["trial"])
        real_sleep(seconds)

    EvolutionaryTuner.on_trial_begin = begin
    EvolutionaryTuner.on_trial_end = end
    EvolutionaryTuner.pre_create_trial = between
    time.sleep = sleep


def arm_chief(control: str) -> None:
    """Failpoints of the chief: planning a generation, writing a state file."""
    from keras_tuner_evolution import history as history_module
    from keras_tuner_evolution import persistence
    from keras_tuner_evolution.engine import Evolution

    real_sleep = time.sleep
    start_generation = Evolution._start_generation

    def planning(self):
        index = len(self.plans)
        aim = claim(control, "chief-planning") if index > 0 else None
        if aim is not None and aim["phase"] == "begun":
            caught(control, aim, real_sleep, who="chief", generation=index)
        generation = start_generation(self)
        if aim is not None:
            caught(control, aim, real_sleep, who="chief", generation=index)
        return generation

    atomic_write_text = persistence.atomic_write_text
    aimed = {}  # the claimed aim, kept until a write of its file comes

    def writing(path, text, sync="all"):
        name = os.path.basename(path)
        if not aimed:
            aim = claim(control, "chief-mid-write")
            if aim is not None:
                aimed.update(aim)
        # trial.json: the write that records a result only.
        ours = aimed.get("file") == name and (
            name != "trial.json" or '"status": "COMPLETED"' in text
        )
        if ours and aimed["phase"] == "half":
            fd, temporary = persistence.tempfile.mkstemp(
                dir=os.path.dirname(path), prefix=".tmp-", suffix=".json"
            )
            os.write(fd, text[: len(text) // 2].encode())
            caught(control, dict(aimed), real_sleep, who="chief", path=path, temp=temporary)
        atomic_write_text(path, text, sync)
        if ours:
            caught(control, dict(aimed), real_sleep, who="chief", path=path)

    Evolution._start_generation = planning
    persistence.atomic_write_text = writing
    history_module.atomic_write_text = writing


def run_search(argv: list[str]) -> int:
    """In a launched process: arms this process's failpoints, then runs the search script."""
    control = os.environ[CONTROL]
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    import keras_tuner  # noqa: F401 (before the failpoints: they patch its classes)

    if tuner_id == "chief":
        arm_chief(control)
    else:
        arm_worker(control, tuner_id)
    sys.path.insert(0, HERE)
    import parallel_search

    return parallel_search.main(argv)


# In the storm's own process --------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def children(pid: int) -> list[int]:
    """The process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                fields = handle.read().rsplit(") ", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


class Reported:
    """Counts the distinct trials the workers have reported, reading only new lines."""

    def __init__(self, folder: str):
        self.folder = folder
        self.offsets = dict.fromkeys(WORKERS, 0)
        self.trials: set[str] = set()

    def __call__(self) -> int:
        for tuner_id in WORKERS:
            path = os.path.join(self.folder, "events", f"{tuner_id}.jsonl")
            if not os.path.exists(path):
                continue
            with open(path, "rb") as handle:
                handle.seek(self.offsets[tuner_id])
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # being written: read it next time
                    self.offsets[tuner_id] += len(line)
                    event = json.loads(line)
                    if event["event"] == "trial_end":
                        self.trials.add(event["trial"])
        return len(self.trials)


def on_disk(folder: str) -> dict[str, dict]:
    """The trials' files: status, score and values by trial id."""
    trials = {}
    for path in glob.glob(os.path.join(folder, PROJECT, "trial_*", "trial.json")):
        with open(path) as handle:
            state = json.load(handle)
        trials[state["trial_id"]] = {
            "status": state["status"],
            "score": state["score"],
            "values": state["hyperparameters"]["values"],
        }
    return trials


class Storm:
    def __init__(self, directory: str, trials: int, seconds: float):
        self.directory = directory
        self.folder = os.path.join(directory, "run")
        self.control = os.path.join(directory, "control")
        os.makedirs(self.control, exist_ok=True)
        self.trials = trials
        self.seconds = seconds
        self.log = open(os.path.join(directory, "launch.log"), "ab")
        self.process: subprocess.Popen | None = None
        self.launches: list[float] = []
        self.reported = Reported(self.folder)

    def launch(self) -> None:
        command = [
            sys.executable, "-m", "keras_tuner_evolution", "launch", "--workers", "3",
            "--devices", "cpu", "--max-restarts", "10", "--restart-window", "60",
            os.path.abspath(__file__), "search", "--dir", self.folder, "--workload", "sleep",
            "--seconds", str(self.seconds), "--trials", str(self.trials), "--population", "6",
            "--resume",
        ]  # fmt: skip
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **{CONTROL: self.control})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
        self.log.write(f"=== storm: launch {len(self.launches) + 1} ===\n".encode())
        self.log.flush()
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        self.launches.append(time.time())

    def ended(self) -> bool:
        return self.process.poll() is not None

    def progress(self, count: int) -> None:
        """Waits until `count` trials were reported (the launch must not end first)."""

        def done():
            if self.ended():
                raise RuntimeError(f"the launch ended (status {self.process.returncode})")
            return self.reported() >= count

        wait_for(done, 300, f"{count} reported trials")

    def end_of_launch(self, pids: list[int]) -> list[int]:
        """Waits for the launch and its children to end; the children that had to be killed."""
        self.process.wait(timeout=120)
        stragglers = []
        try:
            wait_for(lambda: not any(map(alive, pids)), 60, "every child to end")
        except TimeoutError:
            stragglers = [pid for pid in pids if alive(pid)]
            for pid in stragglers:
                os.kill(pid, signal.SIGKILL)
        return stragglers

    def kill(self, n: int, kind: str, aim: dict) -> dict:
        """Delivers kill `n`; what was killed, where."""
        if kind == "launcher":
            time.sleep(aim["delay"])
            pid = self.process.pid
            pids = children(pid)
            os.kill(pid, signal.SIGKILL)
            record = {"who": "launcher", "pid": pid, "t": time.time()}
            record["stragglers"] = self.end_of_launch(pids)
            return record
        path = os.path.join(self.control, f"aim-{kind}.json")
        with open(path + ".tmp", "w") as handle:
            json.dump({"n": n, "kind": kind, **aim}, handle)
        os.replace(path + ".tmp", path)
        where = os.path.join(self.control, f"caught-{n}.json")

        def hit():
            if os.path.exists(where):
                return True
            if self.ended():
                raise RuntimeError(f"the launch ended (status {self.process.returncode})")
            return False

        wait_for(hit, 300, f"kill {n} ({kind})")
        with open(where) as handle:
            record = json.load(handle)
        pids = children(self.process.pid) if kind in CHIEF_KINDS else []
        os.kill(record["pid"], signal.SIGKILL)
        record["t"] = time.time()
        if kind in CHIEF_KINDS:
            record["stragglers"] = self.end_of_launch(pids)
        return record


def plan_kills(kills: int, seed: int) -> tuple[list[str], list[dict]]:
    """The seeded kinds, gaps and aims of the kills."""
    rng = random.Random(seed)
    kinds = [kind for kind, count in KINDS.items() for _ in range(count)]
    rng.shuffle(kinds)
    kinds = (kinds * (kills // len(kinds) + 1))[:kills]

    def shuffled(choices: tuple[str, ...], count: int) -> list[str]:
        """`count` of `choices`, each at least once when `count` allows, in seeded order."""
        picks = (list(choices) * count)[: max(count, 0)]
        rng.shuffle(picks)
        return picks

    # A trial's result half written, and renamed before oracle.json (the window a resume
    # closes); oracle.json and history.json, each half written or just renamed.
    writes = [("trial.json", "half"), ("trial.json", "renamed")]
    writes += [(name, rng.choice(["half", "renamed"])) for name in WRITTEN_FILES[1:]]
    while len(writes) < kinds.count("chief-mid-write"):
        writes.append((rng.choice(WRITTEN_FILES), rng.choice(["half", "renamed"])))
    writes = writes[: kinds.count("chief-mid-write")]
    rng.shuffle(writes)
    plan_phases = shuffled(("begun", "planned"), kinds.count("chief-planning"))
    aims = []
    for kind in kinds:
        aim = {"gap": rng.randint(1, 6)}
        if kind == "worker-mid-trial":
            aim["fraction"] = round(rng.uniform(0.05, 0.95), 3)
        elif kind == "chief-planning":
            aim["phase"] = plan_phases.pop()
        elif kind == "chief-mid-write":
            aim["file"], aim["phase"] = writes.pop()
        elif kind == "launcher":
            aim["delay"] = round(rng.uniform(0.0, 0.5), 3)
        aims.append(aim)
    return kinds, aims


def storm(directory: str, kills: int, seed: int, trials: int, seconds: float) -> dict:
    started = time.time()
    kinds, aims = plan_kills(kills, seed)
    run = Storm(directory, trials, seconds)
    report = {"seed": seed, "trials": trials, "kills": [], "snapshots": [], "error": None}
    run.launch()
    try:
        for n, (kind, aim) in enumerate(zip(kinds, aims)):
            run.progress(run.reported() + aim["gap"])
            record = {"n": n, "kind": kind, **aim, **run.kill(n, kind, aim)}
            record["reported"] = run.reported()
            report["kills"].append(record)
            # What had completed by then, to check that none is lost or trained again.
            report["snapshots"].append(
                {
                    "t": time.time(),
                    "completed": {
                        tid: trial["score"]
                        for tid, trial in on_disk(run.folder).items()
                        if trial["status"] == "COMPLETED"
                    },
                }
            )
            if kind in RELAUNCHING:
                run.launch()
        report["last_status"] = run.process.wait(timeout=600)
    except (RuntimeError, TimeoutError) as error:
        report["error"] = f"{type(error).__name__}: {error}"
        if not run.ended():
            run.process.terminate()  # the launcher stops its children
            run.process.wait(timeout=60)
        report["last_status"] = run.process.returncode
    run.log.close()
    report["launches"] = len(run.launches)
    report["seconds"] = round(time.time() - started, 1)
    return report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["search"]:
        return run_search(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--trials", type=int, default=240)
    parser.add_argument("--seconds", type=float, default=0.2)
    args = parser.parse_args(argv)
    report = storm(args.directory, args.kills, args.seed, args.trials, args.seconds)
    with open(os.path.join(args.directory, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    return 0 if report["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
