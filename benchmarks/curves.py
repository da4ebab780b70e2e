"""Real learning curves of `DenseHyperModel`, recorded once and replayed by `multi_fidelity.py`.

Record (once; resumable; 6-9 s per configuration on an idle core, about 40 minutes; 70
minutes here on two busy shared cores):

    nice -n 10 python benchmarks/curves.py --record

Every configuration of a small grid over `DenseHyperModel.from_data`'s hyperparameters
(`grid_space()`: 288 configurations) is trained for `MAX_EPOCHS` epochs on a fixed, seeded
`make_classification` task (4 classes, 20 features, 10% flipped labels, 800 training and 3000
validation samples; best validation accuracies 0.27 to 0.57, so configurations differ by far
more than a few validation samples), and its validation accuracy after every epoch is kept.
The grid's `layers` hidden layers all have `neurons0` units and dropout `dropout`
(`dense_values`). Each configuration has its own seed
(`keras.utils.set_random_seed(CURVE_SEED + index)`), TensorFlow runs on one thread. Rows are
appended to `benchmarks/data/dense_curves.jsonl` as they finish (so `--record` resumes after an
interruption), and `--pack` (run by `--record` at the end) writes the compact
`benchmarks/data/dense_curves.json.gz` that the benchmark reads. To re-record from scratch,
delete both files and run `--record` again; a second recorder, `--record --reverse`, may share
the work on another core (each skips what the other wrote; run `--pack` when both are done).

A replayed configuration scored after `e` epochs gets the best validation accuracy of its
epochs `1..e` (Keras Tuner scores a trial by its best epoch); its full-training value is that
at `MAX_EPOCHS`.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
RAW = os.path.join(DATA, "dense_curves.jsonl")
PACKED = os.path.join(DATA, "dense_curves.json.gz")
MAX_EPOCHS = 27
CURVE_SEED = 1000
DATA_SEED = 7

# The grid: every combination is one recorded configuration (3*2*2*3*2*2*2 = 288).
GRID = {
    "optimizer": ["adam", "nadam", "adamax"],
    "hidden_activation": ["relu", "elu"],
    "batch_size": [16, 64],
    "neurons0": [32, 256, 1024],
    "layers": [1, 3],
    "input_dropout": [0.0, 0.3],
    "dropout": [0.0, 0.5],
}


def grid_configs(grid: dict = GRID) -> list[dict]:
    """Every configuration of `grid`, in a fixed order (its index is its id)."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]


def config_index(values: dict, grid: dict = GRID) -> int:
    """The index of a configuration in `grid` (values of its names; extra keys ignored)."""
    index = 0
    for name, choices in grid.items():
        index = index * len(choices) + choices.index(values[name])
    return index


