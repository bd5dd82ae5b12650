"""Topics over customer messages: reduce (UMAP) → cluster (HDBSCAN) → represent (c-TF-IDF).

A pipeline of swappable parts in the spirit of BERTopic, with the estimator API of scikit-learn.
Cluster sizes scale with the data (``min_cluster_size`` ~ sqrt(n)/2) so the topic count does not
explode on large inputs; outliers close to a topic centroid are reassigned to it, the rest stay -1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import hdbscan
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import normalize

OUTLIER = -1


@dataclass(frozen=True)
class TopicParams:
    n_neighbors: int
    n_components: int
    min_cluster_size: int
    min_samples: int


def c_tf_idf(counts, classes: int):
    """Class-based TF-IDF (Grootendorst 2022): term weight in a topic against all topics.

    ``counts`` is a (topics x terms) count matrix; returns a dense (topics x terms) array.
    """
    counts = np.asarray(counts.todense() if hasattr(counts, "todense") else counts, dtype=np.float64)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    avg_words = counts.sum() / max(classes, 1)
    idf = np.log1p(avg_words / np.maximum(counts.sum(axis=0), 1.0))
    return tf * idf


def readable_label(keywords: list[str], max_terms: int = 3) -> str:
    """A short name from the top keywords: phrases first, no word repeated ("card arrive / new")."""
    chosen: list[str] = []
    seen: set[str] = set()
    for kw in keywords:
        words = kw.split()
        if any(w in seen for w in words):
            continue
        chosen.append(kw)
        seen.update(words)
        if len(seen) >= max_terms:
            break
    return " / ".join(chosen) if chosen else "(no keywords)"


class TopicModel:
    """Cluster embeddings into topics and describe each with keywords and representative messages."""

    def __init__(
        self,
        n_neighbors: int = 15,
        n_components: int = 5,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        reassign_threshold: float = 0.55,
        n_keywords: int = 8,
        n_representatives: int = 5,
        seed: int = 42,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.reassign_threshold = reassign_threshold
        self.n_keywords = n_keywords
        self.n_representatives = n_representatives
        self.seed = seed

    def params_for(self, n: int) -> TopicParams:
        """Parameters scaled to ``n`` messages unless set explicitly."""
        mcs = self.min_cluster_size or max(5, round(0.5 * math.sqrt(n)))
        ms = self.min_samples or max(3, mcs // 3)
        return TopicParams(
            n_neighbors=max(2, min(self.n_neighbors, n - 1)),
            n_components=max(2, min(self.n_components, n - 2)),
            min_cluster_size=mcs,
            min_samples=ms,
        )

    # -- reduce + cluster -------------------------------------------------------------------------
    def _cluster(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(X)
        params = self.params_for(n)
        self.params_ = params
        if n < 2 * params.min_cluster_size:
            return np.full(n, OUTLIER), np.zeros(n)
        import umap

        reducer = umap.UMAP(
            n_neighbors=params.n_neighbors,
            n_components=params.n_components,
            min_dist=0.0,
            metric="cosine",
            random_state=self.seed,
            n_jobs=1,  # random_state forces one thread anyway; saying so silences UMAP's warning
        )
        reduced = reducer.fit_transform(X)
        clusterer = hdbscan.HDBSCAN(
            min_cluster_size=params.min_cluster_size,
            min_samples=params.min_samples,
            metric="euclidean",
            cluster_selection_method="eom",
        )
        labels = clusterer.fit_predict(reduced)
        return labels.astype(int), np.asarray(clusterer.probabilities_, dtype=float)

    @staticmethod
    def _ordered(labels: np.ndarray) -> np.ndarray:
        """Renumber clusters by size (0 = largest), keeping -1."""
        ids, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
        order = ids[np.argsort(-counts, kind="stable")]
        mapping = {old: new for new, old in enumerate(order)}
        return np.asarray([mapping.get(label, OUTLIER) for label in labels])

    def _reassign(self, X: np.ndarray, labels: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        topics = sorted(set(labels) - {OUTLIER})
        if not topics:
            return labels, prob
        centroids = normalize(np.vstack([X[labels == t].mean(axis=0) for t in topics]))
        out = labels == OUTLIER
        if out.any():
            sims = X[out] @ centroids.T
            best = sims.argmax(axis=1)
            best_sim = sims[np.arange(len(best)), best]
            take = best_sim >= self.reassign_threshold
            idx = np.flatnonzero(out)[take]
            labels = labels.copy()
            prob = prob.copy()
            labels[idx] = np.asarray(topics)[best[take]]
            prob[idx] = best_sim[take]  # similarity as the (weaker) membership evidence
        return labels, prob

    # -- represent --------------------------------------------------------------------------------
    def _keywords(self, tokens: list[list[str]], labels: np.ndarray) -> dict[int, list[str]]:
        topics = sorted(set(labels) - {OUTLIER})
        if not topics:
            return {}
        docs = [" ".join(toks) for toks in tokens]
        per_topic = [" ".join(docs[i] for i in np.flatnonzero(labels == t)) for t in topics]
        vectorizer = CountVectorizer(
            tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 2), min_df=1
        )
        try:
            counts = vectorizer.fit_transform(per_topic)
        except ValueError:  # no tokens at all
            return {t: [] for t in topics}
        # keep terms seen in at least 2 messages, so typos and one-offs never name a topic
        doc_freq = np.asarray((vectorizer.transform(docs) > 0).sum(axis=0)).ravel()
        weights = c_tf_idf(counts, len(topics))
        weights[:, doc_freq < 2] = 0.0
        terms = vectorizer.get_feature_names_out()
        out = {}
        for row, t in enumerate(topics):
            top = np.argsort(-weights[row], kind="stable")[: self.n_keywords]
            out[t] = [terms[j] for j in top if weights[row, j] > 0]
        return out

    def _representatives(self, X: np.ndarray, idx: np.ndarray, centroid: np.ndarray) -> list[int]:
        """Messages nearest the centroid, skipping near-duplicates of ones already chosen."""
        sims = X[idx] @ centroid
        chosen: list[int] = []
        for j in idx[np.argsort(-sims, kind="stable")]:
            if all(float(X[j] @ X[k]) < 0.95 for k in chosen):
                chosen.append(int(j))
            if len(chosen) >= self.n_representatives:
                break
        return chosen

    # -- estimator API ----------------------------------------------------------------------------
    def fit(self, X: np.ndarray, tokens: list[list[str]]) -> TopicModel:
        """Learn topics from L2-normalised embeddings ``X`` and content lemmas ``tokens`` per message."""
        X = normalize(np.asarray(X, dtype=np.float32))
        labels, prob = self._cluster(X)
        labels = self._ordered(labels)
        self.n_outliers_before_reassign_ = int((labels == OUTLIER).sum())
        labels, prob = self._reassign(X, labels, prob)
        self.labels_ = labels
        self.probabilities_ = prob
        keywords = self._keywords(tokens, labels)
        rows = []
        topics = sorted(set(labels) - {OUTLIER})
        centroids = {t: normalize(X[labels == t].mean(axis=0, keepdims=True))[0] for t in topics}
        coords = {}
        if len(topics) >= 2:
            xy = PCA(n_components=2, random_state=self.seed).fit_transform(
                np.vstack([centroids[t] for t in topics])
            )
            coords = {t: (float(a), float(b)) for t, (a, b) in zip(topics, xy, strict=True)}
        for t in topics:
            idx = np.flatnonzero(labels == t)
            kws = keywords.get(t, [])
            rows.append(
                {
                    "topic_id": int(t),
                    "label": readable_label(kws),
                    "keywords": kws,
                    "size": int(len(idx)),
                    "representative_idx": self._representatives(X, idx, centroids[t]),
                    "centroid": centroids[t].astype(np.float32),
                    "x": coords.get(t, (0.0, 0.0))[0],
                    "y": coords.get(t, (0.0, 0.0))[1],
                }
            )
        n_out = int((labels == OUTLIER).sum())
        rows.append(
            {
                "topic_id": OUTLIER,
                "label": "Unassigned (outliers)",
                "keywords": [],
                "size": n_out,
                "representative_idx": [],
                "centroid": None,
                "x": None,
                "y": None,
            }
        )
        self.topics_ = pd.DataFrame(rows)
        self.outlier_share_ = n_out / len(labels) if len(labels) else 0.0
        return self

    def fit_transform(self, X: np.ndarray, tokens: list[list[str]]) -> np.ndarray:
        return self.fit(X, tokens).labels_
