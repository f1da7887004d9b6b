"""Generated data as augmentation (issue 9, seed topic 6): does adding generated images to
1,000 labelled Fashion-MNIST images help the cnn-fashion-mnist classifier?

The 1,000 labelled images are 100 per class drawn (seed 0) from the training split. The
generator is the conditional VAE recipe (`cvae-fashion-mnist`) trained on THOSE 1,000 images
only (a generator trained on all 60,000 would smuggle in the labels of the rest); it makes
1,000 more images, 100 per class, labelled by the class they were asked for. The DCGAN is
unconditional: its images carry no label, so it cannot serve here without a classifier
labelling them (which would leak that classifier's knowledge). The classifier is
cnn-fashion-mnist, trained the same way (same epochs, seed) on 1,000 real images, and on
1,000 real + 1,000 generated; both are scored on the 10,000 test images.

    python bench/gan_augmentation.py          # prints the table of the card
"""

import json
import sys
import time

import numpy as np

import datasets
from pipelines.classification import ZooClassifier
from pipelines.generative import ZooGenerator


def main(epochs=30, generator_epochs=60, seed=0):
    data = datasets.load("fashion_mnist")
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(data.y_train == label), 100, replace=False)
            for label in range(10)
        ]
    )
    X, y = data.X_train[chosen], data.y_train[chosen]
    start = time.time()
    generator = ZooGenerator(
        "cvae-fashion-mnist", epochs=generator_epochs, batch_size=64, random_state=seed
    ).fit(X, y)
    labels = np.arange(1000) % 10
    generated = generator.sample(1000, labels=labels, seed=seed + 1)
    rows = {}
    for name, (X_fit, y_fit) in {
        "1,000 real": (X, y),
        "1,000 real + 1,000 generated (CVAE)": (
            np.concatenate([X, generated]),
            np.concatenate([y, labels]),
        ),
    }.items():
        classifier = ZooClassifier("cnn-fashion-mnist", epochs=epochs, random_state=seed)
        classifier.fit(X_fit, y_fit)
        rows[name] = classifier.score(data.X_test, data.y_test)
        print(f"{name}: test accuracy {rows[name]:.4f}", flush=True)
    print(json.dumps({"test_accuracy": rows, "seconds": round(time.time() - start)}, indent=1))


if __name__ == "__main__":
    main(*[int(a) for a in sys.argv[1:]])
