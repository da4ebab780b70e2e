import json

import pytest

from keras_tuner_evolution import Generation, History
from tests.helpers import mixed_score, mixed_space, run_search


def sample_history(direction="max") -> History:
    return History(
        objective="val_accuracy",
        direction=direction,
        generations=[
            Generation(index=0, members=["0", "1", "2"], scores=[0.5, 0.7, None]),
            Generation(index=1, members=["1", "3", "4"], elites=["1"], scores=[0.7, 0.9, 0.2]),
        ],
        genomes={str(i): {"units": 16 * (i + 1)} for i in range(5)},
        lineage={
            "3": {"generation": 1, "origin": "child", "parents": ["0", "1"], "mutated": ["units"]}
        },
    )


def test_statistics_per_generation():
    history = sample_history()
    assert history.best == [0.7, 0.9]
    assert history.mean == [pytest.approx(0.6), pytest.approx(0.6)]
    assert history.std[0] == pytest.approx(0.1)
    assert history.fittest == {"genome": {"units": 64}, "fitness": 0.9, "trial_id": "3"}


def test_ties_go_to_the_trial_created_first():
    generation = Generation(index=0, members=["10", "9", "11"], scores=[0.8, 0.8, 0.1])
    history = History(generations=[generation])
    assert history.fittest["trial_id"] == "9"  # Keras Tuner's ids: "9" was created before "10"


def test_minimised_objectives_pick_the_lowest():
    history = sample_history("min")
    assert history.best == [0.5, 0.2]
    assert history.fittest["trial_id"] == "4"


def test_json_round_trip_and_load(tmp_path):
    history = sample_history()
    again = History.from_json(history.to_json())
    assert again == history
    data = json.loads(history.to_json())
    assert data["summary"]["fittest"]["fitness"] == 0.9
    path = tmp_path / "project" / "history.json"
    history.save(str(path))
    assert History.load(str(tmp_path), "project") == history
    assert History.load(str(path)) == history
    with pytest.raises(FileNotFoundError, match="No evolution history"):
        History.load(str(tmp_path), "missing")


def test_ancestry_follows_parents():
    tree = sample_history().ancestry("3")
    assert tree["trial_id"] == "3" and tree["mutated"] == ["units"]
    assert [p["trial_id"] for p in tree["parents"]] == ["0", "1"]


def test_plot_saves_a_png_with_band_and_best_line(tmp_path):
    history = sample_history()
    path = tmp_path / "evolution.png"
    fig = history.plot(path=str(path), title="Validation accuracy", ylabel="Accuracy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_title() == "Validation accuracy" and ax.get_ylabel() == "Accuracy"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["mean", "max"]
    assert ax.get_lines()[1].get_ydata().tolist() == [0.7, 0.9]
    assert len(ax.collections) == 2  # the min-max and interquartile bands


def _band_limits(ax):
    """(lowest, highest) y of each filled band, in drawing order."""
    limits = []
    for band in ax.collections:
        ys = [y for path in band.get_paths() for _, y in path.vertices]
        limits.append((min(ys), max(ys)))
    return limits


def test_bands_stay_within_the_observed_scores():
    # Skewed accuracies: mean + std = 1.03, past what an accuracy can be.
    scores = [0.5, 0.98, 0.99, 1.0, 1.0]
    history = History(
        generations=[
            Generation(index=0, members=list("abcde"), scores=scores),
            Generation(index=1, members=list("fghij"), scores=scores),
        ]
    )
    assert history.mean[0] + history.std[0] > 1.0
    ax = history.plot().axes[0]
    (low, high), (q1, q3) = _band_limits(ax)
    assert (low, high) == (0.5, 1.0)  # worst to best
    assert (q1, q3) == (0.98, 1.0)  # 25th to 75th percentile
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["min – max", "25th – 75th percentile", "mean", "max"]


def test_one_generation_is_drawn_as_a_visible_band_with_one_tick():
    history = History(generations=[Generation(index=0, members=["a", "b", "c"],
                                              scores=[0.2, 0.4, 0.9])])  # fmt: skip
    ax = history.plot().axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 0].max() - band[:, 0].min() == pytest.approx(0.6)  # a box, not a line
    assert list(ax.get_xticks()) == [0]
    assert ax.get_xlim() == (-1, 1)
    assert [line.get_marker() for line in ax.get_lines()] == ["o", "^"]
    assert all(line.get_markersize() == 6 for line in ax.get_lines())


def test_fifty_generations_have_thin_lines_and_about_ten_ticks():
    generations = [
        Generation(index=i, members=[f"{i}a", f"{i}b"], scores=[i / 100, i / 50]) for i in range(50)
    ]
    ax = History(generations=generations).plot().axes[0]
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 49]
    assert 5 <= len(ticks) <= 11 and all(float(t).is_integer() for t in ticks)
    assert all(line.get_markersize() == 0 for line in ax.get_lines())
    assert ax.get_xlim() == (-0.5, 49.5)


def test_generations_without_a_score_are_left_out():
    history = History(generations=[
        Generation(index=0, members=["a"], scores=[0.3]),
        Generation(index=1, members=["b"], scores=[None]),
        Generation(index=2, members=["c"], scores=[0.6]),
    ])  # fmt: skip
    ax = history.plot().axes[0]
    assert ax.get_lines()[0].get_xdata().tolist() == [0, 2]


def test_plot_trials_draws_scores_in_run_order_and_the_best_so_far(tmp_path):
    from keras_tuner_evolution import plots

    path = tmp_path / "trials.png"
    fig = plots.plot_trials([3.0, None, 1.0, 2.0, 0.5], "min", path=str(path), ylabel="loss")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.collections[0].get_offsets()[:, 0].tolist() == [1, 3, 4, 5]  # the None is out
    best = ax.get_lines()[0]
    assert best.get_label() == "best so far (min)"
    assert best.get_ydata().tolist() == [3.0, 1.0, 1.0, 0.5]
    assert ax.get_ylabel() == "loss" and ax.get_xlabel() == "Trial (run order)"


def test_the_plots_module_draws_what_the_history_methods_draw(tmp_path):
    from keras_tuner_evolution import plots

    history = sample_history("min")
    paths = [tmp_path / name for name in ("method.png", "function.png")]
    history.plot(path=str(paths[0]), title="t", ylabel="y")
    plots.plot_evolution(history, path=str(paths[1]), title="t", ylabel="y")
    assert paths[0].read_bytes() == paths[1].read_bytes()
    history.plot_lineage("3", path=str(paths[0]))
    fig = plots.plot_lineage(history, "3", path=str(paths[1]))
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert fig.axes[0].get_title() == "Lineage of trial 3 (val_accuracy 0.9)"
    assert [line.get_label() for line in plots.plot_evolution(history).axes[0].get_lines()] == [
        "mean",
        "min",
    ]


def test_history_of_a_search_is_on_disk_and_matches_the_oracle(tmp_path):
    oracle = run_search(mixed_score, tmp_path, mixed_space(), max_trials=20, seed=1)
    on_disk = History.load(str(tmp_path), "p")
    assert on_disk == oracle.history
    best = oracle.get_best_trials(1)[0]
    assert on_disk.fittest["trial_id"] == best.trial_id
    assert on_disk.fittest["fitness"] == best.score
    assert on_disk.fittest["genome"] == best.hyperparameters.values
