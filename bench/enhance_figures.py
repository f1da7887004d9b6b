"""The picture of the speech-enhance card (issue 11).

Writes zoo/cards/speech-enhance.png: log spectrograms of one held-out prompt (never trained
on), clean, mixed with noise at 5 dB SNR, after tuned spectral subtraction (the baseline) and
after the shipped model, each titled with its SI-SDR; prints the per-noise-kind table at
5 dB for the card.

    python bench/enhance_figures.py [TEST_CLIP_INDEX_AT_5_DB]
"""

import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import stft  # noqa: E402

import datasets  # noqa: E402
import zoo  # noqa: E402
from datasets.enhancement import held_out_clips  # noqa: E402
from pipelines.speech import si_sdr, spectral_subtraction  # noqa: E402

CARDS = pathlib.Path(__file__).resolve().parents[1] / "zoo" / "cards"


def main(index):
    data = datasets.load("noisy_prompts")
    row = zoo.weights.read_manifest()["speech-enhance"]
    metrics = row["metrics"]
    settings = {k: metrics[f"baseline_{k}"] for k in ("over_subtraction", "floor", "percentile")}
    clips = held_out_clips()
    rows = np.flatnonzero(clips["snr_db"] == 5)
    noisy, clean = data.X_test["audio"][rows], data.y_test[rows]
    model_out = zoo.get("speech-enhance").predict(noisy, batch_size=32, verbose=0)
    baseline_out = spectral_subtraction(noisy, **settings)
    k = index
    panels = [
        ("clean (held-out prompt)", clean[k]),
        (f"noisy, 5 dB {clips['noise'][rows[k]]}", noisy[k]),
        ("spectral subtraction (baseline)", baseline_out[k]),
        ("speech-enhance", model_out[k]),
    ]
    figure, axes = plt.subplots(1, 4, figsize=(18, 3.6), sharey=True)
    for panel, (axis, (title, waveform)) in enumerate(zip(axes, panels)):
        frequencies, times, spectrum = stft(waveform, fs=8000, nperseg=256, noverlap=128)
        level = 20 * np.log10(np.abs(spectrum) + 1e-6)
        axis.pcolormesh(times, frequencies, level, vmin=-90, vmax=-20, shading="auto")
        score = f"\nSI-SDR {si_sdr(clean[k], waveform):.1f} dB" if panel else ""
        axis.set_title(title + score, fontsize=10)
        axis.set_xlabel("s")
    axes[0].set_ylabel("Hz")
    figure.suptitle(f"prompt {clips['prompt'][rows[k]]!r}", fontsize=10)
    figure.tight_layout()
    path = CARDS / "speech-enhance.png"
    with zoo.weights.atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80, format="png")
    print(f"wrote {path}")
    print("| noise (5 dB) | clips | model gain dB | baseline gain dB | model - baseline |")
    print("|---|---|---|---|---|")
    for kind in data.provenance["noises"]:
        m = metrics[f"si_sdr_gain_db_5_{kind}"]
        b = metrics[f"baseline_si_sdr_gain_db_5_{kind}"]
        count = sum(1 for r in rows if clips["noise"][r] == kind)
        print(f"| {kind} | {count} | {m:.2f} | {b:.2f} | {m - b:+.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
