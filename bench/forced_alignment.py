"""Forced alignment with asr-digits-ctc vs boundaries from silences (issue 11, time alignment).

On the 300 REAL held-out digit strings (`datasets.speech.load_real_digit_strings`, built
from the asterisk recordings, never trained on; the true start and end of every word is
where its trimmed recording was placed), for every word:

- aligned: the shipped `asr-digits-ctc`'s per-frame log-probabilities, CTC Viterbi-aligned
  to the KNOWN transcript (`pipelines.speech.forced_align`), each label's first frame's start
  to its last frame's end (`word_boundaries`, 40 ms frames from `frame_timing`); and the
  same with each word also owning the blank frames before it (`claim_blanks=True`: it
  starts where the previous word's label frames end);
- silences: no model, `pipelines.speech.silence_boundaries` (10 ms frames, voiced when the
  RMS is within 35 dB of the loudest frame, the N longest voiced runs are the N words).

Prints the absolute errors of word starts and word ends in ms (mean, median, share within
50 / 100 ms) and writes zoo/cards/asr-digits-ctc-alignment.png (one real string's waveform
with the true, aligned and silence-based boundaries).

    python bench/forced_alignment.py [--no-figure]
"""

import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import zoo  # noqa: E402
from datasets import speech  # noqa: E402
from pipelines.evaluation import predict_arrays  # noqa: E402
from pipelines.speech import (  # noqa: E402
    forced_align,
    frame_timing,
    silence_boundaries,
    word_boundaries,
)

CARDS = pathlib.Path(__file__).resolve().parents[1] / "zoo" / "cards"
FIGURE_ROW = 3


def boundaries(model, audio, labels):
    """[(start_s, end_s)] per string: aligned (label frames), aligned with each word owning
    the blank frames before it, and from the silences. The truth is not used."""
    log_probs = predict_arrays(model, {"audio": audio}, batch_size=64)
    frame_seconds, offset = frame_timing(model)
    aligned, claimed, silent = [], [], []
    for waveform, row, lp in zip(audio, labels, log_probs):
        spans, _ = forced_align(lp, row)
        aligned.append(word_boundaries(spans, frame_seconds, offset))
        claimed.append(word_boundaries(spans, frame_seconds, offset, claim_blanks=True))
        silent.append(silence_boundaries(waveform, int((row > 0).sum())))
    return aligned, claimed, silent


def errors_ms(found, truth):
    """Absolute start and end errors (ms) over every word of every string."""
    starts, ends = [], []
    for words, true_words in zip(found, truth):
        for (start, end), (true_start, true_end) in zip(words, true_words):
            starts.append(abs(start - true_start) * 1000)
            ends.append(abs(end - true_end) * 1000)
    return np.array(starts), np.array(ends)


def table(rows):
    lines = [
        "| method | boundary | mean abs. error (ms) | median (ms) | within 50 ms | within 100 ms |",
        "|---|---|---|---|---|---|",
    ]
    for method, kind, e in rows:
        lines.append(
            f"| {method} | word {kind} | {e.mean():.1f} | {np.median(e):.1f} | "
            f"{(e <= 50).mean():.3f} | {(e <= 100).mean():.3f} |"
        )
    return "\n".join(lines)


def figure(audio, labels, truth, aligned, claimed, silent, row, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    waveform = audio[row]
    true_words = truth[row]
    last = max(end for _, end in true_words) + 0.15
    t = np.arange(len(waveform)) / 8000
    keep = t <= last
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=80)
    ax.plot(t[keep], waveform[keep], color="0.6", linewidth=0.5)
    styles = (
        ("true", true_words, "black", "-", 0.95),
        ("CTC label frames", aligned[row], "tab:red", "-", 0.8),
        ("CTC, claiming blanks", claimed[row], "tab:orange", "-", 0.65),
        ("silences", silent[row], "tab:blue", "-", 0.5),
    )
    peak = np.abs(waveform).max()
    for name, words, color, style, height in styles:
        for k, (start, end) in enumerate(words):
            if name == "true":
                ax.axvline(start, color=color, linestyle=style, linewidth=0.8)
                ax.axvline(end, color=color, linestyle=style, linewidth=0.8)
            ax.plot(
                [start, end],
                [height * peak] * 2,
                color=color,
                linewidth=2,
                marker="|",
                markersize=9,
                label=name if k == 0 else None,
            )
    text = speech.digits_to_text(labels[row])
    ax.set_title(f'real string "{text}": word boundaries', fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_yticks([])
    ax.legend(loc="lower right", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    model = zoo.get("asr-digits-ctc")
    audio, labels, truth = speech.load_real_digit_strings(with_boundaries=True)
    aligned, claimed, silent = boundaries(model, audio, labels)
    a_start, a_end = errors_ms(aligned, truth)
    c_start, _ = errors_ms(claimed, truth)  # the same ends
    s_start, s_end = errors_ms(silent, truth)
    words = len(a_start)
    print(f"{len(audio)} real strings, {words} words")
    print(
        table(
            [
                ("forced alignment (asr-digits-ctc)", "starts", a_start),
                ("forced alignment (asr-digits-ctc)", "ends", a_end),
                ("forced alignment, words claim the blanks before them", "starts", c_start),
                ("silences (energy, N longest runs)", "starts", s_start),
                ("silences (energy, N longest runs)", "ends", s_end),
            ]
        )
    )
    frame_seconds, offset = frame_timing(model)
    inside = [
        true_start - frame_seconds <= (start + end) / 2 <= true_end + frame_seconds
        for words, true_words in zip(aligned, truth)
        for (start, end), (true_start, true_end) in zip(words, true_words)
    ]
    print(
        f"label frames' centre inside the true word (one {frame_seconds * 1000:.0f} ms frame "
        f"of slack): {np.mean(inside):.3f} of the words"
    )
    if "--no-figure" not in sys.argv:
        path = CARDS / "asr-digits-ctc-alignment.png"
        figure(audio, labels, truth, aligned, claimed, silent, FIGURE_ROW, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
