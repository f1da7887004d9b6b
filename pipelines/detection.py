"""Segmentation and detection (issue 10): training, decoding, metrics and the classical
background-difference baseline, for `segment-composites` and `detect-composites`.

- `ZooSegmenter` trains a per-pixel classifier (output "segmentation") on integer masks
  (n, h, w) with per-pixel cross-entropy; `predict` returns the argmax masks.
- `ZooDetector` trains a centre-based detector (outputs "heatmap" and "boxes", see
  zoo/models/detection.py) on padded box rows (n, max_objects, 5): (class, x_min, y_min,
  x_max, y_max), class -1 for padding. The rows become CenterNet targets
  (`encode_boxes`): a Gaussian peak per object at its centre cell in its class's heatmap,
  trained with CenterNet's penalty-reduced focal loss (`centre_focal_loss`), and the box
  regressed (L1, in units of 16 pixels) at the cells near the centre (`box_l1_loss`).
  `predict` decodes: local maxima of the heatmap (3x3), best first (`decode_detections`).
- Metrics: `mean_iou` (per-class IoU over the whole test set from the confusion matrix,
  averaged over the classes, background included) and COCO's box AP (`coco_map`: 101-point
  interpolated precision, greedy matching by score, mAP@0.5 and mAP@[.5:.95] averaged over
  the classes that have ground truth).
- Baseline (`BackgroundDifference`): no deep learning. The background is estimated from
  the composite alone by an 11x11 median filter (thin digit strokes vanish under it), the
  pixels whose |composite - estimate| exceeds a threshold (chosen on training composites)
  are foreground, grouped into connected components (8-connected after a 3x3 dilation),
  and each component is classified by a logistic regression on its 16x16 difference crop,
  trained on the components the same procedure finds in training composites (labelled by
  the majority class of their pixels, class 0 "clutter" for background ones). It gives
  masks (the component's foreground pixels) and boxes (the component's box, scored by the
  classifier's probability).
"""

import functools

import keras
import numpy as np
from scipy import ndimage

from pipelines.base import ArrayTargetsEstimator

STRIDE = 4
BOX_SCALE = 16.0  # pixels per unit of the box regression loss
BOX_WEIGHT_MIN = 0.3  # cells whose centre heat is below this regress no box
MAX_DETECTIONS = 100  # COCO's maxDets
IOU_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)


# -- segmentation ---------------------------------------------------------------------------


def _check_images(X, what="X"):
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1:] != (64, 64) or not np.issubdtype(X.dtype, np.number):
        raise ValueError(
            f"{what} must be grayscale images (n, 64, 64) of pixel values 0..255. "
            f"Received: shape {X.shape}, dtype {X.dtype}"
        )
    return X


def pixel_crossentropy(y_true, y_pred):
    """Per-pixel cross-entropy of class probabilities (batch, h, w, classes) against integer
    classes (batch, h, w), averaged over the pixels of each image. (Keras's
    sparse_categorical_crossentropy computes the same, but on PyTorch its backward pass
    fails on 4-D outputs: "grad_input must be contiguous".)"""
    ops = keras.ops
    probabilities = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0)
    one_hot = ops.one_hot(ops.cast(y_true, "int32"), probabilities.shape[-1])
    return -ops.mean(ops.sum(one_hot * ops.log(probabilities), axis=-1), axis=(1, 2))


class _ImageEstimator(ArrayTargetsEstimator):
    """What segmentation and detection share: images of shape (n, 64, 64) checked before
    they reach the model, and array targets only (no tf.data.Dataset)."""

    def _validate_X(self, X, reset):
        if not isinstance(X, dict):
            _check_images(X)
        return super()._validate_X(X, reset)

    def _dataset_targets(self, targets):
        raise ValueError(
            f"{type(self).__name__}.fit takes arrays (images, {self._targets_name}), "
            "not a tf.data.Dataset."
        )


