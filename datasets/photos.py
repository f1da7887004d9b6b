"""Real photos from scikit-image's `skimage.data` for denoising, x3 super-resolution and
inpainting, with whole photos held out.

Source: the photos bundled in the scikit-image wheel (`pip install scikit-image`; no
download). Licences, from each `skimage.data` function's docstring: public domain or CC0
(camera, coffee, clock, astronaut, chelsea, rocket, hubble_deep_field, grass, gravel,
brick, retina, cell, text), "no known copyright restrictions" (coins,
immunohistochemistry); moon, page and stereo_motorcycle state none beyond scikit-image's
BSD-3 licence. We ship none of them: they are read from the installed wheel. Every image is
turned into its luma: the Y channel of YCbCr (ITU-R BT.601, values 16..235 in a 0..255
scale; grayscale photos are taken as R = G = B), the channel super-resolution papers score.

Splits (fixed): the 14 TRAIN_PHOTOS give training patches (random positions, seeded);
the 4 TEST_PHOTOS (camera, coffee, coins, clock) are never seen in training and are cut
into non-overlapping 96x96 tiles (72 tiles; a photo's right and bottom remainders are
dropped) that the metrics average over.

Three constructions, one per task (`Dataset.task`):
- "denoising" (`photos_denoise`): X = clean + Gaussian noise, clipped to [0, 255]; training
  patches 40x40 with sigma drawn per patch uniformly in [5, 55] (one blind model);
  X_test at sigma 25 (seed 25); the evaluation also draws sigma 15 and 50.
- "super_resolution" (`photos_x3`): X = the HR image downscaled x3 with PIL's bicubic
  filter, y = the HR image; training patches 48x48 (16x16 in).
- "inpainting" (`photos_inpaint`): X = {"image": the photo with the holes set to 0,
  "mask": 1 in the holes}, y = the photo; 4..7 random boxes of 6..20 pixels a side per
  64x64 training patch, 7..12 per 96x96 test tile (seeded).
"""

import numpy as np

from datasets.base import Dataset, DatasetMissingError

INSTALL = "pip install scikit-image"
TRAIN_PHOTOS = (
    "astronaut",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "grass",
    "gravel",
    "brick",
    "stereo_motorcycle",
    "retina",
    "cell",
    "page",
    "text",
)
TEST_PHOTOS = ("camera", "coffee", "coins", "clock")
TILE = 96
PATCHES_PER_PHOTO = 300
SCALE = 3
TEST_SIGMA = 25.0
EVAL_SIGMAS = (15.0, 25.0, 50.0)
TRAIN_SIGMA_RANGE = (5.0, 55.0)


def _skimage_data():
    try:
        import skimage.color
        import skimage.data
    except ImportError:
        raise DatasetMissingError(
            f"The photos come from scikit-image, which is not installed. Install it with: {INSTALL}"
        ) from None
    return skimage


def photo_luma(name):
    """The Y channel (BT.601, 16..235) of the scikit-image photo `name`, float32 (h, w)."""
    skimage = _skimage_data()
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    image = np.asarray(image)
    if image.ndim == 2:
        image = skimage.color.gray2rgb(image)
    y = skimage.color.rgb2ycbcr(image[..., :3])[..., 0]
    return np.asarray(y, "float32")


def photo_tiles(names=TEST_PHOTOS, tile=TILE):
    """Non-overlapping tile x tile crops of the photos, (n, tile, tile, 1), and the photo
    index of each tile."""
    tiles, owner = [], []
    for index, name in enumerate(names):
        luma = photo_luma(name)
        for top in range(0, luma.shape[0] - tile + 1, tile):
            for left in range(0, luma.shape[1] - tile + 1, tile):
                tiles.append(luma[top : top + tile, left : left + tile])
                owner.append(index)
    return np.stack(tiles)[..., None], np.asarray(owner)


def random_patches(size, per_photo=PATCHES_PER_PHOTO, names=TRAIN_PHOTOS, seed=0):
    """`per_photo` random size x size crops of each training photo, randomly flipped and
    rotated by multiples of 90 degrees, (n, size, size, 1)."""
    rng = np.random.default_rng(seed)
    patches = []
    for name in names:
        luma = photo_luma(name)
        for _ in range(per_photo):
            top = rng.integers(0, luma.shape[0] - size + 1)
            left = rng.integers(0, luma.shape[1] - size + 1)
            patch = np.rot90(luma[top : top + size, left : left + size], rng.integers(4))
            patches.append(patch[:, ::-1] if rng.integers(2) else patch)
    return np.stack(patches)[..., None].astype("float32")


def add_noise(clean, sigma, seed):
    """clean + N(0, sigma^2) per pixel, clipped to [0, 255]; sigma a number or one per image."""
    rng = np.random.default_rng(seed)
    sigma = np.broadcast_to(np.asarray(sigma, "float32"), (len(clean),))
    noise = rng.normal(size=clean.shape).astype("float32") * sigma[:, None, None, None]
    return np.clip(clean + noise, 0.0, 255.0).astype("float32")


