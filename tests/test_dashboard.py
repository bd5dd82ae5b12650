"""Every dashboard page renders from a real store with Streamlit's AppTest; filters and actions work."""

import json
import re
import shutil

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from pipeline import queries
from pipeline.store import Store
from tests.conftest import ROOT, voc

APP = str(ROOT / "dashboard" / "app.py")
PAGES = ["brief", "explorer", "topic", "map", "health"]


@pytest.fixture
def on_store(monkeypatch, pipeline_store):
    monkeypatch.setenv("VOC_STORE", str(pipeline_store))
    return pipeline_store


@pytest.fixture
def own_store(monkeypatch, pipeline_store, tmp_path):
    """A copy of the session store for tests that change it (taxonomy decisions)."""
    path = tmp_path / "voc.duckdb"
    shutil.copy(pipeline_store, path)
    monkeypatch.setenv("VOC_STORE", str(path))
    return path


def _page(page: str, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(f"views/{page}.py")
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _param(at: AppTest, key: str):
    value = at.query_params[key]
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def test_landing_page_is_the_weekly_brief(on_store):
    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert at.title[0].value == "Weekly brief"
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Conversations", "Customer messages", "Share negative", "In no topic"}
    themes, topics = at.dataframe[0].value, at.dataframe[1].value
    assert len(themes) >= 2 and themes["messages"].is_monotonic_decreasing
    assert themes["messages"].sum() == topics["messages"].sum()  # every topic sits in one theme
    assert len(topics) >= 3 and topics["messages"].is_monotonic_decreasing
    assert set(topics["theme"]) == set(themes["theme"])
    for theme in themes.itertuples():  # each theme shows its biggest topics of the week, biggest first
        assert theme.largest == ", ".join(topics[topics["theme"] == theme.theme]["topic"].head(3))
    assert topics["detail"].str.match(r"\./topic\?topic=\d+$").all()  # each topic links to its page
    week = at.selectbox(key="week").value
    assert week == at.selectbox(key="week").options[0]  # fixture weeks are all complete: the newest
    digest = at.expander[0].markdown[0].value
    assert digest.startswith(f"# Voice of the customer: week of {week}")
    # the messages the themes and topics tables leave out, as the weekly statistics counted them
    week_stats = Store(on_store).query("SELECT topic_id, messages FROM weekly_stats WHERE week = ?", [week])
    unassigned = int(week_stats.loc[week_stats["topic_id"] < 0, "messages"].sum())
    assert metrics["In no topic"] == f"{unassigned / week_stats['messages'].sum():.0%}"
    assert (f"- {unassigned:,} customer messages" in digest) == (unassigned > 0)
    buttons = {b.label for b in at.get("download_button")}
    assert buttons >= {"Download digest (Markdown)", "Download digest (HTML)"}
    # each channel's tested status (pipeline.channel_weekly): a moved one's evidence, or that none moved
    channels = Store(on_store).query("SELECT status, p_value FROM channel_weekly WHERE week = ?", [week])
    moved = channels["status"] != "stable"
    said = [c.value for c in at.caption if c.value.startswith("Channel **")]
    assert len(said) == moved.sum()
    none_moved = not moved.any() and channels["p_value"].notna().any()  # tested, and none moved
    assert none_moved == any(c.value.startswith("No channel's share of conversations") for c in at.caption)


def test_weekly_brief_follows_the_selected_week(on_store):
    at = _page("brief")
    weeks = at.selectbox(key="week").options
    assert len(weeks) == 4
    newest_topics = at.dataframe[1].value
    at.selectbox(key="week").set_value(weeks[-1]).run()  # the oldest week
    _ok(at)
    assert _param(at, "week") == weeks[-1]
    assert at.expander[0].markdown[0].value.startswith(f"# Voice of the customer: week of {weeks[-1]}")
    oldest_topics = at.dataframe[1].value
    assert not oldest_topics[["topic", "messages"]].equals(newest_topics[["topic", "messages"]])


def test_explorer_filters_change_rows_and_url(on_store):
    at = _page("explorer")
    all_rows = len(at.dataframe[1].value)
    at.multiselect(key="channel").set_value(["email"]).run()
    rows = at.dataframe[1].value
    assert 0 < len(rows) < all_rows and set(rows["channel"]) == {"email"}
    at.multiselect(key="lang").set_value(["fr"]).run()  # French fixture messages are all WhatsApp
    assert "No customer message matches" in at.info[0].value
    at.multiselect(key="channel").set_value([]).run()
    assert len(at.dataframe[1].value) > 0 and set(at.dataframe[1].value["language"]) == {"fr"}
    at.multiselect(key="lang").set_value([]).run()
    at.text_input(key="q").set_value("card").run()
    texts = at.dataframe[1].value["text"]
    assert len(texts) > 0 and texts.str.contains("card", case=False).all()
    assert _param(at, "q") == "card"


def test_explorer_theme_metadata_and_trend(on_store):
    at = _page("explorer")
    topics = at.dataframe[0].value
    weeks = 4
    assert topics["trend"].map(len).eq(weeks).all()  # one point per week in range, zeros included
    assert (topics["trend"].map(sum) == topics["messages"]).all()
    theme = topics["theme"].iloc[0]
    at.multiselect(key="theme").set_value([theme]).run()
    _ok(at)
    assert set(at.dataframe[0].value["theme"]) == {theme} and _param(at, "theme") == theme
    at.multiselect(key="theme").set_value([]).run()
    # the fixture's SGD dialogues carry brand=Acme Bank; Banking77 and MASSIVE messages carry none
    at.multiselect(key="meta.brand").set_value(["Acme Bank"]).run()
    _ok(at)
    rows = at.dataframe[1].value
    assert len(rows) > 0 and rows["conversation_id"].str.startswith("sgd-").all()
    assert _param(at, "meta.brand") == "Acme Bank"


def test_explorer_restores_a_shared_link(on_store):
    at = _page("explorer", channel="email", q="card")
    assert at.multiselect(key="channel").value == ["email"] and at.text_input(key="q").value == "card"
    rows = at.dataframe[1].value
    assert len(rows) > 0 and set(rows["channel"]) == {"email"}


def test_explorer_date_range_narrows_rows_and_sparklines(on_store):
    from datetime import date

    at = _page("explorer")
    first, last = at.date_input(key="dates").value
    assert _param(at, "from") == first.isoformat() and _param(at, "to") == last.isoformat()
    everything = at.dataframe[0].value["messages"].sum()
    at.date_input(key="dates").set_value((date(2026, 10, 12), date(2026, 10, 14))).run()  # Mon-Wed
    _ok(at)
    rows = at.dataframe[1].value
    days = rows["sent_at"].str[:10]
    assert len(rows) > 0 and days.between("2026-10-12", "2026-10-14").all()
    topics = at.dataframe[0].value
    assert topics["messages"].sum() < everything and topics["trend"].map(len).eq(1).all()  # one week
    assert _param(at, "from") == "2026-10-12" and _param(at, "to") == "2026-10-14"
    shared = _page("explorer", **{"from": "2026-10-12", "to": "2026-10-14"})
    assert shared.dataframe[0].value["messages"].sum() == topics["messages"].sum()


def test_topic_detail_shows_one_topic_in_full(on_store):
    options = Store(on_store).query(
        "SELECT topic_id, label FROM topics WHERE topic_id >= 0 "
        "AND coalesce(state, 'active') != 'merged' ORDER BY size DESC LIMIT 1"
    )
    biggest = options.iloc[0]
    at = _page("topic", topic=str(int(biggest["topic_id"])))
    assert at.selectbox(key="topic").value == int(biggest["topic_id"])
    assert at.header[0].value == biggest["label"]
    assert at.metric[0].value != "0"
    verbatims = [m.value for m in at.markdown if m.value.startswith("> ")]
    assert len(verbatims) >= 3
    related = at.dataframe[0].value
    assert len(related) == 5 and related["similarity"].is_monotonic_decreasing
    assert biggest["label"] not in set(related["label"]) or len(set(related["label"])) == 5


def test_a_status_from_a_local_shift_shows_its_messages_on_the_brief_and_the_topic_page(own_store):
    """Where a group of messages in a topic moved (pipeline.weekly), the brief quotes that group's
    messages and says which test called it; the topic page says it under the weekly chart."""
    store = Store(own_store)
    week = store.query("SELECT max(week) AS w FROM weekly_stats")["w"][0]
    row = store.query(
        "SELECT topic_id, messages FROM weekly_stats WHERE week = ? AND topic_id >= 0 "
        "ORDER BY messages DESC LIMIT 1",
        [week],
    ).iloc[0]
    topic = int(row["topic_id"])
    part = store.query(
        "SELECT a.message_id, m.text FROM assignments a JOIN messages m USING (message_id) "
        "WHERE a.topic_id = ? AND date_trunc('week', m.sent_at) = ? ORDER BY a.probability LIMIT 3",
        [topic, week],
    )  # the least typical of the topic: not what the topic's own quotes would pick
    with store.connect() as con:
        con.execute(
            "UPDATE weekly_stats SET status = 'growing', p_value = 0.004, part_messages = 3, "
            "part_conversations = 2, part_expected = 0.5, part_message_ids = ? "
            "WHERE week = ? AND topic_id = ?",
            [json.dumps(part["message_id"].tolist()), week, topic],
        )
    at = _page("brief")
    said = [m.value for m in at.markdown if "— growing: a group of similar messages in it" in m.value]
    assert len(said) == 1 and "2 conversations (3 messages) this week against 0.5 expected" in said[0]
    weeks = store.query(
        "SELECT coalesce(tested_conversations, conversations) AS n FROM weekly_stats "
        "WHERE topic_id = ? AND week <= ? ORDER BY week DESC LIMIT 8",
        [topic, week],
    )["n"].tolist()[::-1]  # the weeks behind the flag, this week last
    trail = " → ".join([str(n) for n in weeks[:-1]] + [f"**{weeks[-1]}**"])
    assert f"Conversations week by week, the last {len(weeks)}: {trail}" in [c.value for c in at.caption]
    quoted = {m.value[2:] for m in at.markdown if m.value.startswith("> ")}
    assert set(part["text"]) <= quoted
    at = _page("topic", topic=str(topic))
    assert any(
        "by a group of similar messages in the topic, 2 conversations (3 messages) against 0.5 expected"
        in c.value
        for c in at.caption
    )


def _largest_topic(store: Store) -> tuple:
    """The newest week and its largest topic: where a test plants a status."""
    week = store.query("SELECT max(week) AS w FROM weekly_stats")["w"][0]
    sql = "SELECT topic_id FROM weekly_stats WHERE week = ? AND topic_id >= 0 ORDER BY messages DESC LIMIT 1"
    return week, int(store.query(sql, [week])["topic_id"][0])


def test_a_steady_rise_says_its_fitted_line_on_the_brief_and_the_topic_page(own_store):
    """Where the trend test called a topic growing (pipeline.trend_test), the brief's card and the
    topic page say the fitted line over the window and its q, not the week's count test."""
    store = Store(own_store)
    week, topic = _largest_topic(store)
    with store.connect() as con:
        con.execute(
            "UPDATE weekly_stats SET status = 'growing', status_test = 'trend', p_value = 0.012, "
            "trend_q = 0.012, trend_factor = 1.12, trend_from = 16.1, trend_to = 36.6, trend_weeks = 8 "
            "WHERE week = ? AND topic_id = ?",
            [week, topic],
        )
    at = _page("brief")
    said = [m.value for m in at.markdown if "— growing: a steady rise over the last 8 weeks" in m.value]
    assert len(said) == 1
    assert (
        "from about 16.1 to 36.6 conversations a week on the fitted line" in said[0]
        and "+12% a week, q = 0.012" in said[0]
    )
    weeks = min(8, len(store.query("SELECT DISTINCT week FROM weekly_stats WHERE topic_id = ?", [topic])))
    assert any(
        c.value.startswith(f"Conversations week by week, the last {weeks}:") for c in at.caption
    )  # the window
    at = _page("topic", topic=str(topic))
    assert any(
        "growing by a steady rise over the last 8 weeks, from about 16.1" in c.value for c in at.caption
    )


def test_a_steady_fall_is_a_declining_card_with_what_customers_said_before(own_store):
    """Where the trend test called a topic declining, the brief shows it under "Declining" as the
    digest does: the fitted line, the last weeks' counts and two messages from the weeks before (what
    customers have stopped saying); the topic page says the line too. Before, the dashboard brief
    listed rises only."""
    store = Store(own_store)
    week, topic = _largest_topic(store)
    with store.connect() as con:
        con.execute("UPDATE weekly_stats SET status = 'stable' WHERE week = ?", [week])
        con.execute(
            "UPDATE weekly_stats SET status = 'declining', status_test = 'trend', p_value = 0.004, "
            "trend_q = 0.004, trend_factor = 0.8, trend_from = 20.5, trend_to = 4.4, trend_weeks = 8 "
            "WHERE week = ? AND topic_id = ?",
            [week, topic],
        )
    at = _page("brief")
    assert "Declining" in [h.value for h in at.subheader]
    said = [m.value for m in at.markdown if "— declining: a steady fall over the last 8 weeks" in m.value]
    assert (
        len(said) == 1
        and "from about 20.5 to 4.4 conversations a week" in said[0]
        and "-20% a week" in said[0]
    )
    assert "Before, over the last 4 weeks:" in [c.value for c in at.caption]
    before = queries.week_verbatims(store, str(week), [topic], 2, 4)["text"].tolist()
    quoted = [m.value for m in at.markdown if m.value.startswith("> ")]
    assert before and all(f"> {text}" in quoted for text in before)
    at = _page("topic", topic=str(topic))
    assert any(
        "declining by a steady fall over the last 8 weeks, from about 20.5" in c.value for c in at.caption
    )


def test_a_themes_sentiment_shift_is_said_on_the_brief_with_its_split(own_store):
    """Where a theme's sentiment shifted (pipeline.theme_weekly), the brief's sentiment section says
    it, as the digest does, with the part its topics' own customers made and the part of the mix."""
    store = Store(own_store)
    week = store.query("SELECT max(week) AS w FROM theme_weekly")["w"][0]
    theme, label = store.query(
        "SELECT theme_id, theme_label FROM theme_weekly WHERE week = ? ORDER BY messages DESC LIMIT 1", [week]
    ).iloc[0]
    with store.connect() as con:
        con.execute(
            "UPDATE theme_weekly SET sentiment = -0.45, sentiment_baseline = -0.1, sentiment_q = 0.003, "
            "sentiment_within = -0.3 WHERE week = ? AND theme_id = ?",
            [week, int(theme)],
        )
    at = _page("brief", week=str(week))
    said = [m.value for m in at.markdown if m.value.startswith(f"- Theme **{label}**: worse, -0.10 over")]
    assert len(said) == 1  # the section's own line (the digest below the page says it too)
    assert "→ -0.45 this week" in said[0] and "q = 0.003" in said[0]
    assert (
        "of the -0.35, its topics' own customers account for -0.30 and the mix of its topics for -0.05"
        in said[0]
    )


def test_rename_and_merge_in_the_dashboard_persist_and_survive_a_run(own_store, runtime_env):
    store = Store(own_store)
    pick = store.query(
        "SELECT topic_id, label, size FROM topics WHERE topic_id >= 0 "
        "AND coalesce(state, 'active') != 'merged' ORDER BY size DESC, topic_id LIMIT 3"
    )
    renamed, absorbed, target = (int(t) for t in pick["topic_id"])
    at = _page("topic", topic=str(renamed))
    at.text_input(key="decided_by").set_value("cco@example")
    at.text_input(key="new_label").set_value("Card payments: the lot")
    at.button[0].click().run()  # the rename form's submit
    _ok(at)
    assert at.header[0].value == "Card payments: the lot"
    assert "renamed" in at.success[0].value

    at = _page("topic", topic=str(absorbed))
    at.selectbox(key="merge_target").set_value(target)
    at.button[1].click().run()  # unsigned: refused with a message, nothing stored
    assert "Say who decides" in at.error[0].value and at.selectbox(key="topic").value == absorbed
    at.text_input(key="decided_by").set_value("cco@example")
    at.selectbox(key="merge_target").set_value(target)
    at.button[1].click().run()  # the merge form's submit
    _ok(at)
    assert at.selectbox(key="topic").value == target  # the page follows the messages
    assert absorbed not in at.selectbox(key="topic").options
    lineage = at.dataframe[1].value
    assert ((lineage["event"] == "merged") & (lineage["topic_id"] == absorbed)).any()

    weekly = _page("brief")
    shown = weekly.dataframe[1].value["topic"].tolist()
    assert "Card payments: the lot" in shown and pick["label"].iloc[1] not in shown

    voc(["run", "--store", str(own_store), "--refit"], runtime_env)  # a re-fit respects the decisions
    with duckdb.connect(str(own_store), read_only=True) as con:
        assert con.execute("SELECT label FROM topics WHERE topic_id = ?", [renamed]).fetchone()[0] == (
            "Card payments: the lot"
        )
        state = con.execute("SELECT state FROM topics WHERE topic_id = ?", [absorbed]).fetchone()[0]
        left = con.execute("SELECT count(*) FROM assignments WHERE topic_id = ?", [absorbed]).fetchone()[0]
        who = con.execute("SELECT DISTINCT decided_by FROM topic_overrides").fetchall()
    assert state == "merged" and left == 0 and who == [("cco@example",)]


def test_pages_read_a_store_an_older_voc_wrote(own_store):
    """A store written before the status test's count existed still shows, once the page adds it."""
    with Store(own_store).connect() as con:
        con.execute("ALTER TABLE weekly_stats DROP COLUMN tested_conversations")
        con.execute("DROP TABLE topic_counts")
    for page in PAGES:
        at = _page(page)
        assert at.dataframe or at.metric, page
    assert Store(own_store).missing() == []


def test_topic_map_places_every_active_topic(on_store):
    at = _page("map")
    table = at.dataframe[0].value
    active = (
        Store(on_store)
        .query(
            "SELECT count(*) AS n FROM topics WHERE topic_id >= 0 AND coalesce(state, 'active') != 'merged' "
            "AND size > 0"
        )["n"]
        .iloc[0]
    )
    assert len(table) == active and table["messages"].is_monotonic_decreasing
    assert at.get("vega_lite_chart")  # the map itself


def test_pipeline_health_shows_runs_quarantine_and_schedule(on_store):
    at = _page("health")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Last completed run"] != "–"
    # the next run is shown as the other times are (day, month, time), its weekday and zone on hover
    assert re.fullmatch(r"\d\d [A-Z][a-z]{2} \d\d:\d\d", metrics["Next scheduled run"])
    nxt = next(m for m in at.metric if m.label == "Next scheduled run")
    assert nxt.help.startswith("Monday ") and nxt.help.endswith("(UTC)")
    runs = at.dataframe[0].value
    assert (runs["status"] == "completed").any() and (runs["prepared"] > 0).any()
    quarantine = at.dataframe[1].value
    assert quarantine["records"].sum() == 7  # BAD_LINES in the fixture
    assert {"sent_at", "text", "conversation_id", "author_role"} <= set(quarantine["field"])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_an_empty_store(monkeypatch, tmp_path, page):
    monkeypatch.setenv("VOC_STORE", str(tmp_path / "empty.duckdb"))
    at = _page(page)
    assert "voc ingest" in at.info[0].value
    assert not at.dataframe


def test_a_page_waits_out_a_writer_instead_of_failing(own_store):
    """A run holds the store file while it writes: the page waits for it and then renders."""
    import subprocess
    import sys
    import time

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(3); c.close()",
            str(own_store),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    at = _page("health")
    holder.wait(timeout=30)
    assert time.monotonic() - t0 > 1  # it really waited for the writer
    assert at.dataframe[0].value["status"].eq("completed").any()


def test_health_shows_the_last_pull_while_a_run_is_in_progress(own_store):
    """A scheduled run records its counts when it ends: while one runs (and after a run started by
    hand), the page still shows what the schedule last pulled."""
    from datetime import UTC, datetime

    from pipeline import runs as run_records

    store = Store(own_store)
    pulled = {
        "pull": {"/data/chats.jsonl": {"read": 12, "stored": 10, "quarantined": 2, "unchanged_files": 0}}
    }
    run_records.record_run(
        store,
        "run-scheduled",
        status="completed",
        started_at=datetime(2099, 1, 5, 6, tzinfo=UTC),
        ended_at=datetime(2099, 1, 5, 6, 1, tzinfo=UTC),
        counts=pulled,
    )
    run_records.record_run(
        store, "run-in-progress", status="running", started_at=datetime(2099, 1, 12, 6, tzinfo=UTC)
    )
    assert json.loads(store.query("SELECT counts FROM runs WHERE run_id = 'run-scheduled'")["counts"][0])
    at = _page("health")
    assert not at.exception
    pulls = at.dataframe[0].value
    assert pulls["source"].tolist() == ["/data/chats.jsonl"] and pulls["quarantined"].tolist() == [2]
