"""Repeated-split protocol of the finance entries, and the figure of their cards.

For each of N seeded stratified splits of the data set (seeds 0..N-1; German credit 70/30,
LendingClub 80/20), trains the entry from its recipe (as `python cli.py train` does: the
recipe's validation split, class weights and calibration, the seed of the split), fits the
logistic-regression and gradient-boosting baselines on the same training split (thresholds
from 5-fold out-of-fold predictions of the training split), and scores all three on the
split's test part. Prints a markdown table of mean and sample standard deviation.

With --figure PATH it also draws, for the SHIPPED weights on the fixed test split of
`datasets.load`, the reliability diagram of the three models and, with a cost matrix, the
expected cost against the decision threshold (the chosen thresholds marked), else their
precision-recall curves. `--splits 0` draws the figure only.

Run (German credit about 2 min, LendingClub about 2 min on 2 cores):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/finance_splits.py credit-german \
        --splits 10 --figure zoo/cards/credit-german.png
"""

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench.common import header, table  # noqa: E402

KEYS = ("expected_cost", "roc_auc", "pr_auc", "brier", "log_loss", "threshold")
LABELS = {"": "MLP (zoo entry)", "baseline_": "logistic regression", "hgb_": "gradient boosting"}


def figure(name, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.calibration import calibration_curve

    import datasets
    import zoo
    from pipelines import evaluation, finance

    data = datasets.load(zoo.get_entry(name).dataset)
    model = zoo.get(name)
    y_test = np.asarray(data.y_test)
    p_model = evaluation.predict_arrays(model, data.X_test)[:, 1]
    numeric, categorical = finance._columns(data)
    columns = numeric + categorical
    X_train = finance._matrix(data.X_train, columns)
    X_test = finance._matrix(data.X_test, columns)
    probabilities = {"": p_model}
    for prefix, estimator in finance.baseline_models(data).items():
        estimator.fit(X_train, data.y_train)
        probabilities[prefix + "_"] = estimator.predict_proba(X_test)[:, 1]
    metrics = finance.credit_metrics(model, data)
    cost_matrix = data.provenance.get("cost_matrix")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), squeeze=False)
    axis = axes[0][0]
    axis.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    bins = 10 if cost_matrix else 8
    for prefix, p in probabilities.items():
        frac, mean = calibration_curve(y_test, p, n_bins=bins, strategy="quantile")
        axis.plot(
            mean, frac, "o-", label=f"{LABELS[prefix]} (Brier {metrics[prefix + 'brier']:.3f})"
        )
    top = min(1.0, 1.2 * max(float(np.quantile(p, 0.995)) for p in probabilities.values()))
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.set_xlabel("predicted P(bad)")
    axis.set_ylabel("observed share of bad")
    axis.set_title(f"{name}: reliability on the test split ({len(y_test)})")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    if cost_matrix:
        axis = axes[0][1]
        grid = np.round(np.arange(0.01, 1.0, 0.01), 2)
        for prefix, p in probabilities.items():
            costs = [finance.expected_cost(y_test, p, t, cost_matrix) for t in grid]
            (line,) = axis.plot(grid, costs, label=LABELS[prefix])
            chosen = metrics[prefix + "threshold"]
            axis.axvline(chosen, color=line.get_color(), ls="--", lw=1)
            axis.plot([chosen], [metrics[prefix + "expected_cost"]], "o", color=line.get_color())
        axis.axvline(1 / 6, color="grey", ls=":", lw=1, label="Bayes threshold 1/6")
        axis.set_xlabel("threshold on P(bad) (dashed: chosen on training data)")
        axis.set_ylabel("expected cost per applicant (test)")
        axis.set_title("Statlog cost (bad as good 5, good as bad 1)")
        axis.set_ylim(0.3, 1.6)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    else:
        from sklearn.metrics import precision_recall_curve

        axis = axes[0][1]
        for prefix, p in probabilities.items():
            precision, recall, _ = precision_recall_curve(y_test, p)
            label = f"{LABELS[prefix]} (PR AUC {metrics[prefix + 'pr_auc']:.3f})"
            axis.plot(recall, precision, label=label)
        axis.axhline(y_test.mean(), color="grey", ls=":", lw=1, label="share of bad (chance)")
        axis.set_xlabel("recall of bad loans")
        axis.set_ylabel("precision")
        axis.set_ylim(0, min(1.0, 6 * y_test.mean()))
        axis.set_title("precision-recall on the test split")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    with zoo.weights.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    print(f"figure: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=("credit-german", "default-lendingclub"))
    parser.add_argument("--splits", type=int, default=10, help="0: only the figure")
    parser.add_argument("--figure", help="also write the card figure (PNG) here")
    args = parser.parse_args()
    from datasets import credit
    from pipelines.finance import repeated_splits

    if args.splits < 1:
        if args.figure:
            figure(args.name, args.figure)
        return
    header(f"{args.name}: {args.splits} seeded stratified splits")
    loader = credit.load_german_credit if args.name == "credit-german" else credit.load_lending_club
    result = repeated_splits(args.name, loader, range(args.splits))
    keys = [key for key in KEYS if key in result["mean"]]
    rows = [
        [LABELS[prefix]]
        + [f"{result['mean'][prefix + k]:.4f} ± {result['sd'][prefix + k]:.4f}" for k in keys]
        for prefix in LABELS
    ]
    table(["model", *keys], rows)
    if "expected_cost" in result["mean"]:
        wins = sum(r["expected_cost"] < r["baseline_expected_cost"] for r in result["per_split"])
        hgb = sum(r["expected_cost"] < r["hgb_expected_cost"] for r in result["per_split"])
        print(f"MLP expected cost below logistic regression on {wins} of {args.splits} splits, ")
        print(f"below gradient boosting on {hgb} of {args.splits}.")
    if "pr_auc" in result["mean"]:
        wins = sum(r["pr_auc"] >= r["baseline_pr_auc"] for r in result["per_split"])
        hgb = sum(r["pr_auc"] >= r["hgb_pr_auc"] for r in result["per_split"])
        print(f"MLP PR AUC >= logistic regression on {wins} of {args.splits} splits, ")
        print(f">= gradient boosting on {hgb} of {args.splits}.")
    if args.figure:
        figure(args.name, args.figure)


if __name__ == "__main__":
    main()
