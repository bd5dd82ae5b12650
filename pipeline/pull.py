"""Pull one configured source into the store, from where its last pull stopped.

Files go through the ingest watermark (``source_files``); SQL, HTTP and webhook-landing sources keep
their position in ``source_cursors``, moved after every committed batch, so a pull that dies halfway
resumes close to where it stopped and reads nothing twice that it can avoid (what it reads again is
skipped by id).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.ingest import IngestReport, ingest, load_records
from pipeline.privacy import Privacy
from pipeline.sources import RawRecord, ReadOptions
from pipeline.sources.http_api import read_http
from pipeline.sources.sql import read_sql, source_name
from pipeline.store import Store
from pipeline.webhooks.landing import read_landing
from voc.config import SourceSettings


def _position(store: Store, key: str) -> str | None:
    rows = store.query("SELECT position FROM source_cursors WHERE source_key = ?", [key])
    return None if rows.empty else rows["position"].iloc[0]


def _save(store: Store, key: str, position: str | None, read: int) -> None:
    if position is None:
        return
    row = {"source_key": key, "position": position, "records_read": read, "pulled_at": datetime.now(UTC)}
    store.upsert("source_cursors", pd.DataFrame([row]))


def pull_source(
    source: SourceSettings,
    store: Store,
    business_names: list[str],
    timezone: str,
    privacy: Privacy | None = None,
) -> IngestReport:
    """Read what is new in ``source`` into ``store``; bad records are quarantined, never lost."""
    if source.kind == "files":
        options = ReadOptions(
            business_names=tuple(source.business_names or business_names), timezone=timezone
        )
        return ingest([source.path], store, fmt=source.format, options=options, privacy=privacy)
    store.init()
    report = IngestReport(files=0)
    now = datetime.now(UTC)
    done: dict[str, str] = {}
    if source.kind == "webhooks":
        key = "webhooks:" + str(Path(source.path or "").resolve())
        records: Iterable[RawRecord] = read_landing(source.path or "", after=int(_position(store, key) or 0))
    elif source.kind == "sql":
        key = "sql:" + source_name(source.url, source.query)
        records = read_sql(source.url, source.query, source.watermark_column, since=_position(store, key))
    else:
        key = "http:" + source.url
        records = read_http(
            source.url,
            items_path=source.items_path,
            next_path=source.next_path,
            cursor_param=source.cursor_param,
            since_param=source.since_param,
            since_field=source.since_field,
            position=_position(store, key),
            headers=source.request_headers(),
            done=done,
        )

    def moved(batch: list[RawRecord]) -> None:
        last = next((r.position for r in reversed(batch) if r.position is not None), None)
        _save(store, key, last, report.read)

    load_records(records, store, report, now, on_batch=moved, privacy=privacy)
    _save(store, key, done.get("position"), report.read)
    return report
