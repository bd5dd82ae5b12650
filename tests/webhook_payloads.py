"""Webhook bodies as each platform posts them, written by this project from the platforms' published
schemas (field names and nesting; no vendor text copied). Used by the tests and bench/receiver.py."""

from __future__ import annotations

import base64
import json
from datetime import datetime

WA_PHONE_NUMBER_ID = "106540352242922"
WA_DISPLAY_NUMBER = "15550783881"
PAGE_ID = "112233445566778"
RBM_AGENT = "acme_bank_agent@rbm.goog"
GBM_AGENT = "brands/4e1c2a/agents/9f0b7d"


def _wa(value: dict, field: str = "messages") -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": field, "value": value}]}],
    }


def _wa_value(**parts) -> dict:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": WA_DISPLAY_NUMBER, "phone_number_id": WA_PHONE_NUMBER_ID},
        **parts,
    }


def whatsapp_text(wamid: str, wa_id: str, text: str, at: datetime, name: str = "Kerry Fisher") -> dict:
    """A customer's text message, with the contact profile the platform sends along."""
    return _wa(
        _wa_value(
            contacts=[{"profile": {"name": name}, "wa_id": wa_id}],
            messages=[
                {
                    "from": wa_id,
                    "id": wamid,
                    "timestamp": str(int(at.timestamp())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        )
    )


def whatsapp_message(wamid: str, wa_id: str, at: datetime, kind: str, body: dict, **extra) -> dict:
    msg = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(int(at.timestamp())),
        "type": kind,
        kind: body,
        **extra,
    }
    return _wa(_wa_value(contacts=[{"profile": {"name": "K"}, "wa_id": wa_id}], messages=[msg]))


def whatsapp_unsupported(wamid: str, wa_id: str, at: datetime) -> dict:
    msg = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(int(at.timestamp())),
        "type": "unsupported",
        "errors": [{"code": 131051, "title": "Message type unknown"}],
    }
    return _wa(_wa_value(messages=[msg]))


def whatsapp_status(wamid: str, wa_id: str, at: datetime) -> dict:
    return _wa(
        _wa_value(
            statuses=[
                {"id": wamid, "status": "read", "timestamp": str(int(at.timestamp())), "recipient_id": wa_id}
            ]
        )
    )


def whatsapp_echo(wamid: str, wa_id: str, text: str, at: datetime) -> dict:
    """What the business sent from its own number (smb_message_echoes)."""
    echo = {
        "from": WA_DISPLAY_NUMBER,
        "to": wa_id,
        "id": wamid,
        "timestamp": str(int(at.timestamp())),
        "type": "text",
        "text": {"body": text},
    }
    return _wa(_wa_value(message_echoes=[echo]), field="smb_message_echoes")


def messenger_message(mid: str, psid: str, text: str, at: datetime, echo: bool = False) -> dict:
    """A person's message to the page, or (``echo``) what the page sent them."""
    message = {"mid": mid, "text": text, **({"is_echo": True, "app_id": 1517776481860111} if echo else {})}
    if echo:
        return messenger_item(PAGE_ID, at, recipient=psid, message=message)
    return messenger_item(psid, at, message=message)


def messenger_item(sender: str, at: datetime, recipient: str = PAGE_ID, **event) -> dict:
    ms = int(at.timestamp() * 1000)
    item = {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": ms, **event}
    return {"object": "page", "entry": [{"id": PAGE_ID, "time": ms, "messaging": [item]}]}


def rcs_user_event(message_id: str, phone: str, text: str, at: datetime) -> dict:
    return {
        "senderPhoneNumber": phone,
        "messageId": message_id,
        "sendTime": _rfc3339(at),
        "text": text,
        "agentId": RBM_AGENT,
    }


def rcs_envelope(user_event: dict) -> tuple[dict, bytes]:
    """The Pub/Sub-style body RBM posts, and the bytes its signature covers (the decoded data)."""
    data = json.dumps(user_event).encode()
    body = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": "2701957126406417",
            "publishTime": user_event.get("sendTime"),
        },
        "subscription": "projects/rbm-acme/subscriptions/rbm-agent-sub",
    }
    return body, data


def gbm_message(message_id: str, conversation_id: str, text: str, at: datetime) -> dict:
    return {
        "agent": GBM_AGENT,
        "conversationId": conversation_id,
        "customAgentId": "acme-support",
        "requestId": f"req-{message_id}",
        "message": {
            "messageId": message_id,
            "name": f"conversations/{conversation_id}/messages/{message_id}",
            "text": text,
            "createTime": _rfc3339(at),
        },
        "context": {"userInfo": {"displayName": "Jordan Miles", "userDeviceLocale": "en-GB"}},
        "sendTime": _rfc3339(at),
    }


def _rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanosecond precision, as Google sends


def dumps(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
