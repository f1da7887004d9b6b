"""scikit-learn's own estimator checks (`parametrize_with_checks`) on the zoo's estimators.

Every check passes, or is an expected failure declared through scikit-learn's own mechanism
(`expected_failed_checks`) with its reason. ZooClassifier and ZooRegressor run every check
(few epochs at a high learning rate keep them fast). ZooMultiTask and ZooRetriever run the
API checks (legacy=False); the ones that fit on a 2-D X and a 1-D y are expected to fail:
their y is a dict of heads, or their X a dict of aligned modalities.

`check_array_api_input` skips itself unless SCIPY_ARRAY_API=1 was set before SciPy was
imported, so it runs in a subprocess that sets it.
"""

import os
import pathlib
import pickle
import subprocess
import sys

from sklearn.utils.estimator_checks import parametrize_with_checks

from pipelines import ZooClassifier, ZooMultiTask, ZooRegressor, ZooRetriever

FAST = dict(batch_size=16, learning_rate=0.05, random_state=0)

SGD_WEIGHTS = (
    "mini-batch SGD: sample_weight is not equivalent to removing/repeating samples (a "
    "repeated sample changes the batches and the steps per epoch); as for scikit-learn's "
    "SGDClassifier and MLPRegressor(solver='sgd')."
)
NEEDS_DICT_Y = (
    "ZooMultiTask's y is a dict {head: targets} (or a DataFrame with one column per head) "
    "and its entries take 28x28 images: a 2-D X with a 1-D y is refused with a clear error."
)
NEEDS_DICT_X = (
    "ZooRetriever's X is a dict of aligned modalities {'audio': ..., 'text': ...}: a 2-D "
    "array X is refused with a clear error."
)
FITTING_API_CHECKS = [
    "check_fit_score_takes_y",
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
]
EXPECTED_FAILURES = {
    "ZooClassifier": {"check_sample_weight_equivalence_on_dense_data": SGD_WEIGHTS},
    "ZooRegressor": {"check_sample_weight_equivalence_on_dense_data": SGD_WEIGHTS},
    "ZooMultiTask": dict.fromkeys(FITTING_API_CHECKS, NEEDS_DICT_Y),
    "ZooRetriever": dict.fromkeys(FITTING_API_CHECKS, NEEDS_DICT_X),
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES[type(estimator).__name__]


@parametrize_with_checks(
    [
        ZooClassifier("mlp-breast-cancer", epochs=3, **FAST),
        ZooRegressor("mlp-diabetes", epochs=3, **FAST),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_checks(estimator, check):
    if getattr(check, "func", check).__name__ == "check_array_api_input":
        run_with_array_api(estimator, check.keywords)
    else:
        check(estimator)


def run_with_array_api(estimator, keywords):
    root = pathlib.Path(__file__).resolve().parents[2]
    code = (
        "import pickle, sys\n"
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "estimator, keywords = pickle.load(sys.stdin.buffer)\n"
        "check_array_api_input(type(estimator).__name__, estimator, **keywords)\n"
        "print('checked')\n"
    )
    env = {
        **os.environ,
        "SCIPY_ARRAY_API": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(root),
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps((estimator, keywords)),
        cwd=root,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert result.stdout.decode().strip().endswith("checked")


@parametrize_with_checks(
    [
        ZooMultiTask("multitask-fashion", epochs=1, **FAST),
        ZooRetriever("speech-text-retrieval", epochs=1, **FAST),
    ],
    legacy=False,
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_api_checks(estimator, check):
    check(estimator)
