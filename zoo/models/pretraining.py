"""Transfer learning and self-supervised pre-training entries.

`transfer-digits` is `cnn-fashion-mnist`'s architecture (without its horizontal flips, which
would turn digits into other shapes) whose backbone starts from `cnn-fashion-mnist`'s
shipped weights and whose 10-class head is new; its recipe trains the head with the
backbone frozen, then fine-tunes everything but BatchNormalization at a low learning rate
(`pipelines.classification.ZooClassifier(freeze="backbone", fine_tune_epochs=...)`).

`ssl-fashion-mnist` is a CNN encoder pre-trained without labels (SimCLR-style contrastive
learning between two augmented views of each image, `pipelines.transfer.ZooSimCLR`); with
`num_classes` it is the same encoder under a classifier head, which is how it is
fine-tuned (`zoo.get("ssl-fashion-mnist", num_classes=10)`, `ZooClassifier(
"ssl-fashion-mnist", pretrained=True, freeze="backbone", ...)`).
"""

import keras
from keras import layers

from zoo.models.vision import classifier_head, dense_features, fashion_trunk
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


@register(
    "ssl-fashion-mnist",
    task="self_supervised",
    dataset="fashion_mnist_ssl",
    topic="self-supervised pre-training (contrastive, SimCLR-style) and few-label fine-tuning",
    recipe={
        "trainer": "simclr",
        "epochs": 100,
        "batch_size": 256,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "temperature": 0.2,
        "validation_split": 0.0,
        # Few-label fine-tuning (pipelines.transfer.fine_tune_estimator): the head on the
        # frozen encoder, then everything but BatchNormalization at a low learning rate.
        "fine_tune": {
            "epochs": 20,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "fine_tune_epochs": 20,
            "fine_tune_learning_rate": 2e-4,
        },
    },
)
def ssl_fashion_mnist(
    num_classes=None,
    filters=16,
    dense_units=256,
    projection_units=64,
    dropout=0.3,
    l2=1e-4,
):
    """A CNN encoder for 28x28 grayscale images (pixel values 0..255).

    Without `num_classes`: image -> three convolution blocks -> Dense "dense" (the
    representation) -> Dense "projection" -> "embedding", L2-normalised (what the
    contrastive pre-training compares). With `num_classes`: the same layers up to "dense",
    then Dense(softmax) "probabilities" (fine-tuning, and the from-scratch baseline).
    Dropout is used only under the classifier head.

    Args:
        num_classes: None for the pre-training encoder, else the number of classes.
        filters: filters of the first block; the next blocks have 2x and 4x as many.
        dense_units: width of the representation ("dense").
        projection_units: width of the contrastive embedding.
        dropout: dropout rate around "dense" under a classifier head.
        l2: L2 factor of every kernel regularizer.

    Example:

        encoder = ssl_fashion_mnist()
        encoder.predict(np.zeros((1, 28, 28), "float32"))      # (1, 64) unit vectors
        classifier = ssl_fashion_mnist(num_classes=10)          # (1, 10) probabilities
    """
    image = keras.Input(shape=(28, 28), name="image")
    x = fashion_trunk(image, filters, l2, flip=False, translation=0.0)
    if num_classes is not None:
        # The head reads the encoder's representation (the last block, flattened), as in
        # SimCLR: "dense" and "projection" form the pre-training's projection head, which
        # is not kept (its layers are reported as unused when the encoder is loaded).
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(dropout, name="dropout1")(x)
        x = layers.Dense(
            dense_units,
            activation="relu",
            kernel_regularizer=keras.regularizers.L2(l2),
            name="head_dense",
        )(x)
        x = layers.Dropout(dropout, name="dropout2")(x)
        probabilities = layers.Dense(
            num_classes, activation="softmax", dtype="float32", name="probabilities"
        )(x)
        return keras.Model(image, probabilities, name="ssl_fashion_mnist_classifier")
    x = dense_features(x, dense_units, 0.0, l2)
    x = layers.Dense(projection_units, name="projection", dtype="float32")(x)
    embedding = layers.UnitNormalization(name="embedding", dtype="float32")(x)
    return keras.Model(image, embedding, name="ssl_fashion_mnist")
