"""Writing a TensorFlow SavedModel (TF Serving layout, signature "serving_default")."""

import keras

from pipelines.export.serving import core_function, serving_function
from pipelines.export.spec import SIGNATURE_KEY, ExportError


def write_saved_model(model, spec, directory, text_inputs=None):
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
