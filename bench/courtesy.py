"""How the courtesy rule reads stores a run left: which topics it sets aside, and how far the rest are.

    python -m bench.courtesy STORE... [--out FILE]

For each store (a DuckDB file a ``voc run`` wrote), every topic's sample is read as the run reads it
(``pipeline.courtesy.courtesy_topics``): its content-free share, whether it is a courtesy topic, and
whether it is a closing topic already (``pipeline.endings``). Reported per store: the courtesy topics
beside the closing ones and the customer messages they hold, the lowest share among them, and the
highest share among the topics left as they were, with the topics above 10% named. The rule has no
labelled answer to score against; the margin between the two groups is what these figures show.

And the themes the store's fit gave: how many hold requests beside closing or courtesy topics
(``mixed_themes``), and which theme of requests bears a name word that none of its requests has among
its label and keywords but a closing or courtesy topic has (``borrowed_names``: as the demo's "account
/ ask" took "ask" from "the third time I ask").
Writes bench/results/courtesy.json.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from bench import environment
from models.topic_model import DEFAULT_SPACY
from pipeline import courtesy, endings
from pipeline.store import Store


def read_store(path: str) -> dict:
    """The courtesy reading of one store, summed up (see the module's docstring)."""
    store = Store(path)
    topics = courtesy.courtesy_topics(store, DEFAULT_SPACY)
    closing = set(endings.closing_topics(store))
    labels = store.query("SELECT topic_id, label FROM topics").set_index("topic_id")["label"]
    sizes = store.query(
        "SELECT a.topic_id, count(*) AS n FROM assignments a JOIN messages m USING (message_id) "
        "WHERE m.is_customer GROUP BY 1"
    ).set_index("topic_id")["n"]
    themes = _themes(store, {*closing, *topics.loc[topics["courtesy"], "topic_id"].astype(int)})
    topics["share"] = topics["content_free"] / topics["sampled"]
    topics["closing"] = topics["topic_id"].isin(closing)
    polite = topics[topics["courtesy"] & ~topics["closing"]]
    rest = topics[~topics["courtesy"]]
    return {
        "store": path,
        "topics": len(topics),
        "closing_topics": len(closing),
        "courtesy_topics": len(polite),
        "courtesy_messages": int(sizes.reindex(polite["topic_id"]).fillna(0).sum()),
        "customer_messages": int(sizes.sum()),
        "lowest_courtesy_share": round(float(topics[topics["courtesy"]]["share"].min()), 3)
        if topics["courtesy"].any()
        else None,
        "highest_other_share": round(float(rest["share"].max()), 3) if len(rest) else None,
        "others_above_10_percent": {
            str(labels.get(r.topic_id, r.topic_id)): round(float(r.share), 3)
            for r in rest[rest["share"] > 0.1].sort_values("share", ascending=False).itertuples()
        },
        "courtesy": {
            str(labels.get(r.topic_id, r.topic_id)): round(float(r.share), 3)
            for r in polite.sort_values("share").itertuples()
        },
        **themes,
    }


def _words(topics) -> set[str]:
    said = " ".join([*topics["label"], *(" ".join(k) for k in topics["keywords"])]).lower()
    return set(re.findall(r"\w+", said))


def _themes(store: Store, aside: set[int]) -> dict:
    """Themes holding requests beside set-aside topics, and theme names with a set-aside topic's word
    that none of the theme's requests has."""
    topics = store.query(
        "SELECT topic_id, label, keywords, theme_label FROM topics "
        "WHERE topic_id >= 0 AND state != 'merged' AND theme_label IS NOT NULL"
    )
    topics["aside"] = topics["topic_id"].isin(aside)
    theirs = _words(topics[topics["aside"]])
    mixed, borrowed = [], {}
    for name, group in topics.groupby("theme_label"):
        requests = group[~group["aside"]]
        if requests.empty:
            continue
        if group["aside"].any():
            mixed.append(str(name))
        ours = _words(requests)
        missing = [w for w in re.findall(r"\w+", str(name).lower()) if w in theirs and w not in ours]
        if missing:
            borrowed[str(name)] = missing
    request_themes = topics.loc[~topics["aside"], "theme_label"].nunique()
    return {"request_themes": int(request_themes), "mixed_themes": mixed, "borrowed_names": borrowed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--out", default="bench/results/courtesy.json")
    args = parser.parse_args()
    results = []
    for path in args.stores:
        result = read_store(path)
        print(
            f"{path}: {result['courtesy_topics']} courtesy topics beside {result['closing_topics']} closing "
            f"({result['courtesy_messages']} of {result['customer_messages']} customer messages); lowest "
            f"courtesy share {result['lowest_courtesy_share']}, "
            f"highest other {result['highest_other_share']}; {len(result['mixed_themes'])} of "
            f"{result['request_themes']} themes of requests hold set-aside topics too; names with a "
            f"set-aside topic's word: {result['borrowed_names']}",
            flush=True,
        )
        results.append(result)
    out = {"share": courtesy.COURTESY_SHARE, "sample": courtesy.SAMPLE, "stores": results,
           "environment": environment.describe()}  # fmt: skip
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
