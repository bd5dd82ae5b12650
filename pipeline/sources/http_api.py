"""An HTTP API source: paginated JSON with a cursor and/or a ``since`` parameter.

Each page is one GET; the records are found at ``items_path`` (a dotted path into the JSON, e.g.
``data`` or ``result.messages``) and are message-contract objects; the next page's cursor at
``next_path``. A request that fails on the network, or answers 429 or 5xx, is retried with
exponential backoff and jitter (tenacity; ``Retry-After`` is not read); any other 4xx stops the pull
with its reason. Each record carries where a pull resumes to read it again: the page's cursor, or
with ``since_param`` the largest ``since_field`` value seen so far.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from pipeline.sources.records import RawRecord, SourceError

RETRYABLE = {429, 500, 502, 503, 504}


class RetryableHTTPError(Exception):
    """A 429 or 5xx answer: worth asking again."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code} from {response.request.url}")
        self.response = response


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RetryableHTTPError | httpx.TransportError)


def _dig(payload: Any, path: str | None) -> Any:
    for key in (path or "").split("."):
        if not key:
            continue
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def read_http(
    url: str,
    *,
    items_path: str = "data",
    next_path: str | None = None,
    cursor_param: str = "cursor",
    since_param: str | None = None,
    since_field: str | None = None,
    position: str | None = None,
    headers: dict[str, str] | None = None,
    attempts: int = 5,
    max_wait_s: float = 30.0,
    timeout_s: float = 30.0,
    done: dict[str, str] | None = None,
) -> Iterator[RawRecord]:
    """Every record of every page; at the end ``done["position"]`` says where the next pull resumes."""
    state = json.loads(position) if position else {}
    # one pull asks every page with the since-value it started from; the newest value it saw is
    # where the next pull starts
    since, cursor = state.get("since"), state.get("cursor")
    newest = since

    @retry(
        retry=retry_if_exception(_retryable),
        stop=stop_after_attempt(attempts),
        wait=wait_exponential_jitter(initial=0.2, max=max_wait_s),
        reraise=True,
    )
    def fetch(client: httpx.Client, params: dict[str, str]) -> Any:
        response = client.get(url, params=params)
        if response.status_code in RETRYABLE:
            raise RetryableHTTPError(response)
        if response.status_code >= 400:
            raise SourceError(f"{url}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(f"{url}: the answer is not JSON") from exc

    with httpx.Client(timeout=timeout_s, headers=headers, follow_redirects=True) as client:
        page = 0
        while True:
            params: dict[str, str] = {}
            if since_param and since is not None:
                params[since_param] = str(since)
            if cursor is not None and (next_path or not since_param):
                params[cursor_param] = str(cursor)
            try:
                payload = fetch(client, params)
            except (RetryableHTTPError, httpx.TransportError) as exc:
                raise SourceError(f"{url}: gave up after {attempts} attempts: {exc}") from exc
            page += 1
            items = _dig(payload, items_path)
            if not isinstance(items, list):
                raise SourceError(f"{url}: page {page} has no list at {items_path!r}")
            where = f"{url} (page {page})"
            resume = json.dumps({"cursor": cursor, "since": since})  # this page, asked again
            for i, item in enumerate(items, start=1):
                raw = json.dumps(item, ensure_ascii=False, default=str)[:10_000]
                if not isinstance(item, dict):
                    yield RawRecord(where, i, raw, None, "an item must be a JSON object", position=resume)
                    continue
                if since_field and item.get(since_field) is not None:
                    value = str(item[since_field])
                    newest = value if newest is None or value > newest else newest
                yield RawRecord(where, i, raw, item, position=resume)
            following = _dig(payload, next_path) if next_path else None
            if not following or not items:
                if done is not None:  # the next pull asks this last page again, or from the newest value
                    final = {"cursor": None, "since": newest} if since_param else {"cursor": cursor}
                    done["position"] = json.dumps(final)
                return
            cursor = following
