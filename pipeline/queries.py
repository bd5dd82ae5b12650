"""Read-only queries over the store, shared by the dashboard pages and the weekly digest (testable)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.store import Store

SENTIMENTS = ("negative", "neutral", "positive")


def weeks(store: Store) -> list[str]:
    frame = store.query("SELECT DISTINCT strftime(week, '%Y-%m-%d') AS week FROM weekly_stats ORDER BY week")
    return frame["week"].tolist()


def week_topics(store: Store, week: str) -> pd.DataFrame:
    """Topics of one week by volume, with change, sentiment and status."""
    return store.query(
        """
        SELECT w.topic_id, coalesce(t.label, 'topic ' || w.topic_id) AS topic,
               coalesce(t.theme_label, '(unassigned)') AS theme, w.messages, w.conversations,
               w.share, w.previous_messages, w.change, w.baseline, w.expected, w.change_vs_baseline,
               w.sentiment, w.sentiment_change, w.negative_share, w.channels, w.status, w.p_value
        FROM weekly_stats w LEFT JOIN topics t USING (topic_id)
        WHERE w.week = CAST(? AS DATE)
        ORDER BY w.messages DESC, w.topic_id
        """,
        [week],
    )


def headline(store: Store, week: str) -> dict[str, float | int | None]:
    """Conversations, customer messages and share negative this week and the week before."""
    frame = store.query(
        """
        WITH m AS (
            SELECT CAST(date_trunc('week', coalesce(m.sent_at, m.ingested_at)) AS DATE) AS week,
                   m.conversation_id, m.is_customer, s.label
            FROM messages m LEFT JOIN sentiment s USING (message_id)
        )
        SELECT week, count(DISTINCT conversation_id) AS conversations,
               count(*) FILTER (WHERE is_customer) AS customer_messages,
               avg(CASE WHEN label = 'negative' THEN 1.0 WHEN label IS NOT NULL THEN 0.0 END)
                   AS negative_share
        FROM m WHERE week IN (CAST(? AS DATE), CAST(? AS DATE) - INTERVAL 7 DAY)
        GROUP BY week ORDER BY week DESC
        """,
        [week, week],
    )
    now = frame.iloc[0].to_dict() if len(frame) and str(frame.iloc[0]["week"])[:10] == week else {}
    before = frame.iloc[-1].to_dict() if len(frame) == 2 else {}
    return {
        "conversations": now.get("conversations", 0),
        "customer_messages": now.get("customer_messages", 0),
        "negative_share": now.get("negative_share"),
        "prev_conversations": before.get("conversations"),
        "prev_customer_messages": before.get("customer_messages"),
        "prev_negative_share": before.get("negative_share"),
    }


def theme_summary(store: Store, week: str) -> pd.DataFrame:
    """Themes of one week: topics, customer messages, change vs last week, volume-weighted sentiment."""
    return store.query(
        """
        SELECT coalesce(t.theme_label, '(unassigned)') AS theme, count(*) AS topics,
               CAST(sum(w.messages) AS INTEGER) AS messages, sum(w.share) AS share,
               sum(w.messages) / nullif(sum(coalesce(w.previous_messages, 0)), 0) - 1 AS change,
               sum(w.sentiment * w.messages) / nullif(sum(w.messages) FILTER (w.sentiment IS NOT NULL), 0)
                   AS sentiment
        FROM weekly_stats w LEFT JOIN topics t USING (topic_id)
        WHERE w.week = CAST(? AS DATE) AND w.topic_id >= 0 AND w.messages > 0
        GROUP BY 1 ORDER BY messages DESC, theme
        """,
        [week],
    )


def channel_volume(store: Store, week: str) -> pd.DataFrame:
    """Customer messages and conversations per channel this week, and messages the week before."""
    return store.query(
        """
        WITH m AS (
            SELECT coalesce(channel, 'unknown') AS channel, conversation_id,
                   CAST(date_trunc('week', coalesce(sent_at, ingested_at)) AS DATE) AS week
            FROM messages WHERE is_customer
        )
        SELECT channel, count(*) FILTER (week = CAST(? AS DATE)) AS messages,
               count(DISTINCT conversation_id) FILTER (week = CAST(? AS DATE)) AS conversations,
               count(*) FILTER (week = CAST(? AS DATE) - INTERVAL 7 DAY) AS previous_messages
        FROM m GROUP BY 1 HAVING messages > 0 OR previous_messages > 0
        ORDER BY messages DESC, channel
        """,
        [week, week, week],
    )


def week_verbatims(store: Store, week: str, topic_ids: list[int], per_topic: int = 3) -> pd.DataFrame:
    """Customers' own words from that week: the most typical distinct messages of each topic."""
    if not topic_ids:
        return pd.DataFrame(columns=["topic_id", "text", "channel", "sentiment"])
    return store.query(
        """
        WITH ranked AS (
            SELECT a.topic_id, m.text, m.channel, s.label AS sentiment,
                   row_number() OVER (PARTITION BY a.topic_id, lower(m.text)
                                      ORDER BY a.probability DESC, m.message_id) AS dup,
                   a.probability, m.message_id
            FROM assignments a JOIN messages m USING (message_id)
            LEFT JOIN sentiment s USING (message_id)
            WHERE a.topic_id IN (SELECT unnest(?))
              AND CAST(date_trunc('week', coalesce(m.sent_at, m.ingested_at)) AS DATE) = CAST(? AS DATE)
        ), picked AS (
            SELECT *, row_number() OVER (PARTITION BY topic_id ORDER BY probability DESC, message_id) AS pos
            FROM ranked WHERE dup = 1
        )
        SELECT topic_id, text, channel, sentiment, pos FROM picked WHERE pos <= ? ORDER BY topic_id, pos
        """,
        [list(map(int, topic_ids)), week, per_topic],
    )


