"""Example transcripts of asr-prompts-ctc's card (issue 11).

Prints, for the REAL held-out asterisk prompts, the reference, the greedy and the beam-search
transcript and each one's CER (markdown rows), sorted from the best to the worst greedy CER,
and copies a run's learning curve to zoo/cards/asr-prompts-ctc.png when given its directory.

    python bench/prompt_examples.py [RUN_DIR_OF_ASR_PROMPTS_CTC]
"""

import os
import pathlib
import shutil
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
        curve = pathlib.Path(sys.argv[1]) / "learning_curve.png"
        shutil.copy(curve, CARDS / "asr-prompts-ctc.png")


if __name__ == "__main__":
    main()
