"""The `kte` command line.

``kte demo`` evolves a `DenseHyperModel` on a small image data set, plots the evolution, writes
TensorBoard logs, trains the fittest network fully and saves it; ``kte show`` summarises a
project folder (see `keras_tuner_evolution.show`); ``kte launch`` runs a parallel search (see
`keras_tuner_evolution.distribute`). TensorFlow, Keras and the tuner are imported inside the
commands, not when the parser is built, so ``kte demo --backend`` can choose Keras's backend.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from keras_tuner_evolution.argtypes import int_at_least, positive_seconds

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
# Keras 3 backends, and the module each needs (the pip extra of the same name installs it).
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
OBJECTIVE = "val_accuracy"
# Digits is split once, the same way for every --seed, so runs with different seeds search
# the same problem.
SPLIT_SEED = 0
VALIDATION_FRACTION = 0.2

# 18 trained networks: 6, then 4 children a generation beside the 2 elites carried over.
# Measured on an idle 2-core machine with the earlier 21 (one elite): 90 s wall for the whole
# default `kte demo` (71 s search, 10 s final training, the rest start-up); population 8 took
# 165 s.
DEFAULT_POPULATION = 6
DEFAULT_GENERATIONS = 4
DEFAULT_EPOCHS = 2
DEFAULT_FINAL_EPOCHS = 30
DEFAULT_PATIENCE = 5


class DatasetUnavailable(RuntimeError):
    """A data set could not be loaded (usually: no internet for the download)."""


class BackendUnavailable(RuntimeError):
    """The Keras backend asked for cannot be used in this process."""


def select_backend(name: str | None) -> None:
    """Makes Keras use backend `name`; must run before Keras is first imported.

    Args:
        name: A key of `BACKENDS`, or None to keep `KERAS_BACKEND` / Keras's configuration.

    Raises:
        BackendUnavailable: When the backend's package is not installed, or Keras was already
            imported with another backend (it cannot switch within a process).
        ValueError: For a name that is not a Keras 3 backend.
    """
    if name is None:
        return
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}.")
    keras = sys.modules.get("keras")
    if keras is not None:
        current = keras.backend.backend()
        if current != name:
            raise BackendUnavailable(
                f"Keras was already imported with the {current} backend and cannot switch "
                f"to {name} in this process; run the command in a new process."
            )
        return
    if importlib.util.find_spec(BACKENDS[name]) is None:
        raise BackendUnavailable(
            f"the {name} backend needs the {BACKENDS[name]} package, which is not installed: "
            f"pip install 'keras-tuner-evolution[{name}]'."
        )
    os.environ["KERAS_BACKEND"] = name


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `kte` command line.

    Args:
        argv: The arguments without the program name; None reads `sys.argv`.

    Returns:
        The exit status: 0 on success, 1 when the command failed, 2 for bad arguments.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage and the error
        return _exit_code(exit_.code)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    """Returns the `kte` parser; commands are subparsers, each with a `handler`."""
    parser = argparse.ArgumentParser(
        prog="kte", description="Evolutionary hyperparameter search for Keras Tuner."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(commands)
    from keras_tuner_evolution.distribute.command import add_launch_command  # no heavy imports
    from keras_tuner_evolution.show import add_show_command

    add_launch_command(commands)
    add_show_command(commands)
    return parser


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to an option's help, except when the default is None (the help
    then says what happens without the option)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None:
            return action.help or ""
        return super()._get_help_string(action)


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="evolve a dense network on a small data set",
        description=(
            "Evolve a DenseHyperModel (15 hyperparameters) by natural selection, plot the "
            "evolution, write TensorBoard logs, then train the fittest network with early "
            "stopping and save it. The default run (digits, offline) takes about a minute and a "
            "half on two CPU cores."
        ),
        formatter_class=DefaultsFormatter,
    )
    demo.add_argument(
        "--backend",
        choices=tuple(BACKENDS),
        default=None,
        help="Keras 3 backend to train on (default: $KERAS_BACKEND, else Keras's configured "
        "one, tensorflow unless changed); jax and torch need their pip extra, e.g. "
        "pip install 'keras-tuner-evolution[jax]'",
    )
    demo.add_argument(
        "--population",
        type=int_at_least(2),
        default=DEFAULT_POPULATION,
        help="networks per generation",
    )
    demo.add_argument(
        "--generations",
        type=int_at_least(1),
        default=DEFAULT_GENERATIONS,
        help="number of generations",
    )
    demo.add_argument(
        "--epochs",
        type=int_at_least(1),
        default=DEFAULT_EPOCHS,
        help="training epochs per network during the search",
    )
    demo.add_argument(
        "--time-limit",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="training time limit per network, in seconds (default: none)",
    )
    demo.add_argument("--seed", type=int_at_least(0), default=1, help="random seed")
    demo.add_argument(
        "--output",
        default="kte-demo",
        metavar="DIR",
        help="folder for the plot, TensorBoard logs, search state and model",
    )
    demo.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="digits is bundled with scikit-learn; the others are downloaded by "
        "keras.datasets and validated on their test split",
    )
    demo.add_argument(
        "--final-epochs",
        type=int_at_least(1),
        default=DEFAULT_FINAL_EPOCHS,
        help="most epochs to train the fittest network",
    )
    demo.add_argument(
        "--patience",
        type=int_at_least(0),
        default=DEFAULT_PATIENCE,
        help="early-stopping patience when training the fittest network",
    )
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Runs ``kte demo`` with parsed arguments; returns the exit status."""
    start = time.monotonic()
    try:
        select_backend(args.backend)
        data = load_dataset(args.dataset)
    except (BackendUnavailable, DatasetUnavailable) as error:
        print(f"kte demo: error: {error}", file=sys.stderr)
        return 1
    output = os.path.abspath(args.output)
    os.makedirs(output, exist_ok=True)
    tuner, tensorboard_dir = _demo_search(args, data, output)
    search_seconds = time.monotonic() - start
    fittest = tuner.history.fittest
    if fittest is None:
        print("kte demo: error: no network finished training.", file=sys.stderr)
        return 1
    print("\nFittest genome:")
    for name, value in fittest["genome"].items():
        print(f"  {name:<18} {value}")
    print(f"Fitness ({OBJECTIVE}): {fittest['fitness']:.4f}")
    plot_path = os.path.join(output, "evolution.png")
    tuner.history.plot(
        path=plot_path, title="Validation accuracy by generation", ylabel="Validation accuracy"
    )
    lineage_path = os.path.join(output, "lineage.png")
    tuner.history.plot_lineage(fittest["trial_id"], path=lineage_path)
    final_start = time.monotonic()
    model_path = _demo_train_best(args, tuner, data, output)
    final_seconds = time.monotonic() - final_start
    print(f"Search took {search_seconds:.0f} s, final training {final_seconds:.0f} s.")
    print(f"\nEvolution plot:   {plot_path}")
    print(f"Lineage plot:     {lineage_path}")
    print(f"TensorBoard logs: {tensorboard_dir}  (tensorboard --logdir {tensorboard_dir})")
    print(f"Model:            {model_path}")
    print(f"Done in {time.monotonic() - start:.0f} s.")
    return 0


