"""Dashboard pages render from the store with Streamlit's AppTest, and filters change what is shown."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")
WEEKLY = str(ROOT / "dashboard" / "views" / "weekly.py")
EXPLORER = str(ROOT / "dashboard" / "views" / "explorer.py")


@pytest.fixture
def on_store(monkeypatch, pipeline_store):
    monkeypatch.setenv("VOC_STORE", str(pipeline_store))
    return pipeline_store


def _run(path: str) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_landing_page_is_the_weekly_overview(on_store):
    at = _run(APP)
    assert at.title[0].value == "Weekly themes"
    assert {m.label for m in at.metric} == {"Conversations", "Customer messages", "Share negative"}
    themes, topics = at.dataframe[0].value, at.dataframe[1].value
    assert len(themes) >= 2 and themes["messages"].is_monotonic_decreasing
    assert themes["messages"].sum() == topics["messages"].sum()  # every topic sits in one theme
    assert len(topics) >= 3 and topics["messages"].is_monotonic_decreasing
    assert set(topics["theme"]) == set(themes["theme"])


def test_weekly_overview_follows_the_selected_week(on_store):
    at = _run(WEEKLY)
    weeks = at.selectbox(key="week").options
    assert len(weeks) == 4
    latest = at.metric[0].value
    at.selectbox(key="week").set_value(weeks[-1]).run()  # the oldest week
    assert at.query_params["week"] == [weeks[-1]] or at.query_params["week"] == weeks[-1]
    assert at.metric[0].value != latest or at.dataframe[0].value["messages"].sum() > 0


def test_explorer_filters_change_rows_and_url(on_store):
    at = _run(EXPLORER)
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
    assert at.query_params["q"] in ("card", ["card"])


def test_empty_store_explains_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("VOC_STORE", str(tmp_path / "empty.duckdb"))
    at = _run(WEEKLY)
    assert "voc ingest" in at.info[0].value
    assert not at.dataframe
