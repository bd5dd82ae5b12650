"""How conversations ended: the customer's closing word, and the requests whose conversations end badly.

Customers often end a conversation with a word about how it went: "thanks, that solved it", or "this
is the third time I ask". Those turns are not what the conversation was about, so counted as topics
they crowd the week's themes (the demo's "thank / great" was a sixth of its messages) and, said when
a CSAT score is given, they echo the score rather than cause it. Read by conversation they are the
resolution signal a CCO asks for: which requests leave customers unhappy.

A topic is *closing* when at least ``CLOSING_SHARE`` of its messages are the last customer turn of a
conversation with more than one, and no single topic opens more than ``OPENER_SHARE`` of those
conversations: a closer follows every kind of request, where a request that comes after a greeting
("Hi" + the request) is also a last turn, but always after the same opener. Where one request is
behind most of a closer's conversations the rule declines, and its turns stay a topic like any other.

A conversation's *ending* is its last customer turn where that turn is in a closing topic and the
customer wrote more than once: *unhappy* when the sentiment model gives it a probability of at least
``UNHAPPY_P`` of being negative, *thanked* when its sentiment is positive, *neutral* otherwise; ``none``
where the customer did not close. Unhappy asks for a confident model, not its most likely label: in the
SGD dialogues (a thousand task dialogues that end politely, ``../shared/data/sgd_banking_dialogues``)
the model labels 79 of 582 closing turns negative, most of them a polite "No thanks, bye" or "Nope,
that's all" at p = 0.4-0.7; 8 reach 0.8. The demo's complaint closers are all above 0.96.

Per request (each other topic the conversation raised), its conversations that ended unhappy are
tested against the rest's share (one-sided binomial, Benjamini-Hochberg across requests, at least
``MIN_CONVERSATIONS``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from pipeline.rate_test import one_sided_p
from pipeline.store import MESSAGE_WEEK, Store

CLOSING_SHARE = 0.8  # demo: closers 100% last turns, requests at most 28%
OPENER_SHARE = 0.5  # demo: closers' most common opening topic 7-31%, requests' 72-100%
ALPHA = 0.05
MIN_CONVERSATIONS = 5
# SGD's polite "No thanks, bye": 79 of 582 closing turns labelled negative, 8 at 0.8; the demo's 190 of 190
UNHAPPY_P = 0.8
WINDOW_WEEKS = 4  # requests are read over this week and the 3 before: a week holds few per request

_TURNS = """
    SELECT m.conversation_id, m.message_id, a.topic_id, {week} AS week,
           row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.sent_at, m.message_id) AS k,
           count(*) OVER (PARTITION BY m.conversation_id) AS n
    FROM messages m JOIN {assignments} a USING (message_id)
    WHERE m.is_customer
"""

_CLOSING_SQL = f"""
WITH turns AS ({_TURNS.format(week=MESSAGE_WEEK, assignments="{assignments}")}), with_opener AS (
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
HAVING avg(CASE WHEN w.n > 1 AND w.k = w.n THEN 1.0 ELSE 0.0 END) >= $closing
   AND any_value(openers.top) <= $opener * count(*)
"""

_ENDINGS_SQL = f"""
WITH turns AS ({_TURNS.format(week=MESSAGE_WEEK, assignments="assignments")})
SELECT t.conversation_id, t.week, CAST(t.n AS INTEGER) AS customer_turns,
       CASE WHEN closes THEN t.message_id END AS closing_message_id,
       CASE WHEN closes THEN t.topic_id END AS closing_topic_id,
       CASE WHEN NOT closes THEN 'none' WHEN s.p_negative >= $unhappy THEN 'unhappy'
            WHEN s.label = 'positive' THEN 'thanked' ELSE 'neutral' END AS ending
FROM (SELECT *, n > 1 AND topic_id IN (SELECT unnest($closing)) AS closes FROM turns WHERE k = n) t
LEFT JOIN sentiment s USING (message_id)
"""


def raised_sql(closing: str) -> str:
    """SQL for each (topic, conversation) a customer raised: the topics of its customer messages, less
    outliers and the closing topics (``closing``: SQL giving their ids, a parameter's or the stored
    endings'). Impact and the requests' endings both count a conversation under these."""
    return f"""
    SELECT DISTINCT a.topic_id, m.conversation_id
    FROM assignments a JOIN messages m USING (message_id)
    WHERE a.topic_id >= 0 AND a.topic_id NOT IN ({closing})
    """


def assignments_relation(assignments: pd.DataFrame | None) -> tuple[str, dict[str, pd.DataFrame]]:
    """The table a query reads topics from, and the frames it needs: the stored assignments, or those
    of a fit not stored yet (``message_id``, ``topic_id``; see ``Store.query``'s ``frames``)."""
    if assignments is None:
        return "assignments", {}
    return "fit_assignments", {"fit_assignments": assignments[["message_id", "topic_id"]]}


def closing_topics(store: Store, assignments: pd.DataFrame | None = None) -> list[int]:
    """Topics that are how customers end conversations rather than what they came about.

    ``assignments`` (``message_id``, ``topic_id``): read the topics of a fit not stored yet instead of
    the stored ones (``pipeline.topic_update`` groups themes apart from closing topics)."""
    table, frames = assignments_relation(assignments)
    sql = _CLOSING_SQL.format(assignments=table)
    frame = store.query(sql, {"closing": CLOSING_SHARE, "opener": OPENER_SHARE}, frames=frames)
    return sorted(int(t) for t in frame["topic_id"])


def compute_endings(store: Store, closing: list[int]) -> pd.DataFrame:
    """One row per conversation with a customer message: the week of its last customer turn, how
    many it has, and how it ended (``closing``: the closing topics)."""
    return store.query(_ENDINGS_SQL, {"closing": [int(t) for t in closing], "unhappy": UNHAPPY_P})


def save_endings(store: Store, endings: pd.DataFrame, run_id: str) -> int:
    """Replace the endings table (a pure function of assignments and sentiment)."""
    return store.replace_all("conversation_endings", endings.assign(run_id=run_id))


def compare_requests(counts: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """``counts`` (one row per request: ``conversations`` that closed or not, of them ``unhappy``)
    with ``rest_share`` (the unhappy share of every other request's conversations), ``p_value`` and
    ``q_value`` (one-sided, more unhappy than the rest; BH across requests with at least
    ``MIN_CONVERSATIONS``) and ``more_unhappy`` (q at most ``alpha``).

    A conversation that raised two requests counts for both, as in the CSAT impact; the rest's share
    is read from the pooled conversations, so it is an approximation where requests share many."""
    out = counts.copy()
    total_n, total_x = out["conversations"].sum(), out["unhappy"].sum()
    rest_n = (total_n - out["conversations"]).astype(float)
    out["rest_share"] = np.where(rest_n > 0, (total_x - out["unhappy"]) / rest_n.where(rest_n > 0, 1), np.nan)
    tested = out["conversations"].ge(MIN_CONVERSATIONS) & out["rest_share"].between(0, 1, inclusive="neither")
    p = np.ones(len(out))
    if tested.any():
        p[tested.to_numpy()] = one_sided_p(
            out.loc[tested, "unhappy"].to_numpy(), out.loc[tested, "conversations"].to_numpy(),
            out.loc[tested, "rest_share"].to_numpy(), 1,
        )  # fmt: skip
    out["p_value"] = np.where(tested, p, np.nan)
    q = np.full(len(out), np.nan)
    if tested.any():
        q[tested.to_numpy()] = false_discovery_control(p[tested.to_numpy()], method="bh")
    out["q_value"] = q
    out["more_unhappy"] = out["q_value"] <= alpha
    return out
