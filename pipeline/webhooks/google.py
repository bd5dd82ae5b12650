"""Google's agent webhooks: RCS Business Messaging (RBM) and Business Messages (GBM).

RBM posts a Pub/Sub-style envelope ``{"message": {"data": <base64 JSON>}}`` whose decoded user event
holds ``senderPhoneNumber``, ``messageId``, ``sendTime`` and ``text`` (or a ``suggestionResponse``,
``userFile``, ``location``); ``eventType`` events (delivered, read, typing) are not kept.
GBM posts ``{"agent", "conversationId", "message": {"messageId", "text", "createTime"}, "sendTime"}``
(or a ``suggestionResponse``); receipts, typing and survey events are not kept.

Both platforms verify a webhook by posting ``{"clientToken", "secret"}`` and expecting the secret back,
and sign every message with ``X-Goog-Signature``: see ``pipeline.webhooks.signatures``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pipeline.webhooks.events import Inbound, PayloadError, fallback_id, from_rfc3339, problem


def is_verification(payload: Any) -> bool:
    """The platform's webhook set-up request (answer with the secret when the token matches)."""
    return isinstance(payload, dict) and "clientToken" in payload and "secret" in payload


def rcs_user_event(payload: Any) -> tuple[dict, bytes]:
    """The decoded user event of an RBM envelope, and the bytes its signature covers."""
    message = payload.get("message") if isinstance(payload, dict) else None
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, str):
        raise PayloadError("not an RBM webhook: no 'message.data'")
    try:
        raw = base64.b64decode(data, validate=True)
        event = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"RBM 'message.data' is not base64-encoded JSON: {exc}") from None
    if not isinstance(event, dict):
        raise PayloadError("RBM 'message.data' must hold a JSON object")
    return event, raw


def rcs_events(event: dict) -> list[Inbound]:
    if "eventType" in event:  # delivered, read, typing: no words
        return []
    mid = str(event.get("messageId") or "") or fallback_id(event)
    phone = event.get("senderPhoneNumber")
    if not phone:
        return [problem("rcs", mid, event, "message without senderPhoneNumber", "senderPhoneNumber")]
    return [_google("rcs", mid, event, event, event.get("agentId"), str(phone))]


def gbm_events(payload: Any) -> list[Inbound]:
    if not isinstance(payload, dict) or "conversationId" not in payload:
        raise PayloadError("not a Business Messages webhook: no 'conversationId'")
    body = payload.get("message") or payload.get("suggestionResponse")
    if not isinstance(body, dict):
        return []  # receipts, typing, survey and other events: no words
    mid = str(body.get("messageId") or "") or fallback_id(payload)
    return [_google("gbm", mid, body, payload, payload.get("agent"), str(payload["conversationId"]))]


def _google(platform: str, mid: str, body: dict, envelope: dict, agent: Any, customer: str) -> Inbound:
    sent_at = from_rfc3339(envelope.get("sendTime") or body.get("createTime"))
    if sent_at is None:
        return problem(platform, mid, body, f"unreadable sendTime {envelope.get('sendTime')!r}", "sendTime")
    meta: dict[str, Any] = {"message_type": "text"}
    text = body.get("text")
    suggestion = body.get("suggestionResponse") if platform == "rcs" else body
    if not text and isinstance(suggestion, dict) and suggestion.get("text"):
        text, meta["message_type"] = suggestion.get("text"), "suggestion_response"
    role = "customer"
    if not isinstance(text, str) or not text.strip():
        kind = next((k for k in ("userFile", "location", "image") if k in body), None)
        if kind is None:
            return problem(platform, mid, body, "message without text", "text")
        text, role, meta["message_type"] = f"<{kind.upper()}> from customer", "system", kind
        meta["media"] = kind != "location"
    account = str(agent) if agent else None
    return Inbound(platform, mid, role, account, customer, sent_at, str(text), meta)
