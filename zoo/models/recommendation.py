"""Recommenders for MovieLens-100k: matrix factorisation, NeuMF and a two-tower retriever.

Inputs are named: "user_id" and "item_id" (int32, shape (n, 1): the MovieLens ids, 0 unused)
and, for the feature models, "user_features" and "item_features" (raw float32 vectors: the
first layer on each is a `Normalization` named "user_normalize" / "item_normalize", adapted
on the training rows by the pipeline). Rating models end with an inverted `Normalization`
named "rating" (adapted on the training ratings), so they predict stars.
"""

import keras
from keras import layers, regularizers

from zoo.models.tabular import dense_stack
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


@register(
    "neumf-movielens",
    task="regression",
    dataset="movielens_ratings_features",
    topic=(
        "recommendation and collaborative filtering: NeuMF (GMF + MLP over ids and user/item "
        "features), rating and interaction heads trained together"
    ),
    recipe={
        "epochs": 10,
        "batch_size": 1024,
        "learning_rate": 2e-3,
        "lr_schedule": "cosine",
        "validation_split": 0.0,
        "trainer": "neumf",  # pipelines/recommendation.py: ZooNeuMF (sampled negatives)
        "negatives": 8,
        "rating_loss_weight": 0.2,
    },
)
def neumf_movielens(
    num_users=943,
    num_items=1682,
    num_user_features=34,
    num_item_features=20,
    factors=32,
    mlp_dim=32,
    hidden_units=64,
    depth=2,
    dropout=0.2,
    l2=0.01,
    bias_l2=0.001,
    mlp_l2=1e-5,
):
    """Neural matrix factorisation (He et al., 2017) with user and item features.

    Two branches over the same (user, item) pair: GMF, the element-wise product of the
    user's and item's latent factors, and an MLP over separate id embeddings concatenated
    with the normalised user and item features. Two heads: "score" (n, 1), the logit that
    the user interacts with (rates) the item, read from the concatenation of both branches
    (NeuMF's fusion), and "rating" (n, 1), the predicted stars, a linear read-out of the MLP
    branch plus user and item biases, mapped back to the training ratings' scale by the
    inverted `Normalization` "rating". The GMF factors feed the score only: lightly
    regularised, they serve ranking, and read out as ratings they overfit (fold-1 RMSE 0.977
    against 0.905 without them). Trained on rated pairs and sampled unrated ones
    (`pipelines.recommendation.ZooNeuMF`).

    Inputs (raw, in sorted name order): "item_features" (n, 20), "item_id" (int32, (n, 1)),
    "user_features" (n, 34), "user_id" (int32, (n, 1)), as `datasets.movielens.inputs`
    makes them.

    Args:
        num_users, num_items: the largest user and item id (0 unused).
        num_user_features, num_item_features: widths of the feature vectors.
        factors: size of the GMF latent factors.
        mlp_dim: size of the MLP branch's id embeddings.
        hidden_units, depth: the MLP's `depth` ReLU layers of `hidden_units`, then one of
            half the width.
        dropout: dropout after each MLP layer.
        l2: L2 factor on the GMF factors of each pair.
        bias_l2: L2 factor on each pair's user and item biases.
        mlp_l2: L2 factor of the MLP kernels.

    Example:

        model = neumf_movielens()
        out = model.predict(datasets.movielens.inputs([196], [242]))
        out["rating"], out["score"]   # (1, 1) stars, (1, 1) interaction logit
    """
    item_features = keras.Input(shape=(num_item_features,), name="item_features")
    item = _id_input("item_id")
    user_features = keras.Input(shape=(num_user_features,), name="user_features")
    user = _id_input("user_id")
    p = _lookup(user, num_users, factors, "user_factors", l2)
    q = _lookup(item, num_items, factors, "item_factors", l2)
    gmf = layers.Multiply(name="gmf")([p, q])
    x = layers.Concatenate(name="mlp_concat")(
        [
            _lookup(user, num_users, mlp_dim, "user_mlp_embedding", 0.0),
            _lookup(item, num_items, mlp_dim, "item_mlp_embedding", 0.0),
            layers.Normalization(name="user_normalize")(user_features),
            layers.Normalization(name="item_normalize")(item_features),
        ]
    )
    x = dense_stack(x, hidden_units, depth, dropout, mlp_l2)
    x = layers.Dense(hidden_units // 2, activation="relu", name="mlp_out")(x)
    fused = layers.Concatenate(name="neumf")([gmf, x])
    score = layers.Dense(1, name="score", dtype="float32")(fused)
    user_bias = _lookup(user, num_users, 1, "user_bias", bias_l2)
    item_bias = _lookup(item, num_items, 1, "item_bias", bias_l2)
    x = layers.Add(name="scaled_rating")(
        [layers.Dense(1, name="rating_read_out")(x), user_bias, item_bias]
    )
    rating = layers.Normalization(invert=True, name="rating", dtype="float32")(x)
    return keras.Model(
        {
            "item_features": item_features,
            "item_id": item,
            "user_features": user_features,
            "user_id": user,
        },
        {"rating": rating, "score": score},
        name="neumf_movielens",
    )
