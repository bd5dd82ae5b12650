"""Week-by-week runs through the real CLI: ids hold, a new theme is flagged, people's decisions survive.

Four weeks of Banking77 conversations (bench/scenario.py, 8 steady intents, two that start in week 4)
are loaded one week at a time with `voc ingest` + `voc run`, as a scheduled weekly run would.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.store import Store


def _voc(*args: str) -> str:
    from voc.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"voc {' '.join(args)}: {result.output}\n{result.exception!r}"
    return result.output


STATUSES = {"emerging", "growing", "declining", "stable", "dormant"}


def _export(what: str, weeks: dict, columns: set[str]) -> pd.DataFrame:
    """``voc export WHAT`` of the scenario's store, read back: it has ``columns`` and every status is
    one of the rule's."""
    out = weeks["tmp"] / f"{what}.csv"
    _voc("export", what, "--store", str(weeks["path"]), "--out", str(out))
    frame = pd.read_csv(out)
    assert columns <= set(frame.columns)
    assert set(frame["status"]) <= STATUSES
    return frame


@pytest.fixture(scope="module")
def weeks(tmp_path_factory, prefect_server):
    from bench.scenario import build, load_source

    frames, events = build(
        load_source("banking77"), seed=3, weeks=4, background=8, appear_week=4, surge_week=99, stop_after=99
    )
    tmp = tmp_path_factory.mktemp("weekly")
    store = tmp / "voc.duckdb"
    files = []
    for w, frame in enumerate(frames, start=1):
        path = tmp / f"week_{w}.jsonl"
        frame.drop(columns=["intent"]).to_json(path, orient="records", lines=True)
        files.append(path)
    for path in files[:3]:
        _voc("ingest", str(path), "--store", str(store))
        _voc("run", "--store", str(store))
    s = Store(store)
    before = s.query("SELECT message_id, topic_id FROM assignments").set_index("message_id")["topic_id"]
    topics = s.query(
        "SELECT topic_id, label, size FROM topics WHERE topic_id >= 0 AND state = 'active' ORDER BY size DESC"
    )
    renamed, pinned = int(topics.topic_id.iloc[0]), int(topics.topic_id.iloc[1])
    merged, into = int(topics.topic_id.iloc[-1]), int(topics.topic_id.iloc[-2])
    _voc("topics", "rename", str(renamed), "Card arrival", "--store", str(store), "--by", "cco")
    _voc("topics", "pin", str(pinned), "--store", str(store))
    _voc("topics", "merge", str(merged), str(into), "--store", str(store), "--note", "same thing")
    _voc("ingest", str(files[3]), "--store", str(store))
    _voc("run", "--refit", "--store", str(store))  # the hardest case: a full re-fit after the decisions
    return {
        "store": s,
        "path": store,
        "tmp": tmp,
        "before": before,
        "labels": topics.set_index("topic_id")["label"],
        "renamed": renamed,
        "pinned": pinned,
        "merged": merged,
        "into": into,
        "frames": frames,
        "appearing": [e.intent for e in events if e.kind == "appear"],
    }


def test_earlier_messages_keep_their_topic_ids(weeks):
    from bench.scenario import ids_kept

    s = weeks["store"]
    after = s.query("SELECT message_id, topic_id FROM assignments").set_index("message_id")["topic_id"]
    before = weeks["before"]
    moved_by_people = before == weeks["merged"]
    # "messages already assigned keep their topic": counted over those in a topic (the benchmark's
    # measure), since an earlier outlier may be taken in by a topic the re-fit finds (on the install of
    # 2026-11-27, 30 of the 47 earlier outliers: 92% of all earlier messages kept their id, 100% of
    # those in a topic)
    _, kept_in_topic = ids_kept(before[~moved_by_people], after)
    assert kept_in_topic >= 0.95
    assert (after.reindex(before.index)[moved_by_people] == weeks["into"]).all()


def test_people_decisions_survive_a_refit(weeks):
    s = weeks["store"]
    topics = s.query("SELECT * FROM topics").set_index("topic_id")
    assert topics.loc[weeks["renamed"], "label"] == "Card arrival"
    assert topics.loc[weeks["renamed"], "label_source"] == "renamed"
    assert topics.loc[weeks["pinned"], "label"] == weeks["labels"][weeks["pinned"]]
    assert topics.loc[weeks["pinned"], "label_source"] == "pinned"
    assert topics.loc[weeks["merged"], "state"] == "merged"
    assert int(topics.loc[weeks["merged"], "merged_into"]) == weeks["into"]
    assert s.query("SELECT count(*) AS n FROM assignments WHERE topic_id = ?", [weeks["merged"]])["n"][0] == 0
    lineage = s.query("SELECT event, topic_id, related_topic_id, detail FROM topic_lineage")
    merge = lineage[(lineage.event == "merged") & (lineage.topic_id == weeks["merged"])]
    assert len(merge) == 1 and "same thing" in merge["detail"].iloc[0]
    assert (lineage.event == "refit").sum() >= 2  # the first fit and the requested one
    out = _voc("topics", "list", "--merged", "--store", str(weeks["path"]))
    assert "Card arrival" in out and f"merged into {weeks['into']}" in out


def test_a_theme_that_starts_this_week_is_flagged(weeks):
    s = weeks["store"]
    last = weeks["frames"][3]
    ids = last[last["intent"].isin(weeks["appearing"])]["message_id"].tolist()
    assigned = s.query(
        "SELECT message_id, topic_id FROM assignments WHERE message_id IN (SELECT unnest(?))", [ids]
    )
    carrier = int(assigned["topic_id"].mode().iloc[0])
    assert carrier >= 0
    status = s.query(
        "SELECT status FROM weekly_stats WHERE topic_id = ? AND week = (SELECT max(week) FROM weekly_stats)",
        [carrier],
    )["status"].iloc[0]
    assert status in {"emerging", "growing"}


