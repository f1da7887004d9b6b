"""Daily S&P 500 index data (1999-2018) from the `arch` wheel, as a forecasting task.

Source: `arch.data.sp500.load()` from the `arch` package (`pip install arch`; NCSA licence for
the package; the series are the daily open/high/low/close/adjusted close/volume of the S&P 500
index, 1999-01-04 .. 2018-12-31, 5,031 trading days, as downloaded from Yahoo! Finance by the
arch authors and shipped inside the wheel). Nothing is constructed: every value is a real
market observation.

Task ("sp500_volume", regression): from a window of the last `WINDOW` = 20 trading days of
three aligned daily series

    0  return     100 * log(AdjClose_t / AdjClose_{t-1})     (percent log return)
    1  range      100 * log(High_t / Low_t)                   (percent high-low range)
    2  log_volume log(Volume_t)                               (shares traded, natural log)

forecast the next trading day's log volume, log(Volume_{t+1}). X holds these series as they
are computed from the source (no scaling: the model normalises inside itself), float32 of
shape (n, 20, 3); y is float32 (n,).

Split (chronological, no shuffling): a sample belongs to the test period when the day it
forecasts is on or after 2016-01-01 (2016-01-04 .. 2018-12-31, 754 samples); every other
sample is training data (forecast days 1999-02-03 .. 2015-12-31, 4,256 samples). Every test
target is strictly later than every training target; the last training windows' inputs and
the first test windows' inputs overlap in December 2015 (observed inputs, never targets).

Baselines on the same test targets (`baselines(dataset)`, also stored in the provenance):
persistence forecasts tomorrow's log volume by today's; the seasonal-naive forecast is the
value one trading week (5 trading days) before the forecast day, the weekly cycle of trading
volume.

Example:

    data = load_sp500_volume()
    data.X_train.shape, data.y_test.shape      # (4256, 20, 3), (754,)
    baselines(data)["persistence"]["mae"]
"""

import numpy as np

from datasets.base import Dataset, DatasetMissingError

WINDOW = 20
SEASON = 5  # trading days in a week
TEST_START = "2016-01-01"
SERIES = ["return", "range", "log_volume"]
TARGET_INDEX = SERIES.index("log_volume")
INSTALL = "pip install arch"


def load_frame():
    """The S&P 500 daily frame from `arch` with the three derived series, one row per day.

    Returns a pandas DataFrame indexed by date with columns `SERIES` (the first trading
    day, which has no previous close, is dropped).
    """
    try:
        from arch.data import sp500
    except ImportError:
        raise DatasetMissingError(
            "The S&P 500 data ships inside the `arch` package, which is not installed. "
            f"Install it with: {INSTALL}"
        ) from None
    raw = sp500.load()
    frame = raw.assign(
        **{
            "return": 100.0 * np.log(raw["Adj Close"]).diff(),
            "range": 100.0 * np.log(raw["High"] / raw["Low"]),
            "log_volume": np.log(raw["Volume"].astype("float64")),
        }
    )[SERIES]
    return frame.iloc[1:]


def make_windows(values, window=WINDOW):
    """Windows (n, window, F) of `values` (days, F) and the next day's log volume (n,).

    Sample i holds days i .. i+window-1 and targets day i+window.
    """
    values = np.asarray(values, dtype="float64")
    count = len(values) - window
    index = np.arange(window)[None, :] + np.arange(count)[:, None]
    X = values[index]
    y = values[window:, TARGET_INDEX]
    return X, y


def baseline_forecasts(X):
    """Persistence and seasonal-naive forecasts of the next log volume for windows X."""
    X = np.asarray(X, dtype="float64")
    return {
        "persistence": X[:, -1, TARGET_INDEX],
        f"seasonal_naive_{SEASON}d": X[:, -SEASON, TARGET_INDEX],
    }


def baselines(dataset, split="test"):
    """MAE (and RMSE) of the persistence and seasonal-naive forecasts on a split.

    Persistence: log(Volume_t) forecasts log(Volume_{t+1}). Seasonal naive: the log volume
    5 trading days before the forecast day, log(Volume_{t-4}).

    Example:

        baselines(load_sp500_volume())   # {'persistence': {'mae': ..., 'rmse': ...}, ...}
    """
    if split not in ("train", "test"):
        raise ValueError(f'split must be "train" or "test". Received: split={split!r}')
    X, y = (
        (dataset.X_test, dataset.y_test) if split == "test" else (dataset.X_train, dataset.y_train)
    )
    y = np.asarray(y, dtype="float64")
    result = {}
    for name, forecast in baseline_forecasts(X).items():
        error = forecast - y
        result[name] = {
            "mae": float(np.mean(np.abs(error))),
            "rmse": float(np.sqrt(np.mean(error**2))),
        }
    return result


def split_dates():
    """The forecast dates of the training and test samples (two DatetimeIndex)."""
    frame = load_frame()
    dates = frame.index[WINDOW:]
    test = dates >= TEST_START
    return dates[~test], dates[test]


def load_sp500_volume():
    """Next-day S&P 500 log volume from 20-day windows of return, range and log volume.

    See the module docstring for the source, the series, the split and the baselines.

    Example:

        data = load_sp500_volume()
        data.X_test.shape     # (754, 20, 3)
    """
    frame = load_frame()
    import arch  # installed: load_frame raised DatasetMissingError otherwise

    X, y = make_windows(frame.to_numpy())
    dates = frame.index[WINDOW:]
    test = np.asarray(dates >= TEST_START)
    train_dates, test_dates = dates[~test], dates[test]
    dataset = Dataset(
        name="sp500_volume",
        task="regression",
        X_train=X[~test].astype("float32"),
        y_train=y[~test].astype("float32"),
        X_test=X[test].astype("float32"),
        y_test=y[test].astype("float32"),
        split=(
            f"chronological: windows of {WINDOW} trading days; test = forecast day on or "
            f"after {TEST_START} ({test_dates[0].date()} .. {test_dates[-1].date()}), train = "
            f"earlier forecast days ({train_dates[0].date()} .. {train_dates[-1].date()})"
        ),
        feature_names=list(SERIES),
        provenance={
            "source": (
                f"arch {arch.__version__} `arch.data.sp500.load()`: daily S&P 500 index "
                "OHLC, adjusted close and volume, 1999-01-04 .. 2018-12-31 (Yahoo! Finance)"
            ),
            "licence": "arch package: NCSA; index prices and volumes are public market data",
            "install": INSTALL,
            "citation": "Kevin Sheppard et al., arch (https://github.com/bashtage/arch)",
            "target": "log(Volume) of the next trading day",
            "series": list(SERIES),
            "window": WINDOW,
        },
    )
    dataset.provenance["baselines_test"] = baselines(dataset)
    return dataset
