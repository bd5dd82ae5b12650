"""The whole user path on a PostgreSQL store (a real server): `voc ingest`, `voc run`, exports, an
incremental run, a taxonomy decision, the digest and the dashboard give what a DuckDB store gives
for the same messages."""

import json
import socket

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from pipeline.store import Store
from tests.conftest import ROOT, voc, write_late_card_message
from tests.test_dashboard import PAGES

KEYS = {
    "messages": ["message_id"],
    "weekly": ["week", "topic_id"],
    "quarantine": ["source_file", "source_line"],
}


@pytest.fixture(scope="module")
def both_stores(postgres_url, fixture_file, runtime_env, tmp_path_factory) -> dict[str, str]:
    """The fixture messages run through the CLI into a DuckDB file and a PostgreSQL schema."""
    stores = {
        "duckdb": str(tmp_path_factory.mktemp("duck") / "voc.duckdb"),
        "postgres": f"{postgres_url}?schema=e2e",
    }
    for location in stores.values():
        voc(["ingest", str(fixture_file), "--store", location], runtime_env)
        voc(["run", "--store", location], runtime_env)
    return stores


def _export(what: str, location: str, env, dest) -> pd.DataFrame:
    voc(["export", what, "--store", location, "--out", str(dest)], env)
    return pd.read_csv(dest).sort_values(KEYS[what]).reset_index(drop=True)


def test_postgres_store_gives_the_same_results_as_duckdb(both_stores, runtime_env, tmp_path):
    for what in KEYS:
        pg = _export(what, both_stores["postgres"], runtime_env, tmp_path / f"pg-{what}.csv")
        duck = _export(what, both_stores["duckdb"], runtime_env, tmp_path / f"duck-{what}.csv")
        assert list(pg.columns) == list(duck.columns) and len(pg) == len(duck) > 0
        if what == "quarantine":  # the same records, reasons and raw text; only the time differs
            pg, duck = pg.drop(columns="quarantined_at"), duck.drop(columns="quarantined_at")
        # the same topics, labels, sentiment and statuses; sums may differ in the last bit (row order)
        pd.testing.assert_frame_equal(pg, duck, check_exact=False, rtol=1e-9, atol=1e-12)
    pg_messages = pd.read_csv(tmp_path / "pg-messages.csv")
    customers = pg_messages[pg_messages["author_role"] == "customer"]
    assert customers["topic_id"].notna().all() and customers["topic_label"].notna().any()
    run = Store(both_stores["postgres"]).query("SELECT status, counts FROM runs")
    assert run["status"].tolist() == ["completed"]
    assert json.loads(run["counts"][0])["topics"]["topics"] >= 5


def test_dashboard_reads_a_postgres_store(both_stores, monkeypatch):
    """Before the incremental test below changes the PostgreSQL store: the same brief on both."""
    tables = {}
    for backend, location in both_stores.items():
        monkeypatch.setenv("VOC_STORE", location)
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        assert at.title[0].value == "Weekly brief"
        tables[backend] = at.dataframe[1].value[["topic", "messages"]].reset_index(drop=True)
    assert len(tables["postgres"]) >= 3
    pd.testing.assert_frame_equal(tables["postgres"], tables["duckdb"])


def test_incremental_run_and_taxonomy_decisions_on_postgres(both_stores, runtime_env, tmp_path):
    location = both_stores["postgres"]
    store = Store(location)
    before = store.query("SELECT message_id, topic_id FROM assignments")
    new = write_late_card_message(tmp_path / "new.jsonl", "pg-late-1", "whatsapp")
    assert "1 stored" in voc(["ingest", str(new), "--store", location], runtime_env).stdout
    voc(["run", "--store", location], runtime_env)
    runs = store.query("SELECT counts FROM runs WHERE status = 'completed' ORDER BY started_at")
    counts = json.loads(runs["counts"].iloc[-1])
    assert counts["embed"]["embedded"] == 1 and counts["topics"]["mode"] == "assign"
    after = store.query("SELECT message_id, topic_id FROM assignments")
    kept = before.merge(after, on="message_id", suffixes=("_before", "_after"))
    assert len(kept) == len(before) and (kept["topic_id_before"] == kept["topic_id_after"]).all()

    topic = int(after["topic_id"].value_counts().drop(-1, errors="ignore").index[0])
    voc(["topics", "rename", str(topic), "Card delivery", "--store", location, "--by", "cco"], runtime_env)
    voc(["run", "--store", location, "--refit"], runtime_env)  # decisions are re-applied after a re-fit
    labels = store.query("SELECT topic_id, label, label_source FROM topics WHERE label = 'Card delivery'")
    assert labels["topic_id"].tolist() == [topic] and labels["label_source"].tolist() == ["renamed"]
    brief = tmp_path / "brief.md"
    voc(["digest", "--store", location, "--week", "2026-10-26", "--out", str(brief)], runtime_env)
    assert brief.read_text().startswith("# Voice of the customer: week of 2026-10-26")

    # a merge moves the run's weekly counts with the messages (read, summed and written back there)
    sizes = store.query("SELECT topic_id FROM topics WHERE topic_id >= 0 AND state = 'active' ORDER BY size")
    small, into = (int(t) for t in sizes["topic_id"].iloc[:2])
    total = "SELECT coalesce(sum(messages), 0) AS n FROM topic_counts WHERE topic_id IN (?, ?)"
    before_merge = int(store.query(total, [small, into])["n"][0])
    voc(["topics", "merge", str(small), str(into), "--store", location, "--by", "cco"], runtime_env)
    assert store.query("SELECT count(*) AS n FROM topic_counts WHERE topic_id = ?", [small])["n"][0] == 0
    assert int(store.query(total, [small, into])["n"][0]) == before_merge > 0


def test_dashboard_explains_an_unreachable_postgres_store(monkeypatch):
    """A database server that is down is a message on every page, never a traceback or a password."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("VOC_STORE", f"postgresql://voc:hunter2@127.0.0.1:{port}/voc")
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown = " ".join(e.value for e in [*at.error, *at.warning, *at.info])
        assert "cannot be read" in shown or "busy or unreadable" in shown, (page, shown)
        assert str(port) in shown and "hunter2" not in shown
