"""Generative entries (GAN, conditional VAE): a custom training step on three backends,
the `ZooGenerator` estimator, sampling, and the quality metrics with their baselines.

The training steps are written once, in `keras.ops`, with Keras's stateless API
(`Model.stateless_call`, `Optimizer.stateless_apply`): a step takes the values of every
variable and returns new ones, so it has no side effects and compiles on each backend
(`tf.function` on TensorFlow, `jax.jit` on JAX, eager on PyTorch). The only per-backend
piece is `value_and_grad`, the gradient of a loss with respect to a list of values
(`tf.GradientTape`, `jax.value_and_grad`, `torch.autograd.grad`), in one place below.

All randomness is drawn on the host from one seeded NumPy generator (the noise vectors,
the shuffling) or by Keras's seeded layers, so a run is reproducible for a given seed.

Metrics (`generation_metrics`, which `evaluation.evaluate` dispatches to for datasets of
task "generation"), on 2,000 generated images (seed 0) and 2,000 real test images:
- `fd`: Fréchet distance in the penultimate features of the shipped cnn-fashion-mnist
  ("FD in our classifier's features", `zoo.quality`; not FID, whose Inception weights
  cannot be downloaded here);
- `fd_floor`: the same distance between 2,000 real TRAIN and the 2,000 real test images,
  the best a generator can score at this sample size;
- `baseline_fd`: a per-class Gaussian model (each class's pixel mean and covariance fitted
  on the training images, sampled in the class proportions, clipped to 0..255);
- unconditional entries also `vae_fd`, the shipped cvae-fashion-mnist's `fd` (same protocol);
- conditional entries also `class_accuracy`: the share of generated images that the
  shipped cnn-fashion-mnist classifies as the class they were asked for (200 per class).

Example:

    gen = ZooGenerator("dcgan-fashion-mnist", epochs=1, random_state=0)
    gen.fit(X_train)                  # (n, 28, 28) pixels 0..255
    images = gen.sample(16, seed=0)   # (16, 28, 28)
"""

import keras
import numpy as np
from keras import ops
from sklearn.utils.validation import check_is_fitted

import zoo
from pipelines import checks
from pipelines.base import ZooEstimator

EVAL_SAMPLES = 2000
VAE = "cvae-fashion-mnist"
IMAGE_SHAPE = (28, 28)


# -- the one per-backend piece -------------------------------------------------------------