def test_weekly_export_and_digest_carry_the_statuses(weeks):
    path, tmp = weeks["path"], weeks["tmp"]
    weekly = _export(
        "weekly",
        weeks,
        {
            "status",
            "expected",
            "tested_conversations",
            "change_vs_baseline",
            "sentiment_change",
            "sentiment_baseline",
            "sentiment_q",
            "channels",
            "status_test",
            "trend_factor",
            "trend_q",
        },
    )
    assert any(json.loads(c) for c in weekly["channels"].dropna())  # {"webchat": 3, ...}
    _voc("digest", "--store", str(path), "--out", str(tmp / "brief.md"), "--html", str(tmp / "brief.html"))
    brief = (tmp / "brief.md").read_text()
    for section in ("# Voice of the customer", "## Top themes", "## Top topics", "## Emerging and growing",
                    "## Volume by channel"):  # fmt: skip
        assert section in brief
    assert "Card arrival" in brief  # the label people chose is the one the CCO reads
    # the themes and topics tables hold the messages in a topic: the headline says how many are not
    week = brief.split("week of ", 1)[1][:10]
    this_week = weekly[weekly["week"].astype(str).str[:10] == week]
    unassigned = int(this_week.loc[this_week["topic_id"] < 0, "messages"].sum())
    total = int(this_week["messages"].sum())
    assert unassigned > 0  # four weeks of Banking77 leave some messages in no topic
    assert f"- {unassigned:,} customer messages ({unassigned / total:.0%}) fit no topic yet" in brief
    # each topic flagged up shows the weeks its flag comes from, this week last, as the test counted them
    movers = this_week[this_week["status"].isin(["emerging", "growing"]) & (this_week["topic_id"] >= 0)]
    assert len(movers)
    for topic in movers["topic_id"]:
        rows = weekly[(weekly["topic_id"] == topic) & (weekly["week"].astype(str).str[:10] <= week)]
        rows = rows.sort_values("week").tail(8)
        counts = [str(int(n)) for n in rows["tested_conversations"].fillna(rows["conversations"])]
        trail = " → ".join(counts[:-1] + [f"**{counts[-1]}**"])
        assert f"Conversations week by week, the last {len(counts)}: {trail}" in brief
    html = (tmp / "brief.html").read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "<blockquote>" in html
    # themes carry a tested status too, exported week by week; the brief's themes table gives it
    themes = _export(
        "themes",
        weeks,
        {
            "week",
            "theme_id",
            "theme_label",
            "messages",
            "expected",
            "status",
            "status_test",
            "trend_q",
            "sentiment",
            "sentiment_baseline",
            "sentiment_q",
            "sentiment_within",
        },
    )
    assert (
        themes["sentiment"].dropna().between(-1, 1).all()
        and themes["sentiment_q"].dropna().between(0, 1).all()
    )
    assert themes["week"].nunique() == weekly["week"].nunique()
    # and channels, tested on their conversations
    columns = {"week", "channel", "messages", "conversations", "expected", "status", "trend_q"}
    channels = _export("channels", weeks, columns)
    assert (channels["messages"] >= channels["conversations"]).all()
    assert "| Conversations | vs last week | Status |" in brief
    assert "| Sentiment | Status |" in brief


def test_no_week_is_scanned_for_local_shifts_before_it_has_a_full_baseline(weeks):
    """Four weeks: none has the 4 earlier weeks a local shift is measured against."""
    s = weeks["store"]
    counts = json.loads(
        s.query("SELECT counts FROM runs WHERE status = 'completed' ORDER BY started_at DESC LIMIT 1")[
            "counts"
        ][0]
    )["topics"]
    assert counts["weeks_scanned"] == 0 and counts["shifts"] == 0
    assert s.query("SELECT count(*) AS n FROM week_shifts")["n"][0] == 0


def test_every_week_is_counted_under_the_last_runs_topics(weeks):
    """The status test's counts (``topic_counts``): each week's messages that some topic holds, each
    counted once, under a topic live after the last run (not the one people merged away); the weekly
    rows carry them beside the messages each topic holds."""
    from pipeline.store import MESSAGE_WEEK

    s = weeks["store"]
    counted = s.query("SELECT week, sum(messages) AS n FROM topic_counts GROUP BY week ORDER BY week")
    held = s.query(
        f"SELECT {MESSAGE_WEEK} AS week, count(*) AS n FROM assignments a JOIN messages m USING (message_id) "
        "WHERE a.topic_id >= 0 GROUP BY ALL ORDER BY week"
    )
    assert counted["n"].tolist() == held["n"].tolist() and len(counted) == 4
    live = s.query("SELECT topic_id FROM topics WHERE state <> 'merged' AND topic_id >= 0")["topic_id"]
    assert s.query("SELECT DISTINCT topic_id FROM topic_counts")["topic_id"].isin(live).all()
    assert weeks["merged"] not in set(s.query("SELECT topic_id FROM topic_counts")["topic_id"])
    rows = s.query(
        "SELECT w.conversations, w.tested_conversations, coalesce(c.conversations, 0) AS counted, "
        "coalesce(c.messages, 0) AS counted_messages FROM weekly_stats w "
        "LEFT JOIN topic_counts c USING (topic_id, week) WHERE w.topic_id >= 0"
    )
    assert (rows["tested_conversations"] == rows["counted"]).all()  # the test counts conversations
    assert (rows["counted"] <= rows["counted_messages"]).all()
    # a count of its own, not the assignments
    assert (rows["tested_conversations"] != rows["conversations"]).any()
