"""The store, on both backends (a DuckDB file and a PostgreSQL schema): idempotent schema, upserts by
key, writes that fail halfway leave nothing, and readers and writers in separate processes."""

import json
import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pandas as pd
import pytest

from pipeline.store import TABLES, Store, StoreError, execute
from tests.conftest import voc


@pytest.fixture(params=["duckdb", "postgres"])
def location(request, tmp_path) -> str:
    if request.param == "duckdb":
        return str(tmp_path / "s.duckdb")
    return request.getfixturevalue("postgres_store")


def test_init_is_idempotent_and_upsert_replaces_by_key(location):
    store = Store(location).init().init()
    assert store.exists()
    assert set(store.counts()) == set(TABLES)
    row = {"topic_id": 1, "label": "card arrival", "size": 3}
    store.upsert("topics", pd.DataFrame([row]))
    store.upsert("topics", pd.DataFrame([{**row, "label": "card delivery", "size": 5}]))
    topics = store.query("SELECT topic_id, label, size FROM topics")
    assert topics.to_dict("records") == [{"topic_id": 1, "label": "card delivery", "size": 5}]


def test_lists_json_and_times_round_trip_and_weeks_are_cut_in_the_business_zone(location):
    store = Store(location, timezone="America/New_York").init()
    run = {
        "run_id": "r1",
        "started_at": pd.Timestamp("2026-11-02T03:30:00Z"),  # Sunday evening in New York
        "counts": json.dumps({"topics": {"topics": 12, "outlier_share": 0.04}}),
    }
    topic = {"topic_id": 3, "keywords": ["card", "arrive"], "centroid": [0.25, -1.5, 2.0]}
    for _ in range(2):  # the second upsert replaces (lists and JSON included) instead of failing
        store.upsert("runs", pd.DataFrame([run]))
        store.upsert("topics", pd.DataFrame([topic]))
    got = store.query(
        "SELECT counts->>'$.topics.topics' AS n, "
        "strftime(date_trunc('week', started_at), '%Y-%m-%d') AS week FROM runs"
    )
    assert got.to_dict("records") == [{"n": "12", "week": "2026-10-26"}]
    kept = store.query("SELECT keywords, centroid FROM topics").iloc[0]
    assert list(kept["keywords"]) == ["card", "arrive"] and list(kept["centroid"]) == [0.25, -1.5, 2.0]


def test_a_write_that_fails_halfway_leaves_nothing(location):
    store = Store(location).init()
    with pytest.raises(RuntimeError, match="crash"), store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        store.upsert("topics", pd.DataFrame([{"topic_id": 1, "label": "half"}]), con=con)
        raise RuntimeError("crash before commit")
    assert store.counts()["topics"] == 0


def _as_an_older_voc_wrote_it(store: Store) -> None:
    """Take away what recent versions added: the status test's count (conversations) and the per-run
    topic counts."""
    with store.connect() as con:
        execute(con, "ALTER TABLE weekly_stats DROP COLUMN tested_conversations")
        execute(con, "DROP TABLE topic_counts")


def test_an_older_stores_missing_columns_are_added_and_its_rows_kept(location):
    store = Store(location).init()
    store.upsert(
        "weekly_stats", pd.DataFrame([{"topic_id": 4, "week": pd.Timestamp("2026-11-02"), "messages": 9}])
    )
    _as_an_older_voc_wrote_it(store)
    assert store.missing() == ["topic_counts", "weekly_stats.tested_conversations"]
    assert store.upgrade() == ["topic_counts", "weekly_stats.tested_conversations"]
    assert store.missing() == [] and store.upgrade() == []
    kept = store.query("SELECT topic_id, messages, tested_conversations FROM weekly_stats")
    assert kept["messages"].tolist() == [9] and kept["tested_conversations"].isna().all()


def test_digest_and_export_read_a_store_an_older_voc_wrote(pipeline_store, runtime_env, tmp_path):
    old = tmp_path / "old.duckdb"
    shutil.copy(pipeline_store, old)
    _as_an_older_voc_wrote_it(Store(old))
    brief = tmp_path / "brief.md"
    done = voc(["digest", "--store", str(old), "--out", str(brief)], runtime_env)
    assert "upgraded" in done.stdout and "weekly_stats.tested_conversations" in done.stdout
    assert "## Top themes" in brief.read_text()
    weekly = tmp_path / "weekly.csv"
    again = voc(["export", "weekly", "--store", str(old), "--out", str(weekly)], runtime_env)
    assert "upgraded" not in again.stdout  # once is enough
    exported = pd.read_csv(weekly)
    assert "tested_conversations" in exported and len(exported) > 0 and exported["status"].notna().all()


def test_reading_a_missing_store_says_what_to_do(location):
    with pytest.raises(StoreError, match="voc ingest"):
        Store(location).query("SELECT 1")


def test_unknown_time_zone_is_rejected(tmp_path):
    with pytest.raises(StoreError, match="time zone"):
        Store(tmp_path / "s.duckdb", timezone="Mars/Olympus")


def test_a_reader_in_another_process_only_delays_a_writer(tmp_path):
    """The dashboard's read-only connection must not make a pipeline write fail."""
    path = tmp_path / "s.duckdb"
    Store(path).init()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}, read_only=True); "
            "print('open', flush=True); time.sleep(2); c.close()",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "open"
    started = time.monotonic()
    Store(path, lock_timeout_s=30).upsert("topics", pd.DataFrame([{"topic_id": 7, "label": "x"}]))
    waited = time.monotonic() - started
    holder.wait(timeout=30)
    assert waited >= 0.5  # it really had to wait for the other process
    assert Store(path).query("SELECT label FROM topics")["label"].tolist() == ["x"]


def test_a_postgres_store_never_shows_or_hands_on_its_password(postgres_url):
    port = urlsplit(postgres_url).port
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = f"postgresql://voc:s3cr%C3%A9t@127.0.0.1:{closed}/voc?schema=brand_a"
    store = Store(url)
    assert "s3cr" not in store.name and "s3cr" not in store.location
    assert store.location == f"postgresql://voc@127.0.0.1:{closed}/voc?schema=brand_a"
    assert store.credentials_env() == {"PGPASSWORD": "s3crét"}  # what a flow run gets, not a parameter
    with pytest.raises(StoreError) as caught:
        store.query("SELECT 1")
    message = str(caught.value)
    assert "s3cr" not in message and str(closed) in message and "\n" not in message
    assert port != closed


def test_a_postgres_reader_does_not_delay_a_writer(postgres_store):
    """MVCC instead of a file lock: the dashboard reading mid-transaction never holds up a run."""
    store = Store(postgres_store).init()
    store.upsert("topics", pd.DataFrame([{"topic_id": 1, "label": "before"}]))
    with store.connect(read_only=True) as reader:
        execute(reader, "BEGIN TRANSACTION")
        assert execute(reader, "SELECT label FROM topics") == [("before",)]
        started = time.monotonic()
        store.upsert("topics", pd.DataFrame([{"topic_id": 1, "label": "after"}]))
        assert time.monotonic() - started < 5
        assert execute(reader, "SELECT label FROM topics") == [("before",)]  # its snapshot holds
    assert store.query("SELECT label FROM topics")["label"].tolist() == ["after"]
