"""Convolutional image classifiers.

Each builder takes raw pixels (the scaling is a layer of the model) and returns the class
probabilities under the output name "probabilities".
"""

import keras
from keras import layers, regularizers

from zoo.layers import FlipAveraged
from zoo.registry import register


def conv_block(x, filters, convolutions, l2, name, bn_momentum=0.99):
    """`convolutions` x (Conv2D 3x3 -> BatchNorm -> ReLU), then 2x2 max pooling."""
    for index in range(convolutions):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            kernel_regularizer=regularizers.L2(l2),
            name=f"{name}_conv{index + 1}",
        )(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{index + 1}")(x)
        x = layers.ReLU(name=f"{name}_relu{index + 1}")(x)
    return layers.MaxPooling2D(2, name=f"{name}_pool")(x)


def dense_features(x, dense_units, dropout, l2):
    """Flatten -> Dropout -> Dense(ReLU, L2) -> Dropout."""
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="dropout1")(x)
    x = layers.Dense(
        dense_units,
        activation="relu",
        kernel_regularizer=regularizers.L2(l2),
        name="dense",
    )(x)
    return layers.Dropout(dropout, name="dropout2")(x)


def classifier_head(x, num_classes, dense_units, dropout, l2):
    """`dense_features`, then Dense(softmax) named "probabilities"."""
    x = dense_features(x, dense_units, dropout, l2)
    # float32 output keeps softmax stable under a mixed-precision policy.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def fashion_trunk(image, filters, l2, flip, translation, bn_momentum=0.99):
    """Raw 28x28 pixels -> scaling, augmentation (training only) -> three conv blocks."""
    x = layers.Reshape((28, 28, 1), name="add_channel")(image)
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    if flip:
        x = layers.RandomFlip("horizontal", name="random_flip")(x)
    if translation:
        x = layers.RandomTranslation(
            translation, translation, fill_mode="constant", name="random_translation"
        )(x)
    x = conv_block(x, filters, 1, l2, name="block1", bn_momentum=bn_momentum)
    x = conv_block(x, filters * 2, 2, l2, name="block2", bn_momentum=bn_momentum)
    return conv_block(x, filters * 4, 2, l2, name="block3", bn_momentum=bn_momentum)


@register(
    "cnn-digits",
    task="classification",
    dataset="digits",
    topic="image recognition with a small CNN",
    recipe={"epochs": 60, "batch_size": 32, "learning_rate": 1e-3},
)
def cnn_digits(num_classes=10, filters=32, dense_units=128, dropout=0.3, l2=1e-4):
    """A small CNN for the 8x8 scikit-learn digits (pixel values 0..16).

    Args:
        num_classes: number of classes.
        filters: filters of the first convolution block; the second has twice as many.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before and after the hidden dense layer.
        l2: L2 factor of every kernel regularizer.

    Example:

        model = cnn_digits(dropout=0.4)
        model.predict(np.zeros((1, 8, 8), "float32"))   # (1, 10) probabilities
    """
    image = keras.Input(shape=(8, 8), name="image")
    x = layers.Reshape((8, 8, 1), name="add_channel")(image)
    x = layers.Rescaling(1.0 / 16.0, name="rescale")(x)
    x = conv_block(x, filters, 2, l2, name="block1")
    x = conv_block(x, filters * 2, 2, l2, name="block2")
    probabilities = classifier_head(x, num_classes, dense_units, dropout, l2)
    return keras.Model(image, probabilities, name="cnn_digits")