class ZooSegmenter(_ImageEstimator):
    """Trains a zoo segmentation model (task "segmentation") on integer masks.

    y is an integer array (n, height, width) of classes 0..num_classes-1 (0 background).
    `predict(X)` returns the argmax masks, `predict_proba(X)` the per-pixel probabilities.
    See `ZooEstimator` for the arguments.

    Example:

        seg = ZooSegmenter("segment-composites", epochs=2, random_state=0)
        seg.fit(images, masks).predict(images[:2]).shape      # (2, 64, 64)
    """

    _task = "segmentation"
    _targets_name = "masks"

    def _loss(self):
        return {"segmentation": pixel_crossentropy}

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
        raw = np.asarray(y)
        classes = self._entry().defaults["num_classes"]
        if (
            raw.ndim != 3
            or not np.issubdtype(raw.dtype, np.integer)
            or raw.size == 0
            or raw.min() < 0
            or raw.max() >= classes
        ):
            raise ValueError(
                f"y must be an integer array (n, height, width) of classes 0..{classes - 1}. "
                f"Received: shape {raw.shape}, dtype {raw.dtype}"
            )
        return {"segmentation": raw.astype("int32")}

    def predict_proba(self, X):
        """Per-pixel class probabilities (n, height, width, classes)."""
        return np.asarray(self._predict_raw(_check_images(X))["segmentation"])

    def predict(self, X):
        """The mask of each image: the most probable class per pixel (n, height, width)."""
        return self.predict_proba(X).argmax(axis=-1)


def mean_iou(y_true, y_pred, num_classes):
    """Mean over the classes of IoU = TP / (TP + FP + FN), each class's counts summed over
    all the images (classes absent from both are left out of the mean).

    Returns (mean IoU, per-class IoU array with NaN for absent classes).

    Example:

        mean_iou(np.array([[0, 1]]), np.array([[0, 0]]), 2)     # (0.25, [0.5, 0.0])
    """
    y_true = np.asarray(y_true).ravel().astype("int64")
    y_pred = np.asarray(y_pred).ravel().astype("int64")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same number of pixels. Received: "
            f"{y_true.size} and {y_pred.size}"
        )
    confusion = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes).astype("float64")
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return float(np.nanmean(iou)), iou


# -- detection ------------------------------------------------------------------------------


def check_boxes(y, num_classes):
    """Validates padded box rows (n, max_objects, 5); returns them as float32."""
    raw = np.asarray(y)
    if raw.ndim != 3 or raw.shape[-1] != 5 or not np.issubdtype(raw.dtype, np.number):
        raise ValueError(
            "y must be box rows (n, max_objects, 5): (class, x_min, y_min, x_max, y_max), "
            f"class -1 for padding. Received: shape {raw.shape}, dtype {raw.dtype}"
        )
    y = raw.astype("float32")
    real = y[..., 0] >= 0
    if not np.isfinite(y).all() or (y[..., 0] >= num_classes).any():
        raise ValueError(f"y: classes must be -1 (padding) or 0..{num_classes - 1}, no NaN.")
    if ((y[..., 3] <= y[..., 1]) | (y[..., 4] <= y[..., 2]))[real].any():
        raise ValueError("y: every real box needs x_max > x_min and y_max > y_min.")
    return y


def encode_boxes(y, num_classes, size=64, stride=STRIDE):
    """CenterNet targets of padded box rows: {"heatmap": (n, g, g, classes),
    "boxes": (n, g, g, 5)} with g = size // stride.

    An object of box (x0, y0, x1, y1) puts a Gaussian (sigma: sqrt(w * h) / stride / 6
    cells, at least 0.5) in its class's heatmap, 1 at its centre cell. The box target of
    each cell is the box of the object whose Gaussian is highest there, with that value as
    its weight (last channel) when it is at least BOX_WEIGHT_MIN.
    """
    grid = size // stride
    y = np.asarray(y, "float32")
    heatmap = np.zeros((len(y), grid, grid, num_classes), "float32")
    boxes = np.zeros((len(y), grid, grid, 5), "float32")
    best = np.zeros((len(y), grid, grid), "float32")
    rows, cols = np.mgrid[0:grid, 0:grid]
    for n, objects in enumerate(y):
        for c, x0, y0, x1, y1 in objects:
            if c < 0:
                continue
            ci = min(int((y0 + y1) / 2 / stride), grid - 1)
            cj = min(int((x0 + x1) / 2 / stride), grid - 1)
            sigma = max(np.sqrt((x1 - x0) * (y1 - y0)) / stride / 6.0, 0.5)
            gauss = np.exp(-((rows - ci) ** 2 + (cols - cj) ** 2) / (2 * sigma**2))
            heatmap[n, :, :, int(c)] = np.maximum(heatmap[n, :, :, int(c)], gauss)
            take = (gauss > best[n]) & (gauss >= BOX_WEIGHT_MIN)
            boxes[n][take] = (x0, y0, x1, y1, 0.0)
            boxes[n, :, :, 4][take] = gauss[take]
            best[n] = np.maximum(best[n], gauss)
    return {"heatmap": heatmap, "boxes": boxes}


