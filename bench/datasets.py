"""Labelled intent sets from ../shared/data, loaded the same way for every benchmark."""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass
class LabelledSet:
    name: str
    language: str
    texts: list[str]
    labels: list[str]

    def sample(self, n: int, seed: int = 0) -> LabelledSet:
        """A fixed random subset of ``n`` messages (all of them when n >= size)."""
        if n >= len(self.texts):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self.texts), size=n, replace=False))
        return LabelledSet(
            f"{self.name}@{n}", self.language, [self.texts[i] for i in idx], [self.labels[i] for i in idx]
        )


def banking77(split: str = "test") -> LabelledSet:
    texts, labels = [], []
    for part in ("train", "test") if split == "all" else (split,):
        with (SHARED / "banking77" / f"{part}.csv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                texts.append(row["text"])
                labels.append(row["category"])
    return LabelledSet(f"banking77-{split}", "en", texts, labels)


def bitext() -> LabelledSet:
    with (SHARED / "bitext_customer_support" / "bitext_customer_support_20k.csv").open(
        encoding="utf-8-sig"
    ) as fh:
        rows = list(csv.DictReader(fh))
    return LabelledSet("bitext", "en", [r["utterance"] for r in rows], [r["intent"] for r in rows])


def dstc11() -> LabelledSet:
    rows = [
        json.loads(line)
        for line in (SHARED / "dstc11_intent_clustering" / "development_utterances.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.strip()
    ]
    return LabelledSet("dstc11-dev", "en", [r["utterance"] for r in rows], [r["intent"] for r in rows])


def massive_fr() -> LabelledSet:
    rows = [
        json.loads(line)
        for line in (SHARED / "massive" / "fr-FR_train.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return LabelledSet("massive-fr", "fr", [r["utt"] for r in rows], [r["intent"] for r in rows])


def massive_en() -> LabelledSet:
    """MASSIVE en-US, all partitions: the same 60 intents as ``massive_fr`` in English, said by other
    people (16,521 utterances)."""
    rows = [
        json.loads(line)
        for line in (SHARED / "massive" / "en-US.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return LabelledSet("massive-en", "en", [r["utt"] for r in rows], [r["intent"] for r in rows])


def cached_embeddings(texts: list[str], model_name: str) -> np.ndarray:
    """Embeddings from voc's Embedder, cached on disk by (model, texts) so reruns are fast."""
    from models.embedder import Embedder

    key = hashlib.sha256((model_name + "\x1f" + "\x1e".join(texts)).encode()).hexdigest()[:20]
    path = CACHE / f"{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = Embedder(model_name).transform(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