def _demo_search(args: argparse.Namespace, data: tuple, output: str) -> tuple[Any, str]:
    """The demo's evolutionary search; returns the tuner and its TensorBoard folder."""
    import keras

    from keras_tuner_evolution.callbacks import Progress
    from keras_tuner_evolution.hypermodels import DenseHyperModel
    from keras_tuner_evolution.tuners import EvolutionaryTuner

    x, y, x_val, y_val = data
    keras.utils.set_random_seed(args.seed)  # weights, dropout and shuffling
    print(
        f"Evolving {args.population} networks for {args.generations} generations on "
        f"{args.dataset} ({len(x)} training, {len(x_val)} validation samples, Keras backend "
        f"{keras.backend.backend()}), "
        f"{args.epochs} epoch(s) each"
        + (f", at most {args.time_limit:g} s" if args.time_limit else "")
        + "."
    )
    tuner = EvolutionaryTuner(
        DenseHyperModel.from_data(x, y),
        objective=OBJECTIVE,
        population_size=args.population,
        generations=args.generations,
        seed=args.seed,
        max_training_time=args.time_limit,
        directory=output,
        project_name="search",
        overwrite=True,
    )
    tensorboard_dir = os.path.join(output, "tensorboard")
    tuner.search(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=args.epochs,
        verbose=0,  # the Progress callback prints one line per network instead
        callbacks=[
            keras.callbacks.TensorBoard(tensorboard_dir),
            Progress(OBJECTIVE, direction="max"),
        ],
    )
    return tuner, tensorboard_dir


def _demo_train_best(args: argparse.Namespace, tuner: Any, data: tuple, output: str) -> str:
    """Trains the fittest network fully; returns the saved model's path."""
    x, y, x_val, y_val = data
    print(f"\nTraining the fittest network for up to {args.final_epochs} epochs ...")
    model_path = os.path.join(output, "best_model.keras")
    score = tuner.train_best(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=args.final_epochs,
        patience=args.patience,
        file_name=model_path,
        verbose=0,
    )
    print(f"Fittest network fully trained: {OBJECTIVE} {score:.4f}")
    return model_path


def load_dataset(name: str) -> tuple[Any, Any, Any, Any]:
    """Loads a demo data set, scaled to [0, 1].

    Args:
        name: One of `DATASETS`. ``digits`` (8x8 images, bundled with scikit-learn) is split
            80/20 with a fixed seed; the Keras data sets use their own test split for
            validation.

    Returns:
        ``(x_train, y_train, x_val, y_val)`` as float32 inputs and integer labels.

    Raises:
        DatasetUnavailable: When a Keras data set cannot be downloaded.
        ValueError: For an unknown name.
    """
    import numpy as np

    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}.")
    if name == "digits":
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = (digits.data / 16.0).astype("float32")
        x_train, x_val, y_train, y_val = train_test_split(
            x,
            digits.target,
            test_size=VALIDATION_FRACTION,
            random_state=SPLIT_SEED,
            stratify=digits.target,
        )
        return x_train, y_train, x_val, y_val

    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_val, y_val) = loader.load_data()
    except Exception as error:  # urllib, SSL, socket and file errors all mean "not available"
        raise DatasetUnavailable(
            f"could not download the {name} data set ({type(error).__name__}: {error}). "
            "Check the internet connection, or run the offline demo with --dataset digits."
        ) from error

    def scale(images: Any) -> Any:
        return (np.asarray(images, dtype="float32") / 255.0).astype("float32")

    return scale(x_train), np.ravel(y_train), scale(x_val), np.ravel(y_val)


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1
