"""The store: idempotent schema, upserts by key, and readers and writers in separate processes."""

import subprocess
import sys
import time

import pandas as pd
import pytest

from pipeline.store import Store, StoreError


def test_init_is_idempotent_and_upsert_replaces_by_key(tmp_path):
    store = Store(tmp_path / "s.duckdb").init().init()
    row = {"topic_id": 1, "label": "card arrival", "size": 3}
    store.upsert("topics", pd.DataFrame([row]))
    store.upsert("topics", pd.DataFrame([{**row, "label": "card delivery", "size": 5}]))
    topics = store.query("SELECT topic_id, label, size FROM topics")
    assert topics.to_dict("records") == [{"topic_id": 1, "label": "card delivery", "size": 5}]


def test_reading_a_missing_store_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="voc ingest"):
        Store(tmp_path / "none.duckdb").query("SELECT 1")


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
