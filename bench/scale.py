"""Speed and memory at scale: voc's full and weekly runs against BERTopic, on the same messages.

    python -m bench.scale [--sizes 10000,50000] [--bertopic-limit-s 1800] [--fast [--fit-sample N]]

For each size n: n customer messages sampled with replacement from real customer utterances in
../shared/data (Banking77, Bitext, MASSIVE fr-FR) with a light deterministic perturbation (a greeting,
a closing, a dropped or swapped word, letter case) so texts are not all identical, spread over nine
weeks; then one more week of 0.1 n new messages. Measured, each in its own process (wall time, peak
memory of the process tree, sampled every 0.1 s):

- voc: ``voc ingest`` of the n messages, the full ``voc run`` (its per-stage times from the run record),
  ``voc ingest`` of the new week and the weekly incremental ``voc run``;
- BERTopic 0.17 defaults on the same n texts: embedding with plain ``SentenceTransformer.encode``
  (the embedding baseline) and the fit on those embeddings, stopped at ``--bertopic-limit-s``.

Each message keeps the intent of the utterance it was made from, so the full run's topics are also
scored against those intents (NMI, ARI; outliers count as one more cluster): how much ``--fast``
(``voc run --fast``) costs in topic quality at sizes the labelled sets alone do not reach.

Writes bench/results/scale-<precision>[-fast].json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from bench import datasets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
START = datetime(2026, 8, 31, 8, 0, tzinfo=UTC)  # a Monday
CHANNELS = ("whatsapp", "messenger", "webchat", "email", "rcs", "gbm")
GREETINGS = {"en": ("hi ", "hello, ", "hey ", "good morning, ", ""), "fr": ("bonjour ", "salut, ", "")}
CLOSINGS = {"en": (" thanks", " please", "!", "?", " asap", ""), "fr": (" merci", " svp", "!", "?", "")}


def source_texts() -> list[tuple[str, str, str]]:
    """(text, language, set/intent) of real customer utterances, from the topic benchmark's sets."""
    sets = (datasets.banking77("all"), datasets.bitext(), datasets.massive_fr())
    return [
        (text, ds.language, f"{ds.name}/{label}")
        for ds in sets
        for text, label in zip(ds.texts, ds.labels, strict=True)
    ]


def perturb(text: str, language: str, rng: random.Random) -> str:
    words = text.split()
    roll = rng.random()
    if roll < 0.2 and len(words) > 4:
        del words[rng.randrange(len(words))]
    elif roll < 0.4 and len(words) > 3:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    text = rng.choice(GREETINGS[language]) + " ".join(words) + rng.choice(CLOSINGS[language])
    return text.lower() if rng.random() < 0.3 else text


