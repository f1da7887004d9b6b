"""Fashion-MNIST for the generative entries (issue 9): the images and labels of
`datasets.fashion_mnist` (Debian `dataset-fashion-mnist`, MIT), with task "generation", so
that evaluation scores a generator (FD in our classifier's features, `pipelines.generative`).
"""

import dataclasses

from datasets.fashion_mnist import load_fashion_mnist


def load_fashion_mnist_generation():
    """Fashion-MNIST (official split) as a dataset of task "generation".

    Example:

        data = load_fashion_mnist_generation()
        data.task, data.X_train.shape       # 'generation', (60000, 28, 28)
    """
    data = load_fashion_mnist()
    return dataclasses.replace(
        data,
        name="fashion_mnist_generation",
        task="generation",
        provenance={
            **data.provenance,
            "use": "generators train on X_train (and y_train for the conditional VAE); "
            "their samples are compared with the first 2,000 test images",
        },
    )
