"""Taxonomy overrides: people's decisions about topics (rename, pin a label, merge) that runs respect.

A decision is stored once, with who made it and when, and applied again after every run in the order
it was made, so a re-fit that relabels or re-creates topics cannot undo it:

- ``rename``: the topic shows the given label from now on;
- ``pin``: the topic keeps the label it has now, whatever later fits call it;
- ``merge``: every message of the topic moves to the target topic, the topic is marked ``merged``
  (its id is never reused) and the merge is written to the topic lineage.
"""

from __future__ import annotations

import getpass
import uuid
from datetime import UTC, datetime

import pandas as pd

from pipeline.insights import refresh_insights
from pipeline.store import Store, execute

ACTIONS = ("rename", "pin", "merge")


class OverrideError(ValueError):
    """A decision that cannot be applied (unknown topic, merge into itself...)."""


def _topic(con, topic_id: int) -> tuple[str, str, int | None]:
    row = execute(con, "SELECT label, state, merged_into FROM topics WHERE topic_id = ?", [topic_id])
    if not row or topic_id < 0:
        raise OverrideError(f"topic {topic_id} does not exist (see `voc topics list`)")
    label, state, into = row[0]
    return label, state or "active", into


def _final_target(con, topic_id: int) -> int:
    """Follow merges: a topic merged into a topic that was merged in turn ends at the last one."""
    seen = set()
    while topic_id not in seen:
        seen.add(topic_id)
        _, state, into = _topic(con, topic_id)
        if state != "merged" or into is None:
            return topic_id
        topic_id = int(into)
    raise OverrideError(f"merge cycle through topic {topic_id}")


def record_decision(
    store: Store,
    action: str,
    topic_id: int,
    *,
    label: str | None = None,
    target: int | None = None,
    decided_by: str | None = None,
    note: str | None = None,
) -> dict:
    """Validate and store one decision, then apply all of them; returns the stored decision."""
    if action not in ACTIONS:
        raise OverrideError(f"unknown action {action!r} (choose from {', '.join(ACTIONS)})")
    with store.connect() as con:
        current, state, into = _topic(con, topic_id)
        if state == "merged":
            raise OverrideError(f"topic {topic_id} was merged into topic {into}; act on that one")
        if action == "rename":
            label = (label or "").strip()
            if not label:
                raise OverrideError("rename needs a non-empty label")
        elif action == "pin":
            label = current
        else:
            if target is None:
                raise OverrideError("merge needs a target topic")
            target = _final_target(con, int(target))
            if target == topic_id:
                raise OverrideError(f"cannot merge topic {topic_id} into itself")
            label = None
        decision = {
            "decision_id": uuid.uuid4().hex[:12],
            "action": action,
            "topic_id": int(topic_id),
            "target_topic_id": target if action == "merge" else None,
            "label": label,
            "decided_by": decided_by or getpass.getuser(),
            "decided_at": datetime.now(UTC),
            "note": note,
        }
        store.upsert("topic_overrides", pd.DataFrame([decision]), con=con)
    run_id = f"override-{decision['decision_id']}"
    apply_overrides(store, run_id)
    if action == "merge":  # messages moved: the weekly table and impact must not show the old topic
        refresh_insights(store, run_id)
    return decision


def apply_overrides(store: Store, run_id: str) -> int:
    """Apply every stored decision, oldest first (idempotent); returns how many there are."""
    with store.connect() as con:
        decisions = con.execute("SELECT * FROM topic_overrides ORDER BY decided_at, decision_id").df()
        if decisions.empty:
            return 0
        execute(con, "BEGIN TRANSACTION")
        for d in decisions.itertuples():
            topic = int(d.topic_id)
            if not execute(con, "SELECT 1 FROM topics WHERE topic_id = ?", [topic]):
                continue  # a decision about a topic no longer in the store (e.g. store rebuilt)
            if d.action in ("rename", "pin"):
                execute(
                    con,
                    "UPDATE topics SET label = ?, label_source = ? WHERE topic_id = ?",
                    [d.label, "renamed" if d.action == "rename" else "pinned", topic],
                )
            elif d.action == "merge":
                _apply_merge(con, d, run_id)
        execute(con, "COMMIT")
    return len(decisions)