def write_messages(
    path: Path, n: int, week0: int, weeks: int, seed: int, pool: list
) -> tuple[list[str], dict[str, str]]:
    """Write n messages; returns their texts and the source intent of each message id."""
    rng = random.Random(seed)
    texts, intents = [], {}
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text, lang, intent = pool[rng.randrange(len(pool))]
            text = perturb(text, lang, rng)
            texts.append(text)
            intents[f"s{seed}-{i}"] = intent
            at = START + timedelta(weeks=week0 + i * weeks // n, seconds=rng.randrange(7 * 86400))
            row = {
                "conversation_id": f"s{seed}-{i // 2}",
                "message_id": f"s{seed}-{i}",
                "text": text,
                "sent_at": at.isoformat(),
                "channel": CHANNELS[i % len(CHANNELS)],
                "language": lang,
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return texts, intents


def topic_quality(store: str, intents: dict[str, str]) -> dict:
    """NMI and ARI of the stored topics against the source intents, over all messages and per set."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from pipeline.store import Store

    got = Store(store).query(
        """
        SELECT a.message_id, a.topic_id, EXISTS (
            SELECT 1 FROM embeddings e WHERE e.text_hash = m.text_hash AND e.model NOT LIKE '%~projected'
        ) AS exact
        FROM assignments a JOIN messages m USING (message_id)
        """
    )
    got["intent"] = got["message_id"].map(intents)
    got = got.dropna(subset=["intent"])
    got["set"] = got["intent"].str.split("/").str[0]
    out = {}
    # fast mode: the sample's messages (clustered on their own vectors) and the projected ones apart
    split = (
        [("sample", got[got["exact"]]), ("projected", got[~got["exact"]])] if (~got["exact"]).any() else []
    )
    for name, part in [("all", got), *got.groupby("set"), *split]:
        out[name] = {
            "nmi": round(float(normalized_mutual_info_score(part["intent"], part["topic_id"])), 4),
            "ari": round(float(adjusted_rand_score(part["intent"], part["topic_id"])), 4),
            "outliers": round(float((part["topic_id"] == -1).mean()), 4),
            "messages": len(part),
        }
    return out


def measured(cmd: list[str], env: dict, timeout: float | None = None) -> dict:
    """Run ``cmd``; wall seconds, peak RSS of its process tree (MB), exit code and stdout."""
    with tempfile.TemporaryFile(mode="w+") as out_file:
        return _measured(cmd, env, timeout, out_file)


def _measured(cmd: list[str], env: dict, timeout: float | None, out_file) -> dict:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out_file, stderr=subprocess.STDOUT)
    peak = 0
    root = psutil.Process(proc.pid)
    timed_out = False
    while proc.poll() is None:
        try:
            rss = root.memory_info().rss + sum(
                c.memory_info().rss for c in root.children(recursive=True) if c.is_running()
            )
            peak = max(peak, rss)
        except psutil.Error:
            pass
        if timeout and time.perf_counter() - start > timeout:
            for c in root.children(recursive=True):
                c.kill()
            proc.kill()
            timed_out = True
            break
        time.sleep(0.1)
    proc.wait()
    out_file.seek(0)
    output = out_file.read()
    result = {
        "seconds": round(time.perf_counter() - start, 1),
        "peak_mb": round(peak / 2**20),
        "rc": proc.returncode,
        "timed_out": timed_out,
    }
    if proc.returncode != 0 and not timed_out:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{output[-3000:]}")
    result["output"] = output
    return result


def last_run_stages(store: str) -> dict:
    from pipeline.store import Store

    counts = Store(store).query("SELECT counts FROM runs ORDER BY started_at DESC LIMIT 1")["counts"][0]
    return {k: v.get("seconds") for k, v in json.loads(counts).items() if isinstance(v, dict)}


def bertopic_worker(texts_file: Path) -> None:
    """In its own process: plain SentenceTransformer.encode, then BERTopic's defaults on those vectors."""
    import warnings

    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer
    from umap import UMAP

    from models.embedder import resolve_model_path

    warnings.filterwarnings("ignore")
    texts = json.loads(texts_file.read_text())
    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    t0 = time.perf_counter()
    X = model.encode(texts, batch_size=64, normalize_embeddings=True)
    embed_s = time.perf_counter() - t0
    print(json.dumps({"embed_s": round(embed_s, 1)}), flush=True)
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    t0 = time.perf_counter()
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings=X)
    fit_s = time.perf_counter() - t0
    print(json.dumps({"fit_s": round(fit_s, 1), "topics": len(set(topics)) - (-1 in topics)}), flush=True)


def run_size(
    n: int,
    pool: list,
    limit_s: float,
    work: Path,
    precision: str,
    postgres: str | None,
    bertopic: bool,
    fast: int | None = None,
) -> dict:
    """One size: ingest, full run, topic quality, a tenth week, the weekly run, BERTopic.
    ``fast``: run ``voc run --fast`` with this ``fast_fit_sample``."""
    # a PostgreSQL store: a schema of its own per size in the given database
    store = f"{postgres}?schema=scale_{n}" if postgres else str(work / f"voc-{n}-{precision}.duckdb")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PREFECT_HOME": str(work / "prefect"),
        "VOC_IDENTIFIER_KEY_FILE": str(work / "salt"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "VOC_EMBEDDING_PRECISION": precision,
        # the comparison is on the embeddings BERTopic gets (MiniLM); auto would pick e5 for this mix
        "VOC_EMBEDDING_MODEL": "all-MiniLM-L6-v2",
        **({"VOC_FAST_FIT_SAMPLE": str(fast)} if fast else {}),
    }
    base, week = work / f"base-{n}.jsonl", work / f"week-{n}.jsonl"
    texts, intents = write_messages(base, n, 0, 9, seed=n, pool=pool)
    _, week_intents = write_messages(week, n // 10, 9, 1, seed=n + 1, pool=pool)
    voc = [sys.executable, "-m", "voc.cli"]
    run = [*voc, "run", "--store", str(store), *(["--fast"] if fast else [])]
    row: dict = {
        "n": n,
        "precision": precision,
        "store": "postgres" if postgres else "duckdb",
        "distinct_texts": len(set(texts)),
        "fast_fit_sample": fast,
    }
    row["voc_ingest"] = _drop_output(measured([*voc, "ingest", str(base), "--store", str(store)], env))
    row["voc_run"] = _drop_output(measured(run, env))
    row["voc_run"]["stages"] = last_run_stages(store)
    row["topic_quality"] = topic_quality(store, intents)
    row["voc_week_ingest"] = _drop_output(measured([*voc, "ingest", str(week), "--store", str(store)], env))
    row["voc_week_run"] = _drop_output(measured(run, env))
    row["voc_week_run"]["stages"] = last_run_stages(store)
    row["topic_quality_after_week"] = topic_quality(store, {**intents, **week_intents})
    if not bertopic:
        return row
    texts_file = work / f"texts-{n}.json"
    texts_file.write_text(json.dumps(texts))
    bt = measured([sys.executable, "-m", "bench.scale", "--bertopic-worker", str(texts_file)], env, limit_s)
    parts = {}
    for line in bt.pop("output").splitlines():
        if line.startswith("{"):
            parts.update(json.loads(line))
    row["bertopic"] = {**bt, **parts}
    return row


def _drop_output(result: dict) -> dict:
    result.pop("output", None)
    return result


def table(rows: list[dict]) -> str:
    lines = [
        "| messages | embedding precision | voc ingest "
        "| voc run: embed / topics / sentiment / insights | peak "
        "| weekly run (+10%) | weekly / full | BERTopic: embed + fit | peak | voc run / BERTopic "
        "| embedding msg/s: voc / plain encode | topics vs intents: NMI |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        run, week, bt = r["voc_run"], r["voc_week_run"], r.get("bertopic")
        st = run["stages"]
        stages = " / ".join(f"{st.get(k)}" for k in ("embed", "topics", "sentiment", "insights"))
        if bt is None:
            bt, bt_text, ratio = {"peak_mb": 0}, "not run", "-"
        elif "fit_s" in bt:
            bt_total = bt["embed_s"] + bt["fit_s"]
            bt_text, ratio = (
                f"{bt['embed_s']} + {bt['fit_s']} = {bt_total:.0f} s",
                f"{run['seconds'] / bt_total:.2f}",
            )
        else:
            bt_text, ratio = f"not finished in {bt['seconds']:.0f} s", "-"
        on = " (PostgreSQL store)" if r.get("store") == "postgres" else ""
        on += f", fast (sample {r['fast_fit_sample']:,})" if r.get("fast_fit_sample") else ""
        nmi = r.get("topic_quality", {}).get("all", {}).get("nmi", "-")
        lines.append(
            f"| {r['n']:,} | {r.get('precision', 'float32')}{on} "
            f"| {r['voc_ingest']['seconds']} s | {run['seconds']} s: {stages} "
            f"| {run['peak_mb']:,} MB | {week['seconds']} s | {week['seconds'] / run['seconds']:.0%} "
            f"| {bt_text} | {bt['peak_mb']:,} MB | {ratio} "
            f"| {_rate(r['distinct_texts'], st.get('embed'))} / {_rate(r['n'], bt.get('embed_s'))} | {nmi} |"
        )
    return "\n".join(lines)


def _rate(n: int, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if seconds else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000")
    parser.add_argument("--bertopic-limit-s", type=float, default=1800)
    parser.add_argument("--precision", default="float32", help="voc's embedding_precision (float32, auto...)")
    parser.add_argument(
        "--postgres", help="run voc on a PostgreSQL store in this database (postgresql://…) instead of DuckDB"
    )
    parser.add_argument("--no-bertopic", action="store_true", help="measure voc only")
    parser.add_argument("--fast", action="store_true", help="voc run --fast (fast mode)")
    parser.add_argument("--fit-sample", type=int, default=40_000, help="fast mode's fast_fit_sample")
    parser.add_argument("--bertopic-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bertopic_worker:
        bertopic_worker(args.bertopic_worker)
        return
    pool = source_texts()
    work = Path(tempfile.mkdtemp(prefix="voc-bench-scale-"))
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        bertopic = not args.no_bertopic
        fast = args.fit_sample if args.fast else None
        rows.append(
            run_size(n, pool, args.bertopic_limit_s, work, args.precision, args.postgres, bertopic, fast)
        )
        print(json.dumps(rows[-1]), flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = (
            ("-fast" if args.fast else "")
            + ("-postgres" if args.postgres else "")
            + ("-voc-only" if args.no_bertopic else "")
        )
        name = f"scale-{args.precision}{suffix}.json"
        (RESULTS / name).write_text(json.dumps(rows, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
