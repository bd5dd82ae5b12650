"""Each topic's impact on a satisfaction score carried by the conversations (CSAT, NPS).

Impact, as Thematic and Kapiche report it: the overall score minus the score the brand would have
without the topic's conversations. A topic whose conversations score low has a negative impact (it
drags the score down); fixing what it is about would raise the score by about that much.

CSAT is the mean of the field; NPS is computed per conversation as +100 (9-10), 0 (7-8) or -100 (0-6),
so its mean is the usual NPS. A conversation counts for every topic one of its customer messages has,
except *closing* topics: how customers end conversations ("thanks, that solved it", "this is the third
time I ask"), said when the score is given and so its echo, not its cause. Counted in, the demo's
five closing complaints were its whole list of what drags CSAT down, and the requests it makes end
badly twice as often came after them. A topic is closing when at least
``CLOSING_SHARE`` of its messages are the last customer turn of a conversation with more than one,
and no single topic opens more than ``OPENER_SHARE`` of its conversations: a closer follows every
kind of request, where a request that comes after a greeting ("Hi" + the request) is also a last
turn, but always after the same opener. Closing topics get no impact row.
"""

from __future__ import annotations

import pandas as pd

from pipeline.store import Store, execute

METRICS = {
    "csat": "score",
    "nps": "CASE WHEN score >= 9 THEN 100.0 WHEN score <= 6 THEN -100.0 ELSE 0.0 END",
}

CLOSING_SHARE = 0.8  # demo: closers 100% last turns, requests at most 28%
OPENER_SHARE = 0.5  # demo: closers' most common opening topic 7-31%, requests' 72-100%

_CLOSING_SQL = """
WITH turns AS (
    SELECT m.conversation_id, a.topic_id,
           row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id) AS k,
           count(*) OVER (PARTITION BY m.conversation_id) AS n
    FROM messages m JOIN assignments a USING (message_id)
    WHERE m.is_customer
), with_opener AS (
    SELECT t.*, o.topic_id AS opener
    FROM turns t JOIN turns o ON o.conversation_id = t.conversation_id AND o.k = 1
), openers AS (
    SELECT topic_id, max(c) AS top FROM (SELECT topic_id, opener, count(*) AS c FROM with_opener GROUP BY ALL)
    GROUP BY topic_id
)
SELECT w.topic_id
FROM with_opener w JOIN openers USING (topic_id)
WHERE w.topic_id >= 0
GROUP BY w.topic_id
HAVING avg(CASE WHEN w.n > 1 AND w.k = w.n THEN 1.0 ELSE 0.0 END) >= {closing}
   AND any_value(openers.top) <= {opener} * count(*)
"""

_IMPACT_SQL = """
WITH scored AS (
    SELECT conversation_id, {value} AS value
    FROM (SELECT conversation_id, TRY_CAST(json_extract_string(metadata, '$."{field}"') AS DOUBLE) AS score
          FROM conversations)
    WHERE score IS NOT NULL
), total AS (
    SELECT count(*) AS n_all, sum(value) AS sum_all FROM scored
), per_topic AS (
    SELECT t.topic_id, count(*) AS n, sum(s.value) AS s
    FROM (SELECT DISTINCT a.topic_id, m.conversation_id
          FROM assignments a JOIN messages m USING (message_id)
          WHERE a.topic_id >= 0 AND a.topic_id NOT IN (SELECT unnest($closing))) t
    JOIN scored s USING (conversation_id)
    GROUP BY t.topic_id
)
SELECT p.topic_id, '{field}' AS metric, p.n AS conversations, p.s / p.n AS score_with,
       CASE WHEN n_all > p.n THEN (sum_all - p.s) / (n_all - p.n) END AS score_without,
       sum_all / n_all AS overall,
       CASE WHEN n_all > p.n THEN sum_all / n_all - (sum_all - p.s) / (n_all - p.n) END AS impact
FROM per_topic p, total
ORDER BY impact
"""


def closing_topics(store: Store) -> list[int]:
    """Topics that are how customers end conversations rather than what they came about."""
    sql = _CLOSING_SQL.format(closing=CLOSING_SHARE, opener=OPENER_SHARE)
    return sorted(int(t) for t in store.query(sql)["topic_id"])


def compute_impact(store: Store, metrics: dict[str, str] | None = None) -> pd.DataFrame:
    """Impact rows for every score field present in conversation metadata (none: an empty table), one
    per topic a customer raised (closing topics left out)."""
    parts = []
    closing = closing_topics(store)
    with store.connect(read_only=True) as con:
        for field, value in (metrics or METRICS).items():
            frame = con.execute(_IMPACT_SQL.format(field=field, value=value), {"closing": closing}).df()
            if not frame.empty:
                parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def save_impact(store: Store, impact: pd.DataFrame, run_id: str) -> int:
    """Replace the impact table (a pure function of assignments and conversation metadata)."""
    with store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        execute(con, "DELETE FROM topic_impact")
        if not impact.empty:
            store.upsert("topic_impact", impact.assign(run_id=run_id), con=con)
        execute(con, "COMMIT")
    return len(impact)
