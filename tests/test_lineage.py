"""Lineage: every trial's parents and mutated genes, its ancestry, and the family-tree plot."""

from __future__ import annotations

import pytest

from keras_tuner_evolution import History
from keras_tuner_evolution.history import Lineage
from tests.helpers import mixed_score, mixed_space, run_search


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    oracle = run_search(
        mixed_score,
        tmp_path_factory.mktemp("lineage"),
        mixed_space(),
        max_trials=30,
        population_size=6,
        seed=4,
        mutation_rate=0.3,
    )
    return oracle, oracle.history


def test_lineage_is_a_record_by_index_and_the_ancestry_by_call(searched):
    _, history = searched
    fittest = history.fittest["trial_id"]
    record = history.lineage[fittest]
    assert set(record) == {"generation", "origin", "parents", "mutated"}
    tree = history.lineage(fittest)
    assert tree == history.ancestry(fittest)
    assert tree["trial_id"] == fittest and tree["generation"] == record["generation"]
    assert [p["trial_id"] for p in tree["parents"]] == record["parents"]


def test_children_differ_from_both_parents_only_in_mutated_genes(searched):
    oracle, history = searched
    children = [t for t, r in history.lineage.items() if r["origin"] == "child"]
    assert len(children) >= 10
    mutated_somewhere = False
    for trial_id in children:
        record = history.lineage[trial_id]
        # One or two breeders; more for a gene-pool child (the guidance's first results).
        assert len(record["parents"]) >= 1
        child = history.genomes[trial_id]
        parents = [history.genomes[p] for p in record["parents"]]
        for parent in record["parents"]:
            # A parent is an earlier trial, of an earlier generation.
            assert oracle.start_order.index(parent) < oracle.start_order.index(trial_id)
            assert history.lineage[parent]["generation"] < record["generation"]
        changed = {
            name
            for name, value in child.items()
            if all(parent.get(name) != value for parent in parents)
        }
        assert changed <= set(record["mutated"]), trial_id
        assert set(record["mutated"]) <= set(child)
        mutated_somewhere |= bool(changed)
    assert mutated_somewhere


def test_ancestry_reaches_the_random_population_and_stays_finite():
    lineage = Lineage(
        {
            "0": {"generation": 0, "origin": "random", "parents": [], "mutated": []},
            "1": {"generation": 0, "origin": "random", "parents": [], "mutated": []},
            "2": {"generation": 1, "origin": "child", "parents": ["0", "1"], "mutated": ["lr"]},
            "3": {"generation": 2, "origin": "child", "parents": ["0", "2"], "mutated": []},
        }
    )
    tree = lineage("3")
    assert [p["trial_id"] for p in tree["parents"]] == ["0", "2"]
    grand = tree["parents"][1]["parents"]
    assert [g["trial_id"] for g in grand] == ["0", "1"]
    assert grand[0]["parents"] == []  # "0" met twice: expanded once
    assert lineage.ancestors("3") == ["3", "0", "2", "1"]
    assert lineage("unknown") == {"trial_id": "unknown", "parents": []}


def test_lineage_survives_the_json_round_trip(searched):
    _, history = searched
    again = History.from_json(history.to_json())
    assert again == history and isinstance(again.lineage, Lineage)
    fittest = history.fittest["trial_id"]
    assert again.lineage(fittest) == history.lineage(fittest)
    plain = History(lineage={"5": {"generation": 0, "origin": "random", "parents": []}})
    assert isinstance(plain.lineage, Lineage) and plain.lineage("5")["origin"] == "random"


def test_plot_lineage_draws_the_family_tree_of_the_fittest(searched, tmp_path):
    _, history = searched
    fittest = history.fittest["trial_id"]
    path = tmp_path / "lineage.png"
    fig = history.plot_lineage(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    ancestors = history.lineage.ancestors(fittest)
    assert len(ancestors) > 1
    labels = [t.get_text() for t in ax.texts if t.get_text().startswith("#")]
    assert sorted(label.split()[0][1:] for label in labels) == sorted(ancestors)
    edges = sum(
        len([p for p in history.lineage[t]["parents"] if p in ancestors]) for t in ancestors
    )
    assert len(ax.get_lines()) == edges
    assert fittest in ax.get_title()
    other = history.plot_lineage(trial_id=ancestors[-1])
    assert f"trial {ancestors[-1]}" in other.axes[0].get_title()


def test_plot_lineage_needs_a_scored_trial():
    with pytest.raises(ValueError, match="no fittest"):
        History().plot_lineage()
