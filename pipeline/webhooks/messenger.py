"""Messenger Platform webhooks: ``{"object": "page", "entry": [{"id", "messaging": [...]}]}``.

A ``message`` from a person is a customer turn; an echo (``is_echo``, or a sender that is the page or a
configured business account) is what the page sent: an agent turn, whose customer is the recipient.
Quick replies and postbacks (a tapped button) carry their title or text as the customer's words;
attachments without text become system turns. Deliveries, reads and reactions are not kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pipeline.webhooks.events import Inbound, as_list, fallback_id, from_epoch, meta_entries, problem

PLATFORM = "messenger"


def messenger_events(payload: Any, business_accounts: Iterable[str] = ()) -> list[Inbound]:
    return list(_events(meta_entries(payload, "page", "Messenger"), set(business_accounts)))


def _events(entries: list[dict], business: set[str]) -> Iterator[Inbound]:
    for entry in entries:
        page = str(entry.get("id") or "") or None
        ours = business | ({page} if page else set())
        for item in as_list(entry.get("messaging"), "entry[].messaging"):
            if not isinstance(item, dict):
                continue
            if "message" in item or "postback" in item:
                yield _event(item, page, ours)


def _event(item: dict, page: str | None, ours: set[str]) -> Inbound:
    body = item.get("message") if isinstance(item.get("message"), dict) else item.get("postback")
    if not isinstance(body, dict) or not body.get("mid"):
        return problem(PLATFORM, fallback_id(item), item, "message without an id (mid)", "mid")
    mid = str(body["mid"])
    sender = str((item.get("sender") or {}).get("id") or "")
    recipient = str((item.get("recipient") or {}).get("id") or "")
    agent = bool(body.get("is_echo")) or sender in ours
    customer = recipient if agent else sender
    if not customer:
        return problem(PLATFORM, mid, item, "message without a sender or recipient id", "sender")
    sent_at = from_epoch(item.get("timestamp"), scale=1000)
    if sent_at is None:
        return problem(PLATFORM, mid, item, f"unreadable timestamp {item.get('timestamp')!r}", "timestamp")
    role = "agent" if agent else "customer"
    meta: dict[str, Any] = {"message_type": "postback" if "postback" in item else "message"}
    reply_to = body.get("reply_to")
    if isinstance(reply_to, dict) and reply_to.get("mid"):
        meta["reply_to"] = f"{PLATFORM}:{reply_to['mid']}"
    text = body.get("text") or body.get("title")
    if not isinstance(text, str) or not text.strip():
        kinds = [a.get("type") for a in body.get("attachments") or [] if isinstance(a, dict)]
        if not kinds:
            return problem(PLATFORM, mid, item, "message with neither text nor attachments", "message.text")
        meta["media"] = True
        text, role = f"<{str(kinds[0]).upper()}> from {role}", "system"
    return Inbound(PLATFORM, mid, role, page, customer, sent_at, str(text), meta)
