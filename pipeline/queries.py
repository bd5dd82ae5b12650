"""Read-only queries over the store, shared by the dashboard pages and the weekly digest (testable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from pipeline import courtesy, endings
from pipeline.store import MESSAGE_WEEK, Store

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
               w.share, w.previous_messages, w.change, w.tested_conversations, w.baseline, w.expected,
               w.change_vs_baseline, w.sentiment, w.sentiment_change, w.sentiment_baseline, w.sentiment_q,
               w.negative_share, w.channels,
               w.status, w.p_value, w.part_messages, w.part_conversations, w.part_expected,
               w.status_test, w.trend_factor, w.trend_from, w.trend_to, w.trend_weeks, w.trend_q
        FROM weekly_stats w LEFT JOIN topics t USING (topic_id)
        WHERE w.week = CAST(? AS DATE)
        ORDER BY w.messages DESC, w.topic_id
        """,
        [week],
    )


def recent_counts(store: Store, week: str, topic_ids: list[int], weeks: int = 8) -> dict[int, list[int]]:
    """Each topic's counts in the ``weeks`` weeks up to this one, oldest first, as the status test
    counted them, conversations (those it holds, in weeks before it was tracked): what a reader checks a flag
    against at a glance (a rise in its second week, its first left out of the baseline; a steady
    rise over the trend test's 8 weeks)."""
    if not topic_ids:
        return {}
    first = pd.Timestamp(week).date() - timedelta(weeks=weeks - 1)
    rows = store.query(
        """
        SELECT topic_id, coalesce(tested_conversations, conversations) AS n FROM weekly_stats
        WHERE topic_id IN (SELECT unnest($topics))
          AND week BETWEEN CAST($first AS DATE) AND CAST($week AS DATE)
        ORDER BY topic_id, week
        """,
        {"topics": list(map(int, topic_ids)), "first": first, "week": week},
    )
    return {int(t): [int(n) for n in g["n"]] for t, g in rows.groupby("topic_id")}