def centre_focal_loss(y_true, y_pred):
    """CenterNet's penalty-reduced pixel-wise focal loss (alpha 2, beta 4), per image,
    divided by the number of object centres (cells where y_true is 1)."""
    ops = keras.ops
    y_true = ops.cast(y_true, "float32")
    p = ops.clip(ops.cast(y_pred, "float32"), 1e-4, 1.0 - 1e-4)
    positive = ops.cast(ops.greater_equal(y_true, 1.0), "float32")
    positive_loss = ops.log(p) * ops.square(1.0 - p) * positive
    negative_loss = ops.log(1.0 - p) * ops.square(p) * ops.power(1.0 - y_true, 4) * (1 - positive)
    axes = (1, 2, 3)
    count = ops.maximum(ops.sum(positive, axis=axes), 1.0)
    return -(ops.sum(positive_loss, axis=axes) + ops.sum(negative_loss, axis=axes)) / count


def box_l1_loss(y_true, y_pred):
    """L1 distance of the predicted boxes to the targets (in units of BOX_SCALE pixels),
    weighted by the targets' last channel, per image."""
    ops = keras.ops
    y_true = ops.cast(y_true, "float32")
    weight = y_true[..., 4]
    l1 = ops.sum(ops.abs(y_true[..., :4] - ops.cast(y_pred, "float32")), axis=-1) / BOX_SCALE
    return ops.sum(weight * l1, axis=(1, 2)) / ops.maximum(ops.sum(weight, axis=(1, 2)), 1.0)


class ZooDetector(_ImageEstimator):
    """Trains a zoo centre-based detector (task "detection") on padded box rows.

    y is (n, max_objects, 5): (class, x_min, y_min, x_max, y_max) in pixels, class -1 for
    padding. `predict(X)` returns the decoded detections of each image (see
    `decode_detections`). See `ZooEstimator` for the arguments.

    Example:

        det = ZooDetector("detect-composites", epochs=2, random_state=0)
        det.fit(images, boxes).predict(images[:1])[0]["boxes"]   # (k, 4)
    """

    _task = "detection"
    _targets_name = "boxes"

    def _loss(self):
        return {"heatmap": centre_focal_loss, "boxes": box_l1_loss}

    def _encode_targets(self, y, fitting):
        self._refuse_class_weight()
        classes = self._entry().defaults["num_classes"]
        return encode_boxes(check_boxes(y, classes), classes)

    def predict_raw(self, X):
        """The model's outputs {"heatmap", "boxes"} for images X."""
        output = self._predict_raw(_check_images(X))
        return {key: np.asarray(value) for key, value in output.items()}

    def predict(self, X, threshold=0.05):
        """Decoded detections of each image (a list of dicts, see `decode_detections`)."""
        output = self.predict_raw(X)
        return decode_detections(output["heatmap"], output["boxes"], threshold=threshold)


def decode_detections(heatmap, boxes, threshold=0.05, max_detections=MAX_DETECTIONS, size=64):
    """Detections from a centre heatmap: the cells that are the maximum of their 3x3
    neighbourhood in a class's heatmap and score at least `threshold`, best first.

    Args:
        heatmap: (n, rows, cols, classes) centre probabilities.
        boxes: (n, rows, cols, 4) the box each cell predicts (x_min, y_min, x_max, y_max).

    Returns:
        A list of n dicts {"scores": (k,), "classes": (k,), "boxes": (k, 4)} (boxes clipped
        to the image), k <= max_detections.
    """
    heatmap = np.asarray(heatmap, "float32")
    boxes = np.asarray(boxes, "float32")
    if heatmap.ndim != 4 or boxes.shape != heatmap.shape[:3] + (4,):
        raise ValueError(
            "heatmap must be (n, rows, cols, classes) and boxes (n, rows, cols, 4). "
            f"Received: {heatmap.shape} and {boxes.shape}"
        )
    peaks = heatmap == ndimage.maximum_filter(heatmap, size=(1, 3, 3, 1), mode="constant")
    results = []
    for n in range(len(heatmap)):
        i, j, c = np.nonzero(peaks[n] & (heatmap[n] >= threshold))
        scores = heatmap[n, i, j, c]
        order = np.argsort(-scores, kind="stable")[:max_detections]
        results.append(
            {
                "scores": scores[order],
                "classes": c[order],
                "boxes": np.clip(boxes[n, i[order], j[order]], 0.0, size),
            }
        )
    return results


