"""A tiny evolutionary search on the Keras backend named by KERAS_BACKEND.

Run by tests/test_backends.py in a fresh process (the backend is fixed when Keras is first
imported): EvolutionaryTuner + DenseHyperModel on a digits subset, with max_training_time and
tensorboard_dir, then get_best_models and train_best. Prints one JSON line of what it saw.

    KERAS_BACKEND=jax python tests/scripts/backend_smoke.py OUTPUT_DIR

Under `kte launch` (`--launched`), every process writes the backend it runs on to
``OUTPUT_DIR/backends/<tuner id>`` and the search is the whole job: the chief serves it and
the workers train.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(output: str, launched: bool = False) -> None:
    import keras
    import numpy as np
    from sklearn.datasets import load_digits

    import keras_tuner_evolution as kte

    if launched:
        os.makedirs(os.path.join(output, "backends"), exist_ok=True)
        tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
        with open(os.path.join(output, "backends", tuner_id), "w") as handle:
            handle.write(keras.backend.backend())

    keras.utils.set_random_seed(0)
    digits = load_digits()
    x = (digits.data[:400] / 16.0).astype("float32")
    y = digits.target[:400]
    x_train, y_train, x_val, y_val = x[:300], y[:300], x[300:], y[300:]
    tuner = kte.EvolutionaryTuner(
        kte.DenseHyperModel.from_data(x_train, y_train, neurons=[16, 32], max_hidden_layers=1),
        objective="val_accuracy",
        population_size=2,
        generations=2,
        seed=1,
        max_training_time=30,
        tensorboard_dir=os.path.join(output, "tensorboard"),
        directory=output,
        project_name="search",
        overwrite=True,
    )
    start = time.monotonic()
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=1, verbose=0)
    search_seconds = time.monotonic() - start
    if launched:
        return
    model = tuner.get_best_models(1)[0]
    predictions = np.asarray(keras.ops.convert_to_numpy(model.predict(x_val[:5], verbose=0)))
    score = tuner.train_best(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=2,
        patience=1,
        file_name=os.path.join(output, "best.keras"),
        verbose=0,
    )
    reloaded = keras.models.load_model(os.path.join(output, "best.keras"))
    events = [
        os.path.join(root, name)
        for root, _, names in os.walk(os.path.join(output, "tensorboard"))
        for name in names
        if name.startswith("events.out.tfevents")
    ]
    report = {
        "backend": keras.backend.backend(),
        "trials": len(tuner.oracle.trials),
        "fittest": tuner.history.fittest["fitness"],
        "prediction_shape": list(predictions.shape),
        "train_best": score,
        "reloaded_output_shape": list(reloaded.output_shape),
        "event_files": len(events),
        "search_seconds": round(search_seconds, 2),
    }
    print("KTE-SMOKE " + json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], launched="--launched" in sys.argv[2:])
