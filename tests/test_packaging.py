"""The package as PyPI will see it: license, typing marker, metadata, one version."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

import keras_tuner_evolution

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11+")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)


def test_the_version_is_written_in_one_place():
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "keras_tuner_evolution.__version__"
    assert keras_tuner_evolution.__version__.count(".") >= 2


def test_license_typing_marker_urls_and_backend_extras_are_declared():
    project = _pyproject()["project"]
    with open(os.path.join(ROOT, "LICENSE")) as handle:
        text = handle.read()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert os.path.exists(os.path.join(ROOT, "keras_tuner_evolution", "py.typed"))
    assert {"Homepage", "Source", "Issues", "Changelog", "Documentation"} <= set(project["urls"])
    extras = project["optional-dependencies"]
    assert any(r.startswith("jax[cpu]") for r in extras["jax"])
    assert any(r.startswith("torch") for r in extras["torch"])
    assert {"build>=1", "twine>=5"} <= set(extras["dev"])
    python = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if "Python :: 3." in c}
    assert python == {"3.10", "3.11", "3.12", "3.13"}
    assert project["requires-python"] == ">=3.10"


def test_classifiers_are_ones_pypi_accepts():
    trove = pytest.importorskip("trove_classifiers", reason="trove-classifiers is not installed")
    unknown = set(_pyproject()["project"]["classifiers"]) - set(trove.classifiers)
    assert not unknown


@pytest.mark.slow
def test_sdist_and_wheel_build_and_pass_twine_check(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), ROOT],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    version = keras_tuner_evolution.__version__
    assert wheel.name == f"keras_tuner_evolution-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"keras_tuner_evolution-{version}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
    assert f"{info}/licenses/LICENSE" in names
    assert "keras_tuner_evolution/py.typed" in names
    assert "keras_tuner_evolution/show/command.py" in names
    assert not any(name.startswith("tests/") for name in names)
    assert metadata["Version"] == version
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(url.startswith("Source, https://") for url in metadata.get_all("Project-URL"))
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    with tarfile.open(sdist) as archive:
        assert f"keras_tuner_evolution-{version}/LICENSE" in archive.getnames()
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
