"""Same seed, same problem, same trials: sequences recorded before the redesign (issue 13).

`tests/golden/sequences.json` holds what keras-tuner-evolution 0.1.0 proposed for each scenario
of `tests/golden/scenarios.py`: every trial's id, configuration, status and score in start order,
the generations with their elites, the lineage and the stop reason. Resumed scenarios run in two
sessions (`overwrite=False`), so reload is covered too.
"""

import json

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
