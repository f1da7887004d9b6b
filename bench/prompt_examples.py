"""Example transcripts of asr-prompts-ctc's card (issue 11).

Prints, for the REAL held-out asterisk prompts, the reference, the greedy and the beam-search
transcript and each one's CER (markdown rows), sorted from the best to the worst greedy CER,
and draws a run's learning curve (its history.csv, loss on a log scale: the first epoch's
validation loss is thousands) to zoo/cards/asr-prompts-ctc.png when given its directory.

    python bench/prompt_examples.py [RUN_DIR_OF_ASR_PROMPTS_CTC]
"""

import csv
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from datasets import speech  # noqa: E402
from pipelines.speech import decode, error_rate  # noqa: E402

CARDS = pathlib.Path(__file__).resolve().parents[1] / "zoo" / "cards"


def main():
    data = speech.load_asterisk_prompts()
    vocabulary = data.provenance["vocabulary"]
    text = lambda ids: "".join(vocabulary[int(i)] for i in ids if int(i) > 0)  # noqa: E731
    log_probs = np.asarray(zoo.get("asr-prompts-ctc").predict(data.X_test["audio"], verbose=0))
    greedy, beam = decode(log_probs), decode(log_probs, strategy="beam_search")
    rows = []
    for reference, g, b in zip(data.y_test, greedy, beam):
        ref, g, b = text(reference), text(g), text(b)
        rows.append((error_rate([ref], [g], "char"), ref, g, error_rate([ref], [b], "char"), b))
    print("| reference | greedy | CER | beam search | CER |\n|---|---|---|---|---|")
    for cer_g, ref, g, cer_b, b in sorted(rows):
        print(f"| {ref} | {g} | {cer_g:.2f} | {b} | {cer_b:.2f} |")
    if len(sys.argv) > 1:
        plot_curve(pathlib.Path(sys.argv[1]) / "history.csv", CARDS / "asr-prompts-ctc.png")


def plot_curve(history_csv, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(history_csv.open()))
    epochs = [int(row["epoch"]) + 1 for row in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(epochs, [float(r["loss"]) for r in rows], "-", label="training loss (CTC)")
    ax.plot(epochs, [float(r["val_loss"]) for r in rows], "--", label="validation loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title("asr-prompts-ctc (validation: held-out training transcripts)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main()
