"""Tests for the `kte` command line (keras_tuner_evolution.cli)."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
import urllib.error

import keras
import numpy as np
import pytest

from keras_tuner_evolution import cli


def _run_demo(tmp_path, capsys, *flags):
    output = tmp_path / "out"
    code = cli.main(["demo", "--output", str(output), "--seed", "3", *flags])
    out, err = capsys.readouterr()
    return code, out, err, output


def _check_demo_outputs(code, out, err, output):
    assert code == 0, err
    fitness = re.search(r"Fitness \(val_accuracy\): (\d\.\d{4})", out)
    assert fitness and 0.0 <= float(fitness.group(1)) <= 1.0, out
    final = re.search(r"Fittest network fully trained: val_accuracy (\d\.\d{4})", out)
    assert final, out
    assert re.search(r"^model +1: val_accuracy", out, re.MULTILINE), out  # progress lines
    for name in ("evolution.png", "lineage.png"):  # README: the demo leaves both
        assert (output / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert list((output / "tensorboard").rglob("events.out.tfevents.*"))
    model = keras.models.load_model(output / "best_model.keras")
    assert model.output_shape == (None, 10)


@pytest.mark.slow
def test_demo_smallest_run_writes_everything(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    result = _run_demo(tmp_path, capsys, "--population", "2", "--generations", "1",
                       "--epochs", "1", "--final-epochs", "1")  # fmt: skip
    _check_demo_outputs(*result)
    assert len(re.findall(r"^model +\d+:", result[1], re.MULTILINE)) == 2


@pytest.mark.slow
def test_demo_tiny_evolution_completes(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    result = _run_demo(tmp_path, capsys, "--population", "4", "--generations", "2",
                       "--epochs", "1", "--final-epochs", "3", "--time-limit", "20")  # fmt: skip
    _check_demo_outputs(*result)
    # Generation 0 trains 4 networks; generation 1 keeps an elite and trains 3 children.
    assert len(re.findall(r"^model +\d+:", result[1], re.MULTILINE)) == 7


class _FakeHistory:
    fittest = {"genome": {"neurons0": 64, "optimizer": "adam"}, "fitness": 0.875, "trial_id": "3"}

    def plot(self, path, title, ylabel):
        with open(path, "wb") as handle:
            handle.write(b"png")

    def plot_lineage(self, trial_id, path):
        assert trial_id == self.fittest["trial_id"]  # the fittest network's family tree
        with open(path, "wb") as handle:
            handle.write(b"png")


class _FakeTuner:
    """Stands in for EvolutionaryTuner to check the demo's wiring without training."""

    instances: list[_FakeTuner] = []

    def __init__(self, hypermodel, **kwargs):
        self.hypermodel, self.kwargs = hypermodel, kwargs
        self.history = _FakeHistory()
        _FakeTuner.instances.append(self)

    def search(self, x, y, **kwargs):
        self.search_args = (x, y, kwargs)

    def train_best(self, x, y, **kwargs):
        self.train_best_kwargs = kwargs
        open(kwargs["file_name"], "wb").close()
        return 0.9321


def test_demo_wires_the_tuner_plot_tensorboard_and_train_best(monkeypatch, tmp_path, capsys):
    import keras_tuner_evolution.tuners

    monkeypatch.setattr(keras_tuner_evolution.tuners, "EvolutionaryTuner", _FakeTuner)
    output = tmp_path / "demo"
    argv = ["demo", "--population", "5", "--generations", "3", "--epochs", "4", "--seed", "9",
            "--time-limit", "2.5", "--final-epochs", "7", "--patience", "2",
            "--output", str(output)]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    tuner = _FakeTuner.instances[-1]
    assert tuner.kwargs == {
        "objective": "val_accuracy",
        "population_size": 5,
        "generations": 3,
        "seed": 9,
        "max_training_time": 2.5,
        "directory": str(output),
        "project_name": "search",
        "overwrite": True,
    }
    assert tuner.hypermodel.input_shape == (64,) and tuner.hypermodel.output_units == 10
    x, y, kwargs = tuner.search_args
    assert x.shape == (1437, 64) and y.shape == (1437,)
    assert kwargs["epochs"] == 4 and kwargs["validation_data"][0].shape == (360, 64)
    boards = [c for c in kwargs["callbacks"] if isinstance(c, keras.callbacks.TensorBoard)]
    assert [b.log_dir for b in boards] == [str(output / "tensorboard")]
    assert tuner.train_best_kwargs["epochs"] == 7 and tuner.train_best_kwargs["patience"] == 2
    assert tuner.train_best_kwargs["file_name"] == str(output / "best_model.keras")
    assert (output / "evolution.png").exists() and (output / "best_model.keras").exists()
    assert (output / "lineage.png").exists()
    assert "Fitness (val_accuracy): 0.8750" in out
    assert "neurons0           64" in out
    assert "Fittest network fully trained: val_accuracy 0.9321" in out


