"""Where an artifact lands: the directories created for it (removed again when the export
fails, so a failed export leaves nothing behind)."""

import pathlib


def missing_dirs(directory):
    """The ancestors of `directory` (itself included) that do not exist yet, outermost first."""
    missing = []
    directory = pathlib.Path(directory).absolute()
    while not directory.exists():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    return list(reversed(missing))
