"""Webhooks end to end: the platforms' payloads posted to the real `voc receive` on loopback,
handshakes and signatures (valid and forged), limits, redeliveries, then `voc pull` + `voc run` +
`voc export messages` with the right channel, role, conversation and time, and nothing personal kept."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.webhooks.signatures import google_signature, meta_signature
from tests import webhook_payloads as wp
from tests.conftest import ROOT, free_port, voc

SECRETS = {
    "VOC_WEBHOOKS__WHATSAPP_APP_SECRET": "wa-app-secret-7f3c",
    "VOC_WEBHOOKS__WHATSAPP_VERIFY_TOKEN": "wa-verify-91",
    "VOC_WEBHOOKS__MESSENGER_APP_SECRET": "fb-app-secret-2d8e",
    "VOC_WEBHOOKS__MESSENGER_VERIFY_TOKEN": "fb-verify-44",
    "VOC_WEBHOOKS__RCS_CLIENT_TOKEN": "RBMCLIENTTOKEN55",
    "VOC_WEBHOOKS__GBM_CLIENT_TOKEN": "GBMCLIENTTOKEN66",
}
WA_SECRET = SECRETS["VOC_WEBHOOKS__WHATSAPP_APP_SECRET"]
FB_SECRET = SECRETS["VOC_WEBHOOKS__MESSENGER_APP_SECRET"]
RCS_TOKEN = SECRETS["VOC_WEBHOOKS__RCS_CLIENT_TOKEN"]
GBM_TOKEN = SECRETS["VOC_WEBHOOKS__GBM_CLIENT_TOKEN"]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def receiver(tmp_path_factory, runtime_env):
    """`voc receive` as a user starts it, on a free loopback port; yields (url, env, landing, log)."""
    work = tmp_path_factory.mktemp("receiver")
    port = free_port()
    env = {
        **runtime_env,
        **SECRETS,
        "VOC_LANDING_PATH": str(work / "landing.sqlite"),
        "VOC_STORE": str(work / "voc.duckdb"),
        "VOC_WEBHOOKS__MAX_BODY_BYTES": "65536",
    }
    log = work / "receiver.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voc.cli", "receive", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError(f"voc receive exited:\n{log.read_text()}") from None
            time.sleep(0.3)
    else:
        proc.kill()
        raise AssertionError(f"voc receive did not start:\n{log.read_text()}")
    yield url, env, Path(env["VOC_LANDING_PATH"]), log
    proc.terminate()
    proc.wait(timeout=30)


def post_meta(url: str, platform: str, payload: dict, secret: str) -> httpx.Response:
    body = wp.dumps(payload)
    headers = {"X-Hub-Signature-256": meta_signature(secret, body), "Content-Type": "application/json"}
    return httpx.post(f"{url}/webhooks/{platform}", content=body, headers=headers, timeout=30)


def post_rcs(url: str, event: dict, token: str = RCS_TOKEN) -> httpx.Response:
    body, signed = wp.rcs_envelope(event)
    headers = {"X-Goog-Signature": google_signature(token, signed)}
    return httpx.post(f"{url}/webhooks/rcs", content=wp.dumps(body), headers=headers, timeout=30)


def post_gbm(url: str, payload: dict, token: str = GBM_TOKEN) -> httpx.Response:
    body = wp.dumps(payload)
    headers = {"X-Goog-Signature": google_signature(token, body)}
    return httpx.post(f"{url}/webhooks/gbm", content=body, headers=headers, timeout=30)


def landed(landing: Path) -> list[tuple]:
    with sqlite3.connect(landing) as con:
        return con.execute(
            "SELECT platform, event_id, record, problem FROM webhook_events ORDER BY seq"
        ).fetchall()


def test_verification_handshakes(receiver):
    url, *_ = receiver
    for platform, token in (("whatsapp", "wa-verify-91"), ("messenger", "fb-verify-44")):
        ok = httpx.get(
            f"{url}/webhooks/{platform}",
            params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"},
        )
        assert ok.status_code == 200 and ok.text == "1158201444"
        forged = httpx.get(
            f"{url}/webhooks/{platform}",
            params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        )
        assert forged.status_code == 403
    for platform, token in (("rcs", RCS_TOKEN), ("gbm", GBM_TOKEN)):
        ok = httpx.post(f"{url}/webhooks/{platform}", json={"clientToken": token, "secret": "8812345"})
        assert ok.status_code == 200 and ok.text == "8812345"
        forged = httpx.post(f"{url}/webhooks/{platform}", json={"clientToken": "WRONG", "secret": "8812345"})
        assert forged.status_code == 403 and "8812345" not in forged.text


def test_forged_or_unsigned_bodies_get_401_are_logged_and_never_stored(receiver):
    url, _, landing, log = receiver
    before = len(landed(landing))
    wa = wp.whatsapp_text("wamid.FORGED1", "33600000001", "forged message", T0)
    body = wp.dumps(wa)
    cases = [
        httpx.post(
            f"{url}/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}
        ),
        httpx.post(f"{url}/webhooks/whatsapp", content=body),  # no signature at all
        post_meta(url, "whatsapp", wa, "not-the-secret"),
        post_meta(url, "messenger", wp.messenger_message("m_FORGED", "2480", "forged", T0), WA_SECRET),
        post_rcs(url, wp.rcs_user_event("FORGED-RCS", "+14155550100", "forged", T0), token="WRONG"),
        post_gbm(url, wp.gbm_message("FORGED-GBM", "conv-x", "forged", T0), token="WRONG"),
    ]
    # a valid signature over other bytes: the body was tampered with after signing
    tampered = body.replace(b"forged message", b"tampered text!")
    cases.append(
        httpx.post(
            f"{url}/webhooks/whatsapp",
            content=tampered,
            headers={"X-Hub-Signature-256": meta_signature(WA_SECRET, body)},
        )
    )
    assert [r.status_code for r in cases] == [401] * len(cases)
    assert all("signature" in r.json()["error"].lower() for r in cases)
    assert len(landed(landing)) == before
    assert "FORGED" not in json.dumps(landed(landing))
    time.sleep(0.5)
    assert log.read_text().count("refused") >= len(cases)


def test_oversized_and_malformed_bodies_get_4xx_with_a_reason(receiver):
    url, *_ = receiver
    big = wp.whatsapp_text("wamid.BIG", "33600000002", "x" * 70_000, T0)
    r = post_meta(url, "whatsapp", big, WA_SECRET)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    junk = b"{not json"
    r = httpx.post(
        f"{url}/webhooks/whatsapp",
        content=junk,
        headers={"X-Hub-Signature-256": meta_signature(WA_SECRET, junk)},
    )
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = post_meta(url, "whatsapp", {"object": "page", "entry": []}, WA_SECRET)
    assert r.status_code == 400 and "whatsapp_business_account" in r.json()["error"]
    r = post_meta(url, "messenger", {"object": "page", "entry": "nope"}, FB_SECRET)
    assert r.status_code == 400 and "entry" in r.json()["error"]
    r = httpx.post(f"{url}/webhooks/rcs", json={"message": {"data": "%%%not base64"}})
    assert r.status_code == 400 and "base64" in r.json()["error"]


def test_redeliveries_are_stored_once(receiver):
    url, _, landing, _ = receiver
    payload = wp.whatsapp_text("wamid.DUP1", "33600000003", "my card is blocked", T0)
    answers = [post_meta(url, "whatsapp", payload, WA_SECRET).json() for _ in range(3)]
    assert answers[0] == {"received": 1, "new": 1, "duplicates": 0}
    assert answers[1] == answers[2] == {"received": 1, "new": 0, "duplicates": 1}
    assert sum(1 for row in landed(landing) if row[1] == "wamid.DUP1") == 1


def test_receipts_are_acknowledged_and_not_kept(receiver):
    url, _, landing, _ = receiver
    before = len(landed(landing))
    r = post_meta(url, "whatsapp", wp.whatsapp_status("wamid.DUP1", "33600000003", T0), WA_SECRET)
    assert r.status_code == 200 and r.json()["received"] == 0
    r = post_rcs(
        url,
        {
            "senderPhoneNumber": "+14155550100",
            "eventType": "READ",
            "eventId": "e1",
            "messageId": "m",
            "sendTime": "2026-11-02T09:00:00Z",
        },
    )
    assert r.status_code == 200 and r.json()["received"] == 0
    assert len(landed(landing)) == before


def _texts(shared: Path, n: int) -> list[str]:
    with (shared / "banking77" / "test.csv").open() as fh:
        return [row["text"] for row, _ in zip(csv.DictReader(fh), range(n), strict=False)]


def test_every_channel_from_payload_to_export(receiver, shared, tmp_path):
    url, env, landing, _ = receiver
    texts = iter(_texts(shared, 400)[::5])
    sent: dict[str, dict] = {}  # message id in the export -> what we sent

    def note(platform, mid, at, role, conversation):
        sent[f"{platform}:{mid}"] = {
            "channel": platform,
            "at": at,
            "role": role,
            "conversation": conversation,
        }

    for c in range(6):  # 6 customers per platform, 3 customer turns and one agent reply each
        for k in range(3):
            at = T0 + timedelta(days=c, minutes=10 * k)
            text = next(texts)
            if c == 0 and k == 0:
                text += " Call me on +33 6 12 34 56 78, I am Jane Doe."
            wa_id, psid = f"3361234{c:04d}", f"70{c:04d}"
            assert (
                post_meta(
                    url, "whatsapp", wp.whatsapp_text(f"wamid.C{c}K{k}", wa_id, text, at), WA_SECRET
                ).status_code
                == 200
            )
            note("whatsapp", f"wamid.C{c}K{k}", at, "customer", f"wa{c}")
            assert (
                post_meta(
                    url, "messenger", wp.messenger_message(f"m_C{c}K{k}", psid, next(texts), at), FB_SECRET
                ).status_code
                == 200
            )
            note("messenger", f"m_C{c}K{k}", at, "customer", f"fb{c}")
            assert (
                post_rcs(
                    url, wp.rcs_user_event(f"RCS{c}{k}", f"+1415555{c:04d}", next(texts), at)
                ).status_code
                == 200
            )
            note("rcs", f"RCS{c}{k}", at, "customer", f"rcs{c}")
            assert (
                post_gbm(url, wp.gbm_message(f"GBM{c}{k}", f"conv-{c}", next(texts), at)).status_code == 200
            )
            note("gbm", f"GBM{c}{k}", at, "customer", f"gbm{c}")
        reply_at = T0 + timedelta(days=c, minutes=45)
        post_meta(
            url,
            "whatsapp",
            wp.whatsapp_echo(f"wamid.R{c}", f"3361234{c:04d}", "We are looking into it.", reply_at),
            WA_SECRET,
        )
        note("whatsapp", f"wamid.R{c}", reply_at, "agent", f"wa{c}")
        post_meta(
            url,
            "messenger",
            wp.messenger_message(f"m_R{c}", f"70{c:04d}", "Thanks, checking now.", reply_at, echo=True),
            FB_SECRET,
        )
        note("messenger", f"m_R{c}", reply_at, "agent", f"fb{c}")
    later = T0 + timedelta(
        days=3, hours=1
    )  # customer 0 writes again after 2+ silent days: a new conversation
    post_meta(
        url,
        "whatsapp",
        wp.whatsapp_text("wamid.LATER", "33612340000", "Any news on my transfer?", later),
        WA_SECRET,
    )
    note("whatsapp", "wamid.LATER", later, "customer", "wa0-later")
    post_meta(url, "whatsapp", wp.whatsapp_unsupported("wamid.UNSUP", "33612340001", T0), WA_SECRET)
    post_meta(
        url,
        "whatsapp",
        wp.whatsapp_message(
            "wamid.IMG",
            "33612340001",
            T0 + timedelta(days=1, minutes=1),
            "image",
            {"id": "9", "mime_type": "image/jpeg"},
        ),
        WA_SECRET,
    )

    raw_landing = landing.read_bytes() + (
        landing.with_name(landing.name + "-wal").read_bytes()
        if landing.with_name(landing.name + "-wal").exists()
        else b""
    )
    for secret in (
        b"+33 6 12 34 56 78",
        b"Jane Doe",
        b"33612340000",
        b"Kerry Fisher",
        b"+14155550000",
        b"Jordan Miles",
    ):
        assert secret not in raw_landing, secret

    # an e-mail thread dropped as an mbox joins the same store
    from tests.test_email import write_thread  # noqa: PLC0415 (shared builder)

    mbox = write_thread(tmp_path / "support.mbox")
    store = Path(env["VOC_STORE"])
    voc(["ingest", str(mbox), "--store", str(store), "-b", "@acme.com"], env)
    out = voc(["pull", "--store", str(store)], env).stdout
    assert "1 quarantined" in out
    assert "0 new record(s)" in voc(["pull", "--store", str(store)], env).stdout  # the watermark holds
    voc(["run", "--store", str(store)], env)
    export = tmp_path / "messages.csv"
    voc(["export", "messages", "--store", str(store), "--out", str(export)], env)
    rows = {r["message_id"]: r for r in csv.DictReader(export.open())}

    conversations: dict[str, set[str]] = {}
    for mid, want in sent.items():
        row = rows[mid]
        assert row["channel"] == want["channel"] and row["author_role"] == want["role"], mid
        assert datetime.fromisoformat(row["sent_at"]) == want["at"].replace(microsecond=0), mid
        conversations.setdefault(want["conversation"], set()).add(row["conversation_id"])
    assert all(len(ids) == 1 for ids in conversations.values())  # a thread is one conversation...
    assert conversations["wa0"] != conversations["wa0-later"]  # ...until a day of silence
    assert len(set().union(*conversations.values())) == len(conversations)
    customer = [
        r
        for r in rows.values()
        if r["channel"] in ("whatsapp", "messenger", "rcs", "gbm") and r["author_role"] == "customer"
    ]
    assert all(r["topic_id"] != "" for r in customer)
    first = rows["whatsapp:wamid.C0K0"]
    assert "[PHONE]" in first["text"] and "[NAME]" in first["text"] and "Jane" not in first["text"]
    assert json.loads(first["metadata"])["customer_id"].startswith("h_")
    assert rows["whatsapp:wamid.IMG"]["author_role"] == "system"
    email = [r for r in rows.values() if r["channel"] == "email"]
    assert {r["author_role"] for r in email} == {"customer", "agent"} and len(
        {r["conversation_id"] for r in email}
    ) == 1
    quarantine = tmp_path / "q.csv"
    voc(["export", "quarantine", "--store", str(store), "--out", str(quarantine)], env)
    q = list(csv.DictReader(quarantine.open()))
    unsupported = [r for r in q if r["source_file"] == "webhook:whatsapp"]
    assert len(unsupported) == 1 and "unsupported" in unsupported[0]["reason"]
    assert "33612340001" not in unsupported[0]["raw"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "object",
                        "entry",
                        "changes",
                        "value",
                        "messages",
                        "messaging",
                        "message",
                        "id",
                        "from",
                        "type",
                        "text",
                        "body",
                        "timestamp",
                        "sender",
                        "mid",
                        "metadata",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=25,
    ),
    platform=st.sampled_from(["whatsapp", "messenger"]),
)
def test_signed_garbage_never_breaks_the_receiver(receiver, payload, platform):
    url, *_ = receiver
    if isinstance(payload, dict):
        payload["object"] = "whatsapp_business_account" if platform == "whatsapp" else "page"
    r = post_meta(url, platform, payload, WA_SECRET if platform == "whatsapp" else FB_SECRET)
    assert r.status_code in (200, 400), r.text
    assert "error" in r.json() if r.status_code == 400 else "received" in r.json()


def _app(tmp_path, **hooks):
    from starlette.testclient import TestClient

    from pipeline.identifiers import IdentifierHasher
    from pipeline.privacy import Privacy
    from voc.config import Settings, WebhookSettings
    from voc.receiver import create_app

    cfg = Settings(landing_path=tmp_path / "landing.sqlite", webhooks=WebhookSettings(**hooks))
    return cfg, TestClient(create_app(cfg, Privacy(hasher=IdentifierHasher(b"test-key"))))


def test_nothing_is_acknowledged_that_was_not_committed(tmp_path, monkeypatch):
    import sqlite3 as sqlite

    from pipeline.webhooks.landing import Landing

    cfg, client = _app(tmp_path, whatsapp_app_secret=WA_SECRET)
    real_land = Landing.land

    def disk_full(self, con, rows, received_at):  # the insert runs, the commit cannot
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        raise sqlite.OperationalError("database or disk is full")

    with client:
        ok = post_via(client, wp.whatsapp_text("wamid.OK", "33600000009", "hello", T0))
        assert ok.status_code == 200 and ok.json()["new"] == 1
        monkeypatch.setattr(Landing, "land", disk_full)
        r = post_via(client, wp.whatsapp_text("wamid.LOST?", "33600000009", "are you there", T0))
        monkeypatch.setattr(Landing, "land", real_land)
        assert r.status_code == 503 and "retry" in r.json()["error"]
        again = post_via(client, wp.whatsapp_text("wamid.LOST?", "33600000009", "are you there", T0))
        assert again.status_code == 200 and again.json()["new"] == 1  # the platform's retry lands it
    assert [row[1] for row in landed(cfg.landing_path)] == ["wamid.OK", "wamid.LOST?"]


def post_via(client, payload: dict):
    body = wp.dumps(payload)
    return client.post(
        "/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": meta_signature(WA_SECRET, body)}
    )


def test_an_unconfigured_platform_accepts_nothing_and_landing_joins_scheduled_pulls(tmp_path):
    cfg, client = _app(tmp_path, whatsapp_app_secret=WA_SECRET)
    with client:
        body = wp.dumps(wp.messenger_message("m_X", "2480", "hello", T0))
        r = client.post(
            "/webhooks/messenger", content=body, headers={"X-Hub-Signature-256": meta_signature("", body)}
        )
        assert r.status_code == 404 and "messenger_app_secret" in r.json()["error"]
        r = client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": ""})
        assert r.status_code == 404  # no verify token set: no handshake either
    kinds = [(s.kind, s.path) for s in cfg.pull_sources()]
    assert kinds == [("webhooks", str(cfg.landing_path))]  # what landed is pulled on every schedule