def impact(store: Store) -> pd.DataFrame:
    """Topics' impact on CSAT / NPS (see pipeline.impact), most negative first."""
    return store.query(
        """
        SELECT i.metric, i.topic_id, coalesce(t.label, 'topic ' || i.topic_id) AS topic, i.conversations,
               i.score_with, i.score_without, i.overall, i.impact
        FROM topic_impact i LEFT JOIN topics t USING (topic_id)
        WHERE i.impact IS NOT NULL ORDER BY i.metric, i.impact, i.topic_id
        """
    )


def topic_trend(store: Store) -> pd.DataFrame:
    return store.query(
        """
        SELECT strftime(w.week, '%Y-%m-%d') AS week, w.topic_id,
               coalesce(t.label, 'topic ' || w.topic_id) AS topic,
               w.messages, w.sentiment
        FROM weekly_stats w LEFT JOIN topics t USING (topic_id) ORDER BY w.week
        """
    )


def topics(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT topic_id, label, keywords, size, representative_ids, state FROM topics "
        "WHERE coalesce(state, 'active') != 'merged' ORDER BY topic_id"
    )


def representatives(store: Store, topic_ids: list[int], per_topic: int = 3) -> pd.DataFrame:
    """Representative verbatims (chosen near the centroid at fit time) for the given topics."""
    if not topic_ids:
        return pd.DataFrame(columns=["topic_id", "text", "channel", "sentiment"])
    return store.query(
        """
        SELECT t.topic_id, m.text, m.channel, s.label AS sentiment, r.pos
        FROM topics t, unnest(t.representative_ids) WITH ORDINALITY AS r(message_id, pos)
        JOIN messages m ON m.message_id = r.message_id
        LEFT JOIN sentiment s ON s.message_id = r.message_id
        WHERE t.topic_id IN (SELECT unnest(?)) AND r.pos <= ?
        ORDER BY t.topic_id, r.pos
        """,
        [list(map(int, topic_ids)), per_topic],
    )


@dataclass
class Filters:
    """What a product team narrows the verbatims to; empty lists mean "all"."""

    week_from: str | None = None
    week_to: str | None = None
    channels: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    topic_ids: list[int] = field(default_factory=list)
    search: str = ""

    def where(self) -> tuple[str, list]:
        clauses, params = ["m.is_customer"], []
        week = "CAST(date_trunc('week', coalesce(m.sent_at, m.ingested_at)) AS DATE)"
        if self.week_from:
            clauses.append(f"{week} >= CAST(? AS DATE)")
            params.append(self.week_from)
        if self.week_to:
            clauses.append(f"{week} <= CAST(? AS DATE)")
            params.append(self.week_to)
        for column, values in (
            ("m.channel", self.channels),
            ("m.language", self.languages),
            ("s.label", self.sentiments),
        ):
            if values:
                clauses.append(f"{column} IN (SELECT unnest(?))")
                params.append(list(values))
        if self.topic_ids:
            clauses.append("a.topic_id IN (SELECT unnest(?))")
            params.append([int(t) for t in self.topic_ids])
        if self.search.strip():
            clauses.append("m.text ILIKE ?")
            params.append(f"%{self.search.strip()}%")
        return " AND ".join(clauses), params


_FROM = """
FROM messages m
LEFT JOIN assignments a USING (message_id)
LEFT JOIN topics t ON t.topic_id = a.topic_id
LEFT JOIN sentiment s USING (message_id)
"""


def filtered_topics(store: Store, filters: Filters) -> pd.DataFrame:
    where, params = filters.where()
    return store.query(
        f"""
        SELECT a.topic_id, coalesce(t.label, 'topic ' || a.topic_id) AS topic, count(*) AS messages,
               count(DISTINCT m.conversation_id) AS conversations, avg(s.score) AS sentiment,
               avg(CASE WHEN s.label = 'negative' THEN 1.0 ELSE 0.0 END) AS negative_share
        {_FROM} WHERE {where}
        GROUP BY 1, 2 ORDER BY messages DESC
        """,
        params,
    )


def filtered_messages(store: Store, filters: Filters, limit: int = 500) -> pd.DataFrame:
    where, params = filters.where()
    return store.query(
        f"""
        SELECT strftime(m.sent_at, '%Y-%m-%d %H:%M') AS sent_at,
               coalesce(t.label, 'topic ' || a.topic_id) AS topic,
               m.text, m.channel, m.language, s.label AS sentiment, round(s.score, 2) AS score,
               m.conversation_id, m.message_id
        {_FROM} WHERE {where}
        ORDER BY m.sent_at DESC NULLS LAST, m.message_id LIMIT {int(limit)}
        """,
        params,
    )


def conversation(store: Store, conversation_id: str) -> pd.DataFrame:
    return store.query(
        """
        SELECT strftime(sent_at, '%Y-%m-%d %H:%M') AS sent_at, author_role, text
        FROM messages WHERE conversation_id = ? ORDER BY sent_at NULLS LAST, message_id
        """,
        [conversation_id],
    )


def distinct_values(store: Store, column: str) -> list[str]:
    if column not in {"channel", "language"}:
        raise ValueError(column)
    frame = store.query(
        f"SELECT DISTINCT {column} AS v FROM messages WHERE is_customer AND {column} IS NOT NULL ORDER BY 1"
    )
    return frame["v"].tolist()


def has_results(store: Store) -> bool:
    if not store.path.exists():
        return False
    counts = store.counts()
    return counts.get("weekly_stats", 0) > 0
