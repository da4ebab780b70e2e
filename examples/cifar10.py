"""The NaturalSelection CIFAR-10 experiment, with keras-tuner-evolution.

Evolves dense networks (the 15-hyperparameter `DenseHyperModel` space) on CIFAR-10: a
population of 30 for 30 generations, one epoch per network with at most two minutes of
training each, then trains the fittest network with early stopping and saves it.

Needs an internet connection for the first download of CIFAR-10 (about 170 MB) and many hours
on a CPU; a GPU helps. Run:

    python examples/cifar10.py

The experiment itself is `run()`, which takes arrays, so it can be tried on other data (the
test suite runs it on small random arrays).
"""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np

from keras_tuner_evolution.hypermodels import DenseHyperModel
from keras_tuner_evolution.tuners import EvolutionaryTuner


def load_cifar10() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Downloads CIFAR-10; returns train and test images in [0, 1] with integer labels."""
    (x_train, y_train), (x_val, y_val) = keras.datasets.cifar10.load_data()
    return (
        x_train.astype("float32") / 255,
        y_train.ravel(),
        x_val.astype("float32") / 255,
        y_val.ravel(),
    )


def run(
    x_train: Any,
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    population_size: int = 30,
    generations: int = 30,
    epochs: int = 1,
    max_training_time: float | None = 120,
    final_epochs: int = 100,
    patience: int = 5,
    seed: int = 42,
    directory: str = "cifar10_evolution",
    verbose: int = 1,
) -> dict[str, Any]:
    """Evolves dense networks on the given data, then trains and saves the fittest.

    Args:
        x_train: Training images (any shape per sample; the networks flatten them).
        y_train: Integer training labels.
        x_val: Validation images; the fitness is the validation accuracy.
        y_val: Integer validation labels.
        population_size: Networks per generation.
        generations: Number of generations.
        epochs: Training epochs per network during the search.
        max_training_time: Seconds of training per network; None for no limit.
        final_epochs: Most epochs for the fittest network, with early stopping.
        patience: Early-stopping patience for the fittest network.
        seed: Seed of the evolution and of Keras.
        directory: Folder for the search state, the plot and the model.
        verbose: 0 for silence, 1 for Keras Tuner's progress.

    Returns:
        ``{"fittest": {...genome, fitness, trial_id}, "score": float, "model_path": str,
        "plot_path": str}``; `score` is the fully trained network's validation accuracy.
    """
    keras.utils.set_random_seed(seed)
    tuner = EvolutionaryTuner(
        DenseHyperModel.from_data(x_train, y_train),
        objective="val_accuracy",
        population_size=population_size,
        generations=generations,
        max_training_time=max_training_time,
        seed=seed,
        directory=directory,
        project_name="cifar10",
        overwrite=True,
    )
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, verbose=verbose)
    fittest = tuner.history.fittest
    if verbose:
        print("Best overall genome:", fittest)

    plot_path = os.path.join(directory, "cifar10_plot.png")
    tuner.history.plot(
        path=plot_path, title="Validation accuracy by generation", ylabel="Validation accuracy"
    )
    model_path = os.path.join(directory, "cifar10_model.keras")
    score = tuner.train_best(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=final_epochs,
        patience=patience,
        file_name=model_path,
        verbose=verbose,
    )
    if verbose:
        print("Best score:", score)
    return {"fittest": fittest, "score": score, "model_path": model_path, "plot_path": plot_path}


def main() -> None:
    run(*load_cifar10())


if __name__ == "__main__":
    main()
