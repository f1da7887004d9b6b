"""Recurrent sequence models with attention pooling, for forecasting from aligned series.

Raw series go in: the first layer on the input is a `Normalization` named "normalize"
(adapted per series on the training windows by the pipeline). A GRU or LSTM reads the
window, `zoo.layers.AttentionPooling` (layer "attention") weights its time steps, and a
Dense(1) followed by an inverted `Normalization` named "prediction" (adapted on the training
targets) gives the forecast in the target's own units.

The recurrent layers are built with `use_cudnn=False`, so a SavedModel exported on a GPU
machine still serves on CPU (a cuDNN RNN op baked into the graph does not run on CPU).

`attention_weights(model, x)` returns the attention pooling weights (n, T) of a built model.
"""

import keras
import numpy as np
from keras import layers, regularizers

from zoo.layers import AttentionPooling
from zoo.registry import register

CELLS = {"gru": layers.GRU, "lstm": layers.LSTM}
ATTENTION_LAYER = "attention"


def recurrent_attention_forecaster(
    window,
    num_series,
    cell,
    units,
    attention_units,
    dropout,
    l2,
    input_name="series",
    name="recurrent_attention_forecaster",
):
    """Normalization -> GRU/LSTM (all steps) -> AttentionPooling -> Dense(1) -> inverse scale."""
    if cell not in CELLS:
        raise ValueError(f"`cell` must be one of {sorted(CELLS)}. Received: cell={cell!r}")
    for arg, value in (("window", window), ("num_series", num_series), ("units", units)):
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    series = keras.Input(shape=(window, num_series), name=input_name)
    x = layers.Normalization(name="normalize")(series)
    # Unrolled over the fixed window: tf2onnx cannot convert the TensorList while-loop of a
    # non-cuDNN Keras RNN (onnx checker: "No Op registered for TensorListReserve").
    x = CELLS[cell](
        units,
        return_sequences=True,
        kernel_regularizer=regularizers.L2(l2),
        recurrent_regularizer=regularizers.L2(l2),
        use_cudnn=False,
        unroll=True,
        name="encoder",
    )(x)
    x = layers.Dropout(dropout, name="encoder_dropout")(x)
    pooled, _ = AttentionPooling(
        units=attention_units, return_attention_scores=True, name=ATTENTION_LAYER
    )(x)
    x = layers.Dropout(dropout, name="pooled_dropout")(pooled)
    x = layers.Dense(
        1, kernel_regularizer=regularizers.L2(l2), dtype="float32", name="scaled_prediction"
    )(x)
    prediction = layers.Normalization(invert=True, name="prediction")(x)
    return keras.Model(series, prediction, name=name)


def attention_weights(model, x, batch_size=256):
    """The attention pooling weights of `model` for inputs `x`, shape (n, T).

    Each row is non-negative and sums to 1 over the T time steps of the window: how much
    each step's recurrent state contributes to the forecast. No Lambda layer is involved:
    a functional model from the model's input to the second output of its "attention" layer
    is built on the fly and shares the model's weights.

    Args:
        model: a model built by a builder of this module (it has an "attention" layer).
        x: raw windows, shape (n, T, F), as the model takes them.
        batch_size: prediction batch size.

    Example:

        model = zoo.get("timeseries-attention")
        weights = attention_weights(model, data.X_test)   # (754, 20), rows sum to 1
    """
    try:
        layer = model.get_layer(ATTENTION_LAYER)
    except ValueError:
        raise ValueError(
            f"`model` must have an AttentionPooling layer named {ATTENTION_LAYER!r}. "
            f"Received: model {model.name!r} with layers {[layer.name for layer in model.layers]}"
        ) from None
    expected = tuple(model.inputs[0].shape[1:])
    x = np.asarray(x, dtype="float32")
    if x.ndim != len(expected) + 1 or x.shape[1:] != expected:
        raise ValueError(
            f"`x` must have shape (n, {', '.join(map(str, expected))}). Received: shape {x.shape}"
        )
    probe = keras.Model(model.inputs, layer.output[1], name=f"{model.name}_attention")
    return np.asarray(probe.predict(x, batch_size=batch_size, verbose=0))


@register(
    "timeseries-attention",
    task="regression",
    dataset="sp500_volume",
    topic="sequence forecasting with a recurrent encoder and attention pooling",
    recipe={"epochs": 60, "batch_size": 64, "learning_rate": 1e-3},
)
def timeseries_attention(
    window=20,
    num_series=3,
    cell="gru",
    units=64,
    attention_units=16,
    dropout=0.1,
    l2=1e-4,
):
    """A GRU/LSTM with attention pooling forecasting next-day S&P 500 log volume.

    Input "series": raw windows (batch, window, num_series) of daily return (%), high-low
    range (%) and log volume; output "prediction": next trading day's log volume.

    Args:
        window: time steps per window (trading days).
        num_series: aligned series per time step.
        cell: "gru" or "lstm".
        units: width of the recurrent layer.
        attention_units: width of the attention scoring projection (None: `units`).
        dropout: dropout rate after the recurrent layer and after the pooling.
        l2: L2 factor of the kernel and recurrent regularizers.

    Example:

        model = timeseries_attention(cell="lstm", units=64)
        model.predict(np.zeros((1, 20, 3), "float32"))   # (1, 1) log volume
        attention_weights(model, np.zeros((1, 20, 3)))  # (1, 20), sums to 1
    """
    return recurrent_attention_forecaster(
        window,
        num_series,
        cell,
        units,
        attention_units,
        dropout,
        l2,
        name="timeseries_attention",
    )