def box_iou(a, b):
    """IoU matrix (len(a), len(b)) of (x_min, y_min, x_max, y_max) boxes (COCO: no +1)."""
    a = np.asarray(a, "float64").reshape(-1, 4)
    b = np.asarray(b, "float64").reshape(-1, 4)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def average_precision(matched, scores, num_truth):
    """COCO's 101-point interpolated AP of detections (`matched`: True for a true positive)
    with `scores`, against `num_truth` ground-truth objects."""
    if len(matched) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    tp = np.cumsum(np.asarray(matched, bool)[order])
    fp = np.cumsum(~np.asarray(matched, bool)[order])
    recall = tp / num_truth
    precision = tp / np.maximum(tp + fp, np.finfo("float64").eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0.0, 1.0, 101)
    index = np.searchsorted(recall, points, side="left")
    sampled = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0)
    return float(sampled.mean())


def coco_map(truth, detections, num_classes, iou_thresholds=IOU_THRESHOLDS):
    """COCO box AP ("all" areas, at most MAX_DETECTIONS an image), mean over the classes
    with ground truth: {"map": mAP@[.5:.95], "map50": mAP@0.5, "map75": mAP@0.75}.

    Each class and IoU threshold: detections in decreasing score over all images, each
    matched to the unmatched ground-truth box of its image and class with the highest IoU
    (at least the threshold), as pycocotools' COCOeval does.

    Args:
        truth: (n, max_objects, 5) padded rows (class, x_min, y_min, x_max, y_max).
        detections: n dicts {"scores", "classes", "boxes"} (`decode_detections`).
    """
    truth = np.asarray(truth, "float32")
    if len(truth) != len(detections):
        raise ValueError(
            f"truth and detections must cover the same images. Received: {len(truth)} and "
            f"{len(detections)}"
        )
    ap = np.full((len(iou_thresholds), num_classes), np.nan)
    for c in range(num_classes):
        gt = [row[row[:, 0] == c, 1:] for row in truth]
        num_truth = sum(len(g) for g in gt)
        if num_truth == 0:
            continue
        dets = []  # (score, image, box)
        for n, found in enumerate(detections):
            keep = np.argsort(-np.asarray(found["scores"]), kind="mergesort")[:MAX_DETECTIONS]
            for k in keep:
                if found["classes"][k] == c:
                    dets.append((float(found["scores"][k]), n, found["boxes"][k]))
        dets.sort(key=lambda d: -d[0])
        ious = [box_iou([d[2]], gt[d[1]])[0] for d in dets]
        for t, threshold in enumerate(iou_thresholds):
            used = [np.zeros(len(g), bool) for g in gt]
            matched = []
            for (_, n, _), iou in zip(dets, ious):
                candidates = np.where(used[n], -1.0, iou)
                best = int(np.argmax(candidates)) if len(candidates) else -1
                hit = best >= 0 and candidates[best] >= threshold
                if hit:
                    used[n][best] = True
                matched.append(hit)
            ap[t, c] = average_precision(matched, [d[0] for d in dets], num_truth)
    per_threshold = np.nanmean(ap, axis=1)
    return {
        "map": float(per_threshold.mean()),
        "map50": float(per_threshold[0]),
        "map75": float(per_threshold[list(np.round(iou_thresholds, 2)).index(0.75)])
        if 0.75 in np.round(iou_thresholds, 2)
        else float("nan"),
    }


# -- the classical baseline ---------------------------------------------------------------


