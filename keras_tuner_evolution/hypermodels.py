"""A ready-made search space of dense (fully connected) networks.

`DenseHyperModel` tunes the 15 hyperparameters of the original NaturalSelection feed-forward
networks: optimizer, initializer, hidden activation, batch size, input dropout and, for up to
five hidden layers, the number of neurons and the dropout after the layer.

Depth is encoded with conditional scopes rather than with "0 neurons means skip this layer"
genes that are still tuned: hidden layer ``i >= 1`` exists only when ``neurons{i} > 0`` and every
earlier layer exists, and the hyperparameters of an absent layer (its dropout, and every deeper
layer's neurons and dropout) are inactive. The search therefore never spends a trial on a
configuration that differs from an earlier one only in genes that have no effect.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner
import numpy as np

OPTIMIZERS = ("adam", "adamax", "nadam")
INITIALIZERS = (
    "lecun_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
)
HIDDEN_ACTIVATIONS = ("relu", "elu")
BATCH_SIZES = (16, 32, 64)
NEURONS = (16, 32, 64, 128, 256, 512, 1024)
DROPOUTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
MAX_HIDDEN_LAYERS = 5

# Losses whose natural output activation is known; anything else gets a linear output.
_SOFTMAX_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
_SIGMOID_LOSSES = ("binary_crossentropy",)

_EXAMPLE_OPTIMIZERS = "'adam', 'adamax', 'nadam', 'sgd', 'rmsprop', 'adagrad', 'adamw'"
_EXAMPLE_INITIALIZERS = ", ".join(repr(name) for name in INITIALIZERS)
_EXAMPLE_ACTIVATIONS = "'relu', 'elu', 'selu', 'gelu', 'tanh', 'sigmoid', 'swish'"
_EXAMPLE_OUTPUTS = "'softmax', 'sigmoid', 'linear' or another Keras activation name"


class DenseHyperModel(keras_tuner.HyperModel):
    """Dense networks with a conditional, depth-aware search space.

    Every range argument takes a single value (fixed) or a sequence of values (tuned as a
    `Choice`). Hyperparameter names: ``optimizer``, ``initializer``, ``hidden_activation``,
    ``batch_size``, ``input_dropout``, ``neurons0`` .. ``neurons{L-1}`` and ``dropout0`` ..
    ``dropout{L-1}`` where ``L = max_hidden_layers``. ``neurons0`` never includes 0; the later
    ``neurons{i}`` add the value 0, meaning "no layer ``i`` (and none deeper)".

    The model has no `Input` layer unless `input_shape` is given, so `build()` works before
    the data is seen (Keras Tuner builds at tuner construction to discover the space). The
    output layer and loss cannot be deferred: pass `output_units` and `loss`, or use
    `DenseHyperModel.from_data(x, y)`, which infers them.

    Args:
        optimizer: Keras optimizer name(s).
        initializer: Keras kernel initializer name(s) for the hidden layers.
        hidden_activation: Keras activation name(s) for the hidden layers.
        batch_size: Positive integer batch size(s), applied in `fit()`.
        neurons: Positive integer layer width(s).
        input_dropout: Dropout rate(s) in [0, 1) applied to the (flattened) input.
        hidden_dropout: Dropout rate(s) in [0, 1) applied after each hidden layer.
        max_hidden_layers: Maximum number of hidden layers (at least 1).
        input_shape: Shape of one sample, without the batch axis. Optional.
        output_units: Number of output units. Required to build.
        output_activation: Output activation. Defaults to what the loss implies (softmax for
            the categorical cross-entropies, sigmoid for binary cross-entropy, else linear).
        loss: Keras loss (name, function or `keras.losses.Loss`). Required to build.
        metrics: Metrics to compile with. Defaults to ``["accuracy"]`` for cross-entropy
            losses and ``[]`` otherwise.
        name: Optional name of the hypermodel.
        tunable: Whether the hyperparameters are added to the search space.

    Raises:
        ValueError: When an argument is out of range; the message names the argument and
            what it accepts.
    """

    def __init__(
        self,
        optimizer: str | Sequence[str] = OPTIMIZERS,
        initializer: str | Sequence[str] = INITIALIZERS,
        hidden_activation: str | Sequence[str] = HIDDEN_ACTIVATIONS,
        batch_size: int | Sequence[int] = BATCH_SIZES,
        neurons: int | Sequence[int] = NEURONS,
        input_dropout: float | Sequence[float] = DROPOUTS,
        hidden_dropout: float | Sequence[float] = DROPOUTS,
        max_hidden_layers: int = MAX_HIDDEN_LAYERS,
        input_shape: Sequence[int] | None = None,
        output_units: int | None = None,
        output_activation: str | None = None,
        loss: Any = None,
        metrics: Sequence[Any] | None = None,
        name: str | None = None,
        tunable: bool = True,
    ) -> None:
        super().__init__(name=name, tunable=tunable)
        self.optimizer = _names("optimizer", optimizer, keras.optimizers.get, _EXAMPLE_OPTIMIZERS)
        self.initializer = _names(
            "initializer", initializer, keras.initializers.get, _EXAMPLE_INITIALIZERS
        )
        self.hidden_activation = _names(
            "hidden_activation", hidden_activation, keras.activations.get, _EXAMPLE_ACTIVATIONS
        )
        self.batch_size = _positive_ints("batch_size", batch_size)
        self.neurons = _positive_ints("neurons", neurons)
        self.input_dropout = _rates("input_dropout", input_dropout)
        self.hidden_dropout = _rates("hidden_dropout", hidden_dropout)
        self.max_hidden_layers = _max_hidden_layers(max_hidden_layers)
        self.input_shape = _input_shape(input_shape)
        self.output_units = _output_units(output_units)
        self.output_activation = _valid_output_activation(output_activation)
        self.loss = _loss(loss)
        self.metrics = _valid_metrics(metrics)

    @classmethod
    def from_data(
        cls, x: Any, y: Any, *, task: str | None = None, **kwargs: Any
    ) -> DenseHyperModel:
        """Returns a hypermodel whose input and output fit the training data.

        Inferred unless given in `kwargs`: `input_shape` from ``x.shape[1:]``; from `y`:

        - integer-valued labels ``0..K-1`` of shape ``(n,)`` or ``(n, 1)``: K > 2 gives K softmax
          units with sparse categorical cross-entropy; K = 2 one sigmoid unit with binary
          cross-entropy;
        - rows that are one-hot: softmax with categorical cross-entropy;
        - 0/1 matrices that are not one-hot (multi-label): sigmoid with binary cross-entropy;
        - floats with non-integer values (clearly continuous) or ``task="regression"``: linear
          units with mean squared error.

        Args:
            x: Training inputs, an array of shape ``(n, ...)``.
            y: Training targets, an array with ``n`` rows.
            task: ``"classification"``, ``"regression"`` or None to infer.
            **kwargs: Any `DenseHyperModel` argument; these win over the inferred values.

        Returns:
            A configured `DenseHyperModel`.

        Raises:
            ValueError: When `x` or `y` has an unusable shape or the labels are ambiguous.
        """
        x_shape = _shape_of("x", x)
        if len(x_shape) < 2:
            raise ValueError(
                f"x must have shape (samples, features...); got shape {tuple(x_shape)}."
            )
        y_array = np.asarray(y)
        if y_array.ndim == 0 or y_array.shape[0] != x_shape[0]:
            raise ValueError(
                f"y must have one row per sample of x ({x_shape[0]}); got shape {y_array.shape}."
            )
        inferred = {"input_shape": tuple(int(d) for d in x_shape[1:])}
        inferred.update(infer_output(y_array, task=task))
        if "loss" in kwargs and "output_activation" not in kwargs:
            # A user-chosen loss overrides the inferred task, so let it pick the activation.
            inferred.pop("output_activation")
            inferred.pop("metrics")
        inferred.update(kwargs)
        return cls(**inferred)

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        """Builds and compiles one network of the space.

        Args:
            hp: The hyperparameters; missing ones are registered with their defaults.

        Returns:
            A compiled `keras.Sequential` model.

        Raises:
            ValueError: When `output_units` or `loss` is unknown.
        """
        optimizer, initializer, activation, input_dropout, layers = self._declare(hp)
        self._check_buildable()
        model = keras.Sequential(name="dense_hypermodel")
        if self.input_shape is not None:
            model.add(keras.Input(shape=self.input_shape))
        model.add(keras.layers.Flatten())
        if input_dropout:
            model.add(keras.layers.Dropout(input_dropout))
        for units, rate in layers:
            if not units:  # None (inactive) or 0: this layer and all deeper ones are absent
                break
            model.add(
                keras.layers.Dense(units, activation=activation, kernel_initializer=initializer)
            )
            if rate:
                model.add(keras.layers.Dropout(rate))
        model.add(keras.layers.Dense(self.output_units, activation=self._output_activation()))
        model.compile(optimizer=optimizer, loss=self.loss, metrics=self._metrics())
        return model

    def _declare(self, hp: keras_tuner.HyperParameters) -> tuple[Any, Any, Any, Any, list]:
        """Registers every hyperparameter and returns the values the model is built from.

        Returns:
            `(optimizer, initializer, activation, input_dropout, layers)`, where `layers` is
            one `(units, rate)` per possible hidden layer (units None or 0: no such layer).
        """
        # Register every hyperparameter first, in a fixed order, so that parents exist before
        # the scopes that refer to them and the space is the same whatever the values are.
        optimizer = hp.Choice("optimizer", list(self.optimizer))
        initializer = hp.Choice("initializer", list(self.initializer))
        activation = hp.Choice("hidden_activation", list(self.hidden_activation))
        hp.Choice("batch_size", list(self.batch_size))  # used in fit()
        input_dropout = hp.Choice("input_dropout", list(self.input_dropout))
        layers = [
            (
                hp.Choice("neurons0", list(self.neurons)),
                hp.Choice("dropout0", list(self.hidden_dropout)),
            )
        ]
        optional_widths = [0, *self.neurons]
        with contextlib.ExitStack() as scopes:
            for i in range(1, self.max_hidden_layers):
                units = hp.Choice(f"neurons{i}", optional_widths)
                # Everything after this point (this layer's dropout, deeper layers) is active
                # only if this layer exists; nesting makes one absent layer switch off all
                # deeper ones, whatever stale values the container still holds.
                scopes.enter_context(hp.conditional_scope(f"neurons{i}", list(self.neurons)))
                rate = hp.Choice(f"dropout{i}", list(self.hidden_dropout))
                layers.append((units, rate))
        return optimizer, initializer, activation, input_dropout, layers

    def _check_buildable(self) -> None:
        """Raises ValueError when the output layer or the loss is still unknown."""
        if self.output_units is None:
            raise ValueError(
                "output_units is unknown: pass output_units= to DenseHyperModel or create it "
                "with DenseHyperModel.from_data(x, y)."
            )
        if self.loss is None:
            raise ValueError(
                "loss is unknown: pass loss= (e.g. 'sparse_categorical_crossentropy') to "
                "DenseHyperModel or create it with DenseHyperModel.from_data(x, y)."
            )

    def fit(
        self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any
    ) -> Any:
        """Trains `model` with the tuned batch size.

        Args:
            hp: The hyperparameters the model was built with.
            model: The model from `build(hp)`.
            *args: Passed to `model.fit`.
            **kwargs: Passed to `model.fit`; a `batch_size` here is replaced by the tuned one.

        Returns:
            The `keras.callbacks.History` of `model.fit`.
        """
        batch_size = hp.Choice("batch_size", list(self.batch_size))
        given = kwargs.get("batch_size")
        if given is not None and given != batch_size:
            warnings.warn(
                f"batch_size={given} passed to fit is ignored: DenseHyperModel tunes it "
                f"(this trial: {batch_size}). Pass batch_size={given} to DenseHyperModel to "
                "fix it.",
                stacklevel=2,
            )
        x = args[0] if args else kwargs.get("x")
        # Batched inputs (tf.data, generators, PyDataset) refuse a batch_size argument.
        if x is None or hasattr(x, "shape") or isinstance(x, (list, tuple, dict)):
            kwargs["batch_size"] = batch_size
        return model.fit(*args, **kwargs)

    def _output_activation(self) -> str | None:
        if self.output_activation is not None:
            return self.output_activation
        if getattr(self.loss, "from_logits", False):
            return None
        name = _loss_name(self.loss)
        if name in _SOFTMAX_LOSSES:
            return "softmax"
        if name in _SIGMOID_LOSSES:
            return "sigmoid"
        return None

    def _metrics(self) -> list[Any]:
        if self.metrics is not None:
            return list(self.metrics)
        if _loss_name(self.loss) in _SOFTMAX_LOSSES + _SIGMOID_LOSSES:
            return ["accuracy"]
        return []


def infer_output(y: Any, task: str | None = None) -> dict[str, Any]:
    """Infers the output layer, loss and metrics from training targets.

    Args:
        y: Targets with one row per sample.
        task: ``"classification"``, ``"regression"`` or None to infer (see
            `DenseHyperModel.from_data`).

    Returns:
        A dict with ``output_units``, ``output_activation``, ``loss`` and ``metrics``.

    Raises:
        ValueError: When `task` is unknown or the targets cannot be used for the task.
    """
    y = _checked_targets(y, task)
    width = 1 if y.ndim == 1 else y.shape[1]
    integral = y.dtype.kind in "biu" or bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))

    if task == "regression" or (task is None and not integral):
        return {"output_units": width, "output_activation": "linear", "loss": "mse", "metrics": []}
    if not integral:
        raise ValueError("task='classification' needs integer or one-hot labels in y.")
    if width > 1:
        return _multi_column_output(y, width)
    return _label_output(y)


def _checked_targets(y: Any, task: str | None) -> np.ndarray:
    """`y` as an array, after checking `task` and that `y` is non-empty, numeric, 1-D or 2-D."""
    if task not in (None, "classification", "regression"):
        raise ValueError(f"task must be 'classification', 'regression' or None; got {task!r}.")
    y = np.asarray(y)
    if y.ndim > 2:
        raise ValueError(f"y must have shape (n,) or (n, k); got shape {y.shape}.")
    if y.dtype.kind not in "biuf":
        raise ValueError(
            f"y must be numeric (encode class names as integers 0..K-1); got dtype {y.dtype}."
        )
    if y.size == 0:
        raise ValueError("y is empty.")
    return y


def _classifier(units: int, activation: str, loss: str) -> dict[str, Any]:
    """The output of a classifier: units, activation, loss, and accuracy as its metric."""
    return dict(output_units=units, output_activation=activation, loss=loss, metrics=["accuracy"])


def _multi_column_output(y: np.ndarray, width: int) -> dict[str, Any]:
    """Integer targets with several columns: one-hot (softmax) or multi-label (sigmoid)."""
    binary = bool(np.all((y == 0) | (y == 1)))
    if not binary:
        raise ValueError(
            "y has several columns with values other than 0/1: pass task='regression' for "
            "multi-output regression, or one-hot encode the labels."
        )
    if bool(np.all(y.sum(axis=1) == 1)):
        return _classifier(width, "softmax", "categorical_crossentropy")
    return _classifier(width, "sigmoid", "binary_crossentropy")


def _label_output(y: np.ndarray) -> dict[str, Any]:
    """Integer labels 0..K-1 in one column: binary (sigmoid) or K classes (softmax)."""
    labels = np.unique(y)
    if labels.min() < 0:
        raise ValueError(
            "y has negative integer labels: encode classes as 0..K-1, or pass "
            "task='regression' for an integer-valued regression target."
        )
    if labels.size < 2:
        raise ValueError(f"y has a single class ({labels[0]}); need at least two.")
    if labels.max() <= 1:
        return _classifier(1, "sigmoid", "binary_crossentropy")
    return _classifier(int(labels.max()) + 1, "softmax", "sparse_categorical_crossentropy")


def _loss_name(loss: Any) -> str:
    if isinstance(loss, str):
        return loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", "")
    return str(name)


def _shape_of(arg: str, value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)
    if shape is None:
        shape = np.shape(value)
    try:
        return tuple(int(d) for d in shape)
    except TypeError as error:  # unknown dimensions, e.g. a symbolic tensor
        raise ValueError(f"{arg} must be an array with a known shape; got {value!r}.") from error


def _as_tuple(value: Any) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return (value,)
    return tuple(value)


def _names(arg: str, value: Any, getter, examples: str) -> tuple[str, ...]:
    values = _as_tuple(value)
    if not values:
        raise ValueError(f"{arg} must not be empty; accepted values: {examples}.")
    for item in values:
        ok = isinstance(item, str)
        if ok:
            try:
                getter(item)
            except (ValueError, TypeError, KeyError):
                ok = False
        if not ok:
            raise ValueError(f"{arg} got {item!r}; accepted values: {examples}.")
    if len(set(values)) != len(values):
        raise ValueError(f"{arg} has repeated values: {list(values)}.")
    return values


def _positive_ints(arg: str, value: Any) -> tuple[int, ...]:
    values = _as_tuple(value)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in values
    ):
        hint = " (depth is set by max_hidden_layers)" if arg == "neurons" else ""
        raise ValueError(f"{arg} must be positive integers{hint}; got {value!r}.")
    if len(set(values)) != len(values):
        raise ValueError(f"{arg} has repeated values: {list(values)}.")
    # Sorted, so that the ordered Choice steps to neighbouring sizes when mutated.
    return tuple(sorted(int(v) for v in values))


def _rates(arg: str, value: Any) -> tuple[float, ...]:
    values = _as_tuple(value)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v < 1 for v in values
    ):
        raise ValueError(f"{arg} must be dropout rates in [0, 1); got {value!r}.")
    # Rounded plain floats: a Choice needs one type, and 0.30000000000000004 would not dedup.
    rates = tuple(sorted(round(float(v), 6) for v in values))
    if len(set(rates)) != len(rates):
        raise ValueError(f"{arg} has repeated values: {list(values)}.")
    return rates


# Argument checks of __init__: each returns the value to store, or raises a ValueError that
# names the argument and what it accepts.


def _max_hidden_layers(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"max_hidden_layers must be an integer >= 1; got {value!r}.")
    if value < 1:
        raise ValueError(f"max_hidden_layers must be >= 1; got {value}.")
    return int(value)


def _output_units(value: Any) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
    ):
        raise ValueError(f"output_units must be a positive integer; got {value!r}.")
    return None if value is None else int(value)


def _valid_output_activation(value: Any) -> str | None:
    if value is not None:
        _names("output_activation", value, keras.activations.get, _EXAMPLE_OUTPUTS)
    return value


def _loss(value: Any) -> Any:
    if value is not None and isinstance(value, str):
        _names("loss", value, keras.losses.get, "a Keras loss name such as 'mse'")
    elif value is not None and not callable(value):
        raise ValueError(
            f"loss must be a Keras loss name, function or keras.losses.Loss; got {value!r}."
        )
    return value


def _valid_metrics(value: Any) -> list[Any] | None:
    if value is not None and (isinstance(value, (str, bytes)) or not isinstance(value, Sequence)):
        raise ValueError(
            f"metrics must be a list of Keras metrics such as ['accuracy']; got {value!r}."
        )
    return None if value is None else list(value)


def _input_shape(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    shape = _as_tuple(value)
    if not shape or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1 for d in shape
    ):
        raise ValueError(
            f"input_shape must be a tuple of positive integers such as (64,); got {value!r}."
        )
    return tuple(int(d) for d in shape)
