"""The shipped sentiment baseline: loads offline, beats chance clearly on held-out tweets in EN and FR."""

import numpy as np
from sklearn.metrics import recall_score

from models.sentiment import LABELS, SentimentModel
from models.train_sentiment import read_split


def test_shipped_model_on_validation_tweets(shared, embedder):
    model = SentimentModel.load()
    root = shared / "xlmt_sentiment_multilingual"
    scores = {}
    for lang in ("english", "french"):
        texts, y = read_split(root, lang, "val")
        pred = model.predict_proba(embedder.transform(texts)).argmax(axis=1)
        scores[lang] = recall_score(y, pred, average="macro")
    # chance is 0.33; the artifact card records 0.62 EN / 0.49 FR (issue 4 raises the bar)
    assert scores["english"] >= 0.58
    assert scores["french"] >= 0.45
    assert model.card_["validation_macro_recall"]["english"] >= 0.58


def test_scores_and_labels_are_consistent(embedder):
    model = SentimentModel.load()
    X = embedder.transform(["I love this app, amazing!", "This is the worst service ever, I'm furious."])
    proba = model.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    score = SentimentModel.score_from_proba(proba)
    assert score[0] > 0.5 and score[1] < -0.5
    assert list(model.predict(X)) == ["positive", "negative"]
    assert set(LABELS) == {"negative", "neutral", "positive"}
