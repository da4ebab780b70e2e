"""The chief's load test (benchmarks/load_test.py) runs end to end and counts right."""

from __future__ import annotations

import argparse
import math

import pytest

from tests.helpers import load_script


@pytest.fixture(scope="module")
def load_test():
    return load_script("benchmarks", "load_test")


def test_four_light_workers_share_the_trials_without_duplicates_or_losses(load_test, tmp_path):
    workers, trials_per_worker = 4, 5
    found = load_test.run_load(
        workers, 0.05, trials_per_worker, folder=str(tmp_path), timeout=120.0
    )

    assert found["completed"] == found["trials"] == workers * trials_per_worker
    assert found["lost"] == 0
    assert found["double_hand_outs"] == 0
    assert found["duplicate_configurations"] == 0
    assert sorted(found["per_worker"]) == [f"worker{i}" for i in range(workers)]
    assert all(count > 0 for count in found["per_worker"].values()), found["per_worker"]
    # The workers really are light: no Keras, no TensorFlow.
    assert found["startup"]["heavy_imports"] == []
    assert 0.0 <= found["idle"] < 1.0
    assert found["throughput"] > 0
    for name in load_test.REQUESTS:
        latency = found["latency"][name]
        assert latency["count"] == workers * trials_per_worker
        assert 0 < latency["p50"] <= latency["p99"]
    assert found["latency"]["CreateTrial STOPPED"]["count"] == workers
    assert found["chief_memory_end"]["peak"] >= found["chief_memory_started"]["rss"] > 0
    # The chief's profile saw every request under its lock, and the files forced to disk.
    profile = found["profile"]
    assert profile["requests"]["EndTrial"]["count"] == workers * trials_per_worker
    assert profile["lock_hold"]["EndTrial"]["count"] >= workers * trials_per_worker
    assert profile["steps"]["fsync"]["count"] > 0

    args = argparse.Namespace(trials_per_worker=trials_per_worker, startup_runs=1)
    text = load_test.section([found], [], None, args)
    assert text.startswith(load_test.SECTION)
    assert "| 4 | 0.05 | 20 (" in text


def test_the_section_replaces_its_previous_version_and_keeps_the_others(load_test, tmp_path):
    path = tmp_path / "parallel.md"
    path.write_text("# Title\n\n## First\n\nkept\n")
    load_test.write_section(str(path), f"{load_test.SECTION}\n\nold\n")
    load_test.write_section(str(path), f"{load_test.SECTION}\n\nnew\n")
    assert path.read_text() == f"# Title\n\n## First\n\nkept\n\n{load_test.SECTION}\n\nnew\n"

    path.write_text(f"# Title\n\n{load_test.SECTION}\n\nold\n\n## Later\n\nkept\n")
    load_test.write_section(str(path), f"{load_test.SECTION}\n\nnew\n")
    assert path.read_text() == f"# Title\n\n{load_test.SECTION}\n\nnew\n\n## Later\n\nkept\n"


def test_percentile_is_the_nearest_rank(load_test):
    values = list(range(1, 101))
    assert load_test.percentile(values, 0.5) == 50
    assert load_test.percentile(values, 0.99) == 99
    assert load_test.percentile([3.0], 0.99) == 3.0
    assert math.isnan(load_test.percentile([], 0.5))
