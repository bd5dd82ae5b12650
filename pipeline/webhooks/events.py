"""What every platform's webhook is turned into: one inbound event per message, before privacy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# keys that hold who the customer is: never copied into a problem's raw text
IDENTITY_KEYS = frozenset(
    {"from", "to", "wa_id", "sender", "recipient", "senderPhoneNumber", "recipient_id", "context", "profile"}
)


@dataclass(frozen=True)
class Inbound:
    """One message a platform delivered; ``problem`` set when it cannot become a message record."""

    platform: str  # also the contract's channel: whatsapp, messenger, rcs, gbm
    event_id: str  # the platform's message id: redeliveries carry the same one
    author_role: str = "customer"
    account: str | None = None  # the brand's account (phone number id, page id, agent)
    customer: str | None = None  # the customer's platform id: hashed before anything is kept
    sent_at: datetime | None = None
    text: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    field: str | None = None
    raw: str = ""


class PayloadError(ValueError):
    """The body is not a webhook of this platform at all: answered 400 with this reason."""


def problem(platform: str, event_id: str, item: Any, reason: str, fld: str) -> Inbound:
    """An event kept for the quarantine: its raw form without the keys that identify the customer."""
    safe = {k: v for k, v in item.items() if k not in IDENTITY_KEYS} if isinstance(item, dict) else item
    raw = json.dumps(safe, ensure_ascii=False, default=str)[:2000]
    return Inbound(platform, event_id, problem=reason, field=fld, raw=raw)


def fallback_id(item: Any) -> str:
    """A stable id for an event that lacks one: the same body redelivered gets the same id."""
    return "noid-" + hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:24]


def from_epoch(value: Any, scale: float = 1.0) -> datetime | None:
    """Unix time (seconds, or milliseconds with ``scale=1000``) as UTC; None when unreadable."""
    try:
        return datetime.fromtimestamp(float(value) / scale, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def from_rfc3339(value: Any) -> datetime | None:
    """Google's ``2024-05-01T10:00:00.123456789Z`` as UTC; None when unreadable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"'{where}' must be a list")
    return value


def meta_entries(payload: Any, obj: str, platform: str) -> list[dict]:
    """The ``entry[]`` objects of a Meta webhook (WhatsApp, Messenger) whose ``object`` is ``obj``."""
    if not isinstance(payload, dict) or payload.get("object") != obj:
        raise PayloadError(f"not a {platform} webhook: 'object' must be '{obj}'")
    entries = as_list(payload.get("entry"), "entry")
    if not all(isinstance(entry, dict) for entry in entries):
        raise PayloadError("every 'entry' must be an object")
    return entries
