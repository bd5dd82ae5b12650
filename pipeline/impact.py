"""Each topic's impact on a satisfaction score carried by the conversations (CSAT, NPS).

Impact, as Thematic and Kapiche report it: the overall score minus the score the brand would have
without the topic's conversations. A topic whose conversations score low has a negative impact (it
drags the score down); fixing what it is about would raise the score by about that much.

CSAT is the mean of the field; NPS is computed per conversation as +100 (9-10), 0 (7-8) or -100 (0-6),
so its mean is the usual NPS. A conversation counts for every topic one of its customer messages has,
except *closing* topics (``pipeline.endings``): how customers end conversations ("thanks, that solved
it", "this is the third time I ask"), said when the score is given and so its echo, not its cause.
Counted in, the demo's five closing complaints were its whole list of what drags CSAT down, and the
requests it makes end badly twice as often came after them. Closing topics get no impact row, nor do
courtesy topics (``pipeline.courtesy``: "Yes, that's correct.", "Sounds good."), which are in every
kind of conversation and say nothing about why it scored as it did.

Whether a topic's conversations score differently from the others' at all is tested (two-sided
Mann-Whitney U, Benjamini-Hochberg across topics): an impact of -0.02 from 13 conversations is as
often chance as not, and the brief says which are not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, mannwhitneyu

from pipeline import courtesy, endings
from pipeline.store import Store

METRICS = {
    "csat": "score",
    "nps": "CASE WHEN score >= 9 THEN 100.0 WHEN score <= 6 THEN -100.0 ELSE 0.0 END",
}

_SCORED = """
    SELECT conversation_id, {value} AS value
    FROM (SELECT conversation_id, TRY_CAST(json_extract_string(metadata, '$."{field}"') AS DOUBLE) AS score
          FROM conversations)
    WHERE score IS NOT NULL
"""
_RAISED = endings.raised_sql("SELECT unnest($closing)")

_IMPACT_SQL = f"""
WITH scored AS ({_SCORED}), total AS (
    SELECT count(*) AS n_all, sum(value) AS sum_all FROM scored
), per_topic AS (
    SELECT t.topic_id, count(*) AS n, sum(s.value) AS s
    FROM ({_RAISED}) t
    JOIN scored s USING (conversation_id)
    GROUP BY t.topic_id
)
SELECT p.topic_id, '{{field}}' AS metric, p.n AS conversations, p.s / p.n AS score_with,
       CASE WHEN n_all > p.n THEN (sum_all - p.s) / (n_all - p.n) END AS score_without,
       sum_all / n_all AS overall,
       CASE WHEN n_all > p.n THEN sum_all / n_all - (sum_all - p.s) / (n_all - p.n) END AS impact
FROM per_topic p, total
ORDER BY impact
"""


# each scored conversation's value, and the topics (not closing) it raised: what the test reads
_VALUES_SQL = f"""
WITH scored AS ({_SCORED})
SELECT s.conversation_id, s.value, list(t.topic_id) FILTER (t.topic_id IS NOT NULL) AS topics
FROM scored s LEFT JOIN ({_RAISED}) t USING (conversation_id)
GROUP BY ALL
"""


def significance(values: pd.DataFrame) -> pd.DataFrame:
    """Per topic, whether its conversations score differently from the others': ``p_value`` (two-sided
    Mann-Whitney U, the scores being a few levels with many ties) and ``q_value`` (Benjamini-Hochberg
    across topics). ``values``: one row per scored conversation, its ``value`` and ``topics`` raised."""
    pairs = values[["value", "topics"]].explode("topics").dropna(subset=["topics"])
    score = values["value"].to_numpy(dtype=float)
    rows = []
    for topic, idx in pairs.groupby("topics").groups.items():
        inside = np.zeros(len(values), dtype=bool)
        inside[values.index.get_indexer(idx)] = True
        if inside.all():
            continue
        rows.append((int(topic), float(mannwhitneyu(score[inside], score[~inside]).pvalue)))
    out = pd.DataFrame(rows, columns=["topic_id", "p_value"])
    out["q_value"] = false_discovery_control(out["p_value"], method="bh") if len(out) else []
    return out


def compute_impact(
    store: Store, metrics: dict[str, str] | None = None, set_aside: list[int] | None = None
) -> pd.DataFrame:
    """Impact rows for every score field present in conversation metadata (none: an empty table), one
    per topic a customer raised (``set_aside``, the closing and courtesy topics, left out; when not
    given, the closing topics found here and the courtesy topics the last run stored)."""
    parts = []
    if set_aside is None:
        set_aside = courtesy.set_aside(store, endings.closing_topics(store))
    aside = {"closing": set_aside}  # the SQL's name for the topics no conversation raised
    with store.connect(read_only=True) as con:
        for field, value in (metrics or METRICS).items():
            frame = con.execute(_IMPACT_SQL.format(field=field, value=value), aside).df()
            if not frame.empty:
                values = con.execute(_VALUES_SQL.format(field=field, value=value), aside).df()
                parts.append(frame.merge(significance(values), on="topic_id", how="left"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def save_impact(store: Store, impact: pd.DataFrame, run_id: str) -> int:
    """Replace the impact table (a pure function of assignments and conversation metadata)."""
    return store.replace_all("topic_impact", impact.assign(run_id=run_id) if len(impact) else impact)
