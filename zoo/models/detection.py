"""Segmentation and detection of digits pasted on photos (issue 10): a small U-Net and a
centre-based (CenterNet-style) detector on the same encoder-decoder.

Both take raw 64x64 grayscale pixels (0..255; the scaling is a layer of the model) under
the input name "image".

- `segment-composites` returns "segmentation": per-pixel class probabilities
  (64, 64, 11), class 0 the background and class 1 + d the digit d; the mask is their argmax.
- `detect-composites` returns, on a grid of 16x16 cells (stride 4), "heatmap": per-cell,
  per-class centre probabilities (16, 16, 10) and "boxes": the box (x_min, y_min, x_max,
  y_max, in input pixels) that each cell predicts for an object centred in it (16, 16, 4).
  Decoding keeps the cells that are local maxima of the heatmap (3x3) with their class
  score and box (`pipelines.detection.decode_detections`), the peak-finding that replaces
  non-maximum suppression in CenterNet (Zhou et al. 2019, "Objects as Points").
"""

import keras
from keras import layers

from zoo.registry import register

SIZE = 64
STRIDE = 4


def conv_pair(x, filters, name):
    """(Conv2D 3x3 -> BatchNorm -> ReLU) twice."""
    for index in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{index}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = layers.ReLU(name=f"{name}_relu{index}")(x)
    return x


def unet_features(image, filters, depth, stop_at=1):
    """Raw (64, 64) pixels -> U-Net features at stride `stop_at` (1: full resolution).

    The encoder has `depth` poolings, filters doubling each time; the decoder upsamples
    (nearest) and concatenates the encoder's features of the same resolution.
    """
    x = layers.Reshape((SIZE, SIZE, 1), name="add_channel")(image)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    skips = []
    for level in range(depth):
        x = conv_pair(x, filters * 2**level, name=f"down{level + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    x = conv_pair(x, filters * 2**depth, name="bottom")
    stride = 2**depth
    for level in reversed(range(depth)):
        if stride <= stop_at:
            break
        x = layers.UpSampling2D(2, name=f"up{level + 1}")(x)
        x = layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
        x = conv_pair(x, filters * 2**level, name=f"dec{level + 1}")
        stride //= 2
    return x


@register(
    "segment-composites",
    task="segmentation",
    dataset="composites_segment",
    topic="semantic segmentation with a U-Net",
    recipe={"epochs": 10, "batch_size": 32, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def segment_composites(num_classes=11, filters=16, depth=3):
    """U-Net (Ronneberger et al. 2015) for per-pixel classes of 64x64 grayscale composites.

    Raw pixels (0..255) in; "segmentation" out: (64, 64, num_classes) softmax probabilities
    per pixel, class 0 the background.
    """
    image = keras.Input(shape=(SIZE, SIZE), name="image")
    x = unet_features(image, filters, depth)
    probabilities = layers.Conv2D(
        num_classes, 1, activation="softmax", dtype="float32", name="segmentation"
    )(x)
    return keras.Model(image, {"segmentation": probabilities}, name="segment_composites")


@keras.saving.register_keras_serializable(package="zoo")
class CenterBoxes(layers.Layer):
    """Turns per-cell distances to the box edges into boxes in input pixels.

    Input (batch, rows, cols, 4): the distances (left, top, right, bottom) from the cell's
    centre to the edges of the box, in units of `scale` pixels (negative values clipped to
    0). Output (batch, rows, cols, 4): (x_min, y_min, x_max, y_max) in pixels, where the
    cell (i, j)'s centre is ((j + 0.5) * stride, (i + 0.5) * stride).

    Args:
        stride: input pixels per cell.
        scale: pixels per unit of the input distances.
    """

    def __init__(self, stride=STRIDE, scale=16.0, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)
        self.scale = float(scale)

    def call(self, distances):
        ops = keras.ops
        rows, cols = distances.shape[1], distances.shape[2]
        ys = (ops.arange(rows, dtype="float32") + 0.5) * self.stride
        xs = (ops.arange(cols, dtype="float32") + 0.5) * self.stride
        cx = ops.broadcast_to(ops.reshape(xs, (1, cols)), (rows, cols))
        cy = ops.broadcast_to(ops.reshape(ys, (rows, 1)), (rows, cols))
        distances = ops.relu(ops.cast(distances, "float32")) * self.scale
        left, top, right, bottom = ops.unstack(distances, 4, axis=-1)
        return ops.stack([cx - left, cy - top, cx + right, cy + bottom], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "scale": self.scale}


@register(
    "detect-composites",
    task="detection",
    dataset="composites_detect",
    topic="object detection, centre-based (CenterNet-style)",
    recipe={"epochs": 16, "batch_size": 32, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def detect_composites(num_classes=10, filters=16, depth=3, head_units=64):
    """Centre-based detector (CenterNet-style) for the digits of 64x64 grayscale composites.

    Raw pixels (0..255) in; on a 16x16 grid of cells (stride 4): "heatmap" (16, 16,
    num_classes) sigmoid probabilities that a cell holds the centre of an object of each
    class, and "boxes" (16, 16, 4) the box (x_min, y_min, x_max, y_max, pixels) each cell
    predicts. Decode with `pipelines.detection.decode_detections`.
    """
    image = keras.Input(shape=(SIZE, SIZE), name="image")
    x = unet_features(image, filters, depth, stop_at=STRIDE)
    heat = layers.Conv2D(head_units, 3, padding="same", activation="relu", name="heat_conv")(x)
    # bias -2.19: every cell starts at probability 0.1 (CenterNet's focal-loss prior)
    heatmap = layers.Conv2D(
        num_classes,
        1,
        activation="sigmoid",
        bias_initializer=keras.initializers.Constant(-2.19),
        dtype="float32",
        name="heatmap",
    )(heat)
    box = layers.Conv2D(head_units, 3, padding="same", activation="relu", name="box_conv")(x)
    distances = layers.Conv2D(4, 1, dtype="float32", name="box_distances")(box)
    boxes = CenterBoxes(STRIDE, dtype="float32", name="boxes")(distances)
    return keras.Model(image, {"heatmap": heatmap, "boxes": boxes}, name="detect_composites")
