"""Detection and segmentation (issue 10): the composites, the metrics (mean IoU, COCO mAP
against pycocotools and a hand-computed case), the CenterNet targets and decoding, the
background-difference baseline, bad input, a tiny training of each estimator, and the
exports of a tiny detector."""

import numpy as np
import pytest

from datasets import composites
from pipelines import detection


@pytest.fixture(scope="module")
def arrays():
    return composites.build_composites()


def test_composites_hold_out_photos_and_digits(arrays):
    assert arrays["train_images"].shape == (composites.TRAIN_COUNT, 64, 64)
    assert arrays["test_images"].shape == (composites.TEST_COUNT, 64, 64)
    assert not set(composites.TRAIN_PHOTOS) & set(composites.TEST_PHOTOS)
    assert not set(arrays["train_digit_index"]) & set(arrays["test_digit_index"])
    assert 0.0 <= arrays["test_images"].min() and arrays["test_images"].max() <= 255.0
    counts = (arrays["train_boxes"][..., 0] >= 0).sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= composites.MAX_OBJECTS and counts.mean() > 2.5


def test_boxes_are_the_tight_boxes_of_the_masks(arrays):
    for masks, boxes in zip(arrays["test_masks"][:50], arrays["test_boxes"][:50]):
        for c, x0, y0, x1, y1 in boxes[boxes[:, 0] >= 0].astype(int):
            inside = masks[y0:y1, x0:x1] == c + 1
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any()
            assert inside[:, -1].any()
        assert set(np.unique(masks)) - {0} == set(boxes[boxes[:, 0] >= 0, 0].astype(int) + 1)


def test_composites_are_deterministic():
    photo = [composites.photo_luma("camera")]
    digits, labels = composites.mnist_digits()
    a = composites.compose(photo, digits[:20], labels[:20], 3, seed=5)
    b = composites.compose(photo, digits[:20], labels[:20], 3, seed=5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_mean_iou_by_hand():
    truth = np.array([[0, 0, 1, 1], [2, 2, 0, 0]])
    predicted = np.array([[0, 1, 1, 1], [2, 0, 0, 0]])
    # class 0: TP 3, FP 1, FN 1 -> 3/5; class 1: TP 2, FP 1 -> 2/3; class 2: TP 1, FN 1 -> 1/2
    score, per_class = detection.mean_iou(truth, predicted, 4)
    np.testing.assert_allclose(per_class[:3], [3 / 5, 2 / 3, 1 / 2])
    assert np.isnan(per_class[3])  # absent from both: left out of the mean
    assert score == pytest.approx((3 / 5 + 2 / 3 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="same number of pixels"):
        detection.mean_iou(truth, predicted[:1], 4)


def _hand_case():
    # image 0: two objects of class 0; image 1: one of class 0 and one of class 2 (missed)
    truth = np.full((2, 2, 5), -1.0, "float32")
    truth[0] = [[0, 0, 0, 10, 10], [0, 20, 20, 30, 30]]
    truth[1] = [[0, 0, 0, 10, 10], [2, 40, 40, 50, 50]]
    detections = [
        {
            "scores": np.array([0.9, 0.8, 0.6, 0.5]),
            "classes": np.array([0, 0, 0, 1]),  # class 1 has no ground truth: ignored
            "boxes": np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30], [1, 1, 5, 5]]),
        },
        {"scores": np.array([0.7]), "classes": np.array([0]), "boxes": np.array([[0, 0, 10, 5]])},
    ]
    return truth, detections


def test_coco_map_by_hand():
    truth, detections = _hand_case()
    result = detection.coco_map(truth, detections, num_classes=3)
    # class 0 in score order: TP, FP (duplicate), TP at IoU 0.5 only, TP.
    # IoU 0.5: precision 1 up to recall 1/3, then 0.75 (interpolated) up to recall 1:
    # (34 * 1 + 67 * 0.75) / 101. Above 0.5: TP, FP, FP, TP: 1 up to 1/3, 0.5 up to 2/3,
    # none beyond: (34 + 33 * 0.5) / 101. Class 2: AP 0.
    ap50 = (34 + 67 * 0.75) / 101
    ap_high = (34 + 33 * 0.5) / 101
    assert result["map50"] == pytest.approx(ap50 / 2)
    assert result["map75"] == pytest.approx(ap_high / 2)
    assert result["map"] == pytest.approx((ap50 + 9 * ap_high) / 10 / 2)


