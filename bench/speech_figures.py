"""The pictures and example transcripts of the speech cards (issue 11).

Writes zoo/cards/asr-digits-ctc.png: for two REAL held-out digit strings (built from the
asterisk recordings), the log-mel spectrogram the model sees and its per-frame CTC
posteriors (blank greyed), titled with the reference, the greedy and the beam transcript;
and zoo/cards/speaker-id.png (copied from a run's learning curve, given as an argument).
Prints example transcripts (greedy vs beam) of 8 real strings for the card.

    python bench/speech_figures.py [RUN_DIR_OF_SPEAKER_ID]
"""

import os
import pathlib
import shutil
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from datasets import speech  # noqa: E402
from pipelines.speech import decode  # noqa: E402

CARDS = pathlib.Path(__file__).resolve().parents[1] / "zoo" / "cards"


def main():
    model = zoo.get("asr-digits-ctc")
    audio, labels = speech.load_real_digit_strings()
    log_probs = np.asarray(model.predict(audio, verbose=0))
    greedy, beam = decode(log_probs), decode(log_probs, strategy="beam_search")
    print("| reference | greedy | beam search |\n|---|---|---|")
    for row in range(8):
        print(
            f"| {speech.digits_to_text(labels[row])} | {speech.digits_to_text(greedy[row])} "
            f"| {speech.digits_to_text(beam[row])} |"
        )
    mel = keras.Model(model.inputs, model.get_layer("log_mel").output)
    spectrograms = np.asarray(mel.predict(audio[:2], verbose=0))
    figure, axes = plt.subplots(2, 2, figsize=(12, 6))
    for column in range(2):
        frames = int(np.flatnonzero(audio[column])[-1]) // 320 + 4
        axes[0, column].imshow(
            spectrograms[column][:, : frames * 4], aspect="auto", origin="lower", cmap="magma"
        )
        axes[0, column].set_title(f"reference: {speech.digits_to_text(labels[column])}")
        axes[0, column].set_ylabel("mel band")
        probs = np.exp(log_probs[column][:frames])
        for k in range(1, 11):
            axes[1, column].plot(probs[:, k], label=speech.DIGIT_WORDS[k - 1])
        axes[1, column].plot(probs[:, 0], color="0.8", label="blank")
        axes[1, column].set_xlabel("frame (40 ms)")
        axes[1, column].set_title(
            f"greedy: {speech.digits_to_text(greedy[column])} | "
            f"beam: {speech.digits_to_text(beam[column])}",
            fontsize=9,
        )
    axes[1, 1].legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(CARDS / "asr-digits-ctc.png", dpi=80)
    if len(sys.argv) > 1:
        shutil.copy(pathlib.Path(sys.argv[1]) / "learning_curve.png", CARDS / "speaker-id.png")


if __name__ == "__main__":
    main()
