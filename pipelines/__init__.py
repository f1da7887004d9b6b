"""scikit-learn estimators over zoo models, trained through tf.data, exported for serving.

Example:

    from pipelines import ZooClassifier
    clf = ZooClassifier("mlp-breast-cancer", epochs=50, random_state=0).fit(X, y)
    clf.predict_proba(X[:2])
"""

from pipelines.classification import ZooClassifier
from pipelines.multitask import ZooMultiTask
from pipelines.regression import ZooRegressor
from pipelines.retrieval import ZooRetriever

__all__ = ["ZooClassifier", "ZooMultiTask", "ZooRegressor", "ZooRetriever"]
