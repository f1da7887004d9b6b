"""Named, seeded augmentation policies for image classifiers, applied in tf.data.

A policy transforms the training batches only: it is never a layer of the model, so
`predict`, `evaluate` and every export see the images untouched (an export holds no trace
of it). Each is built from Keras preprocessing layers, which run inside tf.data on every
backend:

| policy | layers |
|---|---|
| `none` | nothing |
| `flip_translate` | `RandomFlip("horizontal")`, `RandomTranslation(0.1, 0.1)` |
| `randaugment` | `RandAugment(num_ops=2, factor=0.2)` |
| `random_erasing` | `RandomErasing(factor=1.0, scale=(0.02, 0.33))` |
| `mixup` | `MixUp(alpha=0.2)`: pairs of images and their one-hot labels blended |
| `cutmix` | `CutMix(factor=1.0)`: a box of another image pasted, labels by area |

`mixup` and `cutmix` make soft labels, so a classifier trained with them uses categorical
cross-entropy on one-hot labels (`ZooClassifier` does it). Images are (H, W) grayscale or
(H, W, C) with pixel values 0..255. The draws are seeded (`seed`) and differ from epoch to
epoch; the same seed gives the same batches.

    ZooClassifier("cnn-fashion-mnist", augment="randaugment", random_state=0)
    python cli.py train cnn-fashion-mnist --set augment=cutmix
"""

import keras
import tensorflow as tf

from pipelines import data

POLICIES = ("none", "flip_translate", "randaugment", "random_erasing", "mixup", "cutmix")
MIXING = ("mixup", "cutmix")  # policies that blend labels


def check_policy(policy):
    """Returns the policy name (None for no policy); raises ValueError naming `augment`."""
    if policy is None or (isinstance(policy, str) and policy in POLICIES):
        return None if policy in (None, "none") else policy
    raise ValueError(f"augment must be None or one of {list(POLICIES)}. Received: {policy!r}")


def mixes_labels(policy):
    """Whether `policy` trains on soft (blended) labels."""
    return check_policy(policy) in MIXING


def policy_layers(policy, seed=0):
    """The Keras preprocessing layers of `policy`, seeded from `seed`."""
    layers = keras.layers
    policy = check_policy(policy)
    if policy is None:
        return []
    if policy == "flip_translate":
        return [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 1),
        ]
    if policy == "randaugment":
        return [layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.2, seed=seed)]
    if policy == "random_erasing":
        return [layers.RandomErasing(value_range=(0, 255), seed=seed)]
    if policy == "mixup":
        return [layers.MixUp(alpha=0.2, seed=seed)]
    return [layers.CutMix(factor=1.0, seed=seed)]


def augment_batches(batches, policy, num_classes, seed=0):
    """`batches` of (x, y) or (x, y, sample_weight) with `policy` applied to every batch.

    x must be a batch of images, (B, H, W) or (B, H, W, C); y integer class ids 0..K-1.
    With a mixing policy y becomes (B, num_classes) soft labels. Sample weights pass through
    (a blended pair keeps its first image's weight).
    """
    policy = check_policy(policy)
    if policy is None:
        return batches
    spec = batches.element_spec
    x_spec = spec[0]
    if isinstance(x_spec, dict) or x_spec.shape.rank not in (3, 4):
        raise ValueError(
            "augment works on models with one image input, batches of shape (B, H, W) or "
            f"(B, H, W, C). Received: {x_spec}"
        )
    layers = policy_layers(policy, seed)
    grayscale = x_spec.shape.rank == 3

    def apply(x, y, *weights):
        images = tf.cast(x, "float32")
        if grayscale:
            images = images[..., None]
        if policy in MIXING:
            labels = tf.one_hot(tf.cast(y, "int32"), num_classes)
            mixed = layers[0]({"images": images, "labels": labels}, training=True)
            images, y = mixed["images"], mixed["labels"]
        else:
            for layer in layers:
                images = layer(images, training=True)
        images = tf.clip_by_value(images, 0.0, 255.0)
        if grayscale:
            images = images[..., 0]
        return (tf.cast(images, x.dtype), y, *weights)

    return data.fixed_prefetch(batches.map(apply))


def one_hot_batches(batches, num_classes):
    """Validation batches with one-hot labels, for a model trained on soft labels."""

    def encode(x, y, *weights):
        return (x, tf.one_hot(tf.cast(y, "int32"), num_classes), *weights)

    return batches.map(encode)
