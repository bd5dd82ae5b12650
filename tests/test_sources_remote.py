"""Database and API sources: a real SQL database through SQLAlchemy and a real HTTP server on
loopback, each pulled twice to show the watermark, with bad rows quarantined and failures retried."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from pipeline.pull import pull_source
from pipeline.sources import SourceError
from pipeline.store import Store
from voc.config import SourceSettings

QUERY = """
SELECT ticket_id AS conversation_id, id AS message_id, body AS text, created_at AS sent_at,
       CASE WHEN from_staff = 1 THEN 'agent' ELSE 'customer' END AS author_role, 'email' AS channel,
       updated_at
FROM ticket_messages
"""


def _sqlite(path, rows):
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE IF NOT EXISTS ticket_messages (id TEXT PRIMARY KEY, ticket_id TEXT, body TEXT, "
        "created_at TEXT, from_staff INTEGER, updated_at TEXT)"
    )
    con.executemany("INSERT INTO ticket_messages VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def _rows(start, n):
    return [
        (
            f"m{i}",
            f"t{i // 3}",
            "" if i == 7 else f"my invoice {i} is wrong",
            f"2026-10-0{1 + i % 9}T10:00:00Z",
            i % 3 == 2,
            f"2026-10-{10 + i:02d}T00:00:00",
        )
        for i in range(start, start + n)
    ]


def test_sql_source_reads_new_rows_only(tmp_path):
    db = tmp_path / "helpdesk.sqlite"
    _sqlite(db, _rows(0, 12))
    store = Store(tmp_path / "voc.duckdb")
    source = SourceSettings(kind="sql", url=f"sqlite:///{db}", query=QUERY, watermark_column="updated_at")
    first = pull_source(source, store, [], "UTC")
    assert first.read == 12 and first.stored == 11 and first.quarantined == 1  # row m7 has an empty body
    q = store.query("SELECT source_file, source_line, field, reason FROM quarantine").iloc[0]
    assert q["field"] == "text" and "sqlite" in q["source_file"] and q["source_line"] == 8
    roles = store.query("SELECT author_role, count(*) AS n FROM messages GROUP BY 1 ORDER BY 1")
    assert roles["author_role"].tolist() == ["agent", "customer"]

    _sqlite(db, _rows(12, 3))
    second = pull_source(source, store, [], "UTC")
    assert second.stored == 3 and second.read == 4  # the boundary row is read again, skipped by its id
    assert store.query("SELECT count(*) AS n FROM messages")["n"].iloc[0] == 14

    with pytest.raises(SourceError, match="no such table") as err:
        pull_source(
            SourceSettings(kind="sql", url=f"sqlite:///{db}", query="SELECT * FROM nope"), store, [], "UTC"
        )
    assert "sqlite" in str(err.value)


class _Api(BaseHTTPRequestHandler):
    """A paginated messages API: 4 items a page, a cursor to the next page, and one 503 to start."""

    items: list[dict] = []
    calls: list[str] = []
    fail_first = True

    def do_GET(self):  # noqa: N802 - the http.server API
        url = urlparse(self.path)
        type(self).calls.append(self.path)
        if self.headers.get("Authorization") not in (None, "Bearer t0ken"):
            return self._send(401, {"error": "bad token"})
        if url.path != "/v1/messages":
            return self._send(404, {"error": "no such endpoint"})
        if type(self).fail_first:
            type(self).fail_first = False
            return self._send(503, {"error": "warming up"})
        params = parse_qs(url.query)
        since = params.get("since", [""])[0]
        page = int(params.get("cursor", ["0"])[0])
        items = [i for i in type(self).items if i.get("updated_at", "") > since]
        chunk = items[page * 4 : page * 4 + 4]
        following = str(page + 1) if len(items) > page * 4 + 4 else None
        return self._send(200, {"data": chunk, "paging": {"next": following}})

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    _Api.items = [
        {
            "conversation_id": f"c{i // 2}",
            "message_id": f"api-{i}",
            "text": f"the app logs me out {i}",
            "channel": "webchat",
            "updated_at": f"2026-10-{10 + i:02d}",
        }
        for i in range(10)
    ]
    _Api.items[5] = {"conversation_id": "c2", "message_id": "api-5", "updated_at": "2026-10-15"}  # no text
    _Api.calls, _Api.fail_first = [], True
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_source_pages_retries_and_resumes(api, tmp_path):
    store = Store(tmp_path / "voc.duckdb")
    source = SourceSettings(kind="http", url=f"{api}/v1/messages", items_path="data", next_path="paging.next")
    first = pull_source(source, store, [], "UTC")
    assert first.read == 10 and first.stored == 9 and first.quarantined == 1
    assert _Api.calls[0] == _Api.calls[1]  # the 503 was retried
    q = store.query("SELECT source_file, source_line, field FROM quarantine").iloc[0]
    assert q["field"] == "text" and q["source_file"].endswith("(page 2)") and q["source_line"] == 2

    _Api.items += [
        {
            "conversation_id": "c9",
            "message_id": f"api-{i}",
            "text": f"still logged out {i}",
            "updated_at": f"2026-10-{10 + i:02d}",
        }
        for i in (10, 11, 12)
    ]
    _Api.calls.clear()
    second = pull_source(source, store, [], "UTC")
    assert second.stored == 3 and second.duplicates == 2  # resumed at the last page, not the first
    assert "cursor=2" in _Api.calls[0]


def test_http_source_since_mode_and_hard_errors(api, tmp_path, monkeypatch):
    store = Store(tmp_path / "voc.duckdb")
    monkeypatch.setenv("HELPDESK_AUTH", "Bearer t0ken")
    source = SourceSettings(
        headers_from_env={"Authorization": "HELPDESK_AUTH"},
        kind="http",
        url=f"{api}/v1/messages",
        next_path="paging.next",
        since_param="since",
        since_field="updated_at",
    )
    assert pull_source(source, store, [], "UTC").stored == 9
    _Api.items.append(
        {"conversation_id": "c9", "message_id": "api-99", "text": "new one", "updated_at": "2026-11-01"}
    )
    _Api.calls.clear()
    again = pull_source(source, store, [], "UTC")
    assert again.read == 1 and again.stored == 1 and "since=2026-10-19" in _Api.calls[0]
    with pytest.raises(SourceError, match="HTTP 404"):
        pull_source(SourceSettings(kind="http", url=f"{api}/v2/nothing"), store, [], "UTC")
    monkeypatch.setenv("HELPDESK_AUTH", "Bearer wrong")
    with pytest.raises(SourceError, match="HTTP 401"):  # a refused token stops at once, no retries
        pull_source(source, store, [], "UTC")
    monkeypatch.delenv("HELPDESK_AUTH")
    with pytest.raises(ValueError, match="HELPDESK_AUTH not set"):
        pull_source(source, store, [], "UTC")


def test_source_settings_say_what_is_missing():
    with pytest.raises(ValueError, match="a sql source needs url and query"):
        SourceSettings(kind="sql")