def headline(store: Store, week: str) -> dict[str, float | int | None]:
    """Conversations, customer messages, share negative and customer messages in no topic (how many,
    and their share), this week and the week before."""
    frame = store.query(
        f"""
        WITH m AS (
            SELECT {MESSAGE_WEEK} AS week,
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
    unassigned = store.query(  # the outliers' row of the weekly statistics: what no topic holds
        "SELECT strftime(week, '%Y-%m-%d') AS week, messages FROM weekly_stats WHERE topic_id < 0 "
        "AND week IN (CAST(? AS DATE), CAST(? AS DATE) - INTERVAL 7 DAY)",
        [week, week],
    ).set_index("week")["messages"]
    previous = (date.fromisoformat(week) - timedelta(days=7)).isoformat()
    total, total_before = now.get("customer_messages", 0), before.get("customer_messages")
    in_none = int(unassigned.get(week, 0))
    return {
        "conversations": now.get("conversations", 0),
        "customer_messages": total,
        "negative_share": now.get("negative_share"),
        "unassigned": in_none,
        "unassigned_share": in_none / total if total else None,
        "prev_conversations": before.get("conversations"),
        "prev_customer_messages": total_before,
        "prev_negative_share": before.get("negative_share"),
        "prev_unassigned_share": int(unassigned.get(previous, 0)) / total_before if total_before else None,
    }


_CLOSING = "SELECT DISTINCT closing_topic_id FROM conversation_endings WHERE closing_topic_id IS NOT NULL"
_COURTESY = courtesy.COURTESY_IDS
# what customers did not come about: how they close conversations, and their courtesy turns
SET_ASIDE = f"{_CLOSING} UNION {_COURTESY}"


def theme_summary(store: Store, week: str) -> pd.DataFrame:
    """Themes of one week: topics, its largest topics this week, customer messages, change vs last week,
    volume-weighted sentiment. A theme is named by the words its messages use most; where its topics
    share few words (e.g. a theme of one language's small requests), its largest topics say what is
    in it. The turns customers close conversations with (see ``endings_by_week``) and their courtesy
    turns (``pipeline.courtesy``) are left out: they say how a conversation went, not what it was
    about. Each theme's status this week and the test behind it, and its sentiment against its
    baseline weeks with that shift's test, come from ``theme_weekly`` (``pipeline.theme_weekly``)."""
    return store.query(
        f"""
        WITH themes AS (
            SELECT coalesce(t.theme_label, '(unassigned)') AS theme, t.theme_id, count(*) AS topics,
                   array_to_string(list(
                       coalesce(t.label, 'topic ' || w.topic_id) ORDER BY w.messages DESC, w.topic_id
                   )[1:3], ', ') AS largest,
                   CAST(sum(w.messages) AS INTEGER) AS messages, sum(w.share) AS share,
                   sum(w.messages) / nullif(sum(coalesce(w.previous_messages, 0)), 0) - 1 AS change,
                   sum(w.sentiment * w.messages) / nullif(sum(w.messages) FILTER (w.sentiment IS NOT NULL), 0)
                       AS sentiment
            FROM weekly_stats w LEFT JOIN topics t USING (topic_id)
            WHERE w.week = CAST($week AS DATE) AND w.topic_id >= 0 AND w.messages > 0
              AND w.topic_id NOT IN ({SET_ASIDE})
            GROUP BY 1, 2
        )
        SELECT s.* REPLACE (coalesce(tw.sentiment, s.sentiment) AS sentiment),
               tw.status, tw.status_test, tw.p_value, tw.tested_conversations, tw.expected,
               tw.trend_factor, tw.trend_from, tw.trend_to, tw.trend_weeks,
               tw.sentiment_baseline, tw.sentiment_q, tw.sentiment_within, tw.sentiment_conversations
        FROM themes s
        LEFT JOIN theme_weekly tw ON tw.week = CAST($week AS DATE) AND tw.theme_id = s.theme_id
        ORDER BY s.messages DESC, s.theme
        """,
        {"week": week},
    )


def channel_volume(store: Store, week: str) -> pd.DataFrame:
    """Customer messages and conversations per channel this week, and messages the week before; each
    channel's status and the test behind it from ``channel_weekly`` (``pipeline.channel_weekly``:
    tested on its conversations, ``tested_conversations`` for ``digest.evidence``)."""
    return store.query(
        f"""
        WITH m AS (
            SELECT coalesce(m.channel, 'unknown') AS channel, m.conversation_id, {MESSAGE_WEEK} AS week
            FROM messages m WHERE m.is_customer
        ), v AS (
            SELECT channel, count(*) FILTER (week = CAST($week AS DATE)) AS messages,
                   count(DISTINCT conversation_id) FILTER (week = CAST($week AS DATE)) AS conversations,
                   count(*) FILTER (week = CAST($week AS DATE) - INTERVAL 7 DAY) AS previous_messages
            FROM m GROUP BY 1 HAVING messages > 0 OR previous_messages > 0
        )
        SELECT v.*, c.status, c.status_test, c.p_value, c.conversations AS tested_conversations, c.expected,
               c.previous_conversations, c.trend_factor, c.trend_from, c.trend_to, c.trend_weeks
        FROM v LEFT JOIN channel_weekly c ON c.week = CAST($week AS DATE) AND c.channel = v.channel
        ORDER BY v.messages DESC, v.channel
        """,
        {"week": week},
    )


def week_verbatims(
    store: Store, week: str, topic_ids: list[int], per_topic: int = 3, earlier_weeks: int = 0
) -> pd.DataFrame:
    """Customers' own words from that week: the most typical distinct messages of each topic, or, where
    the topic's status came from a local shift in it, of that group (the messages that moved).

    With ``earlier_weeks``, from that many weeks before it instead: what a declining topic's customers
    were saying (a fall's group is those earlier messages)."""
    if not topic_ids:
        return pd.DataFrame(columns=["topic_id", "text", "channel", "sentiment"])
    monday = pd.Timestamp(week).date()
    first, last = monday - timedelta(weeks=earlier_weeks), monday - timedelta(weeks=min(earlier_weeks, 1))
    return store.query(
        f"""
        WITH part AS (
            SELECT topic_id, unnest(ids) AS message_id, generate_subscripts(ids, 1) AS pos
            FROM (SELECT topic_id, from_json(part_message_ids, '["VARCHAR"]') AS ids FROM weekly_stats
                  WHERE week = CAST($week AS DATE) AND part_message_ids IS NOT NULL)
        ), ranked AS (
            SELECT a.topic_id, m.text, m.channel, s.label AS sentiment,
                   coalesce(-p.pos, a.probability) AS typical, m.message_id,
                   row_number() OVER (PARTITION BY a.topic_id, lower(m.text)
                                      ORDER BY coalesce(-p.pos, a.probability) DESC, m.message_id) AS dup
            FROM assignments a JOIN messages m USING (message_id)
            LEFT JOIN sentiment s USING (message_id)
            LEFT JOIN part p ON p.topic_id = a.topic_id AND p.message_id = a.message_id
            WHERE a.topic_id IN (SELECT unnest($topics))
              AND {MESSAGE_WEEK} BETWEEN CAST($first AS DATE) AND CAST($last AS DATE)
              AND (p.message_id IS NOT NULL OR a.topic_id NOT IN (SELECT topic_id FROM part))
        ), picked AS (
            SELECT *, row_number() OVER (PARTITION BY topic_id ORDER BY typical DESC, message_id) AS pos
            FROM ranked WHERE dup = 1
        )
        SELECT topic_id, text, channel, sentiment, pos FROM picked WHERE pos <= $n ORDER BY topic_id, pos
        """,
        {"topics": list(map(int, topic_ids)), "week": week, "n": per_topic, "first": first, "last": last},
    )


def closing_topic_ids(store: Store) -> list[int]:
    """The topics customers close conversations with (see pipeline.endings), as the last run found them."""
    return sorted(int(t) for t in store.query(f"SELECT * FROM ({_CLOSING}) t(topic_id)")["topic_id"])


def courtesy_topic_ids(store: Store) -> list[int]:
    """The topics of customers' courtesy turns ("yes, that's correct", "sounds good"; see
    pipeline.courtesy) that close no conversation, as the last run found them."""
    return sorted(
        int(t) for t in store.query(f"SELECT * FROM ({_COURTESY} EXCEPT {_CLOSING}) t(topic_id)")["topic_id"]
    )


def endings_by_week(store: Store, week: str, weeks: int = 6) -> pd.DataFrame:
    """How conversations ended, per week for the ``weeks`` weeks up to ``week`` (oldest first): those
    whose last customer turn fell in the week, those where the customer wrote more than once (who could
    close), and of them how many thanked, ended unhappy or neutral."""
    first = pd.Timestamp(week).date() - timedelta(weeks=weeks - 1)
    return store.query(
        """
        SELECT strftime(week, '%Y-%m-%d') AS week, count(*) AS conversations,
               count(*) FILTER (customer_turns > 1) AS multi_turn,
               count(*) FILTER (ending = 'thanked') AS thanked,
               count(*) FILTER (ending = 'unhappy') AS unhappy,
               count(*) FILTER (ending = 'neutral') AS neutral
        FROM conversation_endings WHERE week BETWEEN CAST($first AS DATE) AND CAST($week AS DATE)
        GROUP BY week ORDER BY week
        """,
        {"first": first, "week": week},
    )


def request_endings(store: Store, week: str, weeks: int = endings.WINDOW_WEEKS) -> pd.DataFrame:
    """Per request (a topic customers raised, not one they close with nor a courtesy turn), over the
    ``weeks`` weeks up to ``week``: its conversations where the customer wrote more than once, how
    many thanked and ended unhappy, and the test of its unhappy share against the rest's
    (``endings.compare_requests``); the requests that end unhappy significantly more often first, then
    by share."""
    first = pd.Timestamp(week).date() - timedelta(weeks=weeks - 1)
    counts = store.query(
        f"""
        WITH e AS (
            SELECT conversation_id, ending FROM conversation_endings
            WHERE customer_turns > 1 AND week BETWEEN CAST($first AS DATE) AND CAST($week AS DATE)
        ), raised AS ({endings.raised_sql(SET_ASIDE)})
        SELECT r.topic_id, coalesce(t.label, 'topic ' || r.topic_id) AS topic, count(*) AS conversations,
               count(*) FILTER (e.ending = 'thanked') AS thanked,
               count(*) FILTER (e.ending = 'unhappy') AS unhappy
        FROM e JOIN raised r USING (conversation_id) LEFT JOIN topics t USING (topic_id)
        GROUP BY ALL ORDER BY r.topic_id
        """,
        {"first": first, "week": week},
    )
    if counts.empty:
        return counts
    out = endings.compare_requests(counts).assign(unhappy_share=lambda f: f["unhappy"] / f["conversations"])
    return out.sort_values(
        ["more_unhappy", "unhappy_share", "conversations", "topic_id"], ascending=[False, False, False, True]
    ).reset_index(drop=True)


def ending_verbatims(store: Store, week: str, ending: str = "unhappy", n: int = 3) -> pd.DataFrame:
    """Closing turns of that week with the given ``ending``, with what the conversation was about (its
    first customer turn): distinct texts, the most recent first."""
    return store.query(
        """
        WITH closing AS (
            SELECT e.conversation_id, m.text, m.sent_at FROM conversation_endings e
            JOIN messages m ON m.message_id = e.closing_message_id
            WHERE e.week = CAST($week AS DATE) AND e.ending = $ending
        ), opening AS (
            SELECT conversation_id, arg_min(text, (sent_at, message_id)) AS opening
            FROM messages WHERE is_customer AND conversation_id IN (SELECT conversation_id FROM closing)
            GROUP BY conversation_id
        )
        SELECT c.text, o.opening FROM closing c JOIN opening o USING (conversation_id)
        QUALIFY row_number() OVER (PARTITION BY lower(c.text) ORDER BY c.sent_at DESC, c.conversation_id) = 1
        ORDER BY c.sent_at DESC, c.conversation_id LIMIT $n
        """,
        {"week": week, "ending": ending, "n": n},
    )


def impact(store: Store) -> pd.DataFrame:
    """Topics' impact on CSAT / NPS (see pipeline.impact), most negative first."""
    return store.query(
        """
        SELECT i.metric, i.topic_id, coalesce(t.label, 'topic ' || i.topic_id) AS topic, i.conversations,
               i.score_with, i.score_without, i.overall, i.impact, i.p_value, i.q_value
        FROM topic_impact i LEFT JOIN topics t USING (topic_id)
        WHERE i.impact IS NOT NULL ORDER BY i.metric, i.impact, i.topic_id
        """
    )


def topics(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT topic_id, label, keywords, size, representative_ids, state FROM topics "
        "WHERE coalesce(state, 'active') != 'merged' ORDER BY topic_id"
    )


@dataclass
class Filters:
    """What a product team narrows the verbatims to; empty lists mean "all"."""

    date_from: str | None = None  # YYYY-MM-DD, inclusive, in the business time zone
    date_to: str | None = None
    channels: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    sentiments: list[str] = field(default_factory=list)
    topic_ids: list[int] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    metadata: dict[str, list[str]] = field(default_factory=dict)
    search: str = ""
    # leave out the turns customers close conversations with and their courtesy turns, unless
    # topics are picked by name: what they came about, which is what a product team filters for
    requests_only: bool = False

    def where(self) -> tuple[str, list]:
        clauses, params = ["m.is_customer"], []
        day = "CAST(coalesce(m.sent_at, m.ingested_at) AS DATE)"
        if self.date_from:
            clauses.append(f"{day} >= CAST(? AS DATE)")
            params.append(self.date_from)
        if self.date_to:
            clauses.append(f"{day} <= CAST(? AS DATE)")
            params.append(self.date_to)
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
        if self.requests_only and not self.topic_ids:
            clauses.append(f"coalesce(a.topic_id, -1) NOT IN ({SET_ASIDE})")
        if self.themes:
            clauses.append("coalesce(t.theme_label, '(unassigned)') IN (SELECT unnest(?))")
            params.append(list(self.themes))
        for key, values in sorted(self.metadata.items()):
            if values:  # the key is a bound JSON path, never spliced into the SQL
                clauses.append("json_extract_string(m.metadata, ?) IN (SELECT unnest(?))")
                params.extend([_json_path(key), [str(v) for v in values]])
        if self.search.strip():
            clauses.append("m.text ILIKE ?")
            params.append(f"%{self.search.strip()}%")
        return " AND ".join(clauses), params


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', "") + '"'


_FROM = """
FROM messages m
LEFT JOIN assignments a USING (message_id)
LEFT JOIN topics t ON t.topic_id = a.topic_id
LEFT JOIN sentiment s USING (message_id)
"""


def filtered_topics(store: Store, filters: Filters) -> pd.DataFrame:
    """Topics of the filtered messages: volume, sentiment and a weekly trend (one count per week)."""
    where, params = filters.where()
    frame = store.query(
        f"""
        SELECT a.topic_id, coalesce(t.label, 'topic ' || a.topic_id) AS topic,
               coalesce(t.theme_label, '(unassigned)') AS theme, count(*) AS messages,
               count(DISTINCT m.conversation_id) AS conversations, avg(s.score) AS sentiment,
               avg(CASE WHEN s.label = 'negative' THEN 1.0 ELSE 0.0 END) AS negative_share
        {_FROM} WHERE {where}
        GROUP BY 1, 2, 3 ORDER BY messages DESC, a.topic_id
        """,
        params,
    )
    weekly = store.query(
        f"""
        SELECT a.topic_id, strftime({MESSAGE_WEEK}, '%Y-%m-%d') AS week, count(*) AS n
        {_FROM} WHERE {where} GROUP BY 1, 2
        """,
        params,
    )
    all_weeks = [w for w in weeks(store) if _in_range(w, filters)] or sorted(weekly["week"].unique())
    grid = weekly.pivot_table(index="topic_id", columns="week", values="n", aggfunc="sum", fill_value=0)
    grid = grid.reindex(columns=all_weeks, fill_value=0)
    trend = {int(t): [int(v) for v in row] for t, row in zip(grid.index, grid.to_numpy(), strict=True)}
    frame["trend"] = [trend.get(int(t), []) if pd.notna(t) else [] for t in frame["topic_id"]]
    return frame


def _in_range(week: str, filters: Filters) -> bool:
    """Whether the week (its Monday) overlaps the filtered dates."""
    sunday = (date.fromisoformat(week) + timedelta(days=6)).isoformat()
    return (not filters.date_from or sunday >= filters.date_from) and (
        not filters.date_to or week <= filters.date_to
    )


def filtered_messages(store: Store, filters: Filters, limit: int | None = 500) -> pd.DataFrame:
    """The filtered customer messages, newest first (``limit=None``: all of them, for the CSV export)."""
    where, params = filters.where()
    return store.query(
        f"""
        SELECT strftime(m.sent_at, '%Y-%m-%d %H:%M') AS sent_at,
               coalesce(t.label, 'topic ' || a.topic_id) AS topic,
               m.text, m.channel, m.language, s.label AS sentiment, round(s.score, 2) AS score,
               m.conversation_id, m.message_id
        {_FROM} WHERE {where}
        ORDER BY m.sent_at DESC NULLS LAST, m.message_id {"" if limit is None else f"LIMIT {int(limit)}"}
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


def date_span(store: Store) -> tuple[date, date] | None:
    """First and last day with a customer message (business time zone)."""
    row = store.query(
        "SELECT CAST(min(coalesce(sent_at, ingested_at)) AS DATE) AS a, "
        "CAST(max(coalesce(sent_at, ingested_at)) AS DATE) AS b FROM messages WHERE is_customer"
    ).iloc[0]
    if pd.isna(row["a"]):
        return None
    return pd.Timestamp(row["a"]).date(), pd.Timestamp(row["b"]).date()


def themes(store: Store, requests_only: bool = False) -> list[str]:
    """Theme names, for a filter; ``requests_only``: the themes of requests, leaving out those of the
    turns customers close conversations with and their courtesy turns (a re-fit groups those apart)."""
    aside = f"AND topic_id NOT IN ({SET_ASIDE})" if requests_only else ""
    frame = store.query(
        "SELECT DISTINCT coalesce(theme_label, '(unassigned)') AS v FROM topics "
        f"WHERE topic_id >= 0 AND coalesce(state, 'active') != 'merged' {aside} ORDER BY 1"
    )
    return frame["v"].tolist()


def metadata_fields(store: Store, max_values: int = 50) -> dict[str, list[str]]:
    """Metadata fields that make useful filters (brand, product...): text-like, at most ``max_values``."""
    frame = store.query(
        """
        WITH kv AS (
            SELECT k AS key, json_extract_string(metadata, '$."' || replace(k, '"', '') || '"') AS value
            FROM (SELECT metadata, unnest(json_keys(metadata)) AS k FROM messages
                  WHERE is_customer AND metadata IS NOT NULL)
        )
        SELECT key, list(DISTINCT value ORDER BY value) AS vals, count(DISTINCT value) AS n
        FROM kv WHERE value IS NOT NULL AND TRY_CAST(value AS DOUBLE) IS NULL
        GROUP BY key HAVING n <= ? ORDER BY key
        """,
        [max_values],
    )
    return {r.key: list(r.vals) for r in frame.itertuples()}


def has_results(store: Store) -> bool:
    if not store.exists():
        return False
    counts = store.counts()
    return counts.get("weekly_stats", 0) > 0


def default_week(week_list: list[str], today: date) -> str:
    """The last complete week (its Sunday has passed), else the latest week with data."""
    complete = [w for w in week_list if date.fromisoformat(w) + timedelta(days=7) <= today]
    return complete[-1] if complete else week_list[-1]


def topic_options(store: Store) -> pd.DataFrame:
    """Topics a person can pick (not merged away), biggest first, with a display name."""
    return store.query(
        """
        SELECT topic_id, label, coalesce(theme_label, '(unassigned)') AS theme, size,
               label || ' (#' || topic_id || ')' AS name
        FROM topics WHERE topic_id >= 0 AND coalesce(state, 'active') != 'merged'
        ORDER BY size DESC NULLS LAST, topic_id
        """
    )


def topic_detail(store: Store, topic_id: int) -> dict | None:
    frame = store.query(
        """
        SELECT topic_id, label, auto_label, coalesce(label_source, 'auto') AS label_source,
               coalesce(state, 'active') AS state, merged_into, keywords, size,
               coalesce(theme_label, '(unassigned)') AS theme, tracked_from, updated_at
        FROM topics WHERE topic_id = ?
        """,
        [int(topic_id)],
    )
    return None if frame.empty else frame.iloc[0].to_dict()


def topic_weeks(store: Store, topic_id: int) -> pd.DataFrame:
    """One topic week by week: volume, share, expected, sentiment and status (with the part that
    moved, where the status came from a local shift in the topic)."""
    return store.query(
        """
        SELECT strftime(week, '%Y-%m-%d') AS week, messages, conversations, share, tested_conversations,
               expected, sentiment, negative_share, status, p_value, part_messages, part_conversations,
               part_expected, status_test, trend_factor, trend_from, trend_to, trend_weeks, trend_q
        FROM weekly_stats WHERE topic_id = ? ORDER BY week
        """,
        [int(topic_id)],
    )


def topic_mix(store: Store, topic_id: int) -> pd.DataFrame:
    """Where a topic's customer messages come from: counts per channel and per language."""
    return store.query(
        """
        SELECT 'channel' AS dimension, coalesce(m.channel, 'unknown') AS value, count(*) AS messages
        FROM assignments a JOIN messages m USING (message_id) WHERE a.topic_id = ? GROUP BY 1, 2
        UNION ALL
        SELECT 'language', coalesce(m.language, 'unknown'), count(*)
        FROM assignments a JOIN messages m USING (message_id) WHERE a.topic_id = ? GROUP BY 1, 2
        ORDER BY dimension, messages DESC, value
        """,
        [int(topic_id), int(topic_id)],
    )


def related_topics(store: Store, topic_id: int, k: int = 5) -> pd.DataFrame:
    """The topics whose centroids are closest to this one's (cosine), with their theme."""
    return store.query(
        """
        SELECT o.topic_id, o.label, coalesce(o.theme_label, '(unassigned)') AS theme, o.size,
               list_cosine_similarity(t.centroid, o.centroid) AS similarity
        FROM topics t, topics o
        WHERE t.topic_id = ? AND o.topic_id != t.topic_id AND o.topic_id >= 0
          AND coalesce(o.state, 'active') != 'merged' AND o.centroid IS NOT NULL AND t.centroid IS NOT NULL
        ORDER BY similarity DESC, o.topic_id LIMIT ?
        """,
        [int(topic_id), int(k)],
    )


def topic_history(store: Store, topic_id: int) -> pd.DataFrame:
    """Lineage events of one topic and people's decisions about it, newest first."""
    return store.query(
        """
        SELECT strftime(happened_at, '%Y-%m-%d %H:%M') AS "when", event, topic_id, related_topic_id,
               messages, detail
        FROM topic_lineage WHERE topic_id = ? OR related_topic_id = ?
        UNION ALL
        SELECT strftime(decided_at, '%Y-%m-%d %H:%M'), 'decision: ' || action, topic_id, target_topic_id,
               NULL, coalesce(label, '') || ' by ' || decided_by || coalesce(': ' || note, '')
        FROM topic_overrides WHERE topic_id = ? OR target_topic_id = ?
        ORDER BY 1 DESC, 2
        """,
        [int(topic_id)] * 4,
    )


def topic_map(store: Store) -> pd.DataFrame:
    """Topics placed on the 2-D layout stored by the run, with volume and mean sentiment."""
    return store.query(
        """
        SELECT t.topic_id, t.label, coalesce(t.theme_label, '(unassigned)') AS theme, t.x, t.y,
               count(a.message_id) AS messages, avg(s.score) AS sentiment
        FROM topics t JOIN assignments a USING (topic_id) LEFT JOIN sentiment s USING (message_id)
        WHERE t.topic_id >= 0 AND coalesce(t.state, 'active') != 'merged' AND t.x IS NOT NULL
        GROUP BY ALL ORDER BY messages DESC, t.topic_id
        """
    )


def runs(store: Store, limit: int = 50) -> pd.DataFrame:
    """Pipeline runs, newest first, with duration and the main counts pulled out of the run record."""
    return store.query(
        """
        SELECT run_id, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started,
               date_diff('millisecond', started_at, ended_at) / 1000.0 AS duration_s, status,
               TRY_CAST(json_extract(counts, '$.prepare.prepared') AS BIGINT) AS prepared,
               TRY_CAST(json_extract(counts, '$.embed.embedded') AS BIGINT) AS embedded,
               json_extract_string(counts, '$.topics.mode') AS topic_mode,
               TRY_CAST(json_extract(counts, '$.topics.topics') AS BIGINT) AS topics,
               error, counts
        FROM runs ORDER BY started_at DESC NULLS LAST LIMIT ?
        """,
        [int(limit)],
    )


def quarantine_reasons(store: Store) -> pd.DataFrame:
    """Quarantined records grouped by file, field and reason, most frequent first."""
    return store.query(
        """
        SELECT source_file AS file, field, reason, count(*) AS records,
               strftime(max(quarantined_at), '%Y-%m-%d %H:%M') AS last_seen
        FROM quarantine GROUP BY 1, 2, 3 ORDER BY records DESC, file, field, reason
        """
    )


def freshness(store: Store) -> dict:
    """How current the store is: newest message, newest ingest, last successful run, totals."""
    row = store.query(
        """
        SELECT (SELECT max(sent_at) FROM messages) AS newest_message,
               (SELECT max(ingested_at) FROM messages) AS last_ingest,
               (SELECT max(ended_at) FROM runs WHERE status = 'completed') AS last_run,
               (SELECT count(*) FROM messages) AS messages,
               (SELECT count(*) FROM messages WHERE prepared_at IS NULL) AS waiting,
               (SELECT count(*) FROM quarantine) AS quarantined
        """
    )
    return row.iloc[0].to_dict()


def topic_verbatims(store: Store, topic_id: int, n: int = 5) -> pd.DataFrame:
    """Distinct customer wordings for a topic: the fit's representatives first, then the most typical."""
    return store.query(
        """
        WITH reps AS (
            SELECT r.message_id, r.pos
            FROM topics t, unnest(t.representative_ids) WITH ORDINALITY AS r(message_id, pos)
            WHERE t.topic_id = ?
        ), candidates AS (
            SELECT m.text, m.channel, s.label AS sentiment, coalesce(reps.pos, 1000000) AS pos,
                   a.probability, m.message_id
            FROM assignments a JOIN messages m USING (message_id)
            LEFT JOIN sentiment s USING (message_id) LEFT JOIN reps USING (message_id)
            WHERE a.topic_id = ?
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY lower(trim(text))
                                         ORDER BY pos, probability DESC, message_id) AS dup
            FROM candidates
        )
        SELECT text, channel, sentiment FROM ranked WHERE dup = 1
        ORDER BY pos, probability DESC, message_id LIMIT ?
        """,
        [int(topic_id), int(topic_id), int(n)],
    )