def _pycocotools_map(truth, detections):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for n, rows in enumerate(truth):
        images.append({"id": n, "width": 64, "height": 64})
        for c, x0, y0, x1, y1 in rows[rows[:, 0] >= 0]:
            box = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": n,
                    "category_id": int(c),
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
        found = detections[n]
        for score, c, (x0, y0, x1, y1) in zip(found["scores"], found["classes"], found["boxes"]):
            box = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
            results.append(
                {"image_id": n, "category_id": int(c), "bbox": box, "score": float(score)}
            )
    categories = sorted({int(c) for rows in truth for c in rows[rows[:, 0] >= 0, 0]})
    coco = COCO()
    coco.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c} for c in categories],
    }
    coco.createIndex()
    evaluator = COCOeval(coco, coco.loadRes(results), "bbox")
    evaluator.params.catIds = categories
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats[0], evaluator.stats[1]


def test_coco_map_matches_pycocotools(arrays):
    """Noisy, shuffled-score detections of real test boxes (misses, duplicates, wrong
    classes, false alarms): the same mAP and mAP@0.5 as COCO's own evaluation."""
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(0)
    truth = arrays["test_boxes"][:40]
    detections = []
    for rows in truth:
        rows = rows[rows[:, 0] >= 0]
        keep = rows[rng.random(len(rows)) > 0.2]
        extra = rows[rng.random(len(rows)) < 0.3]
        corner = rng.uniform(0, 40, 2)
        alarm = np.concatenate([corner, corner + rng.uniform(8, 24, 2)])[None]
        boxes = np.concatenate([keep[:, 1:], extra[:, 1:]])
        boxes = np.concatenate([boxes + rng.normal(0, 2.0, boxes.shape), alarm])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)  # no empty boxes
        classes = np.concatenate([keep[:, 0], extra[:, 0], [rng.integers(10)]]).astype(int)
        flip = rng.random(len(classes)) < 0.1
        classes[flip] = rng.integers(0, 10, flip.sum())
        detections.append({"scores": rng.random(len(boxes)), "classes": classes, "boxes": boxes})
    ours = detection.coco_map(truth, detections, num_classes=10)
    reference_map, reference_map50 = _pycocotools_map(truth, detections)
    assert ours["map50"] == pytest.approx(reference_map50, abs=1e-6)
    assert ours["map"] == pytest.approx(reference_map, abs=1e-6)
    assert 0.2 < ours["map"] < ours["map50"] < 1.0


def test_centre_targets_decode_back_to_the_boxes(arrays):
    truth = arrays["test_boxes"][:30]
    targets = detection.encode_boxes(truth, num_classes=10)
    assert targets["heatmap"].shape == (30, 16, 16, 10)
    assert (targets["heatmap"] == 1.0).sum() == (truth[..., 0] >= 0).sum()  # one peak each
    found = detection.decode_detections(targets["heatmap"], targets["boxes"][..., :4], 0.99)
    assert detection.coco_map(truth, found, 10)["map"] == pytest.approx(1.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="box rows"):
        detection.check_boxes(np.zeros((2, 4)), 10)
    with pytest.raises(ValueError, match="classes must be -1"):
        detection.check_boxes(np.array([[[12, 0, 0, 5, 5]]]), 10)
    with pytest.raises(ValueError, match="x_max > x_min"):
        detection.check_boxes(np.array([[[1, 5, 0, 5, 5]]]), 10)
    with pytest.raises(ValueError, match=r"\(n, 64, 64\)"):
        detection.ZooSegmenter("segment-composites").fit(
            np.zeros((2, 28, 28)), np.zeros((2, 28, 28))
        )
    segmenter = detection.ZooSegmenter("segment-composites", epochs=1)
    with pytest.raises(ValueError, match=r"classes 0..10"):
        segmenter.fit(np.zeros((2, 64, 64)), np.full((2, 64, 64), 11))
    with pytest.raises(ValueError, match="trains entries of task 'detection'"):
        detection.ZooDetector("segment-composites").fit(np.zeros((2, 64, 64)), None)
    with pytest.raises(ValueError, match="heatmap must be"):
        detection.decode_detections(np.zeros((1, 16, 16, 10)), np.zeros((1, 16, 16, 5)))


