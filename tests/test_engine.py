"""The evolution engine on its own: ask/tell over plain values, no Keras Tuner trials, no files."""

import json

import numpy as np
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution.config import EvolutionConfig
from keras_tuner_evolution.engine import IDLE, RUN, STOP, Evolution
from tests.golden.scenarios import small_space
from tests.helpers import mixed_space


def score_of(values) -> float:
    return -abs(values["units"] - 128) / 64 + (values["optimizer"] == "adamax")


def make_engine(seed=0, max_trials=None, **options) -> Evolution:
    config = EvolutionConfig(**options)
    return Evolution(config, config.shape(max_trials), "max", seed, mixed_space())


def run(engine: Evolution, trials: int, start: int = 0) -> list[dict]:
    proposed = []
    for index in range(start, start + trials):
        decision = engine.ask(str(index))
        assert decision.action == RUN
        proposed.append(decision.values)
        engine.tell(str(index), score_of(decision.values))
    return proposed


def test_ask_tell_is_reproducible_and_never_repeats():
    first, second = run(make_engine(seed=3), 60), run(make_engine(seed=3), 60)
    assert first == second
    keys = {json.dumps(values, sort_keys=True) for values in first}
    assert len(keys) == 60
    assert run(make_engine(seed=4), 60) != first


def test_state_round_trip_continues_exactly():
    engine = make_engine(seed=5)
    run(engine, 25)
    saved = json.loads(engine.to_json())
    plain = json.loads(json.dumps(engine.to_dict()))
    assert {**saved, "search_seconds": 0} == {**plain, "search_seconds": 0}
    expected = run(engine, 20, start=25)

    restored = make_engine(seed=99)
    restored.load_dict(saved)
    genomes = dict(engine.genomes)
    results = {tid: score_of(values) for tid, values in genomes.items()}
    restored.remember(
        {tid: g for tid, g in genomes.items() if int(tid) < 25},
        {tid: s for tid, s in results.items() if int(tid) < 25},
    )
    assert run(restored, 20, start=25) == expected


def test_elites_are_the_best_of_all_time_and_carried_with_their_scores():
    engine = make_engine(seed=1, population_size=6, elites=2)
    run(engine, 30)
    everyone = dict(engine.everyone())
    for plan in engine.plans[1:]:
        first_child = int(plan["members"][len(plan["elites"])])
        before = sorted(everyone[tid] for tid in everyone if int(tid) < first_child)
        assert sorted(everyone[tid] for tid in plan["elites"]) == before[-2:]


def test_waits_for_running_members_when_not_asynchronous():
    engine = make_engine(seed=0, population_size=4, asynchronous=False)
    for index in range(4):
        assert engine.ask(str(index)).action == RUN
    engine.tell("0", 1.0)
    assert engine.ask("4").action == IDLE  # three of generation 0 still run
    for index in range(1, 4):
        engine.tell(str(index), 0.5)
    assert engine.ask("4").action == RUN


def test_asynchronous_breeds_once_one_member_of_the_last_generation_completed():
    engine = make_engine(seed=0, population_size=4)
    for index in range(4):
        engine.ask(str(index))
    assert engine.ask("4").action == IDLE  # nothing completed: nothing to breed from
    engine.tell("2", 1.0)
    assert engine.ask("4").action == RUN


def test_a_finite_space_is_exhausted_cleanly():
    config = EvolutionConfig(population_size=4)
    engine = Evolution(config, config.shape(None), "max", 0, small_space())
    seen = set()
    for index in range(20):
        decision = engine.ask(str(index))
        if decision.action == STOP:
            break
        seen.add(json.dumps(decision.values, sort_keys=True))
        engine.tell(str(index), float(decision.values["a"]))
    assert decision.action == STOP and decision.reason == "exhausted"
    assert len(seen) == 12  # 3 x 4 configurations, each exactly once


def test_goal_and_time_rules_stop_the_search():
    engine = make_engine(seed=0, goal=0.9)
    for index in range(200):
        decision = engine.ask(str(index))
        if decision.action == STOP:
            break
        engine.tell(str(index), score_of(decision.values))
    assert decision.reason == "goal" and decision.newly_stopped

    clock = iter([0.0, 0.0, 10.0, 10.0])
    config = EvolutionConfig(max_search_time=5.0)
    timed = Evolution(config, config.shape(None), "max", 0, mixed_space(), lambda: next(clock))
    assert timed.ask("0").action == RUN
    assert timed.ask("1").reason == "time"


def test_selection_and_variation_objects_are_composable():
    by_name = run(make_engine(seed=2, selection="tournament", tournament_size=3), 40)
    by_object = run(make_engine(seed=2, selection=kte.TournamentSelection(3)), 40)
    assert by_name == by_object
    assert by_name != run(make_engine(seed=2), 40)

    calls = []

    class Counting(kte.UniformCrossover):
        def __call__(self, rng, space, mother, father):
            calls.append((dict(mother), dict(father)))
            return super().__call__(rng, space, mother, father)

    run(make_engine(seed=2, crossover=Counting(), mutation=kte.Mutation(0.5, 0.3)), 40)
    assert calls  # every child after generation 0 went through the given crossover


def test_selection_strategies_draw_distinct_fitter_members():
    rng = np.random.default_rng(0)
    scores = list(range(20))
    for strategy in (kte.RankSelection(5.0), kte.TournamentSelection(4)):
        picked = strategy(rng, scores, 6, "max")
        assert len(set(picked)) == 6
        assert np.mean(picked) > 9.5
        assert np.mean(strategy(rng, scores, 6, "min")) < 9.5
    with pytest.raises(ValueError, match="tournament size"):
        kte.TournamentSelection(0)
