"""Sentiment of customer messages: a softmax head over one encoder's sentence vectors.

The shipped model (``ARTIFACT``) reads ``voc-sentiment-e5``: multilingual-e5-small with its top
layers fine-tuned on the 8-language XLM-T train split (``models/train_sentiment.py``, the model
card in ``models/artifacts``). The spine's logistic regression on the topic stage's MiniLM vectors
stays as the benchmark's baseline (``BASELINE_ARTIFACT``). Both are small JSON files (no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

LABELS = ("negative", "neutral", "positive")
ARTIFACT = Path(__file__).parent / "artifacts" / "sentiment_e5_finetuned.json"
BASELINE_ARTIFACT = Path(__file__).parent / "artifacts" / "sentiment_minilm_logreg.json"


class SentimentModel:
    """Predicts negative/neutral/positive and a score P(positive) - P(negative) in [-1, 1]."""

    def __init__(self, C: float = 1.0, embedding_model: str = "all-MiniLM-L6-v2", seed: int = 0) -> None:
        self.C = C
        self.embedding_model = embedding_model
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> SentimentModel:
        clf = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced", random_state=self.seed)
        clf.fit(X, y)
        order = [list(clf.classes_).index(i) for i in range(len(LABELS))]
        self.coef_ = clf.coef_[order].astype(np.float64)
        self.intercept_ = clf.intercept_[order].astype(np.float64)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(LABELS)[self.predict_proba(X).argmax(axis=1)]

    @staticmethod
    def score_from_proba(proba: np.ndarray) -> np.ndarray:
        return proba[:, 2] - proba[:, 0]

    def save(self, path: Path, **card: object) -> None:
        payload = {
            "labels": list(LABELS),
            "embedding_model": self.embedding_model,
            "C": self.C,
            "seed": self.seed,
            "coef": self.coef_.round(7).tolist(),
            "intercept": self.intercept_.round(7).tolist(),
            "card": card,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=1))

    @classmethod
    def named(cls, name: str) -> SentimentModel:
        """A shipped model by name: ``e5_finetuned`` (the default) or ``minilm_logreg`` (the baseline)."""
        path = ARTIFACT.parent / f"sentiment_{name}.json"
        if not path.exists():
            shipped = sorted(
                p.stem.removeprefix("sentiment_") for p in ARTIFACT.parent.glob("sentiment_*.json")
            )
            raise ValueError(f"unknown sentiment model {name!r}; shipped: {', '.join(shipped)}")
        return cls.load(path)

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> SentimentModel:
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: sentiment artifact missing; run `python -m models.train_sentiment`"
            )
        payload = json.loads(path.read_text())
        model = cls(C=payload["C"], embedding_model=payload["embedding_model"], seed=payload["seed"])
        model.coef_ = np.asarray(payload["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(payload["intercept"], dtype=np.float64)
        model.card_ = payload.get("card", {})
        model.name_ = path.stem.removeprefix("sentiment_")  # recorded beside every score
        return model
