"""WhatsApp Business Platform (Cloud API) webhooks: ``entry[].changes[].value`` with ``messages[]``
from customers, ``statuses[]`` (delivery receipts: no words, not kept) and ``contacts[]`` (profile
names: never kept), plus ``message_echoes[]`` (``smb_message_echoes``: what the business sent from its
WhatsApp Business app), which become agent turns so threads stay whole.

Text, interactive replies (button and list titles) and template quick-reply buttons are the
customer's words; a media caption is too. Media without a caption, locations, contact cards,
reactions and stickers become system turns (``<IMAGE> from customer``), as in chat exports. A message
the platform itself could not read (``type: unsupported``) goes to the quarantine with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.webhooks.events import (
    Inbound,
    PayloadError,
    as_list,
    fallback_id,
    from_epoch,
    meta_entries,
    problem,
)

PLATFORM = "whatsapp"
MEDIA = ("image", "video", "audio", "document", "sticker")
NO_WORDS = ("location", "contacts", "reaction")


def whatsapp_events(payload: Any, business_accounts: Iterable[str] = ()) -> list[Inbound]:
    """Every message in one webhook delivery (a delivery may batch several)."""
    entries = meta_entries(payload, "whatsapp_business_account", "WhatsApp")
    return list(_events(entries, set(business_accounts)))


def _events(entries: list[dict], business: set[str]) -> Iterator[Inbound]:
    for entry in entries:
        for change in as_list(entry.get("changes"), "entry[].changes"):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                raise PayloadError("every 'changes[]' needs a 'value' object")
            meta = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            account = str(meta.get("phone_number_id") or entry.get("id") or "") or None
            ours = business | {str(v) for v in (account, meta.get("display_phone_number")) if v}
            for msg in as_list(value.get("messages"), "value.messages"):
                sender = str(msg.get("from", "")) if isinstance(msg, dict) else ""
                if sender in ours:  # sent from the brand's own number: the agent
                    yield _message(msg, account, "agent", msg.get("to"))
                else:
                    yield _message(msg, account, "customer", msg.get("from") if sender else None)
            for msg in as_list(value.get("message_echoes"), "value.message_echoes"):
                yield _message(msg, account, "agent", msg.get("to") if isinstance(msg, dict) else None)
            # statuses[] are receipts (sent, delivered, read) and contacts[] profile names: not kept


def _message(msg: Any, account: str | None, role: str, customer: Any) -> Inbound:
    if not isinstance(msg, dict) or not msg.get("id"):
        return problem(PLATFORM, fallback_id(msg), msg, "message without an id", "id")
    mid = str(msg["id"])
    if not customer:
        return problem(PLATFORM, mid, msg, "message without the customer's number", "from")
    kind = msg.get("type")
    sent_at = from_epoch(msg.get("timestamp"))
    if sent_at is None:
        return problem(PLATFORM, mid, msg, f"unreadable timestamp {msg.get('timestamp')!r}", "timestamp")
    meta: dict[str, Any] = {"message_type": kind}
    context = msg.get("context")
    if isinstance(context, dict) and context.get("id"):
        meta["reply_to"] = f"{PLATFORM}:{context['id']}"
    text = _words(msg, kind, meta)
    if text is None:
        if kind in MEDIA or kind in NO_WORDS:
            text, meta["media"] = f"<{kind.upper()}> from {role}", kind in MEDIA
            role = "system"
        else:
            errors = msg.get("errors") if isinstance(msg.get("errors"), list) else []
            why = "; ".join(str(e.get("title") or e.get("message")) for e in errors if isinstance(e, dict))
            reason = f"message type {kind!r} has no text" + (f" ({why})" if why else "")
            return problem(PLATFORM, mid, msg, reason, "type")
    return Inbound(PLATFORM, mid, role, account, str(customer), sent_at, text, meta)


def _words(msg: dict, kind: Any, meta: dict) -> str | None:
    """The customer's own words in a message of this type, or None when it carries none."""
    body = msg.get(kind) if isinstance(kind, str) else None
    if not isinstance(body, dict):
        return None
    words = None
    if kind == "text":
        words = body.get("body")
    elif kind == "interactive":  # a tap on a reply button or a list row: its title is the answer
        reply = body.get("button_reply") or body.get("list_reply")
        meta["reply_type"] = body.get("type")
        words = reply.get("title") if isinstance(reply, dict) else None
    elif kind == "button":  # quick-reply button of a template message
        words = body.get("text")
    elif kind in MEDIA:
        words = body.get("caption")
    return words if isinstance(words, str) and words.strip() else None
