"""How findable each planted event of the weekly scenarios is in the encoder's space, beside whether the
run flagged it: are the misses the detector's, or are the event's messages not one another's
neighbours at all?

``python -m bench.detectability --results bench/results/uncovered-rises`` reads the scenario results
there (``bench.scenario``), rebuilds each scenario's weeks from its seed, embeds their texts with the
encoder the run used (``auto``: MiniLM for English, multilingual-e5-small otherwise) and, for every
planted event, looks at the messages that carry it in the pool the local shifts scan
(``pipeline.local_shifts``: the event's week and the ``BASELINE_WEEKS`` before it):

- ``same_request``: the median number of the same request's messages among a message's ``K``
  nearest in that pool. A new request has only its own week's messages to find (ten or so), a surge
  or a stop has four or five weeks of them.
- ``passing``: the share of those messages whose neighbours are this week's more often (appear,
  surge) or less often (stop) than the week's share of the pool predicts, by the local shifts'
  own per-message test at ``MESSAGE_ALPHA``: the messages a shift can be built from.

The carrying messages are the event week's for a new request or a surge, the earlier weeks' for a
stop (it is their neighbours this week that go missing). Texts are embedded as the generator wrote
them; ``voc run`` embeds them after redaction, which changes a few MASSIVE utterances (names,
places). The figures read no store and no topic: they say what any method reading these vectors
and counting neighbours has to work with.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench import datasets, scenario
from models.embedder import DEFAULT_MODEL
from models.multilingual_encoder import NAME as MULTILINGUAL
from pipeline.local_shifts import BASELINE_WEEKS, MESSAGE_ALPHA, K
from pipeline.neighbours import nearest
from pipeline.rate_test import one_sided_p

BANDS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # share of carriers passing: the table's rows


def encoder_for(source: datasets.LabelledSet) -> str:
    """The encoder ``embedding_model = "auto"`` gives a store of this set's messages (all one language)."""
    return DEFAULT_MODEL if source.language == "en" else MULTILINGUAL


def event_measures(
    X: np.ndarray, week: np.ndarray, intent: np.ndarray, event: scenario.Event
) -> dict[str, float | int]:
    """``same_request`` and ``passing`` (module docstring) for one event, from the scenario's unit vectors
    ``X`` with each message's week and intent."""
    at = event.first_week  # the week its status is read (a stop: the first week without it)
    pool = np.flatnonzero((week >= at - BASELINE_WEEKS) & (week <= at))
    now = (week[pool] == at).astype(np.int64)
    mine = intent[pool] == event.intent
    carriers = np.flatnonzero(mine & (now == 0 if event.kind == "stop" else now == 1))
    if len(carriers) == 0:
        return {"carriers": 0, "same_request": 0.0, "passing": 0.0}
    nn = nearest(X[pool], X[pool], K)[carriers]
    same = mine[nn].sum(axis=1)
    hits = now[nn].sum(axis=1)
    share = now.mean()
    p = one_sided_p(hits, K, share, -1 if event.kind == "stop" else 1)
    return {
        "carriers": int(len(carriers)),
        "same_request": float(np.median(same)),
        "passing": float((p < MESSAGE_ALPHA).mean()),
    }


def measure(results: Path, encoder: str | None = None, sources: list[str] | None = None) -> pd.DataFrame:
    """One row per planted event of every scenario result under ``results`` (of ``sources``, or all),
    in the space of ``encoder`` (default: the one each run used). Another encoder's figures say how
    much of what is missed it would leave findable; the flags stay the runs'."""
    files = sorted(results.glob("scenario-*.json"))
    runs = [json.loads(f.read_text()) for f in files]
    rows = []
    for name in sorted({r["source"] for r in runs} & set(sources or [r["source"] for r in runs])):
        source = scenario.load_source(name)
        built = {r["seed"]: scenario.build(source, r["seed"]) for r in runs if r["source"] == name}
        texts = sorted({t for frames, _ in built.values() for f in frames for t in f["text"]})
        vectors = datasets.cached_embeddings(texts, encoder or encoder_for(source))
        row_of = {t: i for i, t in enumerate(texts)}
        for r in (r for r in runs if r["source"] == name):
            frames, events = built[r["seed"]]
            weeks = pd.concat([f.assign(week=i + 1) for i, f in enumerate(frames)], ignore_index=True)
            X = vectors[[row_of[t] for t in weeks["text"]]]
            week = weeks["week"].to_numpy()
            intent = np.asarray(weeks["intent"].astype(str).tolist(), dtype=object)
            flagged = {(e["kind"], e["intent"]): e["detected_in_its_week"] for e in r["events"]}
            for event in events:
                rows.append(
                    {
                        "source": name,
                        "seed": r["seed"],
                        "kind": event.kind,
                        "intent": str(event.intent),
                        "week": event.first_week,
                        **event_measures(X, week, intent, event),
                        "flagged": bool(flagged[(event.kind, str(event.intent))]),
                    }
                )
    return pd.DataFrame(rows)


def summarize(table: pd.DataFrame) -> str:
    """Markdown: events flagged by their week's run / events, by the share of their carriers passing."""
    kinds = ("appear", "surge", "stop")
    lines = [
        "| carriers passing | " + " | ".join(kinds) + " | all |",
        "|---|" + "---|" * (len(kinds) + 1),
    ]
    band = pd.cut(table["passing"], BANDS, labels=False, include_lowest=True)
    for i, rows in table.groupby(band):
        cells = [rows[rows["kind"] == k] for k in kinds] + [rows]
        counts = " | ".join(f"{int(c['flagged'].sum())}/{len(c)}" for c in cells)
        lines.append(f"| {BANDS[int(i)]:.0%}-{BANDS[int(i) + 1]:.0%} | {counts} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="How findable each planted scenario event is.")
    parser.add_argument("--results", type=Path, default=Path("bench/results/uncovered-rises"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/detectability.json"))
    parser.add_argument("--encoder", help="embed with this model instead of the runs' (what-if)")
    parser.add_argument("--sources", nargs="*", help="only these scenario sources")
    args = parser.parse_args()
    table = measure(args.results, args.encoder, args.sources)
    args.out.write_text(table.to_json(orient="records", indent=1))
    print(summarize(table))
    print()
    means = table.groupby(["source", "kind"])[["same_request", "passing", "flagged"]].mean()
    print(means.round(2).to_string())


if __name__ == "__main__":
    main()
