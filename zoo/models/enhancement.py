"""Image enhancement: denoising, x3 super-resolution (ESPCN) and inpainting.

Fully convolutional, so they run on images of any size. Every model takes raw luma pixels
(0..255, the "image" input, (batch, height, width, 1)) and gives pixels 0..255: the scaling
is a layer of the model. Their test metrics and baselines are `pipelines.enhancement`'s.
"""

import keras
from keras import layers

from zoo.layers.image import PixelShuffle
from zoo.registry import register

ENHANCEMENT_RECIPE = {"validation_split": 0.1}


def _image_input(name="image"):
    return keras.Input(shape=(None, None, 1), name=name)


@register(
    "denoise-photos",
    task="image_enhancement",
    dataset="photos_denoise",
    topic="image denoising with a residual CNN (DnCNN)",
    recipe={
        **ENHANCEMENT_RECIPE,
        "epochs": 16,
        "batch_size": 32,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
    },
)
def denoise_photos(filters=48, depth=8):
    """A residual denoiser (Zhang et al. 2017, DnCNN): the CNN predicts the noise, which is
    subtracted from the input. One blind model for Gaussian noise of sigma 5..55.

    Args:
        filters: channels of the hidden 3x3 convolutions.
        depth: number of 3x3 convolutions (>= 3); the middle ones have BatchNorm.

    Example:

        model = denoise_photos()
        model.predict(noisy)          # (n, h, w, 1) noisy pixels -> denoised pixels
    """
    image = _image_input()
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    h = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")(x)
    for index in range(2, depth):
        h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(h)
        h = layers.BatchNormalization(name=f"bn{index}")(h)
        h = layers.ReLU(name=f"relu{index}")(h)
    # Zero-initialised: training starts from the identity (the noisy input), not from noise.
    noise = layers.Conv2D(1, 3, padding="same", kernel_initializer="zeros", name="noise")(h)
    clean = layers.Subtract(name="subtract_noise")([x, noise])
    denoised = layers.Rescaling(255.0, name="denoised")(clean)
    return keras.Model(image, denoised, name="denoise_photos")


@register(
    "espcn-x3",
    task="image_enhancement",
    dataset="photos_x3",
    topic="super-resolution x3 with sub-pixel convolution (ESPCN)",
    recipe={
        **ENHANCEMENT_RECIPE,
        "epochs": 40,
        "batch_size": 32,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
    },
)
def espcn_x3(filters=64, depth=5, scale=3):
    """ESPCN (Shi et al. 2016), deeper: convolutions at low resolution, then a sub-pixel
    convolution (`PixelShuffle`) to `scale` x the size. The network predicts the detail
    added to a nearest-neighbour upsampling of the input (a global residual, which trains
    faster on CPUs; its last convolution starts at zero, so training starts from the
    nearest-neighbour image).

    Args:
        filters: channels of the convolutions (the first is 5x5, the others 3x3).
        depth: number of convolutions before the sub-pixel one (>= 1).
        scale: the upscaling factor.

    Example:

        model = espcn_x3()
        model.predict(low_res)        # (n, h, w, 1) -> (n, 3h, 3w, 1) pixels
    """
    image = _image_input()
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(image)
    h = x
    for index in range(1, depth + 1):
        h = layers.Conv2D(
            filters,
            5 if index == 1 else 3,
            padding="same",
            activation="relu",
            name=f"conv{index}",
        )(h)
    h = layers.Conv2D(
        scale * scale, 3, padding="same", kernel_initializer="zeros", name="subpixel_conv"
    )(h)
    detail = PixelShuffle(scale, name="pixel_shuffle")(h)
    base = layers.UpSampling2D(scale, interpolation="nearest", name="upsample")(x)
    high = layers.Add(name="add_detail")([base, detail])
    upscaled = layers.Rescaling(255.0, name="upscaled")(high)
    return keras.Model(image, upscaled, name="espcn_x3")


@register(
    "inpaint-photos",
    task="image_enhancement",
    dataset="photos_inpaint",
    topic="image inpainting with a dilated CNN",
    recipe={
        **ENHANCEMENT_RECIPE,
        "epochs": 10,
        "batch_size": 32,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
    },
)
def inpaint_photos(filters=32, dilations=(1, 2, 4, 8, 16, 1)):
    """Fills the holes of a photo (Iizuka et al. 2017's dilated convolutions, small).

    Inputs "image" (pixels 0..255; what is under the holes is ignored) and "mask" (1 in
    the holes, 0 elsewhere), both (batch, height, width, 1). The output keeps the known
    pixels and takes the network's prediction in the holes.

    Args:
        filters: channels of the hidden convolutions.
        dilations: the dilation rates of the 3x3 convolutions after the first.

    Example:

        model = inpaint_photos()
        model.predict({"image": photos, "mask": masks})     # (n, h, w, 1) pixels
    """
    image = _image_input()
    mask = _image_input("mask")
    keep = layers.Rescaling(-1.0, offset=1.0, name="keep")(mask)  # 1 - mask
    known = layers.Multiply(name="known")([image, keep])
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(known)
    h = layers.Concatenate(name="with_mask")([x, mask])
    h = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv0")(h)
    for index, rate in enumerate(dilations, start=1):
        h = layers.Conv2D(
            filters, 3, padding="same", dilation_rate=rate, activation="relu", name=f"conv{index}"
        )(h)
    fill = layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="fill")(h)
    fill = layers.Rescaling(255.0, name="fill_pixels")(fill)
    holes = layers.Multiply(name="holes")([fill, mask])
    inpainted = layers.Add(name="inpainted")([known, holes])
    return keras.Model({"image": image, "mask": mask}, inpainted, name="inpaint_photos")
