"""Wall time until Fashion-MNIST test accuracy first reaches each target (default 0.91, 0.93).

Fashion-MNIST, official split (60,000 train, 10,000 test). A callback evaluates the test
split at every epoch end; the evaluation time is taken off the clock. The clock starts just
before the `fit` call (so input validation, dataset building, compiling and graph tracing
count); a target's time is the clock at the end of the first epoch whose test accuracy
reaches it; the fit stops once every target is reached. Approaches (same seed):

    fast      `python cli.py train cnn-fashion-mnist-fast` as it runs: ZooClassifier on the
              entry's recipe (its architecture, epochs, batch size and schedule) with the
              validation split its recipe sets (0: all 60,000 training images, no
              per-epoch validation); --fast-epochs N runs the recipe's schedule over N epochs
    pipeline  ZooClassifier("cnn-fashion-mnist", random_state=SEED): the entry's recipe
              (20 epochs, batch 128, Adam lr 2e-3 with cosine decay over the 20 epochs)
    naive     model.fit(X, y, batch_size=32) with Keras defaults: Adam at the recipe's
              learning rate, constant; sparse categorical cross-entropy
    sklearn   keras.wrappers.SKLearnClassifier around the same builder. Its input check
              (scikit-learn's validate_data) takes 2-D X only, so the builder puts
              Input((784,)) -> Reshape((28, 28)) in front of the zoo model; it one-hot
              encodes y, so the loss is categorical cross-entropy; Adam at the recipe's
              learning rate, constant; fit with Keras' default batch size (32)

The approaches other than `fast` use cnn-fashion-mnist's builder,
`zoo.get("cnn-fashion-mnist", weights=None)`. Each approach is capped at --max-epochs (fast
and pipeline also at their recipes' epochs, over which their schedules run whatever the cap).
"not reached" is reported with the best accuracy seen.

Run (from the repository root; heavy: the fast recipe takes ~2 min, the others ~40 s per epoch
on 2 CPU cores):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/time_to_accuracy.py --max-epochs 20
    # in parts:
    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/time_to_accuracy.py --approaches naive
"""

import argparse
import time

import keras
import numpy as np
from common import fashion_mnist, header, table  # noqa: I001 (sets sys.path)

import zoo
from pipelines import ZooClassifier

NAME = "cnn-fashion-mnist"
FAST = "cnn-fashion-mnist-fast"
APPROACHES = ("fast", "pipeline", "naive", "sklearn")


class TimeToAccuracy(keras.callbacks.Callback):
    """Evaluates test accuracy at each epoch end, off the clock; stops once all targets are met."""

    def __init__(self, x_test, y_test, targets, max_epochs, label):
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.targets, self.max_epochs, self.label = sorted(targets), max_epochs, label
        self.start = None
        self.eval_seconds = 0.0
        self.curve = []  # (epoch, training seconds so far, test accuracy)
        self.reached = {}  # target -> (epoch, training seconds)

    def start_clock(self):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        paused = time.perf_counter()
        train_seconds = paused - self.start - self.eval_seconds
        probabilities = self.model.predict(self.x_test, batch_size=1000, verbose=0)
        accuracy = float(np.mean(np.argmax(probabilities, axis=-1) == self.y_test))
        self.curve.append((epoch + 1, train_seconds, accuracy))
        print(
            f"{self.label}: epoch {epoch + 1} test accuracy {accuracy:.4f} at "
            f"{train_seconds:.1f} s of training",
            flush=True,
        )
        for target in self.targets:
            if target not in self.reached and accuracy >= target:
                self.reached[target] = (epoch + 1, train_seconds)
        if len(self.reached) == len(self.targets):
            self.model.stop_training = True
        if epoch + 1 >= self.max_epochs:
            self.model.stop_training = True
        self.eval_seconds += time.perf_counter() - paused


