"""Twitter customer support (TWCS) CSV: tweets with reply links, rebuilt into conversations.

Two streaming passes: the first keeps only ids (tweet → the tweet it answers, and the brand handle
that answered in each thread), the second emits one message per tweet. A thread's id is its root
tweet: the earliest tweet reachable through ``in_response_to_tweet_id`` that is in the file (exports
are often fragments, so a reply whose parent is missing starts its own thread). Inbound tweets are
the customer's; outbound ones are the brand's agent. Leading @mentions are dropped (they address
the brand, they are not the customer's words) and numeric handles in the text become ``<HANDLE>``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pipeline.sources.csv_rows import csv_rows
from pipeline.sources.records import RawRecord

REQUIRED = ("tweet_id", "inbound", "created_at", "text")
HEADER = {"tweet_id", "inbound", "in_response_to_tweet_id"}
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w+)+\s*")
_NUMERIC_HANDLE = re.compile(r"@\d+\b")
TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # Wed Oct 11 06:55:44 +0000 2017


def is_twcs_header(header: list[str]) -> bool:
    return {h.strip() for h in header} >= HEADER


def _key(tweet_id: str) -> int | str:
    """Numeric ids as ints: the thread map holds one entry per tweet, so its size matters."""
    return int(tweet_id) if tweet_id.isdigit() else tweet_id


def _threads(path: Path) -> tuple[dict, dict]:
    """First pass: the root of every tweet's thread, and the brand handle that answered in it.

    One map of ids only (tweet → the tweet it answers, rewritten in place to tweet → root), so
    memory grows with the number of tweets, not with their text."""
    up: dict = {}
    brand_of: dict = {}
    header: list[str] | None = None
    for _, cells, _problem in csv_rows(path):
        if cells is None:
            continue
        if header is None:
            header = [h.strip() for h in cells]
            continue
        row = dict(zip(header, cells, strict=False))
        tid = (row.get("tweet_id") or "").strip()
        if not tid:
            continue
        parent = (row.get("in_response_to_tweet_id") or "").strip()
        up[_key(tid)] = _key(parent) if parent else None
        if (row.get("inbound") or "").strip().lower() == "false" and row.get("author_id"):
            brand_of[_key(tid)] = sys.intern(row["author_id"].strip())
    for tid in up:  # follow replies up to the root, then point the whole chain at it
        chain, seen, node = [], set(), tid
        while True:
            parent = up[node]
            if parent is None or parent == node or parent not in up or parent in seen:
                break
            chain.append(node)
            seen.add(node)
            node = parent
        up[node] = node
        for n in chain:
            up[n] = node
    brands: dict = {}
    for tid, handle in brand_of.items():
        brands.setdefault(up[tid], handle)
    return up, brands


def _time(value: str) -> str:
    """TWCS time as ISO 8601; an unreadable value is passed on for the contract to quarantine."""
    try:
        return datetime.strptime(value.strip(), TIME_FORMAT).isoformat()
    except ValueError:
        return value


def read_twcs(path: Path) -> Iterator[RawRecord]:
    name = str(path)
    root, brands = _threads(path)
    header: list[str] | None = None
    for line, row, problem in csv_rows(path):
        if problem is not None:
            yield RawRecord(name, line, "", None, problem)
            continue
        raw = ",".join(row)
        if header is None:
            header = [h.strip() for h in row]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                yield RawRecord(name, 1, raw, None, f"TWCS header lacks {', '.join(missing)}", "header")
                return
            continue
        if len(row) != len(header):
            if any(cell.strip() for cell in row):
                yield RawRecord(
                    name, line, raw, None, f"CSV row has {len(row)} fields, header has {len(header)}"
                )
            continue
        rec = dict(zip(header, row, strict=True))
        tid = rec["tweet_id"].strip()
        inbound = rec["inbound"].strip().lower()
        if not tid:
            yield RawRecord(name, line, raw, None, "tweet_id is missing", "tweet_id")
        elif inbound not in ("true", "false"):
            yield RawRecord(
                name, line, raw, None, f"inbound must be True or False, got {rec['inbound']!r}", "inbound"
            )
        else:
            text = _NUMERIC_HANDLE.sub("<HANDLE>", _LEADING_MENTIONS.sub("", rec["text"]))
            thread = root.get(_key(tid), tid)
            data = {
                "conversation_id": f"twcs-{thread}",
                "message_id": f"twcs-{tid}",
                "sent_at": _time(rec["created_at"]),
                "author_role": "customer" if inbound == "true" else "agent",
                "channel": "twitter",
                "text": text,
            }
            if thread in brands:
                data["brand"] = brands[thread]
            if inbound == "true" and rec.get("author_id", "").strip():
                data["author_id"] = rec["author_id"].strip()  # kept only as a salted hash by ingest
            yield RawRecord(name, line, raw, data)
