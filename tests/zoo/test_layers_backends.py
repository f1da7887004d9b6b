"""The zoo layers give the same numbers on the TensorFlow, JAX and PyTorch
backends of Keras 3.

Each backend runs `SCRIPT` in its own Python process (the backend is fixed
when Keras is imported). The TensorFlow run saves its freshly initialised
weights; the JAX and PyTorch runs load them, so all three predict with
identical weights on identical input, and must agree to 1e-4.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("tensorflow", "jax", "torch")

SCRIPT = textwrap.dedent(
    """
    import sys

    import keras
    import numpy as np

    from zoo.layers import FUSIONS
    from zoo.layers import AttentionPooling
    from zoo.layers import ModalityDropout
    from zoo.layers import audio_encoder
    from zoo.layers import fusion_layer
    from zoo.layers import image_cnn_encoder

    weights_path, outputs_path = sys.argv[1], sys.argv[2]

    image = keras.Input(shape=(16, 16), name="image")
    audio = keras.Input(shape=(2000,), name="audio")
    sequence = keras.Input(shape=(6, 8), name="sequence")
    dropped_image, dropped_audio = ModalityDropout(0.3, seed=1)([image, audio])
    image_features = image_cnn_encoder(dropped_image, filters=(8, 16), units=16)
    audio_features = audio_encoder(dropped_audio, filters=(8,), units=16)
    masked = keras.layers.Masking(mask_value=0.0)(sequence)
    pooled, pool_weights = AttentionPooling(return_attention_scores=True)(
        masked
    )
    modalities = [image_features, audio_features, pooled]
    outputs = {
        "image_features": image_features,
        "audio_features": audio_features,
        "pooled": pooled,
        "pool_weights": pool_weights,
    }
    for fusion in FUSIONS:
        outputs[fusion] = fusion_layer(fusion, 16, name=fusion)(modalities)
    _, outputs["fusion_weights"] = fusion_layer(
        "attention", 16, return_attention_scores=True, name="scored"
    )(modalities)
    model = keras.Model(
        {"image": image, "audio": audio, "sequence": sequence}, outputs
    )

    rng = np.random.default_rng(0)
    inputs = {
        "image": rng.uniform(0, 255, (4, 16, 16)).astype("float32"),
        "audio": rng.uniform(-0.5, 0.5, (4, 2000)).astype("float32"),
        "sequence": rng.normal(size=(4, 6, 8)).astype("float32"),
    }
    inputs["sequence"][0, 4:] = 0.0  # masked steps
    inputs["audio"][1] = 0.0  # a silent clip

    if keras.backend.backend() == "tensorflow":
        model.save_weights(weights_path)
    else:
        model.load_weights(weights_path)
    predictions = model.predict(inputs, verbose=0)
    np.savez(outputs_path, **predictions)
    for key, value in sorted(predictions.items()):
        print(key, value.shape, np.round(value.ravel()[:4], 4))

    # One training step, so that ModalityDropout's training path is compiled
    # by each backend (tf.function, jax.jit, torch).
    model.compile(optimizer="sgd", loss={"concat": "mse"})
    model.fit(inputs, {"concat": np.zeros((4, 16))}, epochs=1, verbose=0)
    print("trained on", keras.backend.backend())
    """
)


def _start(backend, tmp_path):
    script = tmp_path / "layers_script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env["KERAS_BACKEND"] = backend
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["CUDA_VISIBLE_DEVICES"] = ""  # compare CPU numbers only
    return subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(tmp_path / "weights.weights.h5"),
            str(tmp_path / f"{backend}.npz"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(backend, process):
    try:
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, f"{backend} run failed:\n{output}"
    assert f"trained on {backend}" in output, output


# About 20 s on an idle 2-core machine, over 60 s when it is shared: three
# fresh processes, each compiling one training step.
@pytest.mark.slow
def test_layers_agree_across_backends(tmp_path):
    # TensorFlow first: it writes the weights the others load.
    _finish("tensorflow", _start("tensorflow", tmp_path))
    others = {b: _start(b, tmp_path) for b in BACKENDS[1:]}
    try:
        for backend, process in others.items():
            _finish(backend, process)
    finally:
        for process in others.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    expected = np.load(tmp_path / "tensorflow.npz")
    for backend in BACKENDS[1:]:
        got = np.load(tmp_path / f"{backend}.npz")
        assert sorted(got.files) == sorted(expected.files)
        for key in expected.files:
            np.testing.assert_allclose(
                got[key],
                expected[key],
                atol=1e-4,
                rtol=1e-4,
                err_msg=f"{key!r} differs between {backend} and tensorflow",
            )