def value_and_grad(fn):
    """`fn(values, *args) -> (loss, aux)` -> a function returning ((loss, aux), gradients),
    the gradients of `loss` with respect to `values` (a list of tensors)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.value_and_grad(fn, has_aux=True)
    if backend == "tensorflow":
        import tensorflow as tf

        def tf_value_and_grad(values, *args):
            with tf.GradientTape() as tape:
                tape.watch(values)
                loss, aux = fn(values, *args)
            return (loss, aux), tape.gradient(loss, values)

        return tf_value_and_grad
    if backend == "torch":
        import torch

        def torch_value_and_grad(values, *args):
            values = [value.detach().requires_grad_(True) for value in values]
            loss, aux = fn(values, *args)
            gradients = torch.autograd.grad(loss, values)
            aux = keras.tree.map_structure(lambda t: t.detach(), aux)
            return (loss.detach(), aux), list(gradients)

        return torch_value_and_grad
    raise ValueError(f"No training step for the backend {backend!r}.")


def apply_gradients(optimizer, variables, optimizer_values, gradients, values):
    """The optimizer's update as new values: `Optimizer.stateless_apply` on JAX and PyTorch;
    on TensorFlow (where Keras refuses `stateless_apply`, for tf.distribute's sake) the values
    are assigned to the variables, `Optimizer.apply` updates them in place, and their new
    values are read back, inside the same compiled step. Returns (values, optimizer_values).
    """
    if keras.backend.backend() != "tensorflow":
        return optimizer.stateless_apply(optimizer_values, gradients, values)
    for variable, value in zip(variables, values):
        variable.assign(value)
    optimizer.apply(gradients, variables)
    return [v.value for v in variables], [v.value for v in optimizer.variables]


def compile_step(step):
    """The backend's compiler around a pure step function (eager on PyTorch)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(step)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step)
    return step


# -- the training steps, keras.ops only ------------------------------------------------------


def _bce_logits(targets, logits):
    return ops.mean(ops.binary_crossentropy(targets, logits, from_logits=True))


def gan_step(generator, discriminator, g_optimizer, d_optimizer, label_smoothing=0.9):
    """One GAN step (non-saturating loss, Goodfellow et al. 2014): the discriminator on a
    real batch and a generated one, then the generator against the updated discriminator.

    Returns `step(state, real, noise_d, noise_g) -> (state, (d_loss, g_loss))`, state being
    [g_trainable, g_non_trainable, d_trainable, d_non_trainable, g_opt_vars, d_opt_vars].
    Real images are labelled `label_smoothing` (one-sided smoothing, Salimans et al. 2016).
    """

    def d_loss_fn(d_tv, g_tv, g_ntv, d_ntv, real, noise):
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, noise, training=True)
        fake = ops.stop_gradient(fake)
        real_logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, real, training=True)
        fake_logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
        loss = _bce_logits(ops.ones_like(real_logits) * label_smoothing, real_logits)
        loss = loss + _bce_logits(ops.zeros_like(fake_logits), fake_logits)
        return loss, (g_ntv, d_ntv)

    def g_loss_fn(g_tv, g_ntv, d_tv, d_ntv, noise):
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, noise, training=True)
        logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
        return _bce_logits(ops.ones_like(logits), logits), (g_ntv, d_ntv)

    g_vars, d_vars = generator.trainable_variables, discriminator.trainable_variables
    d_grad = value_and_grad(d_loss_fn)
    g_grad = value_and_grad(g_loss_fn)

    def step(state, real, noise_d, noise_g):
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = state
        (d_loss, (g_ntv, d_ntv)), grads = d_grad(d_tv, g_tv, g_ntv, d_ntv, real, noise_d)
        d_tv, d_ov = apply_gradients(d_optimizer, d_vars, d_ov, grads, d_tv)
        (g_loss, (g_ntv, d_ntv)), grads = g_grad(g_tv, g_ntv, d_tv, d_ntv, noise_g)
        g_tv, g_ov = apply_gradients(g_optimizer, g_vars, g_ov, grads, g_tv)
        return [g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov], (d_loss, g_loss)

    return step


def cvae_step(encoder, decoder, optimizer, kl_weight=1.0):
    """One conditional-VAE step (Kingma & Welling 2014; Sohn et al. 2015): per-pixel
    Bernoulli reconstruction loss (pixels / 255) plus `kl_weight` times the KL divergence to
    N(0, I) (a beta-VAE's beta, Higgins et al. 2017), summed over the image and the code,
    averaged over the batch.

    Returns `step(state, images, labels, eps) -> (state, (loss, kl))`, state being
    [trainable (encoder's then decoder's), e_non_trainable, d_non_trainable, opt_vars].
    """
    split = len(encoder.trainable_variables)

    def loss_fn(tv, e_ntv, d_ntv, images, labels, eps):
        inputs = {"image": images, "label": labels}
        coded, e_ntv = encoder.stateless_call(tv[:split], e_ntv, inputs, training=True)
        mean, log_var = coded["mean"], coded["log_var"]
        z = mean + ops.exp(0.5 * log_var) * eps
        decoded, d_ntv = decoder.stateless_call(
            tv[split:], d_ntv, {"noise": z, "label": labels}, training=True
        )
        target = images / 255.0
        predicted = ops.clip(decoded / 255.0, 1e-6, 1.0 - 1e-6)
        reconstruction = -ops.sum(
            target * ops.log(predicted) + (1.0 - target) * ops.log(1.0 - predicted), axis=(1, 2)
        )
        kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=1)
        return ops.mean(reconstruction + kl_weight * kl), (e_ntv, d_ntv, ops.mean(kl))

    grad = value_and_grad(loss_fn)
    trainable = encoder.trainable_variables + decoder.trainable_variables

    def step(state, images, labels, eps):
        tv, e_ntv, d_ntv, ov = state
        (loss, (e_ntv, d_ntv, kl)), grads = grad(tv, e_ntv, d_ntv, images, labels, eps)
        tv, ov = apply_gradients(optimizer, trainable, ov, grads, tv)
        return [tv, e_ntv, d_ntv, ov], (loss, kl)

    return step


# -- input checks ----------------------------------------------------------------------------


