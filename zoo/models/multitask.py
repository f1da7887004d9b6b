"""Multitask models: one shared trunk, several named heads, a dict of outputs.

Each builder returns `keras.Model(inputs, {head name: output})`. A head whose output is a
softmax is a classification head (trained with sparse categorical cross-entropy, scored by
accuracy); any other head is a regression head (MSE, R^2). Builder arguments named
`<head>_classes` are the number of classes of a head (the pipelines set them from the
labels), and `<head>_loss_weight` the default weight of that head's loss (the pipelines
compile with it; `ZooMultiTask(loss_weights=...)` overrides it). Loss weights do not change
the architecture.
"""

import keras
from keras import layers

from zoo.models.vision import dense_features, fashion_trunk
from zoo.registry import register


@register(
    "multitask-fashion",
    task="multitask",
    dataset="fashion_mnist_multitask",
    topic="multitask learning: a shared CNN trunk with fine and coarse heads",
    recipe={"epochs": 16, "batch_size": 128, "learning_rate": 2e-3, "lr_schedule": "cosine"},
    heads={"fine": "classification", "coarse": "classification"},
)
def multitask_fashion(
    fine_classes=10,
    coarse_classes=4,
    filters=32,
    dense_units=256,
    dropout=0.3,
    l2=1e-4,
    flip=True,
    translation=0.08,
    fine_loss_weight=1.0,
    coarse_loss_weight=0.5,
):
    """A CNN over 28x28 grayscale images (pixels 0..255) with a fine and a coarse head.

    The trunk is the one of `cnn-fashion-mnist` (augmentation, three convolution blocks,
    a hidden dense layer), shared by two softmax heads: "fine", the ten Fashion-MNIST classes,
    and "coarse", four groups of them (tops = T-shirt/top, Pullover, Dress, Coat, Shirt;
    bottoms = Trouser; footwear = Sandal, Sneaker, Ankle boot; bags = Bag; see
    `datasets.fashion_mnist.FINE_TO_COARSE`). The augmentation layers act only in training.

    Args:
        fine_classes: classes of the "fine" head.
        coarse_classes: classes of the "coarse" head.
        filters: filters of the first block; the next blocks have 2x and 4x as many.
        dense_units: width of the shared hidden dense layer.
        dropout: dropout rate before and after the shared hidden dense layer.
        l2: L2 factor of every kernel regularizer.
        flip: whether to add a `RandomFlip("horizontal")` augmentation layer.
        translation: fraction of the size for `RandomTranslation` (0 disables it).
        fine_loss_weight: default weight of the "fine" loss (used when compiling; set it
            to 0 to train the coarse head alone).
        coarse_loss_weight: default weight of the "coarse" loss.

    Example:

        model = multitask_fashion()
        out = model.predict(np.zeros((1, 28, 28), "float32"))
        out["fine"].shape, out["coarse"].shape     # (1, 10), (1, 4)
    """
    for argument, value in (
        ("fine_loss_weight", fine_loss_weight),
        ("coarse_loss_weight", coarse_loss_weight),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{argument} must be a number >= 0. Received: {argument}={value!r}")
    image = keras.Input(shape=(28, 28), name="image")
    x = fashion_trunk(image, filters, l2, flip, translation)
    x = dense_features(x, dense_units, dropout, l2)
    # float32 outputs keep softmax stable under a mixed-precision policy.
    outputs = {
        head: layers.Dense(classes, activation="softmax", dtype="float32", name=head)(x)
        for head, classes in (("fine", fine_classes), ("coarse", coarse_classes))
    }
    return keras.Model(image, outputs, name="multitask_fashion")