def run_fast(data, callback, args):
    from pipelines.training import VALIDATION_SPLIT

    split = zoo.get_entry(FAST).recipe.get("validation_split", VALIDATION_SPLIT)
    clf = ZooClassifier(
        FAST,
        epochs=args.fast_epochs,
        random_state=args.seed,
        validation_split=split,
        callbacks=[callback],
    )
    callback.start_clock()
    clf.fit(data.X_train, data.y_train)


def run_pipeline(data, callback, args):
    clf = ZooClassifier(NAME, random_state=args.seed, callbacks=[callback])
    callback.start_clock()
    clf.fit(data.X_train, data.y_train)


def run_naive(data, callback, args):
    keras.utils.set_random_seed(args.seed)
    callback.start_clock()
    model = zoo.get(NAME, weights=None)
    model.compile(
        optimizer=keras.optimizers.Adam(zoo.get_entry(NAME).recipe["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        data.X_train,
        data.y_train,
        batch_size=32,
        epochs=args.max_epochs,
        callbacks=[callback],
        verbose=0,
    )


def build_for_sklearn(X, y, learning_rate):
    """The builder SKLearnClassifier calls: flat 784 pixels -> the zoo model."""
    pixels = keras.Input((X.shape[1],), name="pixels")
    inner = zoo.get(NAME, weights=None, num_classes=y.shape[1])
    probabilities = inner(keras.layers.Reshape((28, 28), name="to_image")(pixels))
    model = keras.Model(pixels, probabilities)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def run_sklearn(data, callback, args):
    from keras.wrappers import SKLearnClassifier

    keras.utils.set_random_seed(args.seed)
    estimator = SKLearnClassifier(
        model=build_for_sklearn,
        model_kwargs={"learning_rate": zoo.get_entry(NAME).recipe["learning_rate"]},
        fit_kwargs={"epochs": args.max_epochs, "callbacks": [callback], "verbose": 0},
    )
    callback.start_clock()
    estimator.fit(data.X_train.reshape(len(data.X_train), -1), data.y_train)


RUNNERS = {"fast": run_fast, "pipeline": run_pipeline, "naive": run_naive, "sklearn": run_sklearn}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approaches", nargs="+", choices=APPROACHES, default=list(APPROACHES))
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.91, 0.93])
    parser.add_argument(
        "--fast-epochs",
        type=int,
        default=None,
        help="epochs of the fast recipe (its schedule spans them; default: the recipe's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train-samples",
        type=int,
        default=None,
        help="first N training images only (a smoke test; default all)",
    )
    args = parser.parse_args()

    targets = sorted(args.targets)
    header(f"time to {' and '.join(map(str, targets))} test accuracy on Fashion-MNIST")
    data = fashion_mnist()
    if args.train_samples:
        data.X_train = data.X_train[: args.train_samples]
        data.y_train = data.y_train[: args.train_samples]
    print(
        f"data: {len(data.y_train)} train, {len(data.y_test)} test; seed {args.seed}; "
        f"cap {args.max_epochs} epochs\n",
        flush=True,
    )
    rows = []
    for approach in args.approaches:
        x_test = data.X_test.reshape(len(data.X_test), -1) if approach == "sklearn" else data.X_test
        callback = TimeToAccuracy(x_test, data.y_test, targets, args.max_epochs, approach)
        RUNNERS[approach](data, callback, args)
        best = max(acc for _, _, acc in callback.curve)
        epochs_run = len(callback.curve)
        per_epoch = callback.curve[-1][1] / epochs_run
        outcomes = []
        for target in targets:
            if target in callback.reached:
                epoch, seconds = callback.reached[target]
                outcomes.append(f"{seconds:.0f} s (epoch {epoch})")
            else:
                outcomes.append(f"not reached in {epochs_run} epochs")
        rows.append([approach, *outcomes, f"{best:.4f}", epochs_run, f"{per_epoch:.1f}"])
        print(
            f"{approach}: curve " + ", ".join(f"{e}:{a:.4f}" for e, _, a in callback.curve) + "\n",
            flush=True,
        )
    table(
        [
            "approach",
            *(f"time to {target} (eval excluded)" for target in targets),
            "best test acc",
            "epochs run",
            "mean s/epoch",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