def test_baseline_finds_digits_on_a_small_slice(arrays):
    baseline = detection.BackgroundDifference().fit(
        arrays["train_images"][:150], arrays["train_masks"][:150]
    )
    images, masks = arrays["test_images"][:40], arrays["test_masks"][:40]
    segmented = baseline.segment(images)
    assert segmented.shape == masks.shape
    assert detection.mean_iou(masks, segmented, 11)[1][0] > 0.8  # the background
    found = baseline.detect(images)
    assert len(found) == 40 and all(f["boxes"].shape[1] == 4 for f in found)
    assert detection.coco_map(arrays["test_boxes"][:40], found, 10)["map50"] > 0.05


@pytest.fixture(scope="module")
def tiny_detector(arrays):
    detector = detection.ZooDetector(
        "detect-composites",
        epochs=1,
        batch_size=16,
        random_state=0,
        model__filters=4,
        model__depth=2,
        model__head_units=8,
    )
    return detector.fit(arrays["train_images"][:64], arrays["train_boxes"][:64])


def test_tiny_training_of_each_estimator(arrays, tiny_detector):
    segmenter = detection.ZooSegmenter(
        "segment-composites", epochs=1, batch_size=16, random_state=0, model__filters=4
    )
    segmenter.fit(arrays["train_images"][:64], arrays["train_masks"][:64])
    assert np.isfinite(segmenter.history_["loss"]).all()
    masks = segmenter.predict(arrays["test_images"][:3])
    assert masks.shape == (3, 64, 64) and masks.min() >= 0 and masks.max() <= 10
    assert np.isfinite(tiny_detector.history_["loss"]).all()
    found = tiny_detector.predict(arrays["test_images"][:3])
    assert len(found) == 3 and found[0]["boxes"].shape[1] == 4
    with pytest.raises(ValueError, match=r"\(n, 64, 64\)"):
        tiny_detector.predict(np.zeros((1, 32, 32)))


@pytest.mark.parametrize("format", ["saved_model", "onnx"])
def test_tiny_detector_exports_raw_pixels_to_heatmap_and_boxes(tiny_detector, format, tmp_path):
    """The spine's export reloads the artifact and compares it with Keras (raises if not)."""
    report = tiny_detector.export(tmp_path, format=format)
    assert report["inputs"] == ["image"] and report["outputs"] == ["heatmap", "boxes"]
    assert report["max_abs_diff"] < 1e-4


def test_pixel_crossentropy_is_keras_sparse_crossentropy():
    import keras

    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(11), (2, 4, 4)).astype("float32")
    classes = rng.integers(0, 11, (2, 4, 4))
    ours = keras.ops.convert_to_numpy(detection.pixel_crossentropy(classes, probabilities))
    reference = keras.losses.sparse_categorical_crossentropy(classes, probabilities)
    np.testing.assert_allclose(ours, np.mean(reference, axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize(
    "name, metric", [("segment-composites", "mean_iou"), ("detect-composites", "map50")]
)
def test_shipped_model_beats_the_baseline(name, metric):
    """On the recorded test metrics, which tests/test_shipped_weights.py recomputes (the
    model's and the baseline's) and compares with the manifest."""
    import zoo

    recorded = zoo.weights.read_manifest()[name]["metrics"]
    assert recorded[metric] > recorded[f"baseline_{metric}"] + 0.3, recorded