def grid_space(grid: dict = GRID):
    """The Keras Tuner search space of a grid: one `Choice` per name."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    for name, choices in grid.items():
        hp.Choice(name, choices)
    return hp


def dense_values(config: dict) -> dict:
    """The `DenseHyperModel` hyperparameter values of a grid configuration."""
    values = {
        "optimizer": config["optimizer"],
        "initializer": "glorot_uniform",
        "hidden_activation": config["hidden_activation"],
        "batch_size": config["batch_size"],
        "input_dropout": config["input_dropout"],
    }
    for i in range(5):  # `layers` hidden layers of the same width, the rest absent
        values[f"neurons{i}"] = config["neurons0"] if i < config["layers"] else 0
        values[f"dropout{i}"] = config["dropout"]
    return values


def make_data():
    """The seeded classification task: `(x, y, x_val, y_val)`."""
    import numpy as np
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=3800,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=4,
        n_clusters_per_class=3,
        class_sep=0.8,
        flip_y=0.1,
        random_state=DATA_SEED,
    )
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = y.astype(np.int64)
    return x[:800], y[:800], x[800:], y[800:]


def train_one(index: int, config: dict, data) -> list[float]:
    """Trains one configuration for `MAX_EPOCHS`; its validation accuracy per epoch."""
    import keras
    import keras_tuner as kt

    from keras_tuner_evolution.hypermodels import DenseHyperModel

    x, y, x_val, y_val = data
    keras.utils.set_random_seed(CURVE_SEED + index)
    hypermodel = DenseHyperModel.from_data(x, y)
    hp = kt.HyperParameters()
    for name, value in dense_values(config).items():
        hp.values[name] = value
    model = hypermodel.build(hp)
    history = hypermodel.fit(
        hp, model, x, y, epochs=MAX_EPOCHS, validation_data=(x_val, y_val), verbose=0
    )
    keras.backend.clear_session()
    return [round(float(a), 5) for a in history.history["val_accuracy"]]


def record(limit: int | None = None, reverse: bool = False) -> None:
    """Trains every configuration not yet in `RAW`, appending one JSON line each.

    Two recorders may share the file (one with `reverse`): each skips what the other wrote.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    os.makedirs(DATA, exist_ok=True)
    data = make_data()
    # The `relu` half first: should the recording be cut short, it is a complete grid itself.
    order = sorted(
        enumerate(grid_configs()), key=lambda p: (p[1]["hidden_activation"] != "relu", p[0])
    )
    for count, (index, config) in enumerate((order[::-1] if reverse else order)[:limit], 1):
        if index in {row["index"] for row in _raw_rows()}:
            continue
        started = time.perf_counter()
        curve = train_one(index, config, data)
        row = {"index": index, "config": config, "val_accuracy": curve}
        row["seconds"] = round(time.perf_counter() - started, 2)
        with open(RAW, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"{count} #{index} {row['seconds']} s final {curve[-1]:.4f}", flush=True)


def _raw_rows() -> list[dict]:
    if not os.path.exists(RAW):
        return []
    with open(RAW, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pack(activations: list[str] | None = None) -> None:
    """Writes `PACKED` from `RAW`: the grid, and one curve per configuration of it, in order.

    Args:
        activations: Pack only these `hidden_activation` values (a complete sub-grid when the
            recording was cut short); None: all of `GRID`'s.
    """
    grid = dict(GRID, hidden_activation=activations or GRID["hidden_activation"])
    rows = {config_index(row["config"], GRID): row for row in _raw_rows()}
    configs = grid_configs(grid)
    missing = [c for c in configs if config_index(c, GRID) not in rows]
    if missing:
        raise SystemExit(f"{len(missing)} configurations not recorded yet (e.g. {missing[0]}).")
    chosen = [rows[config_index(c, GRID)] for c in configs]
    packed = {
        "grid": grid,
        "max_epochs": MAX_EPOCHS,
        "metric": "val_accuracy per epoch",
        "seconds": round(sum(row["seconds"] for row in chosen), 1),
        "curves": [row["val_accuracy"] for row in chosen],
    }
    with gzip.open(PACKED, "wt", encoding="utf-8") as handle:
        json.dump(packed, handle, separators=(",", ":"))
    print(f"wrote {PACKED}: {len(chosen)} curves")


def load_curves(path: str = PACKED) -> tuple[dict, list[list[float]]]:
    """The recorded grid and its curves, by configuration index (val accuracy per epoch)."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        packed = json.load(handle)
    return packed["grid"], packed["curves"]


def main(argv: list[str] | None = None) -> None:
    """Command line: `--record` (then packs), `--pack`, `--limit N` (record only N)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--pack", action="store_true")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--reverse", action="store_true", help="record from the other end")
    parser.add_argument(
        "--activations", default=None, help="--pack only these, e.g. relu (comma-separated)"
    )
    args = parser.parse_args(argv)
    activations = args.activations.split(",") if args.activations else None
    if args.record:
        record(args.limit, args.reverse)
        if args.limit is None and not args.reverse:
            pack()
    elif args.pack:
        pack(activations)
    else:
        parser.print_help()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
