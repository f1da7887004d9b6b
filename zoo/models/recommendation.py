"""Recommenders for MovieLens-100k: matrix factorisation and a two-tower retriever.

Inputs are named: "user_id" and "item_id" (int32, shape (n, 1): the MovieLens ids, 0 unused)
and, for the feature models, "user_features" and "item_features" (raw float32 vectors: the
first layer on each is a `Normalization` named "user_normalize" / "item_normalize", adapted
on the training rows by the pipeline). Rating models end with an inverted `Normalization`
named "rating" (adapted on the training ratings), so they predict stars.
"""

import keras
from keras import layers, regularizers

from zoo.registry import register


def _id_input(name):
    return keras.Input(shape=(1,), dtype="int32", name=name)


def _lookup(ids, count, dim, name, l2, table_l2=0.0):
    """Embedding(count + 1, dim) of ids (index 0 unused), with an L2 penalty `l2` on the rows
    a batch looks up (per rating, as in classic matrix factorisation) and `table_l2` on the
    whole table (weight decay)."""
    vectors = layers.Embedding(
        count + 1,
        dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05),
        activity_regularizer=regularizers.L2(l2) if l2 else None,
        embeddings_regularizer=regularizers.L2(table_l2) if table_l2 else None,
        name=name,
    )(ids)
    return layers.Flatten(name=f"{name}_flat")(vectors)


@register(
    "mf-movielens",
    task="regression",
    dataset="movielens_ratings",
    topic="collaborative filtering: biased matrix factorisation of explicit ratings",
    recipe={
        "epochs": 15,
        "batch_size": 256,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "validation_split": 0.0,
    },
)
def mf_movielens(num_users=943, num_items=1682, factors=64, l2=0.1, bias_l2=0.001, table_l2=0.0):
    """Biased matrix factorisation: rating = mean + b_user + b_item + <p_user, q_item>.

    Inputs "user_id" and "item_id" (int32, shape (n, 1)); output "rating" (n, 1) in stars
    (the dot product and biases are learnt on standardised ratings, then the inverted
    `Normalization` "rating" maps them back to the training ratings' mean and spread).

    Args:
        num_users, num_items: the largest user and item id (ids 1..num; 0 unused).
        factors: size of the latent factors p_user and q_item.
        l2: L2 factor on the factors of each rating's user and item.
        bias_l2: L2 factor on each rating's user and item biases.
        table_l2: L2 factor on the whole factor tables (weight decay; 0: none).

    Example:

        model = mf_movielens()
        model.predict({"user_id": np.array([[196]]), "item_id": np.array([[242]])})  # (1, 1)
    """
    user = _id_input("user_id")
    item = _id_input("item_id")
    p = _lookup(user, num_users, factors, "user_factors", l2, table_l2)
    q = _lookup(item, num_items, factors, "item_factors", l2, table_l2)
    user_bias = _lookup(user, num_users, 1, "user_bias", bias_l2)
    item_bias = _lookup(item, num_items, 1, "item_bias", bias_l2)
    interaction = layers.Dot(axes=1, name="interaction")([p, q])
    x = layers.Add(name="scaled_rating")([interaction, user_bias, item_bias])
    rating = layers.Normalization(invert=True, name="rating")(x)
    return keras.Model({"user_id": user, "item_id": item}, rating, name="mf_movielens")


def _tower(ids, features, count, prefix, id_dim, units, embedding_dim, dropout, l2):
    """id embedding ‖ normalised features -> Dense(ReLU) -> Dense -> unit-norm embedding."""
    vectors = _lookup(ids, count, id_dim, f"{prefix}_id_embedding", 0.0, l2)
    scaled = layers.Normalization(name=f"{prefix}_normalize")(features)
    x = layers.Concatenate(name=f"{prefix}_concat")([vectors, scaled])
    x = layers.Dense(
        units, activation="relu", kernel_regularizer=regularizers.L2(l2), name=f"{prefix}_dense"
    )(x)
    x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
    x = layers.Dense(embedding_dim, name=f"{prefix}_projection")(x)
    return layers.UnitNormalization(name=f"{prefix}_embedding", dtype="float32")(x)


@register(
    "two-tower-movielens",
    task="retrieval",
    dataset="movielens_implicit",
    topic="recommendation: two-tower retrieval from user and item features, in-batch negatives",
    recipe={
        "epochs": 10,
        "batch_size": 512,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "temperature": 0.1,
        "validation_split": 0.0,
        "trainer": "two_tower",  # pipelines/recommendation.py: ZooTwoTower
    },
    embeddings=("user_embedding", "item_embedding"),
)
def two_tower_movielens(
    num_users=943,
    num_items=1682,
    num_user_features=34,
    num_item_features=20,
    id_dim=32,
    units=128,
    embedding_dim=32,
    dropout=0.1,
    l2=1e-6,
):
    """A user tower and an item tower whose dot product scores (user, item) pairs.

    Inputs: "user_id", "item_id" (int32, (n, 1)), "user_features" (n, 34: age, gender,
    occupation, zip region) and "item_features" (n, 20: year, 19 genres), raw. Each tower:
    the id's embedding concatenated with its normalised features -> Dense(ReLU) -> Dropout
    -> Dense -> unit norm. Outputs: {"user_embedding", "item_embedding": (n, embedding_dim),
    "score": (n, 1) their dot product (cosine similarity)}. Trained on (user, item) pairs
    with in-batch negatives (`pipelines.recommendation.ZooTwoTower`).

    Args:
        num_users, num_items: the largest user and item id (0 unused).
        num_user_features, num_item_features: widths of the feature vectors.
        id_dim: size of the id embeddings.
        units: width of each tower's hidden layer.
        embedding_dim: size of the shared embedding space.
        dropout: dropout after each hidden layer.
        l2: L2 factor of the id embedding tables and hidden kernels.

    Example:

        model = two_tower_movielens()
        model.predict(datasets.movielens.inputs([196], [242]))["score"]   # (1, 1)
    """
    # Inputs in sorted name order (Keras orders a dict of inputs by key): a training graph
    # built on the model's inputs then holds its layers in the same order, so weights saved
    # from it load into this model.
    item_features = keras.Input(shape=(num_item_features,), name="item_features")
    item = _id_input("item_id")
    user_features = keras.Input(shape=(num_user_features,), name="user_features")
    user = _id_input("user_id")
    item_embedding = _tower(
        item, item_features, num_items, "item", id_dim, units, embedding_dim, dropout, l2
    )
    user_embedding = _tower(
        user, user_features, num_users, "user", id_dim, units, embedding_dim, dropout, l2
    )
    score = layers.Dot(axes=1, name="score", dtype="float32")([user_embedding, item_embedding])
    return keras.Model(
        {
            "item_features": item_features,
            "item_id": item,
            "user_features": user_features,
            "user_id": user,
        },
        {"user_embedding": user_embedding, "item_embedding": item_embedding, "score": score},
        name="two_tower_movielens",
    )
