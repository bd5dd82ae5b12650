"""Conversation sources: TWCS threads, conversation JSON (ABCD, helpdesk), WhatsApp chat exports."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.ingest import ingest
from pipeline.sources import ReadOptions, SourceError, read_records
from pipeline.sources.files import detect_format, expand_paths
from pipeline.store import Store
from tests.conftest import ROOT


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "voc.duckdb")


def _dump(store: Store) -> str:
    with store.connect(read_only=True) as con:
        return " ".join(
            str(v)
            for table in ("messages", "quarantine", "conversations")
            for row in con.execute(f"SELECT * FROM {table}").fetchall()
            for v in row
        )


# --- TWCS -----------------------------------------------------------------------------------------


def test_twcs_threads_are_rebuilt_from_reply_links(shared, store):
    path = shared / "twcs_sample" / "sample.csv"
    assert detect_format(path) == "twcs"
    records = list(read_records(path))
    assert len(records) == 93 and all(r.data for r in records)
    by_id = {r.data["message_id"]: r.data for r in records}
    # 119238 (ChaseSupport) answers 119239 (a customer): one conversation, two roles, the brand known
    assert by_id["twcs-119238"]["conversation_id"] == by_id["twcs-119239"]["conversation_id"]
    assert (
        by_id["twcs-119238"]["author_role"] == "agent" and by_id["twcs-119239"]["author_role"] == "customer"
    )
    assert by_id["twcs-119239"]["brand"] == "ChaseSupport"
    assert by_id["twcs-119237"]["sent_at"] == "2017-10-11T06:55:44+00:00"
    assert not any(d["text"].startswith("@") for d in by_id.values())  # leading mentions dropped
    threads = Counter(d["conversation_id"] for d in by_id.values())
    assert max(threads.values()) >= 7 and len(threads) < 60

    report = ingest([path], store)
    assert report.stored == 93 and report.quarantined == 0
    counts = store.query(
        "SELECT count(*) AS n, count(*) FILTER (n_customer_messages > 0 "
        "AND n_messages > n_customer_messages) AS with_both FROM conversations"
    ).iloc[0]
    assert counts["n"] == len(threads) and counts["with_both"] >= 10
    assert not store.query("SELECT 1 FROM messages WHERE regexp_matches(text, '@\\d+')").shape[0]


def test_twcs_bad_rows_are_quarantined_and_the_rest_kept(tmp_path, store):
    path = tmp_path / "twcs.csv"
    path.write_text(
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        "1,115,True,Wed Oct 11 06:55:44 +0000 2017,@Acme my parcel never came,2,\n"
        "2,Acme,False,Wed Oct 11 07:01:02 +0000 2017,@115 Sorry! DM us your order number,,1\n"
        "3,116,maybe,Wed Oct 11 08:00:00 +0000 2017,@Acme hello?,,\n"
        "4,117,True,yesterday,@Acme app crashes on login,,\n"
        "5,118,True,Wed Oct 11 09:00:00 +0000 2017\n",
        encoding="utf-8",
    )
    report = ingest([path], store)
    assert report.stored == 2 and report.quarantined == 3
    q = store.query("SELECT source_line, field, reason FROM quarantine ORDER BY source_line")
    assert q["source_line"].tolist() == [4, 5, 6]
    assert q["field"].tolist()[:2] == ["inbound", "sent_at"] and "fields" in q["reason"].iloc[2]


# --- conversation JSON ----------------------------------------------------------------------------


def test_abcd_conversations_load_without_their_personal_data(shared, store):
    path = shared / "abcd_sample" / "abcd_sample.json"
    assert detect_format(path) == "conversations"
    raw = json.loads(path.read_text())
    report = ingest([path], store)
    assert report.quarantined == 0 and report.stored == sum(len(c["original"]) for c in raw)
    roles = store.query("SELECT author_role, count(*) AS n FROM messages GROUP BY 1")
    assert set(roles["author_role"]) == {"agent", "customer", "system"}  # "action" turns are system
    meta = store.query("SELECT DISTINCT metadata FROM messages")["metadata"].map(json.loads)
    assert {m["flow"] for m in meta} == {c["scenario"]["flow"] for c in raw}
    dump = _dump(store)
    for convo in raw:  # the scenario's e-mail, phone and order details are not kept, nor typed ones
        personal = convo["scenario"]["personal"]
        for key in ("email", "phone"):
            assert personal.get(key, "<none>") not in dump
        assert convo["scenario"]["order"]["full_address"] not in dump
    first = store.query("SELECT text FROM messages WHERE message_id = 'abcd-3592-0000'")
    assert first["text"].tolist() == ["Hi!"]


def test_helpdesk_conversations_with_business_names(tmp_path, store):
    rows = [
        {
            "id": "hd-1",
            "channel": "webchat",
            "created_at": "2026-10-05T09:00:00Z",
            "brand": "Nimbus",
            "messages": [
                {
                    "author": "Marie Dupont",
                    "body": "Ma carte est bloquée depuis hier.",
                    "created_at": "2026-10-05T09:00:00Z",
                },
                {
                    "author": "Nimbus Support",
                    "body": "Bonjour Marie, je regarde.",
                    "created_at": "2026-10-05T09:02:00Z",
                },
                {"author": {"role": "customer"}, "body": "Merci, c'est urgent."},
                {"author": "Marie Dupont", "body": 42},
            ],
        },
        {"id": "hd-2", "channel": "email", "subject": "no turns here"},
        {"channel": "email", "messages": [{"author": "x", "body": "no id"}]},
    ]
    path = tmp_path / "helpdesk.jsonl"
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n", encoding="utf-8"
    )
    assert detect_format(path) == "conversations"
    report = ingest([path], store, options=ReadOptions(business_names=("Nimbus Support",)))
    assert report.stored == 3 and report.quarantined == 4
    msgs = store.query("SELECT author_role, channel, sent_at, metadata FROM messages ORDER BY message_id")
    assert msgs["author_role"].tolist() == ["customer", "agent", "customer"]
    assert set(msgs["channel"]) == {"webchat"} and msgs["sent_at"].notna().all()  # 3rd: the conversation's
    assert all(json.loads(m)["brand"] == "Nimbus" for m in msgs["metadata"])
    q = store.query("SELECT source_line, field, reason FROM quarantine ORDER BY source_line, field")
    assert q[["source_line", "field"]].values.tolist() == [
        [1, "text"],
        [2, "messages"],
        [3, "conversation_id"],
        [4, "record"],
    ]


def test_a_truncated_json_array_keeps_what_came_before(tmp_path, store):
    good = [
        {"conversation_id": f"c{i}", "turns": [["customer", f"question {i}"], ["agent", "answer"]]}
        for i in range(3)
    ]
    text = json.dumps(good)
    path = tmp_path / "export.json"
    path.write_text(text[: text.rindex("{") + 25], encoding="utf-8")  # cut inside the last conversation
    report = ingest([path], store)
    assert report.stored == 4 and report.quarantined == 1
    assert "bad JSON" in store.query("SELECT reason FROM quarantine")["reason"].iloc[0]


# --- WhatsApp -------------------------------------------------------------------------------------

ANDROID_US = """\
12/31/23, 9:41\u202fPM - Messages and calls are end-to-end encrypted. No one outside can read them.
12/31/23, 9:41\u202fPM - Jane Roe: Hi, my order #5512 arrived damaged
the box was crushed
and the screen is cracked
12/31/23, 9:43\u202fPM - Acme Store: Sorry to hear that! Can you send a photo?
12/31/23, 9:44\u202fPM - Jane Roe: <Media omitted>
1/2/24, 10:05\u202fAM - Jane Roe: Any news? It's been two days.
1/2/24, 12:15\u202fPM - Acme Store: A replacement ships today.
"""

IOS_EN = """\
[31/12/2023, 21:41:05] Acme Store: Hello, how can we help?
[31/12/2023, 21:42:10] Sam Lee: My refund never came through.
[31/12/2023, 21:42:30] Sam Lee: \u200eimage omitted
[01/01/2024, 09:00:00] Sam Lee: This message was deleted
"""

ANDROID_FR = """\
31/12/2023 à 21:41 - Les messages et les appels sont chiffrés de bout en bout.
31/12/2023 à 21:41 - Claire: Bonjour, ma livraison est en retard
je l'attends depuis lundi
31/12/2023 à 21:50 - Acme Boutique: Bonjour Claire, je vérifie tout de suite.
01/01/2024 à 08:02 - Claire: <Médias omis>
"""

IOS_FR = """\
[02/01/2024 14:03:11] Paul: Je n’arrive pas à me connecter à l’application
[02/01/2024 14:05:40] Acme Boutique: Pouvez-vous réinstaller l’application ?
[02/01/2024 14:07:02] Paul: image absente
"""


@pytest.mark.parametrize(
    ("name", "body", "expect"),
    [
        (
            "chat_android_us.txt",
            ANDROID_US,
            {"customer": 2, "agent": 2, "system": 2, "first": "2023-12-31T21:41:00"},
        ),
        ("chat_ios_en.txt", IOS_EN, {"customer": 1, "agent": 1, "system": 2, "first": "2023-12-31T21:41:05"}),
        (
            "chat_android_fr.txt",
            ANDROID_FR,
            {"customer": 1, "agent": 1, "system": 2, "first": "2023-12-31T21:41:00"},
        ),
        ("chat_ios_fr.txt", IOS_FR, {"customer": 1, "agent": 1, "system": 1, "first": "2024-01-02T14:03:11"}),
    ],
)
def test_whatsapp_exports_in_english_and_french(tmp_path, name, body, expect):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    assert detect_format(path) == "whatsapp"
    options = ReadOptions(business_names=("Acme Store", "Acme Boutique"), timezone="Europe/Paris")
    records = list(read_records(path, options=options))
    assert all(r.data for r in records)
    roles = Counter(r.data["author_role"] for r in records)
    assert {k: roles[k] for k in ("customer", "agent", "system")} == {
        k: expect[k] for k in ("customer", "agent", "system")
    }
    first = records[0].data
    assert first["sent_at"].startswith(expect["first"]) and first["sent_at"].endswith(
        "+01:00"
    )  # Paris in winter
    assert len({r.data["conversation_id"] for r in records}) == 1
    for r in records:  # the author is handed on as an identifier; media never reads as customer words
        assert r.data["author_role"] == "system" or r.data["author"]
        if r.data.get("media"):
            assert r.data["author_role"] == "system" and r.data["text"].startswith("<MEDIA>")


def test_whatsapp_multiline_messages_and_us_dates(tmp_path, store):
    path = tmp_path / "chat.txt"
    path.write_text(ANDROID_US, encoding="utf-8")
    ingest([path], store, options=ReadOptions(business_names=("acme store",)))  # no key: authors dropped
    msgs = store.query("SELECT sent_at, author_role, text FROM messages ORDER BY sent_at, message_id")
    damaged = msgs[msgs["text"].str.contains("damaged")]["text"].iloc[0]
    assert damaged == "Hi, my order #5512 arrived damaged\nthe box was crushed\nand the screen is cracked"
    later = msgs[msgs["text"].str.startswith("Any news")]["sent_at"].iloc[0]
    assert str(later)[:16] == "2024-01-02 10:05"  # 1/2/24 is January 2nd on a US phone
    assert "Jane Roe" not in _dump(store)


def test_a_folder_takes_chat_exports_but_not_other_text_files(tmp_path):
    (tmp_path / "chat.txt").write_text(IOS_FR, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("remember to export chats on Monday\n", encoding="utf-8")
    assert [p.name for p in expand_paths([tmp_path])] == ["chat.txt"]
    with pytest.raises(SourceError, match="not a WhatsApp chat export"):
        detect_format(tmp_path / "notes.txt")


def test_voc_ingest_reads_every_source_kind(shared, tmp_path, runtime_env):
    from tests.conftest import voc

    chat = tmp_path / "chat.txt"
    chat.write_text(ANDROID_FR, encoding="utf-8")
    db = tmp_path / "voc.duckdb"
    out = voc(
        [
            "ingest",
            str(shared / "twcs_sample" / "sample.csv"),
            str(shared / "abcd_sample" / "abcd_sample.json"),
            str(chat),
            "--store",
            str(db),
            "--business-name",
            "Acme Boutique",
        ],
        runtime_env,
    ).stdout
    assert "3 file(s)" in out and "0 quarantined" in out
    channels = Store(db).query("SELECT coalesce(channel, '-') AS c, count(*) AS n FROM messages GROUP BY 1")
    assert set(channels["c"]) == {"twitter", "whatsapp", "-"}


def test_two_first_runs_at_once_share_one_whole_identifier_key(tmp_path):
    """A scheduled run and a manual ingest starting together in a fresh folder: neither crashes on the
    other's key file, neither reads it half-written, and both hash with the same key."""
    import subprocess
    import sys
    import time

    key = tmp_path / ".voc-salt"
    start = time.time() + 5  # every process imported and waiting: they reach the key file together
    code = (
        "import time; from pathlib import Path; from pipeline.identifiers import load_salt; "
        f"time.sleep(max({start} - time.time(), 0)); print(load_salt(None, Path({str(key)!r})).decode())"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(8)
    ]
    salts = {run.communicate(timeout=120)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert salts == {key.read_text()} and len(key.read_text()) == 64
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == [".voc-salt"]  # no temporary file left behind


def test_customer_identifiers_are_kept_only_as_salted_hashes(tmp_path, shared, store):
    from pipeline.identifiers import hasher_for
    from pipeline.privacy import Privacy

    key = tmp_path / "keys" / ".voc-salt"
    hasher = hasher_for(None, key)
    assert oct(key.stat().st_mode & 0o777) == "0o600" and hasher_for(None, key) == hasher  # made once
    chat = tmp_path / "group.txt"
    chat.write_text(ANDROID_US + "1/2/24, 12:20\u202fPM - Bob Stone: me too, same damage\n", encoding="utf-8")
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"conversation_id": "x1", "text": "hello", "phone": "+33 6 12 34 56 78"}) + "\n"
    )
    options = ReadOptions(business_names=("Acme Store",))
    privacy = Privacy(hasher=hasher)
    ingest([chat, feed, shared / "twcs_sample" / "sample.csv"], store, options=options, privacy=privacy)
    meta = store.query(
        "SELECT json_extract_string(metadata, '$.author') AS author FROM messages WHERE channel = 'whatsapp' "
        "AND author_role = 'customer' ORDER BY sent_at"
    )["author"].tolist()
    assert len(set(meta)) == 2 and all(a.startswith("h_") for a in meta)  # Jane and Bob, told apart
    assert meta.count(hasher.digest("Jane Roe")) == 2
    phone = store.query(
        "SELECT json_extract_string(metadata, '$.phone') AS p FROM messages WHERE message_id IS NOT NULL "
        "AND conversation_id = 'x1'"
    )["p"].iloc[0]
    assert phone == hasher.digest("+33 6 12 34 56 78")
    twcs = store.query(
        "SELECT json_extract_string(metadata, '$.author_id') AS a FROM messages "
        "WHERE message_id = 'twcs-119239'"
    )
    assert twcs["a"].iloc[0] == hasher.digest("105835")
    dump = _dump(store)
    for secret in ("Jane Roe", "Bob Stone", "+33 6 12 34 56 78", "105835"):
        assert secret not in dump
