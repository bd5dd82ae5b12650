"""Sentiment quality and speed: the shipped model beside the MiniLM baseline and VADER, in one run.

    python -m bench.sentiment        (VADER: pip install vaderSentiment; a bench tool, not a voc dependency)

Macro-recall on the validation splits of TweetEval (English) and XLM-T (English, French), which the
shipped model is never tuned on; messages per second on this machine (embedding + classifier, the
way `voc run` scores a message it has not embedded yet); and, because customer-service language is
not tweets, the share of customer requests (Banking77 test, Bitext, DSTC11 development) that each
model calls negative or positive, and on 112 of them labelled by hand (bench/data/README.md) how
many plain requests it calls negative and how many real complaints it catches. Writes
bench/results/sentiment.json and prints a table.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import recall_score

from bench import datasets
from models.embedder import Embedder
from models.sentiment import ARTIFACT, BASELINE_ARTIFACT, LABELS, SentimentModel
from models.train_sentiment import read_split

RESULTS = Path(__file__).resolve().parent / "results"
XLMT = datasets.SHARED / "xlmt_sentiment_multilingual"
TWEETEVAL = datasets.SHARED / "tweeteval_sentiment"
TARGETS = {"en": 0.70, "fr": 0.65}  # issue 4
REQUESTS_PER_SET = 2000
HAND_LABELLED = Path(__file__).resolve().parent / "data" / "customer_requests_sentiment.csv"


def labelled_sets() -> list[tuple[str, str, list[str], np.ndarray]]:
    """(name, language, texts, labels 0/1/2 = negative/neutral/positive)."""
    tweeteval = (TWEETEVAL / "val_text.txt").read_text(encoding="utf-8").splitlines()
    labels = np.asarray([int(x) for x in (TWEETEVAL / "val_labels.txt").read_text().split()])
    sets = [("TweetEval val", "en", tweeteval, labels)]
    for lang, code in (("english", "en"), ("french", "fr")):
        texts, y = read_split(XLMT, lang, "val")
        sets.append((f"XLM-T {lang} val", code, texts, y))
    return sets


def request_sets() -> list[tuple[str, list[str]]]:
    """Customer requests: intent data sets, where most messages state a need without a feeling."""
    out = []
    for labelled in (datasets.banking77("test"), datasets.bitext(), datasets.dstc11()):
        out.append((labelled.name, labelled.sample(REQUESTS_PER_SET, seed=0).texts))
    return out


class Vader:
    """VADER's compound score with its authors' thresholds (±0.05); an English lexicon."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def predict(self, texts: list[str]) -> np.ndarray:
        compound = np.asarray([self.analyzer.polarity_scores(t)["compound"] for t in texts])
        return np.where(compound <= -0.05, 0, np.where(compound >= 0.05, 2, 1))


class Shipped:
    """A SentimentModel artifact on a fresh embedding of each text by its encoder (no embedding cache)."""

    def __init__(self, artifact: Path = ARTIFACT) -> None:
        self.model = SentimentModel.load(artifact)
        self.embedder = Embedder(self.model.embedding_model)

    def predict(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(self.embedder.transform(texts)).argmax(axis=1)


def hand_labelled() -> tuple[list[str], np.ndarray]:
    """112 customer messages labelled by hand (bench/data/README.md: the rule and the sources)."""
    with HAND_LABELLED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], np.asarray([LABELS.index(r["label"]) for r in rows])


def measure(name: str, predictor, labelled, requests) -> dict:
    row: dict = {"model": name, "macro_recall": {}, "requests": {}}
    seconds, n = 0.0, 0
    for set_name, _, texts, y in labelled:
        t0 = time.perf_counter()
        pred = predictor.predict(texts)
        seconds, n = seconds + time.perf_counter() - t0, n + len(texts)
        row["macro_recall"][set_name] = round(float(recall_score(y, pred, average="macro")), 3)
    for set_name, texts in requests:
        pred = predictor.predict(texts)
        row["requests"][set_name] = {
            label: round(float(np.mean(pred == i)), 3) for i, label in enumerate(LABELS)
        }
    texts, y = hand_labelled()
    pred = predictor.predict(texts)
    row["hand_labelled"] = {
        "plain_requests_called_negative": round(float(np.mean(pred[y == 1] == 0)), 3),
        "complaints_called_negative": round(float(np.mean(pred[y == 0] == 0)), 3),
    }
    row["messages_per_s"] = round(n / seconds)
    return row


def table(rows: list[dict]) -> str:
    sets = list(rows[0]["macro_recall"])
    requests = list(rows[0]["requests"])
    head = [
        "model",
        *(f"{s} macro-recall" for s in sets),
        "msg/s",
        *(f"{r}: negative / positive" for r in requests),
        "hand-labelled: plain requests called negative",
        "hand-labelled: complaints called negative",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], *(f"{r['macro_recall'][s]:.3f}" for s in sets), f"{r['messages_per_s']:,}"]
        cells += [
            f"{r['requests'][q]['negative']:.0%} / {r['requests'][q]['positive']:.0%}" for q in requests
        ]
        hand = r["hand_labelled"]
        cells += [f"{hand[k]:.0%}" for k in ("plain_requests_called_negative", "complaints_called_negative")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    labelled, requests = labelled_sets(), request_sets()
    rows = []
    for name, artifact in (
        ("voc SentimentModel (multilingual-e5-small, top 4 layers fine-tuned)", ARTIFACT),
        ("baseline: MiniLM + logistic regression", BASELINE_ARTIFACT),
    ):
        model = Shipped(artifact)
        model.predict(["warm up"])  # load the encoder before anything is timed
        rows.append(measure(name, model, labelled, requests))
    try:
        rows.append(measure("VADER", Vader(), labelled, requests))
    except ImportError:
        print("VADER not installed (pip install vaderSentiment): measuring voc's model only")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sentiment.json").write_text(json.dumps({"targets": TARGETS, "rows": rows}, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
