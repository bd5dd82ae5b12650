"""A store of synthetic conversations with their topics given: for the tests of what is read per
conversation (CSAT impact, how conversations ended) without a model in the way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipeline.store import Store

START = datetime(2026, 9, 7, 9, tzinfo=UTC)  # a Monday


def conversation_store(
    path: Path,
    conversations: list[tuple[int, list[int], dict | None]],
    labels: dict[int, str] | None = None,
    sentiment: dict[int, tuple[str, float, float]] | None = None,
) -> Store:
    """One conversation per (week from ``START``, customer turns' topics in order, conversation
    metadata), an agent reply after each turn. ``labels`` name the topics (and write the texts);
    ``sentiment`` gives a topic's turns their (label, score, p_negative), other turns neutral."""
    messages, assignments, scored, convs = [], [], [], []
    for c, (week, turns, metadata) in enumerate(conversations):
        cid = f"c{c:03d}"
        if metadata is not None:
            convs.append({"conversation_id": cid, "metadata": json.dumps(metadata)})
        for k, topic in enumerate(turns):
            for role in ("customer", "agent"):
                mid = f"{cid}-{k}-{role}"
                at = START + timedelta(weeks=week, hours=c % 100, minutes=10 * k + (role == "agent"))
                said = (
                    f"{(labels or {}).get(topic, mid)} ({cid})" if role == "customer" else "How can I help?"
                )
                messages.append(
                    {
                        "message_id": mid,
                        "conversation_id": cid,
                        "author_role": role,
                        "text": said,
                        "text_hash": mid,
                        "is_customer": role == "customer",
                        "sent_at": at,
                    }
                )
                if role == "customer":
                    assignments.append({"message_id": mid, "topic_id": topic, "probability": 1.0})
                    if sentiment is not None:
                        label, score, p_negative = sentiment.get(topic, ("neutral", 0.0, 0.1))
                        scored.append(
                            {"message_id": mid, "label": label, "score": score, "p_negative": p_negative}
                        )
    store = Store(path).init()
    store.upsert("messages", pd.DataFrame(messages))
    store.upsert("assignments", pd.DataFrame(assignments))
    if convs:
        store.upsert("conversations", pd.DataFrame(convs))
    if scored:
        store.upsert("sentiment", pd.DataFrame(scored))
    if labels:
        store.upsert("topics", pd.DataFrame([{"topic_id": t, "label": n} for t, n in labels.items()]))
    return store
