"""The kill storm: one `kte launch --workers 3` search hit by 20 SIGKILLs loses nothing.

`tests/scripts/launch_kill_storm.py` runs the storm (its docstring says how each kind of kill
finds its moment); this module checks what it left. About 2 minutes on 2 loaded cores: each of
the 10 launches starts 4 TensorFlow processes, and 10 worker restarts start one each.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import subprocess
import sys

import pytest

from keras_tuner_evolution import History
from tests.scripts.launch_kill_storm import on_disk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORM = os.path.join(ROOT, "tests", "scripts", "launch_kill_storm.py")
TRIALS = 240
KINDS = {
    "worker-mid-trial": 6,
    "worker-between": 4,
    "chief-planning": 3,
    "chief-mid-write": 4,
    "launcher": 3,
}
RELAUNCHING = ("chief-planning", "chief-mid-write", "launcher")


def check_storm(directory, trials=TRIALS):
    """Asserts that the storm in `directory` delivered its kills and lost nothing."""
    directory = str(directory)
    with open(os.path.join(directory, "launch.log"), errors="replace") as handle:
        log = handle.read()
    with open(os.path.join(directory, "report.json")) as handle:
        report = json.load(handle)
    assert report["error"] is None, report["error"] + log[-3000:]

    # All 20 kills delivered, each at its kind of moment, by SIGKILL to a live process.
    kills = report["kills"]
    assert collections.Counter(k["kind"] for k in kills) == KINDS
    assert [k["n"] for k in kills] == list(range(20)) and all(k["pid"] for k in kills)
    for kill in kills:
        who = kill["who"]
        if kill["kind"].startswith("worker"):
            assert who in ("worker0", "worker1", "worker2"), kill
        else:
            assert who == kill["kind"].split("-")[0], kill
        if kill["kind"] == "worker-mid-trial":
            assert kill["trial"], kill
        if kill["kind"] == "worker-between":
            assert kill["after"] >= 1, kill
        if kill["kind"] == "chief-planning":
            assert kill["generation"] >= 1, kill
        if kill["kind"] == "chief-mid-write":
            assert os.path.basename(kill["path"]) == kill["file"], kill
        assert not kill.get("stragglers"), kill  # every child stopped with its launch
    writes = {(k["file"], k["phase"]) for k in kills if k["kind"] == "chief-mid-write"}
    assert {("trial.json", "half"), ("trial.json", "renamed")} <= writes
    phases = {k["phase"] for k in kills if k["kind"] == "chief-planning"}
    assert phases == {"begun", "planned"}
    # Relaunched as a user would after each chief or launcher kill; the last launch succeeded,
    # and no worker was dropped by the launcher's restart budget.
    relaunches = sum(k["kind"] in RELAUNCHING for k in kills)
    assert report["launches"] == 1 + relaunches and report["last_status"] == 0, log[-3000:]
    launcher_lines = [line for line in log.splitlines() if line.startswith("kte launch:")]
    assert not [line for line in launcher_lines if "dropped" in line]

    # Exactly the requested number of distinct completed trials, each with its result file.
    folder = os.path.join(directory, "run")
    with open(os.path.join(folder, "result.json")) as handle:
        result = json.load(handle)
    statuses = collections.Counter(t["status"] for t in result["trials"].values())
    assert statuses == {"COMPLETED": trials}
    assert result["duplicates"] == 0 and result["stop_reason"] == "max_trials"
    disk = on_disk(folder)
    assert set(disk) == set(result["trials"])
    for trial_id, trial in disk.items():
        assert trial["status"] == "COMPLETED"
        assert trial["score"] == pytest.approx(result["trials"][trial_id]["score"])
    configurations = {json.dumps(t["values"], sort_keys=True) for t in disk.values()}
    assert len(configurations) == trials  # no configuration trained under two trial ids
    assert not glob.glob(os.path.join(folder, "**", "*.unreadable*"), recursive=True)

    # No completed trial lost: what had completed at each kill is there at the end, unchanged.
    for snapshot in report["snapshots"]:
        for trial_id, score in snapshot["completed"].items():
            assert disk[trial_id]["score"] == pytest.approx(score), trial_id

    # None retrained: no trial began again after its result was reported (a worker logs
    # `trial_end` once the chief has answered its report) or seen completed on disk.
    every = []
    for name in sorted(os.listdir(os.path.join(folder, "events"))):
        with open(os.path.join(folder, "events", name)) as handle:
            every += [json.loads(line) for line in handle]
    ends = collections.Counter(e["trial"] for e in every if e["event"] == "trial_end")
    assert set(ends.values()) == {1}, ends.most_common(3)  # each reported once
    assert set(ends) <= set(disk)
    done_at = {}
    for event in every:
        if event["event"] == "trial_end":
            done_at[event["trial"]] = event["t"]
    for snapshot in report["snapshots"]:
        for trial_id in snapshot["completed"]:
            done_at[trial_id] = min(done_at.get(trial_id, snapshot["t"]), snapshot["t"])
    again = [
        e["trial"]
        for e in every
        if e["event"] == "trial_begin" and e["t"] > done_at.get(e["trial"], float("inf"))
    ]
    assert not again
    # A completed trial without a report is one whose result the chief saved just before it
    # was killed (the worker was stopped before the answer): at most one per relaunch.
    unreported = set(disk) - set(ends)
    assert len(unreported) <= relaunches, sorted(unreported)

    # The History agrees with the trials on disk.
    history = History.load(folder, "search")
    assert history.scores == pytest.approx({tid: t["score"] for tid, t in disk.items()})
    assert set(history.genomes) == set(disk)
    for trial_id, genome in history.genomes.items():
        assert genome == pytest.approx(disk[trial_id]["values"]), trial_id
    assert [g.index for g in history.generations] == list(range(len(history.generations)))
    assert len(history.generations) == result["generations"]
    assert {m for g in history.generations for m in g.members} == set(disk)
    assert history.stop_reason == "max_trials"
    return report


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_parallel_search_killed_20_times_loses_and_repeats_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, STORM, str(tmp_path), "--kills", "20", "--seed", "11"]
        + ["--trials", str(TRIALS)],
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    check_storm(tmp_path)
