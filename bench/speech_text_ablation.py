"""Ablation of the training data of speech-text-retrieval (final weights after the recipe).

Run (about 2.5 min):

    flock /tmp/zoo-heavy.lock env PYTHONPATH=. python bench/speech_text_ablation.py
"""

import time

from datasets import speech_text
from pipelines.retrieval import ZooRetriever, retrieval_metrics

full = speech_text.load_speech_text()
real = speech_text.load_speech_text(synthetic=False)
n_real = len(real.y_train)
subsets = {
    "real only": {k: v[:n_real] for k, v in full.X_train.items()},
    "synthetic only": {k: v[n_real:] for k, v in full.X_train.items()},
}
for name, X in subsets.items():
    t = time.time()
    est = ZooRetriever("speech-text-retrieval", random_state=0, validation_split=0.1).fit(X)
    emb = est.transform(full.X_test)
    m = retrieval_metrics(emb["audio_embedding"], emb["text_embedding"])
    print(
        name,
        len(X["text"]),
        "rows",
        {k: round(v, 3) for k, v in m.items()},
        f"{time.time() - t:.0f}s",
        flush=True,
    )