def test_demo_reports_a_search_where_nothing_finished(monkeypatch, tmp_path, capsys):
    import keras_tuner_evolution.tuners

    class NothingFinished(_FakeTuner):
        def __init__(self, hypermodel, **kwargs):
            super().__init__(hypermodel, **kwargs)
            self.history = type("H", (), {"fittest": None})()

    monkeypatch.setattr(keras_tuner_evolution.tuners, "EvolutionaryTuner", NothingFinished)
    assert cli.main(["demo", "--output", str(tmp_path)]) == 1
    assert "no network finished training" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["demo", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
        (["demo", "--population", "1"], "argument --population: must be at least 2, got 1"),
        (["demo", "--generations", "0"], "argument --generations: must be at least 1, got 0"),
        (["demo", "--epochs", "two"], "argument --epochs: expected an integer, got 'two'"),
        (["demo", "--time-limit", "0"], "argument --time-limit: must be a positive number"),
        (["demo", "--time-limit", "soon"], "argument --time-limit: expected a number"),
        (["demo", "--seed", "-1"], "argument --seed: must be at least 0"),
        (["demo", "--patience", "-2"], "argument --patience: must be at least 0"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
        (
            ["demo", "--backend", "mxnet"],
            "argument --backend: invalid choice: 'mxnet' (choose from",
        ),
        (["evolve"], "argument COMMAND: invalid choice: 'evolve'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "demo" in err and "show" in err and "launch" in err


def test_help_exits_0(capsys):
    assert cli.main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ["--population", "--generations", "--epochs", "--time-limit", "--seed",
                 "--output", "--dataset", "--backend"]:  # fmt: skip
        assert flag in out


def test_help_says_each_default_once_and_never_none(capsys):
    assert cli.main(["demo", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in out
    assert "in seconds (default: none) --seed" in out  # --time-limit, said once
    assert out.count("(default: none)") == 1
    assert "networks per generation (default: 6)" in out
    assert "(default: $KERAS_BACKEND, else Keras's configured one" in out


def test_select_backend_sets_keras_backend_before_keras_is_imported(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # restored after the test
    monkeypatch.delitem(sys.modules, "keras")  # as in a fresh `kte demo` process
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object())
    cli.select_backend("jax")
    assert os.environ["KERAS_BACKEND"] == "jax"
    cli.select_backend(None)  # keeps what the environment says
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_a_backend_that_is_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.delitem(sys.modules, "keras")
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        cli.BackendUnavailable,
        match=r"the torch backend needs the torch package"
        r", which is not installed: pip install 'keras-tuner-evolution\[torch\]'",
    ):
        cli.select_backend("torch")  # fmt: skip
    assert os.environ["KERAS_BACKEND"] == "tensorflow"
    with pytest.raises(ValueError, match="backend must be one of tensorflow, jax, torch; got 'mx'"):
        cli.select_backend("mx")


def test_demo_on_another_backend_than_the_imported_one_exits_1(tmp_path, capsys):
    other = "jax" if keras.backend.backend() != "jax" else "torch"
    assert cli.main(["demo", "--backend", other, "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"Keras was already imported with the {keras.backend.backend()} backend" in err
    assert "run the command in a new process" in err
    assert not list(tmp_path.iterdir())  # nothing was started
    cli.select_backend(keras.backend.backend())  # the backend in use is accepted


@pytest.mark.parametrize(
    "error",
    [urllib.error.URLError("no network"), OSError("Network is unreachable"), Exception("HTTP 503")],
)
def test_a_failed_download_exits_1_with_a_clear_message(monkeypatch, tmp_path, capsys, error):
    def offline():
        raise error

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    code = cli.main(["demo", "--dataset", "mnist", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "could not download the mnist data set" in err
    assert "--dataset digits" in err
    assert not list(tmp_path.iterdir())  # nothing was started


def test_keras_datasets_are_scaled_and_labels_flattened(monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(20, 1), dtype=np.uint8)
    monkeypatch.setattr(
        keras.datasets.cifar10, "load_data", lambda: ((images, labels), (images[:5], labels[:5]))
    )
    x, y, x_val, y_val = cli.load_dataset("cifar10")
    assert x.dtype == np.float32 and x.shape == (20, 32, 32, 3)
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_allclose(x * 255, images, atol=1e-4)
    assert y.shape == (20,) and y_val.shape == (5,) and x_val.shape == (5, 32, 32, 3)


def test_digits_split_is_fixed_and_stratified():
    first = cli.load_dataset("digits")
    second = cli.load_dataset("digits")
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    x, y, x_val, y_val = first
    assert x.shape == (1437, 64) and x_val.shape == (360, 64)
    assert 0.0 <= x.min() and x.max() == 1.0
    counts = np.bincount(y_val, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified: about 36 per class


def test_unknown_dataset_name_is_a_value_error():
    with pytest.raises(ValueError, match="dataset must be one of digits, mnist"):
        cli.load_dataset("imagenet")


def test_module_entry_point_runs_main(monkeypatch, capsys):
    # `python -m keras_tuner_evolution`, in process (a subprocess would re-import TensorFlow).
    monkeypatch.setattr(sys, "argv", ["kte", "demo", "--population", "1"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("keras_tuner_evolution", run_name="__main__")
    assert exit_.value.code == 2
    assert "usage: kte demo" in capsys.readouterr().err


def test_the_command_line_starts_without_tensorflow():
    # `kte launch` must not import TensorFlow (slow, and it must not take a GPU for itself).
    code = (
        "import sys, keras_tuner_evolution.cli as cli, keras_tuner_evolution.launch; "
        "cli.build_parser(); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_public_names_are_imported_on_first_use():
    import keras_tuner_evolution as kte

    for name in kte.__all__:
        assert getattr(kte, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        kte.no_such_name  # noqa: B018
