"""Conversation JSON: one object per conversation with its turns, as a JSON array or JSON lines.

Shapes understood (any other is quarantined with the reason):
- ABCD-style ``{"convo_id", "original": [[speaker, text], ...], "scenario": {"flow", "subflow"}}``
  (speaker ``action`` becomes a system turn; the scenario's personal and order data are not kept);
- turns ``{"conversation_id" | "id", "turns": [[speaker, text] | {"speaker", "text"}, ...]}``;
- helpdesk ``{"id", "channel", "created_at", "messages": [{"author", "body", "created_at"}, ...]}``
  where ``author`` is a role (customer, agent, bot, system), ``{"role": ...}``, or a name: one of the
  configured business names means agent, any other name customer.

Other top-level scalar fields (brand, product, csat...) become metadata of every turn. Arrays are
streamed with ijson, so a large export is read in constant memory; ``line`` is the line number in
JSON lines and the conversation's position in an array.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from pipeline.sources.json_lines import json_lines
from pipeline.sources.records import DEFAULTS, RawRecord, ReadOptions

ROLES = {"customer", "agent", "bot", "system"}
SPEAKERS = {"user": "customer", "client": "customer", "action": "system", "assistant": "bot"}
TURN_KEYS = ("original", "turns", "messages", "dialogue")
_SKIP = {
    "original",
    "delexed",
    "turns",
    "messages",
    "dialogue",
    "scenario",
    "id",
    "convo_id",
    "conversation_id",
    "created_at",
}


def looks_like_conversation(record: Any) -> bool:
    return isinstance(record, dict) and any(isinstance(record.get(k), list) for k in TURN_KEYS)


def read_conversations(path: Path, options: ReadOptions = DEFAULTS) -> Iterator[RawRecord]:
    name = str(path)
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith(b"["):
        yield from _read_array(path, name, options)
    else:
        yield from _read_lines(path, name, options)


def _read_array(path: Path, name: str, options: ReadOptions) -> Iterator[RawRecord]:
    with path.open("rb") as fh:
        position = 0
        try:
            for position, convo in enumerate(ijson.items(fh, "item", use_float=True), start=1):
                yield from _turns(name, position, convo, options)
        except ijson.JSONError as exc:  # a truncated or corrupt array: what came before is kept
            yield RawRecord(name, position + 1, "", None, f"bad JSON after conversation {position}: {exc}")


def _read_lines(path: Path, name: str, options: ReadOptions) -> Iterator[RawRecord]:
    for line_no, line, convo, problem in json_lines(path):
        if problem:
            yield RawRecord(name, line_no, line, None, problem)
        else:
            yield from _turns(name, line_no, convo, options)


def _role(author: Any, options: ReadOptions) -> Any:
    if isinstance(author, dict):
        author = author.get("role") or author.get("type") or author.get("name")
    if not isinstance(author, str):
        return author  # the contract says why it is wrong
    key = author.strip().lower()
    if key in ROLES:
        return key
    if key in SPEAKERS:
        return SPEAKERS[key]
    business = {b.strip().lower() for b in options.business_names}
    return "agent" if key in business else "customer"


def _turns(name: str, line: int, convo: Any, options: ReadOptions) -> Iterator[RawRecord]:
    raw = json.dumps(convo, ensure_ascii=False, default=str)[:10_000]
    if not looks_like_conversation(convo):
        yield RawRecord(name, line, raw, None, "not a conversation: no list of turns or messages", "messages")
        return
    cid = convo.get("conversation_id") or convo.get("id") or convo.get("convo_id")
    if cid is None or isinstance(cid, dict | list) or not str(cid).strip():
        yield RawRecord(name, line, raw, None, "conversation id is missing", "conversation_id")
        return
    prefix = "abcd-" if "convo_id" in convo else ""
    cid = f"{prefix}{cid}"
    meta = {k: v for k, v in convo.items() if k not in _SKIP and not isinstance(v, dict | list)}
    scenario = convo.get("scenario")
    if isinstance(scenario, dict):  # ABCD: the intent, never the personal or order details
        meta.update({k: scenario[k] for k in ("flow", "subflow") if isinstance(scenario.get(k), str)})
    channel = meta.pop("channel", None)
    turns = next(convo[k] for k in TURN_KEYS if isinstance(convo.get(k), list))
    for i, turn in enumerate(turns):
        data: dict[str, Any] = {**meta, "conversation_id": cid, "channel": channel}
        if isinstance(turn, list | tuple) and len(turn) == 2:
            data.update(author_role=_role(turn[0], options), text=turn[1])
        elif isinstance(turn, dict):
            data["author_role"] = _role(turn.get("author", turn.get("speaker", turn.get("role"))), options)
            data["text"] = turn.get("body", turn.get("text"))
            data["sent_at"] = turn.get("created_at", turn.get("sent_at")) or convo.get("created_at")
            data["message_id"] = turn.get("id")
        else:
            yield RawRecord(
                name,
                line,
                json.dumps(turn, default=str)[:2000],
                None,
                f"turn {i + 1} is neither [speaker, text] nor an object",
                "turns",
            )
            continue
        if data.get("message_id") is None:
            data["message_id"] = f"{cid}-{i:04d}"
        if data.get("sent_at") is None:
            data.pop("sent_at", None)
        yield RawRecord(name, line, json.dumps(turn, ensure_ascii=False, default=str)[:2000], data)
