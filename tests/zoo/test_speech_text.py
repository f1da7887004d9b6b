"""speech-text-retrieval: its dataset split, shipped weights on REAL held-out prompts, and
its estimator (`ZooRetriever`) on a slice."""

import numpy as np
import pytest

import zoo
from datasets import speech_text
from pipelines.evaluation import evaluate
from pipelines.retrieval import ZooRetriever, retrieval_metrics

NAME = "speech-text-retrieval"


@pytest.fixture(scope="module")
def data(load_dataset):
    return load_dataset("speech_text")


def test_test_texts_are_never_trained_on_or_synthesised(data):
    train_texts, test_texts = speech_text.split_texts()
    assert train_texts and test_texts
    assert not set(train_texts) & set(test_texts)
    texts = np.array(speech_text.all_texts())
    assert not set(texts[data.y_train]) & set(texts[data.y_test])
    synthetic = speech_text.synthetic_clips(train_texts)
    assert set(synthetic["text"].tolist()) <= set(train_texts)
    assert not set(synthetic["text"].tolist()) & set(test_texts)
    # One REAL recording per test text, and the ids encode the test texts.
    assert len(np.unique(data.y_test)) == len(data.y_test) == len(test_texts)
    np.testing.assert_array_equal(
        data.X_test["text"], speech_text.encode_text(texts[data.y_test].tolist())
    )
    assert data.X_test["audio"].shape == (len(test_texts), speech_text.CLIP_SAMPLES)
    assert data.X_train["text"].dtype == np.int32


def test_shipped_weights_beat_chance_on_real_held_out_prompts(data):
    metrics = evaluate(zoo.get(NAME), data)
    assert metrics["pairs"] == len(data.y_test)
    assert metrics["recall_at_1"] >= 10 * metrics["chance_at_1"], metrics
    assert metrics["recall_at_5"] >= 5 * metrics["chance_at_5"], metrics


def test_retriever_fits_a_slice_and_scores(data):
    X = {key: value[:48] for key, value in data.X_train.items()}
    est = ZooRetriever(NAME, epochs=1, batch_size=16, random_state=0).fit(X)
    assert np.isfinite(est.history_["loss"]).all()
    X_test = {key: value[:8] for key, value in data.X_test.items()}
    embeddings = est.transform(X_test)
    assert embeddings["audio_embedding"].shape == embeddings["text_embedding"].shape == (8, 64)
    np.testing.assert_allclose(np.linalg.norm(embeddings["text_embedding"], axis=1), 1, atol=1e-4)
    # predict: the text row of the best cosine for each audio row; score: how often it is the
    # row's own text (the 8 test rows are 8 distinct texts).
    similarity = embeddings["audio_embedding"] @ embeddings["text_embedding"].T
    retrieved = est.predict(X_test)
    np.testing.assert_array_equal(retrieved, similarity.argmax(axis=1))
    assert est.score(X_test) == pytest.approx(np.mean(retrieved == np.arange(8)))


def test_bad_input_names_the_missing_key(data):
    with pytest.raises(ValueError, match=r"Missing: \['text'\]"):
        ZooRetriever(NAME, epochs=1).fit({"audio": data.X_train["audio"][:8]})
    with pytest.raises(ValueError, match="must be a dict"):
        ZooRetriever(NAME, epochs=1).fit(data.X_train["audio"][:8])
    with pytest.raises(ValueError, match="single string"):
        speech_text.encode_text("goodbye")


def test_retrieval_metrics_counts_hits_and_chance():
    eye = np.eye(4)
    perfect = retrieval_metrics(eye, eye)
    assert perfect["recall_at_1"] == 1.0 and perfect["chance_at_1"] == 0.25
    swapped = retrieval_metrics(eye, eye[[1, 0, 2, 3]])
    assert swapped["recall_at_1"] == 0.5 and swapped["recall_at_5"] == 1.0
    assert retrieval_metrics(eye, eye[[1, 0, 2, 3]], groups=[7, 7, 2, 3])["recall_at_1"] == 1.0
    with pytest.raises(ValueError, match="same shape"):
        retrieval_metrics(eye, eye[:2])


def test_saved_model_takes_raw_transcripts(tmp_path):
    import tensorflow as tf

    from datasets import speech_text
    from pipelines.export import encode_texts, export_model

    texts = ["Goodbye.", "PLEASE hold ~ \u00e9", "x" * 50]
    np.testing.assert_array_equal(
        encode_texts(texts, speech_text.ALPHABET, speech_text.MAX_CHARS),
        speech_text.encode_text(texts),
    )
    model = zoo.get("speech-text-retrieval")
    alphabets = zoo.weights.read_manifest()["speech-text-retrieval"]["dataset"]["text_inputs"]
    report = export_model(model, tmp_path, text_inputs=alphabets)
    assert report["max_abs_diff"] <= 1e-5
    serve = tf.saved_model.load(report["path"]).signatures["serving_default"]
    assert serve.structured_input_signature[1]["text"].dtype == tf.string
    audio = np.zeros((2, speech_text.CLIP_SAMPLES), "float32")
    served = serve(audio=tf.constant(audio), text=tf.constant(texts[:2]))["text_embedding"]
    direct = model.predict({"audio": audio, "text": speech_text.encode_text(texts[:2])}, verbose=0)
    np.testing.assert_allclose(served.numpy(), direct["text_embedding"], atol=1e-5)