def check_fashion_images(X, what="X"):
    """(n, 28, 28) pixel values in [0, 255] (a trailing channel of 1 is dropped)."""
    from pipelines import data

    array = data.as_array(X, what)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"{what} must be 28x28 grayscale images, shape (n, 28, 28). Received: {array.shape}"
        )
    if array.min() < 0 or array.max() > 255:
        raise ValueError(
            f"{what} must hold pixel values in [0, 255]. Received: values in "
            f"[{array.min():.4g}, {array.max():.4g}]"
        )
    return array


def check_labels(labels, n, num_classes, what="labels"):
    """Class ids 0..num_classes-1: one per sample, or one for all; returns int32 (n,)."""
    array = np.asarray(labels)
    if array.dtype.kind not in "iu" and not (
        array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0)
    ):
        raise ValueError(f"{what} must be integer class ids. Received: dtype {array.dtype}")
    array = np.broadcast_to(array, (n,)) if array.ndim == 0 else array
    if array.shape != (n,):
        raise ValueError(f"{what} must be one class id per sample ({n}). Received: {array.shape}")
    unknown = sorted(set(array.tolist()) - set(range(num_classes)))
    if unknown:
        raise ValueError(
            f"{what} must be class ids 0..{num_classes - 1}. Received unknown ids: {unknown[:5]}"
        )
    return array.astype("int32")


def is_conditional(model):
    return any(tensor.name == "label" for tensor in model.inputs)


def latent_dim(model):
    return next(int(t.shape[-1]) for t in model.inputs if t.name == "noise")


def num_classes_of(model):
    return int(model.get_layer("label_embedding").input_dim)


def noise_inputs(model, n, labels=None, seed=0):
    """The generator's inputs for n images: noise from `seed` (and the class ids)."""
    n = checks.check_positive_int("n", n)
    checks.check_int("seed", seed)
    noise = np.random.default_rng(seed).normal(size=(n, latent_dim(model))).astype("float32")
    if is_conditional(model):
        classes = num_classes_of(model)
        labels = np.arange(n) % classes if labels is None else labels
        return {"noise": noise, "label": check_labels(labels, n, classes)}
    if labels is not None:
        raise ValueError(
            f"labels apply to conditional generators; {model.name} is unconditional. "
            f"Received: labels={labels!r}"
        )
    return noise


def generate(model, n, labels=None, seed=0, batch_size=500):
    """n images (n, 28, 28), pixels 0..255, from the noise of `seed` (and `labels`: one
    class id or one per image; default 0, 1, ..., 9, 0, ... for a conditional model).

    Example:

        generate(zoo.get("cvae-fashion-mnist"), 10, labels=9, seed=0)   # ten ankle boots
    """
    inputs = noise_inputs(model, n, labels=labels, seed=seed)
    images = model.predict(inputs, batch_size=batch_size, verbose=0)
    return np.clip(np.asarray(images, "float32"), 0.0, 255.0)