class BackgroundDifference:
    """Background-difference + connected-components segmenter and detector (no learning
    but a logistic regression that names each component); see the module docstring.

    Example:

        baseline = BackgroundDifference().fit(train_images, train_masks)
        baseline.segment(test_images)       # (n, 64, 64) classes
        baseline.detect(test_images)        # [{"scores", "classes", "boxes"}, ...]
    """

    def __init__(self, window=11, thresholds=(20, 35, 50, 70, 90, 120), min_pixels=12, crop=16):
        self.window = window
        self.thresholds = thresholds
        self.min_pixels = min_pixels
        self.crop = crop

    def difference(self, images):
        images = np.asarray(images, "float32")
        background = ndimage.median_filter(images, size=(1, self.window, self.window))
        return np.abs(images - background)

    def components(self, difference):
        """Per image: a list of (pixel mask, box (x0, y0, x1, y1), feature vector)."""
        found = []
        for diff in difference:
            foreground = diff > self.threshold_
            grown = ndimage.binary_dilation(foreground, np.ones((3, 3), bool))
            labels, count = ndimage.label(grown, np.ones((3, 3), int))
            items = []
            for k in range(1, count + 1):
                pixels = (labels == k) & foreground
                if pixels.sum() < self.min_pixels:
                    continue
                rows, cols = np.nonzero(pixels)
                box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
                items.append((pixels, box, self._features(diff, pixels, box)))
            found.append(items)
        return found

    def _features(self, diff, pixels, box):
        x0, y0, x1, y1 = box
        patch = np.where(pixels, diff, 0.0)[y0:y1, x0:x1]
        side = max(patch.shape)
        square = np.zeros((side, side), "float32")
        top, left = (side - patch.shape[0]) // 2, (side - patch.shape[1]) // 2
        square[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
        from PIL import Image

        small = np.asarray(
            Image.fromarray(square, mode="F").resize((self.crop, self.crop), Image.BILINEAR)
        )
        small = small / max(float(small.max()), 1e-6)
        shape = [(y1 - y0) / 64.0, (x1 - x0) / 64.0, pixels.sum() / ((y1 - y0) * (x1 - x0))]
        return np.concatenate([small.ravel(), shape]).astype("float32")

    def fit(self, images, masks):
        """Chooses the threshold (best foreground IoU on these training composites) and
        trains the component classifier on the components found in them."""
        from sklearn.linear_model import LogisticRegression

        masks = np.asarray(masks)
        difference = self.difference(images)
        truth = masks > 0
        scores = []
        for threshold in self.thresholds:
            predicted = difference > threshold
            scores.append((predicted & truth).sum() / (predicted | truth).sum())
        self.threshold_ = self.thresholds[int(np.argmax(scores))]
        features, labels = [], []
        for items, mask in zip(self.components(difference), masks):
            for pixels, _, feature in items:
                features.append(feature)
                labels.append(np.bincount(mask[pixels], minlength=11).argmax())
        self.classifier_ = LogisticRegression(max_iter=500)
        self.classifier_.fit(np.stack(features), np.asarray(labels))
        return self

    def _classified(self, images):
        found = self.components(self.difference(images))
        classes = list(self.classifier_.classes_)
        out = []
        for items in found:
            if not items:
                out.append(([], np.zeros((0, 11))))
                continue
            probabilities = np.zeros((len(items), 11))
            probabilities[:, classes] = self.classifier_.predict_proba(
                np.stack([feature for _, _, feature in items])
            )
            out.append((items, probabilities))
        return out

    def segment(self, images):
        """(n, h, w) classes: each component's foreground pixels get its most probable class
        (0 when it looks like clutter)."""
        images = np.asarray(images)
        masks = np.zeros(images.shape[:3], "int64")
        for n, (items, probabilities) in enumerate(self._classified(images)):
            for (pixels, _, _), p in zip(items, probabilities):
                masks[n][pixels] = int(p.argmax())
        return masks

    def detect(self, images):
        """Per image {"scores", "classes", "boxes"}: every component as a box of its most
        probable digit class (0-based), scored by that class's probability."""
        results = []
        for items, probabilities in self._classified(images):
            digits = probabilities[:, 1:]
            results.append(
                {
                    "scores": digits.max(axis=1) if len(items) else np.zeros(0),
                    "classes": digits.argmax(axis=1) if len(items) else np.zeros(0, int),
                    "boxes": np.array([box for _, box, _ in items], "float32").reshape(-1, 4),
                }
            )
        return results


@functools.lru_cache(maxsize=2)
def fitted_baseline(train_count=1000):
    """The baseline fitted on the first `train_count` training composites (cached)."""
    from datasets.composites import build_composites

    arrays = build_composites()
    return BackgroundDifference().fit(
        arrays["train_images"][:train_count], arrays["train_masks"][:train_count]
    )


def segmentation_metrics(model, dataset, baseline=True):
    """mean_iou and pixel_accuracy of the model on the test split, and the baseline's."""
    from pipelines.evaluation import predict_arrays

    num_classes = len(dataset.class_names)
    output = predict_arrays(model, {"image": _check_images(dataset.X_test)}, batch_size=64)
    predicted = np.asarray(output["segmentation"]).argmax(axis=-1)
    score, per_class = mean_iou(dataset.y_test, predicted, num_classes)
    result = {
        "mean_iou": score,
        "pixel_accuracy": float((predicted == dataset.y_test).mean()),
        "digit_mean_iou": float(np.nanmean(per_class[1:])),
    }
    if baseline:
        masks = fitted_baseline().segment(dataset.X_test)
        base, base_per_class = mean_iou(dataset.y_test, masks, num_classes)
        result["baseline_mean_iou"] = base
        result["baseline_pixel_accuracy"] = float((masks == dataset.y_test).mean())
        result["baseline_digit_mean_iou"] = float(np.nanmean(base_per_class[1:]))
    return result


def detection_metrics(model, dataset, baseline=True):
    """COCO box mAP of the model on the test split (map, map50, map75), and the baseline's."""
    from pipelines.evaluation import predict_arrays

    num_classes = len(dataset.class_names)
    output = predict_arrays(model, {"image": _check_images(dataset.X_test)}, batch_size=64)
    detections = decode_detections(output["heatmap"], output["boxes"])
    result = coco_map(dataset.y_test, detections, num_classes)
    if baseline:
        found = fitted_baseline().detect(dataset.X_test)
        result.update(
            {f"baseline_{k}": v for k, v in coco_map(dataset.y_test, found, num_classes).items()}
        )
    return result


def plot_examples(name, path, count=8):
    """Saves a PNG of the shipped model's predictions on the first `count` held-out
    composites, beside the ground truth and the baseline's (masks coloured by class for a
    segmentation entry; boxes labelled with class and score for a detection entry)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import datasets
    import zoo

    entry = zoo.get_entry(name)
    dataset = datasets.load(entry.dataset)
    images = dataset.X_test[:count]
    output = zoo.get(name).predict({"image": images}, verbose=0)
    baseline = fitted_baseline()
    rows = ["ground truth", "baseline", name]
    figure, axes = plt.subplots(3, count, figsize=(1.7 * count, 5.6))
    colours = plt.get_cmap("tab10")
    if entry.task == "segmentation":
        predicted = np.asarray(output["segmentation"]).argmax(-1)
        masks = [dataset.y_test[:count], baseline.segment(images), predicted]
        for row, mask in enumerate(masks):
            for k in range(count):
                axis = axes[row, k]
                axis.imshow(images[k], cmap="gray", vmin=0, vmax=255)
                overlay = np.zeros((64, 64, 4))
                on = mask[k] > 0
                overlay[on, :3] = np.array([colours(c - 1)[:3] for c in mask[k][on]])
                overlay[on, 3] = 0.75
                axis.imshow(overlay)
    else:
        truth = [
            {
                "scores": np.ones(int((rows_[:, 0] >= 0).sum())),
                "classes": rows_[rows_[:, 0] >= 0, 0].astype(int),
                "boxes": rows_[rows_[:, 0] >= 0, 1:],
            }
            for rows_ in dataset.y_test[:count]
        ]
        found = [
            truth,
            baseline.detect(images),
            decode_detections(output["heatmap"], output["boxes"], threshold=0.3),
        ]
        for row, detections in enumerate(found):
            for k in range(count):
                axis = axes[row, k]
                axis.imshow(images[k], cmap="gray", vmin=0, vmax=255)
                d = detections[k]
                keep = d["scores"] >= 0.3
                for score, c, (x0, y0, x1, y1) in zip(
                    d["scores"][keep], d["classes"][keep], d["boxes"][keep]
                ):
                    colour = colours(int(c))
                    axis.add_patch(
                        plt.Rectangle(
                            (x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=colour
                        )
                    )
                    label = f"{int(c)}" if row == 0 else f"{int(c)} {score:.2f}"
                    axis.text(x0, y0 - 1, label, color=colour, fontsize=7)
    for row, title in enumerate(rows):
        axes[row, 0].set_ylabel(title, fontsize=9)
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


if __name__ == "__main__":  # python -m pipelines.detection plot NAME PATH
    import sys

    if len(sys.argv) != 4 or sys.argv[1] != "plot":
        raise SystemExit("usage: python -m pipelines.detection plot NAME PATH")
    plot_examples(sys.argv[2], sys.argv[3])
