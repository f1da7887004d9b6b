"""Validation figures of asr-prompts-ctc runs (issue 11): how the recipe is chosen.

The held-out real test prompts never choose a recipe. A run of asr-prompts-ctc holds out a
seeded 10% of the TRAINING transcripts whole (recipe "validation_groups": "transcript",
`pipelines.speech.transcript_validation_split`); this script rebuilds that split from the
run's recorded seed and prints, for the run's best weights (the ones `publish` ships), the
CER and WER on the REAL validation recordings (each recording once), greedy and beam search,
and on all validation clips (real and synthetic).

    python bench/prompt_validation.py RUN_DIR [RUN_DIR ...]
    python bench/prompt_validation.py pretrained   # the shipped weights, the seed-0 split

The weights shipped before this split existed (trained with a random 10% split of the clips)
saw the validation transcripts in training, so their validation figures are optimistic.
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")


import zoo  # noqa: E402
from datasets import speech  # noqa: E402
from pipelines.evaluation import predict_arrays  # noqa: E402
from pipelines.speech import decode, error_rate, transcript_validation_split  # noqa: E402


def validation_figures(run_dir, data, real_count):
    if run_dir == "pretrained":
        training, model = {"validation_split": 0.1, "seed": 0}, zoo.get("asr-prompts-ctc")
    else:
        run_dir = pathlib.Path(run_dir)
        config = json.loads((run_dir / "config.json").read_text())
        training = config["training"]
        model = zoo.get_entry("asr-prompts-ctc").build(**config["model_config"])
        model.load_weights(run_dir / "best.weights.h5")
    _, val_idx = transcript_validation_split(
        data.y_train, training["validation_split"], training["seed"]
    )
    vocabulary = data.provenance["vocabulary"]
    text = lambda ids: "".join(vocabulary[int(i)] for i in ids if int(i) > 0)  # noqa: E731
    real = val_idx[val_idx < real_count]  # the first copy of each real training recording
    figures = {"run_dir": str(run_dir), "real_validation_clips": int(len(real))}
    figures["validation_transcripts"] = len({text(row) for row in data.y_train[val_idx]})
    for tag, rows in (("real_", real), ("all_", val_idx)):
        log_probs = predict_arrays(model, {"audio": data.X_train["audio"][rows]}, batch_size=64)
        references = [text(row) for row in data.y_train[rows]]
        for strategy, suffix in (("greedy", ""), ("beam_search", "_beam")):
            hypotheses = [text(ids) for ids in decode(log_probs, strategy=strategy)]
            figures[f"val_{tag}cer{suffix}"] = round(error_rate(references, hypotheses, "char"), 4)
            figures[f"val_{tag}wer{suffix}"] = round(error_rate(references, hypotheses, "word"), 4)
    return figures


def main():
    data = speech.load_asterisk_prompts()
    real_count = len(speech.asterisk_prompt_arrays()["train_text"])
    for run_dir in sys.argv[1:]:
        print(json.dumps(validation_figures(run_dir, data, real_count)))


if __name__ == "__main__":
    main()
