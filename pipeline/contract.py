"""The message input contract: one record per message, validated with pydantic.

A record that fails here is quarantined with the field and reason; everything not named in the
contract is kept as metadata (brand, product, csat, nps...).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Role(StrEnum):
    customer = "customer"
    agent = "agent"
    bot = "bot"
    system = "system"


class Channel(StrEnum):
    whatsapp = "whatsapp"
    messenger = "messenger"
    rcs = "rcs"
    gbm = "gbm"
    webchat = "webchat"
    email = "email"
    sms = "sms"
    twitter = "twitter"
    voice = "voice"
    other = "other"


CONTRACT_FIELDS = ("message_id", "conversation_id", "text", "sent_at", "author_role", "channel", "language")


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from CSV/Parquet
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


MAX_TEXT_CHARS = 20_000  # a message, not a document: longer is a broken export or an attack


class MessageRecord(BaseModel):
    """One message as a source delivers it, before redaction."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    conversation_id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    message_id: str | None = None
    sent_at: datetime | None = None
    author_role: Role = Role.customer
    channel: Channel | None = None
    language: str | None = None

    @field_validator("conversation_id", "message_id", mode="before")
    @classmethod
    def _ids_as_strings(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if isinstance(value, bool):
            raise ValueError("must be a string or an integer id")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(int(value)) if float(value).is_integer() else str(value)
        return value

    @field_validator("text", mode="before")
    @classmethod
    def _text_is_string(cls, value: Any) -> Any:
        if value is None or (isinstance(value, float) and value != value):
            raise ValueError("text is missing")
        if not isinstance(value, str):
            raise ValueError(f"text must be a string, got {type(value).__name__}")
        if not value.strip():
            raise ValueError("text is empty")
        if len(value) > MAX_TEXT_CHARS:
            raise ValueError(f"text is longer than {MAX_TEXT_CHARS:,} characters ({len(value):,})")
        return value

    @field_validator("sent_at", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        if value is None or isinstance(value, datetime):
            return value
        if hasattr(value, "to_pydatetime"):  # pandas Timestamp from Parquet/CSV
            return value.to_pydatetime()
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError as exc:
                raise ValueError(f"not an ISO 8601 date-time: {value!r}") from exc
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")

    @field_validator("sent_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # naive times are taken as UTC, as the contract says
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("author_role", "channel", "language", mode="before")
    @classmethod
    def _normalise_code(cls, value: Any) -> Any:
        value = _blank_to_none(value)
        return value.strip().lower() if isinstance(value, str) else value

    def metadata(self) -> dict[str, Any]:
        """Columns outside the contract, kept as-is (NaN and blanks dropped)."""
        extra = self.model_extra or {}
        return {k: v for k, v in extra.items() if _blank_to_none(v) is not None}


def stable_message_id(conversation_id: str, sent_at: datetime | None, role: str, text: str) -> str:
    """Deterministic id so that re-ingesting the same record is a no-op (upsert key)."""
    stamp = sent_at.isoformat() if sent_at else ""
    digest = hashlib.sha256("\x1f".join([conversation_id, stamp, role, text]).encode("utf-8"))
    return "m_" + digest.hexdigest()[:24]


def describe_error(exc: ValidationError) -> tuple[str, str]:
    """(field, reason) of the first validation error, phrased for a person."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ())) or "record"
    msg = err.get("msg", "invalid")
    if err.get("type") == "missing":
        msg = f"required field '{field}' is missing"
    elif err.get("type") == "enum":
        msg = f"{field} {err.get('input')!r} is not one of: {err.get('ctx', {}).get('expected', '')}"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return field, msg
