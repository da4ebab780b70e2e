"""The oracle's search space copies itself for every trial without Keras' deserializer."""

from unittest import mock

import keras_tuner as kt
import pytest

from keras_tuner_evolution.hyperband import EvolutionaryHyperbandOracle
from keras_tuner_evolution.oracle import EvolutionaryOracle
from keras_tuner_evolution.space_copy import FastCopyHyperParameters
from tests.helpers import mixed_score, mixed_space, mlp_or_cnn_space, run_search


def twice_declared_space() -> kt.HyperParameters:
    """`units` is declared under two conditional scopes, with other bounds in each."""
    hp = kt.HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("units", 16, 64, step=16)
    with hp.conditional_scope("model", ["cnn"]):
        hp.Int("units", 8, 32)
    hp.Fixed("epochs", 3)
    return hp


@pytest.mark.parametrize("make_space", [mixed_space, mlp_or_cnn_space, twice_declared_space])
def test_copy_is_keras_tuners_copy(make_space):
    space = FastCopyHyperParameters.from_config(make_space().get_config())
    name = space.space[0].name
    space.values[name] = space.space[0].values[-1]  # not the default: the copy keeps it
    copied = space.copy()
    assert type(copied) is kt.HyperParameters
    assert copied.get_config() == kt.HyperParameters.copy(space).get_config()
    # Nothing is shared: changing the copy leaves the original as it was.
    copied.values[name] = "changed"
    copied.Int("extra", 1, 2)
    assert space.values[name] == space.space[0].values[-1]
    assert "extra" not in {hp.name for hp in space.space}


@pytest.mark.parametrize("oracle_class", [EvolutionaryOracle, EvolutionaryHyperbandOracle])
def test_oracle_creates_trials_without_the_deserializer(tmp_path, oracle_class):
    space = mlp_or_cnn_space()
    kwargs = {"max_epochs": 9} if oracle_class is EvolutionaryHyperbandOracle else {}
    oracle = oracle_class(objective=kt.Objective("score", "max"), hyperparameters=space, **kwargs)
    oracle._set_project_dir(str(tmp_path), "p")
    # Keras Tuner's own copy goes through `HyperParameters.from_config`.
    with mock.patch.object(kt.HyperParameters, "from_config", side_effect=AssertionError):
        trial = oracle.create_trial("tuner0")
    assert type(trial.hyperparameters) is kt.HyperParameters
    assert trial.hyperparameters.get_config()["space"] == space.get_config()["space"]
    assert trial.hyperparameters.values["model"] in ("mlp", "cnn")


def test_callers_space_is_shared_not_replaced(tmp_path):
    # As with Keras Tuner's oracles, a space grown after it was handed over is the oracle's.
    space = mixed_space()
    oracle = EvolutionaryOracle(objective=kt.Objective("score", "max"), hyperparameters=space)
    oracle._set_project_dir(str(tmp_path), "p")
    assert isinstance(oracle.hyperparameters, FastCopyHyperParameters)
    space.Int("grown", 1, 3)
    new = kt.HyperParameters()
    new.Int("added", 1, 3)
    oracle.update_space(new)
    assert {"grown", "added"} <= {hp.name for hp in space.space}
    assert type(space) is kt.HyperParameters
    trial = oracle.create_trial("tuner0")
    assert {"grown", "added"} <= set(trial.hyperparameters.values)


def test_subclassed_space_is_kept_as_it_is():
    class Space(kt.HyperParameters):
        pass

    space = Space()
    space.Int("units", 1, 3)
    oracle = EvolutionaryOracle(objective=kt.Objective("score", "max"), hyperparameters=space)
    assert oracle.hyperparameters is space


def test_reloaded_oracle_keeps_the_fast_copy(tmp_path):
    searched = run_search(mixed_score, tmp_path, mixed_space(), max_trials=6, seed=1)
    oracle = EvolutionaryOracle(objective=kt.Objective("score", "max"), max_trials=6, seed=1)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.reload()
    assert isinstance(oracle.hyperparameters, FastCopyHyperParameters)
    assert oracle.hyperparameters.get_config() == searched.hyperparameters.get_config()
