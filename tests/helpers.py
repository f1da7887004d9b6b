"""Plain helpers shared by test modules (imported as `helpers`; tests/ is on sys.path)."""

import h5py


def weights_arrays(path):
    """{dataset path: array} of every dataset in a .weights.h5 file."""
    arrays = {}
    with h5py.File(path, "r") as file:
        file.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays
