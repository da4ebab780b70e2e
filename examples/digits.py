"""Evolve a small Keras network on scikit-learn's digits, offline, in about a minute.

The search space is an ordinary Keras Tuner build function: width, dropout and learning rate.
Replacing `EvolutionaryTuner` with `keras_tuner.RandomSearch` (and `generations` with
`max_trials`) gives the random-search baseline of the same code.

    python examples/digits.py
"""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from keras_tuner_evolution.tuners import EvolutionaryTuner


def build(hp: keras_tuner.HyperParameters) -> keras.Model:
    """A one-hidden-layer network for 8x8 digit images."""
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 16, 256, step=16), activation="relu"),
            keras.layers.Dropout(hp.Choice("dropout", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-4, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def load() -> tuple[Any, Any, Any, Any]:
    """Digits scaled to [0, 1], split 80/20 with a fixed seed."""
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        (digits.data / 16.0).astype("float32"),
        digits.target,
        test_size=0.2,
        random_state=0,
        stratify=digits.target,
    )
    return x_train, y_train, x_val, y_val


def run(
    population_size: int = 8,
    generations: int = 4,
    epochs: int = 3,
    seed: int = 1,
    directory: str = "digits_evolution",
    verbose: int = 1,
) -> dict[str, Any]:
    """Evolves `build`'s hyperparameters on digits; returns the fittest genome and fitness."""
    x_train, y_train, x_val, y_val = load()
    keras.utils.set_random_seed(seed)
    tuner = EvolutionaryTuner(
        build,
        objective="val_accuracy",
        population_size=population_size,
        generations=generations,
        seed=seed,
        directory=directory,
        project_name="digits",
        overwrite=True,
    )
    tuner.search(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=32,
        verbose=verbose,
    )
    history = tuner.history
    if verbose:
        for generation, mean, best in zip(history.generations, history.mean, history.best):
            print(f"generation {generation.index}: mean {mean:.4f}  best {best:.4f}")
        print("Fittest:", history.fittest)
    return history.fittest


if __name__ == "__main__":
    run()
