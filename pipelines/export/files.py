"""Where an artifact lands: the directories created for it and the previous artifact moved
aside (so a failed export can put everything back as it was).
"""

import os
import pathlib
import tempfile


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


def move_aside(target):
    """Renames an existing artifact at `target` to a hidden temporary name; returns it."""
    if not target.exists():
        return None
    if target.is_file():
        return None  # os.replace overwrites a file atomically
    backup = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
    os.rmdir(backup)
    os.replace(target, backup)
    return backup
