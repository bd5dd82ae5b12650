"""Ingest: the input contract, quarantine with file/line/reason, idempotent re-ingest, PII never stored."""

import json

import pandas as pd
import pytest

from pipeline.ingest import ingest
from pipeline.store import Store
from tests.conftest import BAD_LINES, PLANTED_PII


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "voc.duckdb")


def test_good_records_load_and_bad_ones_are_quarantined(fixture_file, store):
    lines = fixture_file.read_text(encoding="utf-8").splitlines()
    report = ingest([fixture_file], store)
    assert report.read == len(lines)
    assert report.quarantined == len(BAD_LINES)
    assert report.stored == len(lines) - len(BAD_LINES)
    assert report.duplicates == 0

    q = store.query(
        "SELECT source_file, source_line, field, reason, raw FROM quarantine ORDER BY source_line"
    )
    assert len(q) == len(BAD_LINES)
    # every quarantined row points at the exact line of the file that holds it
    for row in q.itertuples():
        assert row.source_file == str(fixture_file)
        assert lines[row.source_line - 1].startswith(row.raw[:20])
    by_line = {r.source_line: f"{r.field} {r.reason}" for r in q.itertuples()}
    for raw, expected in BAD_LINES:
        assert expected in by_line[lines.index(raw) + 1]
    # PII inside a quarantined record is redacted too
    assert not q["raw"].str.contains("bad.actor@example.com").any()


def test_reingest_adds_nothing(fixture_file, store):
    first = ingest([fixture_file], store)
    before = store.counts()
    second = ingest([fixture_file], store)  # the watermark: an unchanged file is not read again
    assert second.unchanged_files == 1 and second.read == 0 and second.stored == 0
    forced = ingest([fixture_file], store, watermark=False)  # read again: every id is known already
    assert forced.stored == 0
    assert forced.duplicates == first.stored
    assert store.counts() == before


def test_a_grown_file_is_read_from_where_the_last_pull_stopped(tmp_path, store):
    path = tmp_path / "feed.jsonl"
    rows = [
        {"conversation_id": f"c{i}", "message_id": f"m{i}", "text": f"question number {i}"} for i in range(6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:4]), encoding="utf-8")
    assert ingest([path], store).stored == 4
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows[4:]))
    grown = ingest([path], store)
    assert grown.read == 2 and grown.stored == 2 and grown.duplicates == 0
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")  # rewritten: read whole, known ids skipped
    rewritten = ingest([path], store)
    assert rewritten.read == 1 and rewritten.duplicates == 1
    assert store.query("SELECT count(*) AS n FROM messages")["n"].iloc[0] == 6


def test_pii_never_reaches_the_store(fixture_file, store):
    ingest([fixture_file], store)
    with store.connect(read_only=True) as con:
        dump = " ".join(
            str(v)
            for table in ("messages", "quarantine", "conversations")
            for row in con.execute(f"SELECT * FROM {table}").fetchall()
            for v in row
        )
    for pii in PLANTED_PII:
        assert pii not in dump
    assert "[EMAIL]" in dump and "[PHONE]" in dump and "[CARD]" in dump and "[IBAN]" in dump


def test_contract_fields_times_and_metadata(tmp_path, store):
    src = tmp_path / "in.jsonl"
    records = [
        {
            "conversation_id": 17,
            "text": "Where is my card?",
            "sent_at": "2026-10-06T10:00:00+02:00",
            "author_role": "Customer",
            "channel": "WhatsApp",
            "csat": 2,
            "product": "Pay",
        },
        {
            "conversation_id": "17",
            "text": "Let me check.",
            "sent_at": "2026-10-06T08:05:00",
            "author_role": "agent",
        },
    ]
    src.write_text("\n".join(json.dumps(r) for r in records))
    ingest([src], store)
    rows = store.query("SELECT * FROM messages ORDER BY sent_at")
    assert list(rows["conversation_id"]) == ["17", "17"]
    assert str(rows["sent_at"][0]) == "2026-10-06 08:00:00+00:00"  # +02:00 stored as UTC
    assert str(rows["sent_at"][1]) == "2026-10-06 08:05:00+00:00"  # naive = UTC
    assert list(rows["author_role"]) == ["customer", "agent"]
    assert rows["channel"][0] == "whatsapp"
    assert json.loads(rows["metadata"][0]) == {"csat": 2, "product": "Pay"}
    assert all(mid.startswith("m_") for mid in rows["message_id"])  # stable hash ids
    conv = store.query("SELECT * FROM conversations")
    assert conv["n_messages"][0] == 2 and conv["n_customer_messages"][0] == 1


def test_csv_and_parquet_readers(tmp_path, store):
    frame = pd.DataFrame(
        {
            "conversation_id": ["a", "b", "c"],
            "text": ["Card declined at the shop", "", "Refund please"],
            "sent_at": ["2026-10-06T10:00:00Z", "2026-10-06T11:00:00Z", "not a date"],
            "channel": ["email"] * 3,
        }
    )
    frame.to_csv(tmp_path / "x.csv", index=False)
    frame.assign(conversation_id=["d", "e", "f"]).to_parquet(tmp_path / "x.parquet")
    report = ingest([tmp_path / "x.csv", tmp_path / "x.parquet"], store)
    assert (report.stored, report.quarantined) == (2, 4)
    q = store.query(
        "SELECT source_file, source_line, field FROM quarantine ORDER BY source_file, source_line"
    )
    csv_rows = q[q["source_file"].str.endswith(".csv")]
    assert list(csv_rows["source_line"]) == [3, 4]  # physical lines (header is line 1)
    assert list(csv_rows["field"]) == ["text", "sent_at"]
    assert list(q[q["source_file"].str.endswith(".parquet")]["source_line"]) == [2, 3]  # row numbers


def test_missing_path_is_a_clear_error(tmp_path, store):
    from pipeline.sources import SourceError

    with pytest.raises(SourceError, match="no such file"):
        ingest([tmp_path / "nope.jsonl"], store)
