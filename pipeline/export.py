"""CSV exports of the store: messages with topic and sentiment, weekly stats of topics, themes and
channels, quarantine."""

from __future__ import annotations

from pathlib import Path

from pipeline.store import Store

MESSAGES_SQL = """
SELECT m.message_id, m.conversation_id, m.channel, m.author_role,
       strftime(m.sent_at, '%Y-%m-%dT%H:%M:%SZ') AS sent_at, m.language, m.text,
       a.topic_id, t.label AS topic_label, s.label AS sentiment_label, s.score AS sentiment_score,
       m.metadata
FROM messages m
LEFT JOIN assignments a USING (message_id)
LEFT JOIN topics t ON t.topic_id = a.topic_id
LEFT JOIN sentiment s USING (message_id)
ORDER BY m.conversation_id, m.sent_at NULLS LAST, m.message_id
"""

WEEKLY_SQL = """
SELECT strftime(w.week, '%Y-%m-%d') AS week, w.topic_id, t.label AS topic_label, w.messages, w.conversations,
       w.share, w.previous_messages, w.change, w.tested_conversations, w.baseline, w.expected,
       w.change_vs_baseline, w.sentiment, w.sentiment_change, w.sentiment_baseline, w.sentiment_q,
       w.negative_share, w.channels, w.status, w.p_value, w.part_messages, w.part_conversations,
       w.part_expected,
       w.status_test, w.trend_factor, w.trend_from, w.trend_to, w.trend_weeks, w.trend_q
FROM weekly_stats w LEFT JOIN topics t USING (topic_id)
ORDER BY w.week, w.messages DESC, w.topic_id
"""

THEMES_SQL = """
SELECT strftime(week, '%Y-%m-%d') AS week, theme_id, theme_label, messages, tested_conversations,
       previous_messages, baseline, expected, change_vs_baseline, status, status_test, p_value,
       trend_factor, trend_from, trend_to, trend_weeks, trend_q, sentiment, sentiment_baseline, sentiment_q,
       sentiment_within, sentiment_conversations
FROM theme_weekly
ORDER BY week, messages DESC, theme_id
"""

CHANNELS_SQL = """
SELECT strftime(week, '%Y-%m-%d') AS week, channel, messages, conversations, previous_conversations, baseline,
       expected, change_vs_baseline, status, status_test, p_value, trend_factor, trend_from, trend_to,
       trend_weeks, trend_q
FROM channel_weekly
ORDER BY week, conversations DESC, channel
"""

QUARANTINE_SQL = """
SELECT source_file, source_line, field, reason, raw, quarantined_at
FROM quarantine ORDER BY source_file, source_line
"""

EXPORTS = {
    "messages": MESSAGES_SQL,
    "weekly": WEEKLY_SQL,
    "themes": THEMES_SQL,
    "channels": CHANNELS_SQL,
    "quarantine": QUARANTINE_SQL,
}


def export(store: Store, what: str, out: Path) -> int:
    """Write one export as CSV; returns the number of rows."""
    if what not in EXPORTS:
        raise ValueError(f"unknown export {what!r} (choose from {', '.join(EXPORTS)})")
    frame = store.query(EXPORTS[what])
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return len(frame)
