"""Sentiment: the shipped model loads offline with its own encoder, reaches its recorded quality on
held-out tweets in English and French, reads plain customer language sensibly, and its training is
reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import recall_score

from models import multilingual_encoder
from models.embedder import Embedder
from models.sentiment import BASELINE_ARTIFACT, LABELS, SentimentModel
from models.train_sentiment import TopLayerTrainer, read_split, train_split


@pytest.fixture(scope="module")
def shipped() -> tuple[SentimentModel, Embedder]:
    model = SentimentModel.load()
    return model, Embedder(model.embedding_model)


def test_shipped_model_reads_its_own_fine_tuned_encoder(shipped):
    model, embedder = shipped
    assert model.embedding_model == multilingual_encoder.SENTIMENT_NAME
    assert model.name_ == "e5_finetuned"
    assert embedder.transform(["ok"]).shape == (1, model.coef_.shape[1])


def test_shipped_model_on_validation_tweets(shared, shipped):
    model, embedder = shipped
    root = shared / "xlmt_sentiment_multilingual"
    for lang in ("english", "french"):
        texts, y = read_split(root, lang, "val")
        predicted = model.predict_proba(embedder.transform(texts)).argmax(axis=1)
        recall = recall_score(y, predicted, average="macro")
        # the card records what the training script measured through this same path
        assert recall == pytest.approx(model.card_["validation_macro_recall"][lang], abs=0.005)
        assert recall >= 0.65  # chance is 0.33; the MiniLM baseline reaches 0.62 EN / 0.49 FR


CASES = [
    ("Thank you so much, the agent solved my problem in two minutes!", "positive"),
    ("Merci beaucoup, le conseiller a réglé mon problème en deux minutes !", "positive"),
    ("This is the third time my payment failed and nobody answers, I'm furious.", "negative"),
    ("C'est la troisième fois que mon paiement échoue et personne ne répond, je suis furieux.", "negative"),
    ("What time do you open on Saturday?", "neutral"),
    ("À quelle heure ouvrez-vous le samedi ?", "neutral"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_unambiguous_messages_in_english_and_french(shipped, text, expected):
    model, embedder = shipped
    proba = model.predict_proba(embedder.transform([text]))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert model.predict(embedder.transform([text]))[0] == expected
    score = SentimentModel.score_from_proba(proba)[0]
    assert {"positive": score > 0.3, "negative": score < -0.3, "neutral": abs(score) < 0.5}[expected]


def test_the_baseline_stays_loadable_for_the_benchmark():
    baseline = SentimentModel.load(BASELINE_ARTIFACT)
    assert baseline.embedding_model == "all-MiniLM-L6-v2"
    assert baseline.coef_.shape == (len(LABELS), 384)


def test_training_is_reproducible_and_the_shipped_path_reproduces_the_trainer(shared, tmp_path):
    """A tiny run (64 tweets, top layer only): the same seed gives the same weights, and the saved
    layers composed into a sentence-transformers model plus the JSON head predict what the trainer did."""
    texts, y, _ = train_split(shared / "xlmt_sentiment_multilingual")
    pick = np.random.default_rng(0).choice(len(texts), 64, replace=False)
    texts, y = [texts[i] for i in pick], y[pick]
    runs = []
    for _ in range(2):
        trainer = TopLayerTrainer(k=1, epochs=1, lr=5e-5, batch_size=16, seed=3)
        states = trainer.bottom(texts)
        trainer.fit(states, y)
        runs.append((trainer, states))
    (a, states), (b, _) = runs
    assert np.array_equal(a.head.weight.detach().numpy(), b.head.weight.detach().numpy())
    model = a.save(tmp_path / "layers.safetensors")
    model.save(tmp_path / "head.json")
    reloaded = SentimentModel.load(tmp_path / "head.json")
    composed = Embedder(multilingual_encoder.sentiment_model_path(tmp_path / "layers.safetensors"))
    predicted = reloaded.predict_proba(composed.transform(texts)).argmax(axis=1)
    assert (predicted == a.predict(states)).mean() >= 0.98  # float16 layers may flip a borderline case
