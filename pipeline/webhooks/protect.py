"""Make inbound events private before they land: nothing a webhook carried about who the customer
is, or what they wrote that identifies them, is written anywhere in clear.

- text: pattern redaction (e-mails, phones, cards, IBANs) and, when configured, person names;
- the customer's platform id (phone number, PSID...): a salted hash, as ``customer_id`` and in the
  thread key (without a hasher it is dropped and every message is its own thread);
- metadata: redacted like any other; the brand's own account id is kept (it is not personal).
"""

from __future__ import annotations

from pipeline.identifiers import protect_metadata
from pipeline.privacy import Privacy
from pipeline.redact import redact, redact_value
from pipeline.webhooks.events import Inbound
from pipeline.webhooks.landing import LandingRow


def protect(events: list[Inbound], privacy: Privacy) -> list[LandingRow]:
    hasher = privacy.hasher
    plain = [redact(e.raw if e.problem is not None else e.text or "") for e in events]
    private, _ = privacy.redact_names(plain, [None] * len(plain))  # texts and problems' raw alike
    rows = []
    for e, text in zip(events, private, strict=True):
        if e.problem is not None:
            rows.append(LandingRow(e.platform, e.event_id, problem=e.problem, field=e.field, raw=text))
            continue
        customer = hasher.digest(e.customer) if hasher and e.customer else None
        thread = hasher.digest(f"{e.platform}|{e.account}|{e.customer}") if customer else e.event_id
        record = {
            "message_id": f"{e.platform}:{e.event_id}",
            "channel": e.platform,
            "author_role": e.author_role,
            "sent_at": e.sent_at.isoformat() if e.sent_at else None,
            "text": text,
            **protect_metadata(e.metadata, hasher, redact_value),
        }
        if e.account:
            record["business_account"] = e.account
        if customer:
            record["customer_id"] = customer
        rows.append(LandingRow(e.platform, e.event_id, thread, e.sent_at, record))
    return rows