def downscale(images, scale=SCALE):
    """PIL bicubic downscaling by `scale` of (n, h, w, 1) images (h, w multiples of it)."""
    from PIL import Image

    n, h, w, _ = images.shape
    out = np.empty((n, h // scale, w // scale, 1), "float32")
    for i, image in enumerate(images[..., 0]):
        small = Image.fromarray(image.astype("float32"), mode="F").resize(
            (w // scale, h // scale), Image.BICUBIC
        )
        out[i, ..., 0] = np.asarray(small)
    return np.clip(out, 0.0, 255.0)


def upscale_bicubic(images, scale=SCALE):
    """PIL bicubic upscaling by `scale`: the super-resolution baseline."""
    from PIL import Image

    n, h, w, _ = images.shape
    out = np.empty((n, h * scale, w * scale, 1), "float32")
    for i, image in enumerate(images[..., 0]):
        big = Image.fromarray(image.astype("float32"), mode="F").resize(
            (w * scale, h * scale), Image.BICUBIC
        )
        out[i, ..., 0] = np.asarray(big)
    return np.clip(out, 0.0, 255.0)


def random_box_masks(count, size, boxes=(4, 8), sides=(6, 21), seed=0):
    """(count, size, size, 1) float32 masks, 1 inside `boxes` random rectangles per image
    (sides in [sides[0], sides[1]) pixels)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size, 1), "float32")
    for mask in masks:
        for _ in range(rng.integers(*boxes)):
            height, width = rng.integers(*sides, size=2)
            top = rng.integers(0, size - height + 1)
            left = rng.integers(0, size - width + 1)
            mask[top : top + height, left : left + width] = 1.0
    return masks


def _provenance(construction):
    return {
        "source": "scikit-image `skimage.data` photos (in the wheel), luma (YCbCr Y)",
        "licence": "public domain or CC0 per photo (skimage.data docstrings); moon, page, "
        "stereo_motorcycle: scikit-image's BSD-3",
        "install": INSTALL,
        "train_photos": list(TRAIN_PHOTOS),
        "test_photos": list(TEST_PHOTOS),
        "construction": construction,
    }


SPLIT = (
    f"whole photos held out: patches of the {len(TRAIN_PHOTOS)} train photos; "
    f"{TILE}x{TILE} tiles of the test photos {', '.join(TEST_PHOTOS)}"
)


def load_photos_denoise():
    """Noisy / clean pairs: 40x40 training patches (sigma uniform in [5, 55]) and the
    96x96 test tiles at sigma 25; values 0..255.

    Example:

        data = load_photos_denoise()
        data.X_train.shape, data.X_test.shape      # (4200, 40, 40, 1), (72, 96, 96, 1)
    """
    clean = random_patches(40, seed=0)
    sigma = np.random.default_rng(1).uniform(*TRAIN_SIGMA_RANGE, len(clean))
    tiles, _ = photo_tiles()
    return Dataset(
        name="photos_denoise",
        task="denoising",
        X_train=add_noise(clean, sigma, seed=2),
        y_train=clean,
        X_test=add_noise(tiles, TEST_SIGMA, seed=int(TEST_SIGMA)),
        y_test=tiles,
        split=SPLIT,
        provenance=_provenance(
            "additive Gaussian noise, clipped to [0, 255]; train sigma uniform in "
            f"{list(TRAIN_SIGMA_RANGE)}, test sigma {TEST_SIGMA:g} (also {EVAL_SIGMAS})"
        ),
    )


def load_photos_x3():
    """Low-resolution / high-resolution pairs (x3, PIL bicubic downscaling): 48x48 HR
    training patches, 96x96 HR test tiles.

    Example:

        data = load_photos_x3()
        data.X_test.shape, data.y_test.shape       # (72, 32, 32, 1), (72, 96, 96, 1)
    """
    hr = random_patches(48, seed=3)
    tiles, _ = photo_tiles()
    return Dataset(
        name="photos_x3",
        task="super_resolution",
        X_train=downscale(hr),
        y_train=hr,
        X_test=downscale(tiles),
        y_test=tiles,
        split=SPLIT,
        provenance=_provenance(f"x{SCALE} PIL bicubic downscaling of the luma"),
    )


def load_photos_inpaint():
    """Masked photos and their masks / the whole photos: 64x64 training patches with 4..7
    boxes, 96x96 test tiles with 7..12 boxes (6..20 pixels a side).

    Example:

        data = load_photos_inpaint()
        sorted(data.X_test), data.X_test["mask"].mean()     # ['image', 'mask'], ~0.15
    """
    clean = random_patches(64, seed=4)
    masks = random_box_masks(len(clean), 64, boxes=(4, 8), seed=5)
    tiles, _ = photo_tiles()
    test_masks = random_box_masks(len(tiles), TILE, boxes=(7, 13), seed=6)
    return Dataset(
        name="photos_inpaint",
        task="inpainting",
        X_train={"image": clean * (1.0 - masks), "mask": masks},
        y_train=clean,
        X_test={"image": tiles * (1.0 - test_masks), "mask": test_masks},
        y_test=tiles,
        split=SPLIT,
        provenance=_provenance("random boxes (6..20 pixels a side) set to 0; mask 1 = hole"),
    )