@register(
    "cnn-fashion-mnist",
    task="classification",
    dataset="fashion_mnist",
    topic="image recognition with a CNN and data augmentation",
    recipe={"epochs": 20, "batch_size": 128, "learning_rate": 2e-3, "lr_schedule": "cosine"},
)
def cnn_fashion_mnist(
    num_classes=10,
    filters=32,
    dense_units=256,
    dropout=0.3,
    l2=1e-4,
    flip=True,
    translation=0.08,
):
    """A CNN for 28x28 grayscale images (pixel values 0..255) with augmentation layers.

    Random horizontal flips and translations are active only while training; at inference
    they pass the image through unchanged, so the exported model needs no special handling.

    Args:
        num_classes: number of classes.
        filters: filters of the first block; the next blocks have 2x and 4x as many.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before and after the hidden dense layer.
        l2: L2 factor of every kernel regularizer.
        flip: whether to add a `RandomFlip("horizontal")` augmentation layer.
        translation: fraction of the size for `RandomTranslation` (0 disables it).

    Example:

        model = cnn_fashion_mnist(translation=0.0)
        model.predict(np.zeros((1, 28, 28), "float32"))   # (1, 10) probabilities
    """
    image = keras.Input(shape=(28, 28), name="image")
    x = fashion_trunk(image, filters, l2, flip, translation)
    probabilities = classifier_head(x, num_classes, dense_units, dropout, l2)
    return keras.Model(image, probabilities, name="cnn_fashion_mnist")


@register(
    "cnn-fashion-mnist-fast",
    task="classification",
    dataset="fashion_mnist",
    topic="image recognition on a time budget (a CNN and recipe tuned for time to accuracy)",
    recipe={
        "epochs": 12,
        "batch_size": 128,
        "learning_rate": 3e-3,
        "lr_schedule": "warmup_cosine",
        "validation_split": 0.0,
        "backend": "tensorflow",
        "steps_per_execution": 16,
    },
)
def cnn_fashion_mnist_fast(
    num_classes=10, filters=16, dense_units=256, dropout=0.15, flip=True, test_time_flip=True
):
    """`cnn-fashion-mnist` at half the width, sized for time to accuracy on 2 CPU cores.

    The same layers as `cnn-fashion-mnist` (three conv blocks, BatchNorm, a dense head) with
    16/32/64 filters instead of 32/64/128: a quarter of the arithmetic of an epoch. Its recipe
    (`zoo.get_entry("cnn-fashion-mnist-fast").recipe`: 12 epochs, batch 128, Adam at 3e-3
    with a 5% warm-up then cosine decay, 16 batches per call of the compiled step) is short,
    so it drops what only pays over long schedules: no random translation, no L2 penalty and
    half the dropout (0.15); horizontal flips stay, in training and at test time (the mirror
    image's probabilities are averaged in, +0.2-0.3 points for a second inference pass); BatchNorm
    moving statistics use momentum 0.9 (Keras' 0.99 lags a few-hundred-step run: after 3
    epochs on 12,000 images it scored 0.23 in inference mode, 0.84 in training mode). It trains on
    all 60,000 training images (no validation split: a fixed schedule needs no early
    stopping, and the 6,000 images add about 0.2 points of test accuracy). The measured
    times to 0.91 and 0.93 test accuracy are in bench/results-scale-2026-11-29.md.

    Args:
        num_classes: number of classes.
        filters: filters of the first block; the next blocks have 2x and 4x as many.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before and after the hidden dense layer.
        flip: whether to add a `RandomFlip("horizontal")` augmentation layer.
        test_time_flip: whether inference averages the probabilities of the image and of its
            mirror image (`zoo.layers.FlipAveraged` around the whole classifier: training
            runs it once, inference twice; every export does the same).

    Example:

        model = cnn_fashion_mnist_fast()
        model.predict(np.zeros((1, 28, 28), "float32"))   # (1, 10) probabilities
    """
    image = keras.Input(shape=(28, 28), name="image")
    x = fashion_trunk(image, filters, l2=0.0, flip=flip, translation=0.0, bn_momentum=0.9)
    probabilities = classifier_head(x, num_classes, dense_units, dropout, l2=0.0)
    if not test_time_flip:
        return keras.Model(image, probabilities, name="cnn_fashion_mnist_fast")
    classifier = keras.Model(image, probabilities, name="classifier")
    image = keras.Input(shape=(28, 28), name="image")
    probabilities = FlipAveraged(classifier, axis=2, name="probabilities")(image)
    return keras.Model(image, probabilities, name="cnn_fashion_mnist_fast")
