"""Writing a TensorFlow SavedModel (TF Serving layout, signature "serving_default")."""

import pathlib

import keras

from pipelines.export.serving import core_function, serving_function
from pipelines.export.spec import SIGNATURE_KEY, ExportError


def write_saved_model(model, spec, directory, text_inputs=None):
    directory = pathlib.Path(directory)
    archive = keras.export.ExportArchive()
    archive.track(model)
    core = core_function(model, spec, archive)
    serve = serving_function(spec, core, strings=True, text_inputs=text_inputs)
    serve.get_concrete_function()
    archive.add_endpoint(SIGNATURE_KEY, serve)
    try:
        archive.write_out(str(directory), verbose=False)
    except Exception as error:
        raise ExportError(f"Writing the SavedModel of {model.name!r} failed: {error}") from error
    if any(isinstance(value, dict) for value in (text_inputs or {}).values()):
        # WordPiece tokenization (issue 8) runs tensorflow-text ops inside the graph.
        (directory / "README.txt").write_text(TENSORFLOW_TEXT_NOTE)


TENSORFLOW_TEXT_NOTE = """\
This SavedModel tokenizes raw strings inside its graph with tensorflow-text ops
(WordPiece; the "token_ids" input takes tf.string of shape (n,)). Load it after
`import tensorflow_text` (pip install tensorflow-text, the version of your TensorFlow), e.g.

    import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the ops)
    serve = tf.saved_model.load(PATH).signatures["serving_default"]
    serve(token_ids=tf.constant(["Great flight!", ""]))

TF Serving needs a build with the tensorflow-text ops (tensorflow/serving#1490).
The ONNX export of the same model takes the token ids instead.
"""
