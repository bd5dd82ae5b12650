"""Themes get a tested status, as topics do: a rise spread over sibling topics shows on their theme."""

import pandas as pd
import pytest

from pipeline import digest, endings, theme_weekly
from pipeline.weekly import compute_weekly
from tests.test_weekly import _store_with_counts

# three sibling topics each up by half in the last week (20 against 10, too little alone), twelve
# steady topics in four other themes, and a closing topic ("thanks") that doubles
STEADY = [30, 31, 29, 30, 30, 29, 31, 30, 30, 30]
COUNTS = {
    0: [10, 11, 9, 10, 10, 9, 11, 10, 10, 20],
    1: [10, 9, 11, 10, 10, 11, 9, 10, 10, 20],
    2: [11, 10, 10, 9, 10, 10, 10, 11, 10, 20],
    **{t: [n - t for n in STEADY] for t in range(3, 15)},
    15: [15, 15, 15, 15, 15, 15, 15, 15, 15, 30],
}
NAMES = ["card / arrive", "pin / change", "transfer / pending", "refund / item", "fee / charge"]
THEMES = {t: (t // 3, NAMES[t // 3]) for t in range(15)} | {15: (0, NAMES[0])}


def _store(tmp_path, counts=COUNTS, themes=THEMES):
    """A store of ``counts`` messages per topic and week, topics grouped into ``themes``."""
    store = _store_with_counts(tmp_path, counts)
    store.upsert(
        "topics",
        pd.DataFrame(
            [
                {"topic_id": t, "label": f"topic {t}", "theme_id": g, "theme_label": name}
                for t, (g, name) in themes.items()
            ]
        ),
    )
    return store


def test_a_rise_spread_over_sibling_topics_makes_their_theme_grow(tmp_path):
    store = _store(tmp_path)
    topics = compute_weekly(store)
    last = topics[topics["week"] == topics["week"].max()].set_index("topic_id")
    assert (last.loc[[0, 1, 2], "status"] == "stable").all()  # no sibling moves enough alone
    themes = theme_weekly.compute_theme_weekly(store, topics, set_aside=[15])
    final = themes[themes["week"] == themes["week"].max()].set_index("theme_id")
    assert final.loc[0, "status"] == "growing" and final.loc[0, "status_test"] == "week"
    assert final.loc[0, "messages"] == 60 and final.loc[0, "p_value"] < 0.05  # the closer left out
    assert 30 < final.loc[0, "expected"] < 38
    assert (final.loc[[1, 2, 3, 4], "status"] == "stable").all()
    assert (themes[themes["week"] < themes["week"].max()]["status"] == "stable").all()
    assert set(themes["theme_label"]) == set(NAMES)


def test_a_theme_counts_each_conversation_once_however_many_of_its_topics_it_touches(tmp_path):
    """For nine weeks each of the theme's 30 customers a week asks three things, one in each of its
    topics (book a table, for four, at 7 pm); in the last week 90 customers ask one thing each. Its
    topics hold 30 conversations every week, and its summed count stays at 90, but three times as
    many customers raised the theme: it grows, and the row says 90 conversations."""
    counts = {0: [30] * 10, 1: [30] * 10, 2: [30] * 10, **{t: COUNTS[t] for t in range(3, 15)}}
    store = _store(tmp_path, counts, {t: THEMES[t] for t in range(15)})
    with store.connect() as con:
        con.execute(
            "UPDATE messages SET conversation_id = regexp_replace(message_id, '^t[0-2]-', 'shared-') "
            "WHERE regexp_matches(message_id, '^t[0-2]-w[0-8]-')"
        )
    topics = compute_weekly(store)
    last = topics[topics["week"] == topics["week"].max()].set_index("topic_id")
    assert (last.loc[[0, 1, 2], "status"] == "stable").all()
    assert (last.loc[[0, 1, 2], "conversations"] == 30).all()
    themes = theme_weekly.compute_theme_weekly(store, topics, set_aside=[])
    card = themes[themes["theme_id"] == 0].sort_values("week")
    assert card["tested_conversations"].tolist() == [30] * 9 + [90]
    # expected: 30 scaled by the week's volume, which its 60 new customers swell
    assert card["status"].iloc[-1] == "growing" and 30 < card["expected"].iloc[-1] < 40
    assert (card["status"].iloc[:-1] == "stable").all()
    others = themes[(themes["theme_id"] != 0) & (themes["week"] == themes["week"].max())]
    assert (others["status"] == "stable").all()  # the week's volume counts each conversation once too


def test_the_brief_gives_each_themes_status_and_the_evidence_for_a_moved_one(tmp_path):
    store = _store(tmp_path)
    topics = compute_weekly(store)
    store.upsert("weekly_stats", topics.assign(run_id="r"))
    closing = endings.closing_topics(store)  # none: every conversation here is one message
    theme_weekly.save_theme_weekly(store, theme_weekly.compute_theme_weekly(store, topics, closing), "r")
    _, text = digest.build_digest(store)
    table = text.split("## Top themes")[1].split("\n\n")[1]
    assert "| Status |" in table.splitlines()[0]
    assert table.splitlines()[2].startswith("| card / arrive |") and table.splitlines()[2].endswith(
        "| growing |"
    )
    assert "- **card / arrive** is growing: 90 conversations in its topics this week against" in text
    assert "false discovery rate across themes" in text


def test_the_theme_bench_explains_an_alarm_only_on_a_theme_carrying_an_event_that_week():
    """bench.theme_status: a theme holding a quarter of a new request's messages explains an alarm
    in the weeks the request is on (8-10), not before; a stopped request is judged on its last week
    (5); a surge only in its own weeks."""
    from bench.scenario import Event
    from bench.theme_status import _carriers

    held = pd.DataFrame(
        {
            "intent": ["new"] * 4 + ["gone"] * 4 + ["burst"] * 4,
            "theme_id": [1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 5, 5],
            "w": [8, 8, 8, 8, 5, 5, 5, 5, 9, 9, 9, 9],
        }
    )
    events = [
        Event("appear", "new", 8, 10, ("emerging", "growing")),
        Event("stop", "gone", 6, 7, ("declining", "dormant")),
        Event("surge", "burst", 9, 10, ("growing", "emerging")),
    ]
    assert _carriers(held, events, 8) == {1, 2, 3}  # the new request's two themes and the stop's
    assert _carriers(held, events, 9) == {3, 4, 5}  # no new-request message in week 9 here
    assert _carriers(held, events, 5) == set()


# four themes of three topics, 12 scored messages a topic-week (a mean of 0: three unhappy, five
# neutral, four pleased); in the last week a quarter more of theme 0's customers, in each of its
# topics, are unhappy, and theme 1's complaint topic (always -0.8) quadruples beside two steady ones
CALM = [-0.8] * 3 + [0.0] * 5 + [0.6] * 4
UPSET = [-0.8] * 6 + [0.0] * 4 + [0.6] * 2
MOOD_COUNTS = {t: [12] * 7 for t in range(12)} | {3: [6] * 6 + [24]}
MOOD_THEMES = {t: (t // 3, NAMES[t // 3]) for t in range(12)}


def _mood_store(tmp_path):
    store = _store(tmp_path, MOOD_COUNTS, MOOD_THEMES)
    rows = []
    for topic, per_week in MOOD_COUNTS.items():
        for week, n in enumerate(per_week):
            scores = [-0.8] * n if topic == 3 else (UPSET if week == 6 and topic < 3 else CALM)
            rows += [
                {"message_id": f"t{topic}-w{week}-{i}", "label": "x", "score": scores[i], "model": "m"}
                for i in range(n)
            ]
    store.upsert("sentiment", pd.DataFrame(rows))
    return store


def test_unhappiness_spread_over_a_themes_topics_is_a_theme_shift_and_a_mix_change_says_so(tmp_path):
    store = _mood_store(tmp_path)
    topics = compute_weekly(store)
    last_week = topics["week"].max()
    last = topics[topics["week"] == last_week].set_index("topic_id")
    # each of theme 0's topics moved from 0 to -0.3 on 12 messages: within chance for a topic alone
    assert last.loc[[0, 1, 2], "sentiment"].round(6).eq(-0.3).all()
    assert (last.loc[[0, 1, 2], "sentiment_q"] > 0.05).all()
    themes = theme_weekly.compute_theme_weekly(store, topics, set_aside=[])
    final = themes[themes["week"] == last_week].set_index("theme_id")
    # the theme's 36 messages against its 144 are a shift, and all of it its topics' own customers
    assert final.loc[0, "sentiment"] == pytest.approx(-0.3)
    assert final.loc[0, "sentiment_baseline"] == pytest.approx(0, abs=1e-9)
    assert final.loc[0, "sentiment_q"] < 0.02
    assert final.loc[0, "sentiment_within"] == pytest.approx(-0.3)
    assert final.loc[0, "sentiment_conversations"] == 36  # the test's units, one message each here
    # theme 1 moved from -0.16 to -0.4 with every customer sounding as before: the mix of its topics
    assert final.loc[1, "sentiment"] == pytest.approx(-0.4)
    assert final.loc[1, "sentiment_baseline"] == pytest.approx(-0.16)
    assert final.loc[1, "sentiment_q"] < 0.05 and final.loc[1, "sentiment_within"] == pytest.approx(
        0, abs=1e-9
    )
    assert (final.loc[[2, 3], "sentiment_q"] > 0.5).all()
    assert themes[themes["week"] < last_week]["sentiment_q"].dropna().gt(0.05).all()

    # the brief says both, each with its split
    store.upsert("weekly_stats", topics.assign(run_id="r"))
    theme_weekly.save_theme_weekly(store, themes, "r")
    _, text = digest.build_digest(store)
    section = text.split("## Sentiment shifts")[1].split("\n## ")[0]
    assert (
        "- Theme **card / arrive**: worse, +0.00 over the 4 weeks before last week → -0.30 this week "
        "(36 conversations; q = " in section
    )
    assert (
        "of the -0.30, its topics' own customers account for -0.30 and the mix of its topics for +0.00"
        in section
    )
    assert "- Theme **pin / change**: worse, -0.16 over" in section
    assert (
        "of the -0.24, its topics' own customers account for +0.00 and the mix of its topics for -0.24"
        in section
    )
    assert "**fee / charge**" not in section and "**refund / item**" not in section
