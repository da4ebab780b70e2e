"""Same seed, same problem, same trials: sequences recorded before the redesign (issue 13).

`tests/golden/sequences.json` holds what keras-tuner-evolution 0.1.0 proposed for each scenario
of `tests/golden/scenarios.py`: every trial's id, configuration, status and score in start order,
the generations with their elites, the lineage and the stop reason. Resumed scenarios run in two
sessions (`overwrite=False`), so reload is covered too.
"""

import json
import os
import shutil

import pytest

from tests.golden import scenarios

with open(scenarios.SEQUENCES) as handle:
    RECORDED = json.load(handle)


def test_every_scenario_is_recorded():
    assert sorted(RECORDED) == sorted(scenarios.all_names())


@pytest.mark.parametrize("name", scenarios.all_names())
def test_same_seed_proposes_the_recorded_trials(name, tmp_path):
    expected = RECORDED[name]
    actual = json.loads(json.dumps(scenarios.run_scenario(name, str(tmp_path)), sort_keys=True))
    assert actual["trials"] == expected["trials"]
    assert actual["generations"] == expected["generations"]
    assert actual["lineage"] == expected["lineage"]
    assert actual["stop_reason"] == expected["stop_reason"]


def test_a_project_saved_by_0_1_0_resumes_with_the_same_trials(tmp_path):
    """`project_0_1_0` is the first session of `mixed_seed0_resumed` (17 trials), saved by
    keras-tuner-evolution 0.1.0; resumed now, it must go on exactly as 0.1.0 went on."""
    shutil.copytree(os.path.join(scenarios.HERE, "project_0_1_0"), tmp_path, dirs_exist_ok=True)
    options = dict(scenarios.legacy(scenarios.SCENARIOS["mixed_seed0"]), overwrite=False)
    function, space = options.pop("function"), options.pop("space")
    oracle = scenarios._run(function, str(tmp_path), space(), "max", options)
    actual = json.loads(json.dumps(scenarios.record(oracle), sort_keys=True))
    expected = RECORDED["mixed_seed0_resumed"]
    assert actual["trials"] == expected["trials"]
    assert actual["generations"] == expected["generations"]
    assert actual["lineage"] == expected["lineage"]
