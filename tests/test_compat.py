"""0.1.0 keeps working: its module paths, arguments and attributes, and `EvolutionConfig`."""

import importlib

import keras_tuner as kt
import pytest

import keras_tuner_evolution as kte
from keras_tuner_evolution.config import EvolutionConfig
from tests.helpers import mixed_space

OLD_MODULES = {
    "genome": ["repair", "genome_hash", "random_genome", "count_configurations"],
    "operators": ["select_elites", "select_breeders", "mutate", "uniform_crossover"],
    "storage": ["atomic_write_text", "load_json", "save_json", "StateFileError"],
    "tuner": ["EvolutionaryTuner"],
    "tensorboard_logging": ["TensorBoardLogger"],
    "launch": ["main"],
    "functions": ["FunctionTuner", "maximize", "minimize"],
    "oracle": ["EvolutionaryOracle", "default_population_size", "resolve_count"],
}


@pytest.mark.parametrize("module", sorted(OLD_MODULES))
def test_old_module_paths_still_import(module):
    loaded = importlib.import_module(f"keras_tuner_evolution.{module}")
    for name in OLD_MODULES[module]:
        assert callable(getattr(loaded, name)), f"{module}.{name}"


def test_every_0_1_0_argument_is_accepted_and_readable():
    arguments = dict(
        population_size=6, generations=4, elites=2, breeders=0.5, mutation_rate=0.2,
        mutation_scale=0.3, selection_pressure=2.0, selection="tournament", tournament_size=2,
        parent_pool="best", adaptive_mutation=True, goal=3.0, patience=2, min_delta=0.1,
        max_search_time=60.0, initial_population=[{"units": 64}], warm_start_from=None,
        asynchronous=False,
    )  # fmt: skip
    oracle = kte.EvolutionaryOracle(
        objective=kt.Objective("score", "max"), max_trials=20, seed=0,
        hyperparameters=mixed_space(), **arguments,
    )  # fmt: skip
    for name, value in arguments.items():
        if name not in ("elites", "breeders", "population_size"):  # counts: see below
            assert getattr(oracle, name) == value, name
    assert (oracle.population_size, oracle.elites, oracle.breeders) == (6, 2, 3)
    assert oracle.max_trials == 6 + 3 * 4  # the generations bound the budget
    with pytest.raises(AttributeError):
        oracle.no_such_argument  # noqa: B018


def test_config_object_is_the_same_as_keywords():
    config = EvolutionConfig(population_size=5, elites=1)
    by_object = kte.EvolutionaryOracle(objective="val_loss", max_trials=10, config=config)
    assert by_object.config == EvolutionConfig(population_size=5, elites=1)
    with pytest.raises(TypeError, match="config"):
        kte.EvolutionaryOracle(objective="val_loss", config=config, elites=2)
    with pytest.raises(TypeError, match="populaton_size"):
        kte.EvolutionaryOracle(objective="val_loss", populaton_size=5)


@pytest.mark.parametrize(
    "arguments, named",
    [
        (dict(population_size=1), "population_size"),
        (dict(elites=1.5), "elites"),
        (dict(breeders=0), "breeders"),
        (dict(mutation_rate=2), "mutation_rate"),
        (dict(selection="roulette"), "selection"),
        (dict(parent_pool="all"), "parent_pool"),
        (dict(adaptive_mutation="yes"), "adaptive_mutation"),
        (dict(asynchronous=1), "asynchronous"),
        (dict(crossover="uniform"), "crossover"),
        (dict(mutation=0.1), "mutation"),
        (dict(patience=0), "patience"),
        (dict(max_search_time=0), "max_search_time"),
        (dict(warm_start_from="folder"), "warm_start_from"),
    ],
)
def test_bad_arguments_name_themselves(arguments, named):
    with pytest.raises(ValueError, match=f"`{named}`"):
        EvolutionConfig(**arguments)


def test_elites_must_leave_room_for_a_child():
    with pytest.raises(ValueError, match=r"`elites` must be in \[0, population_size\)"):
        EvolutionConfig(population_size=4, elites=4).shape(None)


def test_tuner_passes_the_evolution_arguments_through(tmp_path):
    tuner = kte.EvolutionaryTuner(
        lambda hp: None, objective="val_loss", population_size=5, elites=1, seed=2,
        directory=str(tmp_path), project_name="p",
    )  # fmt: skip
    assert tuner.oracle.config.population_size == 5 and tuner.oracle.elites == 1
    assert tuner.oracle.max_trials == 10  # RandomSearch's default budget
