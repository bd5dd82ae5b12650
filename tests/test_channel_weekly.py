"""Channels get a tested status, on conversations: a channel's messages come in clumps."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from bench.channel_status import draw
from pipeline import digest
from pipeline.channel_weekly import channel_statuses
from pipeline.insights import refresh_insights
from pipeline.store import Store

MONDAY = datetime(2026, 9, 7, 12, tzinfo=UTC)
# conversations a week per channel, and customer messages in each conversation
CONVERSATIONS = {
    "whatsapp": [40, 42, 38, 41, 40, 39, 41, 40],
    "email": [20, 19, 21, 20, 20, 21, 19, 20],
    "rcs": [10, 11, 9, 10, 10, 9, 11, 30],  # customers take to RCS in the last week
    "webchat": [15, 15, 16, 14, 15, 15, 14, 15],
}
MESSAGES_EACH = {"whatsapp": 2, "email": 1, "rcs": 1, "webchat": 1}


def _rows(chatty_last_week: bool = False) -> pd.DataFrame:
    rows = []
    for channel, per_week in CONVERSATIONS.items():
        for week, n in enumerate(per_week):
            each = 4 if chatty_last_week and channel == "webchat" and week == len(per_week) - 1 else 1
            rows.append((channel, (MONDAY + timedelta(weeks=week)).date(), n * each, n))
    return pd.DataFrame(rows, columns=["channel", "week", "messages", "conversations"])


def test_a_channel_customers_take_to_grows_and_one_whose_customers_write_more_does_not():
    table = channel_statuses(_rows(chatty_last_week=True))
    last = table[table["week"] == table["week"].max()].set_index("channel")
    assert last.loc["rcs", "status"] == "growing" and last.loc["rcs", "p_value"] < 0.05
    assert 8 < last.loc["rcs", "expected"] < 13 and last.loc["rcs", "conversations"] == 30
    # web chat's 15 conversations wrote 60 messages: more to answer, but no more customers
    assert last.loc["webchat", "messages"] == 60 and last.loc["webchat", "status"] == "stable"
    assert (last.loc[["whatsapp", "email"], "status"] == "stable").all()
    assert (table[table["week"] < table["week"].max()]["status"] == "stable").all()
    # counting messages instead reads web chat's long conversations as a surge
    rows = _rows(chatty_last_week=True)
    by_messages = channel_statuses(rows.assign(conversations=rows["messages"]))
    final = by_messages[by_messages["week"] == by_messages["week"].max()].set_index("channel")
    assert final.loc["webchat", "status"] == "growing"


def test_channels_drawn_at_fixed_weights_raise_few_alarms_on_conversations_many_on_messages():
    """bench.channel_status's null: the demo's channel weights, 1-4 messages a conversation."""
    rng = np.random.default_rng(1)
    alarms = {"conversations": 0, "messages": 0}
    for _ in range(20):
        rows = draw(rng)
        for count in alarms:
            tested = channel_statuses(rows.assign(conversations=rows[count]))
            alarms[count] += int((tested["status"] != "stable").sum())
    assert alarms["conversations"] <= 8 and alarms["messages"] >= 60  # 0.14 and 5.5 a replicate on 200


def test_the_brief_gives_each_channels_status_and_the_evidence_for_a_moved_one(tmp_path):
    store = Store(tmp_path / "c.duckdb").init()
    msgs = []
    for channel, per_week in CONVERSATIONS.items():
        for week, n in enumerate(per_week):
            for c in range(n):
                for i in range(MESSAGES_EACH[channel]):
                    mid = f"{channel}-w{week}-c{c}-{i}"
                    msgs.append(
                        {
                            "message_id": mid,
                            "conversation_id": f"{channel}-w{week}-c{c}",
                            "author_role": "customer",
                            "text": "x",
                            "text_hash": mid,
                            "is_customer": True,
                            "channel": channel,
                            "sent_at": MONDAY + timedelta(weeks=week, hours=c % 48, minutes=i),
                        }
                    )
    store.upsert("messages", pd.DataFrame(msgs))
    store.upsert("assignments", pd.DataFrame({"message_id": [m["message_id"] for m in msgs], "topic_id": 0}))
    assert refresh_insights(store, "r")["channel_weekly_rows"] == 4 * 8
    _, text = digest.build_digest(store)
    section = text.split("## Volume by channel")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert table[0].endswith("| vs last week | Status |")
    assert table[2] == "| whatsapp | 80 | 40 | -2% | stable |"  # two messages a conversation
    assert "| rcs | 30 | 30 | +173% | growing |" in table
    assert "- **rcs** is growing: 30 conversations this week against " in section
    assert "channels on their conversations" in text
