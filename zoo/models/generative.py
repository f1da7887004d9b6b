"""Generative models of 28x28 Fashion-MNIST images: a DCGAN and a conditional VAE.

The registered builders return the GENERATOR (the part that ships and exports): noise in
("noise", (batch, latent_dim), standard normal; the CVAE also takes "label", class ids
0..9) -> "image" (batch, 28, 28), pixels 0..255 like the dataset. The networks that only
train (the discriminator, the encoder) are built by the plain functions below and used by
`pipelines.generative`, which trains them with a custom step on all three backends.
"""

import keras
from keras import layers

from zoo.registry import register

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def _upsampling_decoder(h, filters, name):
    """(7, 7, 2 * filters) features -> (28, 28) pixels 0..255: two transposed convolutions."""
    h = layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", use_bias=False, name=f"{name}_up1"
    )(h)
    h = layers.BatchNormalization(name=f"{name}_bn2")(h)
    h = layers.ReLU(name=f"{name}_relu2")(h)
    h = layers.Conv2DTranspose(1, 4, strides=2, padding="same", name=f"{name}_up2")(h)
    h = layers.Reshape(IMAGE_SHAPE, name=f"{name}_drop_channel")(h)
    # Pixels = 127.5 (tanh(h) + 1) = 255 sigmoid(2 h), computed the second way: near 0 it
    # keeps its relative precision in float32 (the first way cancels, and its SavedModel /
    # ONNX outputs then differ from Keras's by up to 5e-5 on black pixels). float32 under a
    # mixed policy.
    h = layers.Rescaling(2.0, dtype="float32", name=f"{name}_double")(h)
    h = layers.Activation("sigmoid", dtype="float32", name=f"{name}_sigmoid")(h)
    return layers.Rescaling(255.0, dtype="float32", name="image")(h)


@register(
    "dcgan-fashion-mnist",
    task="generation",
    dataset="fashion_mnist_generation",
    topic="adversarial training: a DCGAN with a custom training step on three backends",
    recipe={
        "epochs": 20,
        "batch_size": 128,
        "learning_rate": 2e-4,
        "trainer": "gan",
        "validation_split": 0,
    },
)
def dcgan_fashion_mnist(latent_dim=64, filters=32):
    """The generator of a DCGAN (Radford et al. 2016), small: Dense -> 7x7 -> 14x14 -> 28x28.

    Args:
        latent_dim: size of the standard-normal noise vector.
        filters: channels at 14x14; 7x7 has twice as many.

    Example:

        generator = dcgan_fashion_mnist()
        generator.predict(np.random.default_rng(0).normal(size=(4, 64)))   # (4, 28, 28)
    """
    noise = keras.Input(shape=(latent_dim,), name="noise")
    h = layers.Dense(7 * 7 * 2 * filters, use_bias=False, name="project")(noise)
    h = layers.BatchNormalization(name="g_bn1")(h)
    h = layers.ReLU(name="g_relu1")(h)
    h = layers.Reshape((7, 7, 2 * filters), name="to_map")(h)
    image = _upsampling_decoder(h, filters, "g")
    return keras.Model(noise, image, name="dcgan_fashion_mnist")


def dcgan_discriminator(filters=32, dropout=0.3):
    """The DCGAN's critic: (28, 28) pixels 0..255 -> one logit (real vs generated)."""
    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_unit")(image)
    x = layers.Reshape((28, 28, 1), name="add_channel")(x)
    x = layers.Conv2D(filters, 4, strides=2, padding="same", name="d_conv1")(x)
    x = layers.LeakyReLU(0.2, name="d_act1")(x)
    x = layers.Dropout(dropout, name="d_drop1")(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", name="d_conv2")(x)
    x = layers.LeakyReLU(0.2, name="d_act2")(x)
    x = layers.Dropout(dropout, name="d_drop2")(x)
    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(image, logit, name="dcgan_discriminator")


@register(
    "cvae-fashion-mnist",
    task="generation",
    dataset="fashion_mnist_generation",
    topic="a conditional VAE: class in, image out",
    recipe={
        "epochs": 20,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "trainer": "cvae",
        "kl_weight": 2.0,  # a beta-VAE's beta: the decoder leans more on the class
        "validation_split": 0,
    },
)
def cvae_fashion_mnist(latent_dim=8, filters=32, num_classes=NUM_CLASSES):
    """The decoder of a conditional VAE (Sohn et al. 2015): noise and a class -> an image.

    Args:
        latent_dim: size of the latent code (standard normal at generation).
        filters: channels at 14x14; 7x7 has twice as many.
        num_classes: number of classes of the "label" input.

    Example:

        decoder = cvae_fashion_mnist()
        decoder.predict({"noise": z, "label": np.arange(10)})     # (10, 28, 28)
    """
    noise = keras.Input(shape=(latent_dim,), name="noise")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, 16, name="label_embedding")(label)
    h = layers.Concatenate(name="noise_and_label")([noise, embedded])
    h = layers.Dense(7 * 7 * 2 * filters, name="project")(h)
    h = layers.ReLU(name="g_relu1")(h)
    h = layers.Reshape((7, 7, 2 * filters), name="to_map")(h)
    image = _upsampling_decoder(h, filters, "g")
    return keras.Model({"noise": noise, "label": label}, image, name="cvae_fashion_mnist")


def cvae_encoder(latent_dim=8, filters=32, num_classes=NUM_CLASSES):
    """The CVAE's encoder: an image (0..255) and its class -> the mean and log-variance of
    the latent code."""
    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    label = keras.Input(shape=(), dtype="int32", name="label")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    x = layers.Reshape((28, 28, 1), name="add_channel")(x)
    x = layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu", name="e_conv1")(x)
    x = layers.Conv2D(2 * filters, 4, strides=2, padding="same", activation="relu", name="e_conv2")(
        x
    )
    x = layers.Flatten(name="flatten")(x)
    embedded = layers.Embedding(num_classes, 16, name="e_label_embedding")(label)
    h = layers.Concatenate(name="features_and_label")([x, embedded])
    h = layers.Dense(256, activation="relu", name="e_dense")(h)
    mean = layers.Dense(latent_dim, dtype="float32", name="mean")(h)
    log_var = layers.Dense(latent_dim, dtype="float32", name="log_var")(h)
    return keras.Model(
        {"image": image, "label": label}, {"mean": mean, "log_var": log_var}, name="cvae_encoder"
    )