def save_grid(images, path, columns=8, titles=None):
    """Saves images (n, 28, 28) as one PNG grid (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.weights import atomic_path

    images = np.asarray(images)
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.2), squeeze=False)
    for index, axis in enumerate(axes.ravel()):
        axis.axis("off")
        if index < len(images):
            axis.imshow(images[index], cmap="gray", vmin=0, vmax=255)
            if titles is not None:
                axis.set_title(titles[index], fontsize=7)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80, format="png")
    plt.close(figure)


# -- the estimator ---------------------------------------------------------------------------


class ZooGenerator(ZooEstimator):
    """Trains a generative entry (`trainer` "gan" or "cvae" in its recipe) with the custom
    step above; `sample` draws images, `score` is minus the FD to the given real images
    (higher is better, as scikit-learn expects).

    `fit(X, y=None)`: X real images (n, 28, 28), pixels 0..255; y class ids (required by a
    conditional entry, ignored by a GAN). `validation_split` is not used (a generator has no
    validation loss); the callbacks get the generator as their model at every epoch end,
    with the logs "loss" (generator / VAE loss) and "d_loss" or "kl".

    Example:

        gen = ZooGenerator("cvae-fashion-mnist", epochs=8, random_state=0).fit(X, y)
        gen.sample(10, labels=range(10), seed=0)
    """

    _task = "generation"
    _requires_y = False

    def _trainer(self):
        return self._entry().recipe.get("trainer", "gan")

    def fit(self, X, y=None):
        self._check_params()
        X = check_fashion_images(X)
        conditional = self._trainer() == "cvae"
        if conditional:
            if y is None:
                raise ValueError(f"{self.model} is conditional: fit needs y, the class ids.")
            y = check_labels(y, len(X), 10, "y")
        seed = checks.derive_seed(self.random_state)
        with checks.local_random_state(seed):
            self.model_ = self._build_model({})
            rng = np.random.default_rng(seed)
            if conditional:
                self._fit_cvae(X, y, rng)
            else:
                self._fit_gan(X, rng)
        return self

    def _epochs(self, count, batch_size, rng):
        """Yields (epoch, batches of indices): a fresh permutation each epoch, full batches
        only (one compiled shape)."""
        for epoch in range(self._setting("epochs")):
            order = rng.permutation(count)
            yield (
                epoch,
                [
                    order[start : start + batch_size]
                    for start in range(0, count - batch_size + 1, batch_size)
                ],
            )

    def _callbacks(self, model, optimizer):
        model.optimizer = optimizer  # what run recorders save beside the weights
        callbacks = keras.callbacks.CallbackList(list(self.callbacks or []), model=model)
        callbacks.on_train_begin()
        return callbacks

    def _fit_gan(self, X, rng):
        from zoo.models.generative import dcgan_discriminator

        generator = self.model_
        config = self.model_config_
        discriminator = dcgan_discriminator(filters=config["filters"])
        learning_rate = self._setting("learning_rate")
        g_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
        d_opt = keras.optimizers.Adam(learning_rate, beta_1=0.5)
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        step = compile_step(gan_step(generator, discriminator, g_opt, d_opt))
        state = [
            [v.value for v in generator.trainable_variables],
            [v.value for v in generator.non_trainable_variables],
            [v.value for v in discriminator.trainable_variables],
            [v.value for v in discriminator.non_trainable_variables],
            [v.value for v in g_opt.variables],
            [v.value for v in d_opt.variables],
        ]
        batch_size = min(self._setting("batch_size"), len(X))
        dim = latent_dim(generator)
        callbacks = self._callbacks(generator, g_opt)
        self.history_ = {"loss": [], "d_loss": []}
        for epoch, batches in self._epochs(len(X), batch_size, rng):
            callbacks.on_epoch_begin(epoch)
            d_losses, g_losses = [], []
            for index in batches:
                noise = rng.normal(size=(2, len(index), dim)).astype("float32")
                batch = [ops.convert_to_tensor(a) for a in (X[index], noise[0], noise[1])]
                state, (d_loss, g_loss) = step(state, *batch)
                d_losses.append(d_loss)
                g_losses.append(g_loss)
            self._assign(generator, discriminator, g_opt, d_opt, state)
            logs = {
                "loss": float(np.mean([float(v) for v in g_losses])),
                "d_loss": float(np.mean([float(v) for v in d_losses])),
            }
            for key, value in logs.items():
                self.history_[key].append(value)
            callbacks.on_epoch_end(epoch, logs)
        callbacks.on_train_end()
        self.discriminator_ = discriminator

    @staticmethod
    def _assign(generator, discriminator, g_opt, d_opt, state):
        groups = (
            generator.trainable_variables,
            generator.non_trainable_variables,
            discriminator.trainable_variables,
            discriminator.non_trainable_variables,
            g_opt.variables,
            d_opt.variables,
        )
        for variables, values in zip(groups, state):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def _fit_cvae(self, X, y, rng):
        from zoo.models.generative import cvae_encoder

        decoder = self.model_
        config = self.model_config_
        encoder = cvae_encoder(
            latent_dim=config["latent_dim"],
            filters=config["filters"],
            num_classes=config["num_classes"],
        )
        optimizer = keras.optimizers.Adam(self._setting("learning_rate"))
        trainable = encoder.trainable_variables + decoder.trainable_variables
        optimizer.build(trainable)
        kl_weight = self._entry().recipe.get("kl_weight", 1.0)
        step = compile_step(cvae_step(encoder, decoder, optimizer, kl_weight))
        state = [
            [v.value for v in trainable],
            [v.value for v in encoder.non_trainable_variables],
            [v.value for v in decoder.non_trainable_variables],
            [v.value for v in optimizer.variables],
        ]
        batch_size = min(self._setting("batch_size"), len(X))
        dim = config["latent_dim"]
        callbacks = self._callbacks(decoder, optimizer)
        self.history_ = {"loss": [], "kl": []}
        for epoch, batches in self._epochs(len(X), batch_size, rng):
            callbacks.on_epoch_begin(epoch)
            losses, kls = [], []
            for index in batches:
                eps = rng.normal(size=(len(index), dim)).astype("float32")
                batch = [ops.convert_to_tensor(a) for a in (X[index], y[index], eps)]
                state, (loss, kl) = step(state, *batch)
                losses.append(loss)
                kls.append(kl)
            groups = (
                trainable,
                encoder.non_trainable_variables,
                decoder.non_trainable_variables,
                optimizer.variables,
            )
            for variables, values in zip(groups, state):
                for variable, value in zip(variables, values):
                    variable.assign(value)
            logs = {
                "loss": float(np.mean([float(v) for v in losses])),
                "kl": float(np.mean([float(v) for v in kls])),
            }
            for key, value in logs.items():
                self.history_[key].append(value)
            callbacks.on_epoch_end(epoch, logs)
        callbacks.on_train_end()
        self.encoder_ = encoder

    def sample(self, n, labels=None, seed=0):
        """n generated images (n, 28, 28), pixels 0..255 (see `generate`)."""
        check_is_fitted(self, "model_")
        return generate(self.model_, n, labels=labels, seed=seed)

    def predict(self, X):
        """The generator on its inputs: noise (n, latent_dim), or {"noise", "label"}."""
        check_is_fitted(self, "model_")
        return np.asarray(self._predict_raw(X))

    def _validate_X(self, X, reset):
        return X

    def score(self, X, y=None):
        """Minus the FD (our classifier's features) between len(X) samples and X."""
        check_is_fitted(self, "model_")
        X = check_fashion_images(X)
        labels = None if y is None else check_labels(y, len(X), 10, "y")
        if labels is None and is_conditional(self.model_):
            labels = np.arange(len(X)) % 10
        return -quality_fd(self.sample(len(X), labels=labels, seed=0), X)


def quality_fd(images, reference):
    return zoo.quality.fashion_fd(images, reference)


# -- metrics ---------------------------------------------------------------------------------


def per_class_gaussian(X, y, n, seed=0):
    """The baseline generator: n images drawn from a Gaussian per class (pixel mean and
    covariance of that class's training images), classes in their training proportions,
    clipped to 0..255; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    flat = X.reshape(len(X), -1).astype("float64")
    classes, counts = np.unique(y, return_counts=True)
    labels = rng.choice(classes, size=n, p=counts / counts.sum())
    images = np.empty((n, flat.shape[1]))
    for label in classes:
        rows = flat[y == label]
        chosen = labels == label
        images[chosen] = rng.multivariate_normal(
            rows.mean(axis=0), np.cov(rows, rowvar=False), size=int(chosen.sum())
        )
    return np.clip(images, 0, 255).reshape((n,) + X.shape[1:]).astype("float32"), labels


def generation_metrics(model, dataset, samples=EVAL_SAMPLES):
    """`fd`, `fd_floor`, `baseline_fd` (and `class_accuracy` for a conditional model)."""
    from zoo.quality import fashion_features, frechet_distance

    classifier = zoo.get(zoo.quality.FD_CLASSIFIER)
    real_test = dataset.X_test[:samples]
    test_features = fashion_features(real_test, classifier)
    conditional = is_conditional(model)
    labels = np.arange(samples) % 10 if conditional else None
    generated = generate(model, samples, labels=labels, seed=0)
    metrics = {"fd": frechet_distance(fashion_features(generated, classifier), test_features)}
    train_features = fashion_features(dataset.X_train[:samples], classifier)
    metrics["fd_floor"] = frechet_distance(train_features, test_features)
    baseline, _ = per_class_gaussian(dataset.X_train, dataset.y_train, samples, seed=0)
    metrics["baseline_fd"] = frechet_distance(fashion_features(baseline, classifier), test_features)
    if not conditional and VAE in zoo.weights.read_manifest():
        # The second bar for the GAN: below the shipped conditional VAE's FD.
        vae_images = generate(zoo.get(VAE), samples, labels=np.arange(samples) % 10, seed=0)
        metrics["vae_fd"] = frechet_distance(
            fashion_features(vae_images, classifier), test_features
        )
    if conditional:
        predicted = classifier.predict(generated, batch_size=500, verbose=0).argmax(axis=-1)
        metrics["class_accuracy"] = float(np.mean(predicted == labels))
        for label in range(10):
            chosen = labels == label
            metrics[f"class_accuracy_{label}"] = float(np.mean(predicted[chosen] == label))
    return metrics
