"""Hostile input never stops an ingest: every record ends stored, a duplicate, or quarantined with a
reason; readers never raise on garbage (fuzzed with hypothesis)."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.ingest import ingest
from pipeline.sources import read_records
from pipeline.store import Store

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
field_names = st.sampled_from(
    [
        "conversation_id",
        "text",
        "message_id",
        "sent_at",
        "author_role",
        "channel",
        "language",
        "csat",
        "brand",
    ]
)
records = st.dictionaries(
    field_names | st.text(string.ascii_letters, min_size=1, max_size=8), values, max_size=8
)


@FUZZ
@given(rows=st.lists(records, min_size=1, max_size=12))
def test_fuzzed_jsonl_records_are_stored_or_quarantined(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r, default=str) for r in rows) + "\n", encoding="utf-8")
    store = Store(path.parent / "voc.duckdb")
    report = ingest([path], store)
    assert report.read == len(rows)
    assert report.stored + report.duplicates + report.quarantined == report.read
    q = store.query("SELECT field, reason FROM quarantine")
    assert (
        len(q) == report.quarantined
        and q["field"].str.len().gt(0).all()
        and q["reason"].str.len().gt(0).all()
    )


@FUZZ
@given(blob=st.binary(max_size=3000), suffix=st.sampled_from([".jsonl", ".csv", ".json", ".txt"]))
def test_readers_never_raise_on_random_bytes(tmp_path_factory, blob, suffix):
    path = tmp_path_factory.mktemp("bytes") / f"garbage{suffix}"
    path.write_bytes(blob)
    for fmt in ("jsonl", "csv", "conversations", "whatsapp", "twcs"):
        for rec in read_records(path, fmt):
            assert rec.data is not None or rec.error


def test_hostile_file_keeps_every_good_record(tmp_path):
    """Non-UTF-8 bytes, a huge field, wrong types, a duplicate id and a truncated last line."""
    good = [
        {"conversation_id": f"c{i}", "message_id": f"m{i}", "text": f"my card {i} was declined"}
        for i in range(5)
    ]
    lines = [json.dumps(r).encode() for r in good]
    lines.insert(1, b'{"conversation_id": "c9", "text": "caf' + b"\xe9\xff" + b' latin-1 bytes"}')
    lines.insert(3, json.dumps({"conversation_id": "c10", "text": "x" * 200_000}).encode())
    lines.insert(4, json.dumps({"conversation_id": ["not", "an", "id"], "text": "hello"}).encode())
    lines.append(json.dumps(good[0]).encode())  # a duplicate id
    lines.append(b'{"conversation_id": "c11", "text": "cut in the midd')  # truncated
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines))
    store = Store(tmp_path / "voc.duckdb")
    report = ingest([path], store)
    assert report.stored == 5 and report.duplicates == 1 and report.quarantined == 4
    q = store.query("SELECT source_line, field, reason FROM quarantine ORDER BY source_line")
    assert q["source_line"].tolist() == [2, 4, 5, 10]
    assert "UTF-8" in q["reason"].iloc[0] and "longer than" in q["reason"].iloc[1]
    assert q["field"].iloc[2] == "conversation_id" and "bad JSON" in q["reason"].iloc[3]
    assert sorted(store.query("SELECT message_id FROM messages")["message_id"]) == [f"m{i}" for i in range(5)]


@pytest.mark.parametrize("cut", [30, 75])
def test_a_csv_cut_inside_a_quoted_field_keeps_the_rows_before(tmp_path, cut):
    body = 'conversation_id,text\nc1,"first, fine"\nc2,"second fine"\nc3,"third is cut and never closed\n'
    body += "c4," + "y" * 200_000 + "\n"
    path = tmp_path / "cut.csv"
    path.write_text(body[: len(body) if cut == 75 else cut + 40], encoding="utf-8")
    report = ingest([path], Store(tmp_path / "voc.duckdb"))
    assert report.stored >= 1 and report.stored + report.quarantined + report.duplicates == report.read


def test_good_broken_and_personal_records_end_clean(tmp_path, shared, runtime_env):
    """The issue's check: every good record stored, every broken one quarantined with a reason, and no
    personal data (patterns, names, identifiers) in the store or in any export."""
    from tests.conftest import voc

    personal = {
        "email": "marie.dupont@example.fr",
        "phone": "+33 6 12 34 56 78",
        "us_phone": "(415) 555-0132",
        "card": "4111 1111 1111 1111",
        "iban": "FR14 2004 1010 0505 0001 3M02 606",
        "name_en": "Jane Roe",
        "name_fr": "Marie Dupont",
        "handle": "105835",
    }
    rows = [
        {
            "conversation_id": "p1",
            "text": f"my name is jane roe, write to {personal['email']}",
            "handle": personal["handle"],
        },
        {"conversation_id": "p1", "text": f"call me on {personal['phone']} or {personal['us_phone']}"},
        {
            "conversation_id": "p2",
            "text": f"Bonjour, je m'appelle Marie Dupont, IBAN {personal['iban']}",
            "language": "fr",
        },
        {
            "conversation_id": "p2",
            "text": f"card {personal['card']} was charged twice",
            "author_role": "customer",
        },
        {
            "conversation_id": "p3",
            "text": "Thanks Jane Roe, the refund is on its way",
            "author_role": "agent",
        },
    ]
    broken = [
        '{"conversation_id": "b1", "text": "mail marie.dupont@example.fr", "sent_at": "31/31/2026"}',
        '{"conversation_id": "b2", "text": ',
        json.dumps({"conversation_id": "b3", "text": "Jane Roe here", "author_role": "boss"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([json.dumps(r) for r in rows] + broken) + "\n", encoding="utf-8")
    db = tmp_path / "voc.duckdb"
    out = voc(["ingest", str(path), "--store", str(db)], runtime_env).stdout
    assert "5 stored" in out and "3 quarantined" in out
    voc(["export", "messages", "--store", str(db), "--out", str(tmp_path / "m.csv")], runtime_env)
    voc(["export", "quarantine", "--store", str(db), "--out", str(tmp_path / "q.csv")], runtime_env)
    with Store(db).connect(read_only=True) as con:
        dump = " ".join(
            str(v)
            for table in ("messages", "quarantine", "conversations")
            for row in con.execute(f"SELECT * FROM {table}").fetchall()
            for v in row
        )
    everything = dump + (tmp_path / "m.csv").read_text() + (tmp_path / "q.csv").read_text()
    for kind, value in personal.items():
        assert value not in everything, kind
        assert value.lower() not in everything.lower(), kind
    assert everything.count("[NAME]") >= 3 and "[EMAIL]" in everything and "[IBAN]" in everything