def _apply_merge(con, d, run_id: str) -> None:
    topic = int(d.topic_id)
    target = _final_target(con, int(d.target_topic_id))
    if target == topic:
        return
    moved = execute(con, "UPDATE assignments SET topic_id = ? WHERE topic_id = ?", [target, topic])[0][0]
    _move_counts(con, topic, target, run_id)
    execute(
        con,
        "UPDATE topics SET state = 'merged', merged_into = ?, size = 0 WHERE topic_id = ?",
        [target, topic],
    )
    execute(
        con,
        "UPDATE topics SET size = (SELECT count(*) FROM assignments WHERE topic_id = ?) WHERE topic_id = ?",
        [target, target],
    )
    first = not execute(con, "SELECT 1 FROM topic_lineage WHERE event_id = ?", [f"override:{d.decision_id}"])
    if first or moved:
        execute(
            con,
            "INSERT OR REPLACE INTO topic_lineage VALUES (?, ?, 'merged', ?, ?, ?, ?, ?)",
            [
                f"override:{d.decision_id}" if first else f"{run_id}:merged:{topic}",
                run_id,
                topic,
                target,
                int(moved),
                f"into {target} by {d.decided_by}" + (f": {d.note}" if d.note else ""),
                datetime.now(UTC),
            ],
        )


def _move_counts(con, topic: int, target: int, run_id: str) -> None:
    """Add the last run's weekly counts of ``topic`` (``topic_counts``) to ``target``'s, so the status
    test of the topic it joined sees them until the next run counts the weeks anew. Read, summed and
    written back as plain statements: the same on a DuckDB file and an attached PostgreSQL schema.
    Decisions are re-applied after every run, which counts no merged topic: then nothing moves, and
    the joined topic's rows are left as that run wrote them. A conversation with messages in both
    topics that week is counted twice until then (the rows hold counts, not conversations)."""
    if not execute(con, "SELECT 1 FROM topic_counts WHERE topic_id = ? LIMIT 1", [topic]):
        return
    rows = execute(
        con,
        "SELECT week, sum(messages), sum(conversations) FROM topic_counts WHERE topic_id IN (?, ?) "
        "GROUP BY week ORDER BY week",
        [topic, target],
    )
    execute(con, "DELETE FROM topic_counts WHERE topic_id IN (?, ?)", [topic, target])
    con.executemany(
        "INSERT INTO topic_counts (topic_id, week, messages, conversations, run_id) VALUES (?, ?, ?, ?, ?)",
        [[target, week, int(n), None if c is None else int(c), run_id] for week, n, c in rows],
    )


def merge_targets(store: Store) -> frozenset[int]:
    """Topics people merged others into: re-fits must not split them apart again."""
    with store.connect(read_only=True) as con:
        rows = execute(con, "SELECT DISTINCT target_topic_id FROM topic_overrides WHERE action = 'merge'")
        targets = set()
        for (t,) in rows:
            try:
                targets.add(_final_target(con, int(t)))
            except OverrideError:
                continue
    return frozenset(targets)


def topic_list(store: Store, include_merged: bool = False) -> pd.DataFrame:
    """Topics with their state, size and where the label comes from (auto, renamed, pinned)."""
    where = "" if include_merged else "AND coalesce(state, 'active') != 'merged'"
    return store.query(
        f"""
        SELECT topic_id, label, label_source, state, merged_into, size, theme_label, auto_label
        FROM topics WHERE topic_id >= 0 {where}
        ORDER BY state = 'merged', size DESC, topic_id
        """
    )


def history(store: Store, topic_id: int | None = None) -> pd.DataFrame:
    """Lineage events and decisions, newest first (optionally for one topic)."""
    where = "WHERE topic_id = ? OR related_topic_id = ?" if topic_id is not None else ""
    params = [topic_id, topic_id] if topic_id is not None else []
    return store.query(
        f"""
        SELECT happened_at, event, topic_id, related_topic_id, messages, detail, run_id
        FROM topic_lineage {where} ORDER BY happened_at DESC, event_id
        """,
        params,
    )
