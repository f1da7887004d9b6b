"""Transfer learning and self-supervised pre-training entries.

`transfer-digits` is `cnn-fashion-mnist`'s architecture (without its horizontal flips, which
would turn digits into other shapes) whose backbone starts from `cnn-fashion-mnist`'s
shipped weights and whose 10-class head is new; its recipe trains the head with the
backbone frozen, then fine-tunes everything but BatchNormalization at a low learning rate
(`pipelines.classification.ZooClassifier(freeze="backbone", fine_tune_epochs=...)`).
"""

import keras

from zoo.models.vision import classifier_head, fashion_trunk
from zoo.registry import register


@register(
    "transfer-digits",
    task="classification",
    dataset="mnist_digits_100",
    topic="transfer learning: a Fashion-MNIST backbone, a new head, 100 labelled digits",
    recipe={
        "trainer": "transfer",
        "pretrained": "cnn-fashion-mnist",
        "freeze": "backbone",
        "epochs": 30,
        "batch_size": 20,
        "learning_rate": 3e-3,
        "fine_tune_epochs": 30,
        "fine_tune_learning_rate": 3e-4,
        "validation_split": 0.0,
    },
)
def transfer_digits(
    num_classes=10,
    filters=32,
    dense_units=128,
    dropout=0.3,
    l2=1e-4,
    translation=0.08,
    bn_momentum=0.9,
):
    """`cnn-fashion-mnist` for MNIST digits (28x28, pixel values 0..255), no flips.

    Its layers have `cnn-fashion-mnist`'s names and shapes, so `ZooClassifier(
    "transfer-digits", pretrained="cnn-fashion-mnist")` loads that entry's shipped backbone.

    Args:
        num_classes: number of classes.
        filters: filters of the first block; the next blocks have 2x and 4x as many.
        dense_units: width of the hidden dense layer.
        dropout: dropout rate before and after the hidden dense layer.
        l2: L2 factor of every kernel regularizer.
        translation: fraction of the size for `RandomTranslation` (0 disables it).
        bn_momentum: momentum of the BatchNormalization moving statistics (0.9: a run on
            100 images is a few hundred steps, which Keras' 0.99 lags; it matters to the
            from-scratch baseline, whose statistics are learnt, not to the transfer, whose
            frozen statistics are Fashion-MNIST's).

    Example:

        model = transfer_digits()
        model.predict(np.zeros((1, 28, 28), "float32"))   # (1, 10) probabilities
    """
    image = keras.Input(shape=(28, 28), name="image")
    x = fashion_trunk(
        image, filters, l2, flip=False, translation=translation, bn_momentum=bn_momentum
    )
    probabilities = classifier_head(x, num_classes, dense_units, dropout, l2)
    return keras.Model(image, probabilities, name="transfer_digits")
