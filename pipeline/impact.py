"""Each topic's impact on a satisfaction score carried by the conversations (CSAT, NPS).

Impact, as Thematic and Kapiche report it: the overall score minus the score the brand would have
without the topic's conversations. A topic whose conversations score low has a negative impact (it
drags the score down); fixing what it is about would raise the score by about that much.

CSAT is the mean of the field; NPS is computed per conversation as +100 (9-10), 0 (7-8) or -100 (0-6),
so its mean is the usual NPS. A conversation counts for every topic one of its customer messages has,
except *closing* topics (``pipeline.endings``): how customers end conversations ("thanks, that solved
it", "this is the third time I ask"), said when the score is given and so its echo, not its cause.
Counted in, the demo's five closing complaints were its whole list of what drags CSAT down, and the
requests it makes end badly twice as often came after them. Closing topics get no impact row.
"""

from __future__ import annotations

import pandas as pd

from pipeline import endings
from pipeline.store import Store

METRICS = {
    "csat": "score",
    "nps": "CASE WHEN score >= 9 THEN 100.0 WHEN score <= 6 THEN -100.0 ELSE 0.0 END",
}

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


def compute_impact(
    store: Store, metrics: dict[str, str] | None = None, closing: list[int] | None = None
) -> pd.DataFrame:
    """Impact rows for every score field present in conversation metadata (none: an empty table), one
    per topic a customer raised (``closing``, the closing topics, left out; found here when not given)."""
    parts = []
    closing = endings.closing_topics(store) if closing is None else closing
    with store.connect(read_only=True) as con:
        for field, value in (metrics or METRICS).items():
            frame = con.execute(_IMPACT_SQL.format(field=field, value=value), {"closing": closing}).df()
            if not frame.empty:
                parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def save_impact(store: Store, impact: pd.DataFrame, run_id: str) -> int:
    """Replace the impact table (a pure function of assignments and conversation metadata)."""
    return store.replace_all("topic_impact", impact.assign(run_id=run_id) if len(impact) else impact)
