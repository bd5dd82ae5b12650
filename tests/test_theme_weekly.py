"""Themes get a tested status, as topics do: a rise spread over sibling topics shows on their theme."""

import pandas as pd

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


def _store(tmp_path):
    store = _store_with_counts(tmp_path, COUNTS)
    store.upsert(
        "topics",
        pd.DataFrame(
            [
                {"topic_id": t, "label": f"topic {t}", "theme_id": g, "theme_label": name}
                for t, (g, name) in THEMES.items()
            ]
        ),
    )
    return store


def test_a_rise_spread_over_sibling_topics_makes_their_theme_grow(tmp_path):
    store = _store(tmp_path)
    topics = compute_weekly(store)
    last = topics[topics["week"] == topics["week"].max()].set_index("topic_id")
    assert (last.loc[[0, 1, 2], "status"] == "stable").all()  # no sibling moves enough alone
    themes = theme_weekly.compute_theme_weekly(store, topics, closing=[15])
    final = themes[themes["week"] == themes["week"].max()].set_index("theme_id")
    assert final.loc[0, "status"] == "growing" and final.loc[0, "status_test"] == "week"
    assert final.loc[0, "messages"] == 60 and final.loc[0, "p_value"] < 0.05  # the closer left out
    assert 30 < final.loc[0, "expected"] < 38
    assert (final.loc[[1, 2, 3, 4], "status"] == "stable").all()
    assert (themes[themes["week"] < themes["week"].max()]["status"] == "stable").all()
    assert set(themes["theme_label"]) == set(NAMES)


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
    assert "- **card / arrive** is growing: 90 messages this week against" in text
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
