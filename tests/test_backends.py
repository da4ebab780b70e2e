"""The package on every Keras 3 backend: TensorFlow, JAX and PyTorch.

Keras fixes its backend when it is first imported, so each check runs in a new process with
KERAS_BACKEND set. A backend whose package is not installed is skipped, with the pip extra that
installs it (CI installs `.[dev,jax,bench]`; PyTorch was checked by hand, see the README).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from keras_tuner_evolution import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "tests", "scripts", "backend_smoke.py")
BACKENDS = ("tensorflow", "jax", "torch")


def _needs(backend: str) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(
            f"the {backend} backend is not installed here: "
            f"pip install -e '.[{backend}]' to run this test"
        )


def _env(backend: str) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    return env


def _run(command: list[str], env: dict[str, str], timeout: int = 400):
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_search_tensorboard_best_models_and_train_best(backend, tmp_path, capsys):
    _needs(backend)
    done = _run([sys.executable, SMOKE, str(tmp_path)], _env(backend))
    line = next(line for line in done.stdout.splitlines() if line.startswith("KTE-SMOKE "))
    report = json.loads(line.removeprefix("KTE-SMOKE "))
    assert report["backend"] == backend
    assert report["trials"] == 3  # 2, then 1 child beside the elite
    assert 0.0 <= report["fittest"] <= 1.0 and 0.0 <= report["train_best"] <= 1.0
    assert report["prediction_shape"] == [5, 10]
    assert report["reloaded_output_shape"] == [None, 10]
    assert report["event_files"] >= 3  # per-trial sessions and the evolution's scalars
    # The project it left is one `kte show` reads (an EvolutionaryTuner's).
    assert cli.main(["show", str(tmp_path / "search"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["kind"] == "evolution" and len(shown["generations"]) == 2
    assert shown["fittest"]["score"] == report["fittest"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ("jax", "torch"))
def test_demo_runs_on_the_backend_it_is_given(backend, tmp_path):
    _needs(backend)
    env = {**_env("tensorflow"), "KERAS_BACKEND": "tensorflow"}  # --backend must win
    output = tmp_path / "demo"
    done = _run(
        [sys.executable, "-m", "keras_tuner_evolution", "demo", "--backend", backend,
         "--population", "2", "--generations", "1", "--epochs", "1", "--final-epochs", "1",
         "--output", str(output)],
        env,
    )  # fmt: skip
    assert f"Keras backend {backend})" in done.stdout
    assert (output / "evolution.png").exists() and (output / "best_model.keras").exists()


@pytest.mark.slow
def test_launch_runs_workers_on_the_jax_backend(tmp_path, capsys):
    _needs("jax")
    done = _run(
        [sys.executable, "-m", "keras_tuner_evolution", "launch", "--workers", "1", SMOKE,
         str(tmp_path), "--launched"],
        _env("jax"),
    )  # fmt: skip
    assert "the search finished" in done.stderr
    backends = {p.name: p.read_text() for p in (tmp_path / "backends").iterdir()}
    assert backends == {"chief": "jax", "worker0": "jax"}
    assert cli.main(["show", str(tmp_path / "search"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["trials"] == {"COMPLETED": 3} and shown["stop_reason"] == "max_trials"
