"""Do French and English messages about the same thing land in the same topic?

    python -m bench.crosslingual [--pairs 3000] [--models all-MiniLM-L6-v2,multilingual-e5-small]
    python -m bench.crosslingual --shares 0,0.1,0.2,0.33,0.5 [--pairs 6000]

MASSIVE fr-FR pairs each French utterance with the English one it was translated from. A sample of
pairs goes into one topic fit (both languages mixed, as a bilingual brand's week would be); the
benchmark reports the share of pairs whose two halves get the same topic, NMI against the intents
over all messages and per language, and the topic count. Writes bench/results/crosslingual.json.

``--shares``: where ``embedding_model = auto`` should switch to the multilingual encoder. One brand's
customers ask about the same things in two languages: each sampled utterance is kept in French with
probability s, else in its English original (never both), and each model's topics are scored against
the intents at each share s. Writes bench/results/crosslingual-shares.json.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from bench import datasets
from bench.topics import RESULTS, SPACY
from models.topic_model import TopicModel


def pairs(n: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    source = datasets.SHARED / "massive" / "fr-FR_train.jsonl"
    rows = [json.loads(line) for line in source.open(encoding="utf-8")]
    pick = [rows[i] for i in np.random.default_rng(seed).choice(len(rows), n, replace=False)]
    return [r["utt"] for r in pick], [r["en_utt"] for r in pick], [r["intent"] for r in pick]


def measure(model: str, fr: list[str], en: list[str], intents: list[str], seed: int) -> dict:
    texts, languages = fr + en, ["fr"] * len(fr) + ["en"] * len(en)
    X = datasets.cached_embeddings(texts, model)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = TopicModel(seed=seed, spacy_models=SPACY).fit(X, texts, languages).labels_
    n = len(fr)
    a, b = labels[:n], labels[n:]
    truth = intents + intents
    return {
        "model": model,
        "pairs": n,
        "same_topic": round(float(np.mean((a == b) & (a >= 0))), 3),
        "nmi_all": round(float(normalized_mutual_info_score(truth, labels)), 3),
        "nmi_fr": round(float(normalized_mutual_info_score(intents, a)), 3),
        "nmi_en": round(float(normalized_mutual_info_score(intents, b)), 3),
        "topics": int(len(set(labels) - {-1})),
        "fit_s": round(time.perf_counter() - t0, 1),
    }


def shares(models: list[str], n: int, fractions: list[float], seed: int) -> list[dict]:
    """NMI of each model's topics over a one-brand English/French mix, at each French share."""
    fr, en, intents = pairs(n, seed)
    vectors = {m: (datasets.cached_embeddings(fr, m), datasets.cached_embeddings(en, m)) for m in models}
    draw = np.random.default_rng(seed).random(n)
    truth = np.asarray(intents)
    rows = []
    for share in fractions:
        is_fr = draw < share
        texts = [f if pick else e for f, e, pick in zip(fr, en, is_fr, strict=True)]
        languages = ["fr" if pick else "en" for pick in is_fr]
        for model in models:
            X = np.where(is_fr[:, None], vectors[model][0], vectors[model][1])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                labels = TopicModel(seed=seed, spacy_models=SPACY).fit(X, texts, languages).labels_
            row = {
                "model": model,
                "french_share": round(float(is_fr.mean()), 3),
                "nmi_all": round(float(normalized_mutual_info_score(truth, labels)), 3),
                "nmi_fr": round(float(normalized_mutual_info_score(truth[is_fr], labels[is_fr])), 3)
                if is_fr.any()
                else None,
                "nmi_en": round(float(normalized_mutual_info_score(truth[~is_fr], labels[~is_fr])), 3),
                "topics": int(len(set(labels.tolist()) - {-1})),
            }
            rows.append(row)
            print(row, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--models", default="all-MiniLM-L6-v2,multilingual-e5-small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--shares", help="French shares for the one-brand mix, e.g. 0,0.1,0.2,0.33,0.5")
    args = parser.parse_args()
    if args.shares:
        fractions = [float(x) for x in args.shares.split(",")]
        rows = shares(args.models.split(","), args.pairs, fractions, args.seed)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "crosslingual-shares.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        return
    fr, en, intents = pairs(args.pairs, args.seed)
    rows = [measure(m, fr, en, intents, args.seed) for m in args.models.split(",")]
    head = "| model | pairs | same topic | NMI all | NMI fr | NMI en | topics | fit s |"
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['pairs']} | {r['same_topic']:.1%} | {r['nmi_all']:.3f} | "
            f"{r['nmi_fr']:.3f} | {r['nmi_en']:.3f} | {r['topics']} | {r['fit_s']} |"
        )
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "crosslingual.json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
