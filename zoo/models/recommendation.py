"""Recommenders for MovieLens-100k: matrix factorisation, NeuMF and a two-tower retriever.

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
