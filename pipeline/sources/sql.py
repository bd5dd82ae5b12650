"""A SQL source: any SQLAlchemy URL and a query whose columns are named as the message contract.

    SELECT ticket_id AS conversation_id, id AS message_id, body AS text, created_at AS sent_at,
           CASE WHEN from_staff THEN 'agent' ELSE 'customer' END AS author_role, updated_at
    FROM ticket_messages

With a watermark column (``updated_at`` above) each pull reads only rows at or after the last value
seen, in that column's order, streamed in chunks (``stream_results``) so a large table is read in
constant memory. Rows at the boundary value are read again and skipped by their ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pipeline.sources.records import RawRecord, SourceError


def source_name(url: str, query: str) -> str:
    """The URL without its password, and the query: what a quarantined row says it came from."""
    try:
        safe = sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError as exc:
        raise SourceError(f"not a SQLAlchemy URL: {url!r}") from exc
    return f"{safe} :: {' '.join(query.split())[:200]}"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return value


def read_sql(
    url: str, query: str, watermark_column: str | None = None, since: str | None = None, chunk: int = 5_000
) -> Iterator[RawRecord]:
    name = source_name(url, query)
    sql = f"SELECT * FROM ({query}) AS voc_source"
    params: dict[str, Any] = {}
    if watermark_column:
        col = '"' + watermark_column.replace('"', "") + '"'
        if since is not None:
            sql += f" WHERE {col} >= :since"
            params["since"] = since
        sql += f" ORDER BY {col}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            result = con.execution_options(stream_results=True, yield_per=chunk).execute(sa.text(sql), params)
            for row_no, row in enumerate(result.mappings(), start=1):
                data = {str(k): _plain(v) for k, v in row.items()}
                mark = data.get(watermark_column) if watermark_column else None
                yield RawRecord(
                    name,
                    row_no,
                    json.dumps(data, default=str, ensure_ascii=False),
                    data,
                    position=None if mark is None else str(mark),
                )
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"{name}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()
