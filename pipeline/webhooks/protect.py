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
    messages = [e for e in events if e.problem is None]
    texts = [redact(e.text or "") for e in messages]
    texts, _ = privacy.redact_names(texts, [None] * len(texts))
    problems = [e for e in events if e.problem is not None]
    raws, _ = privacy.redact_names([redact(e.raw) for e in problems], [None] * len(problems))
    private = {id(e): t for e, t in zip(messages, texts, strict=True)}
    private_raw = {id(e): r for e, r in zip(problems, raws, strict=True)}
    rows = []
    for e in events:
        if e.problem is not None:
            rows.append(
                LandingRow(e.platform, e.event_id, problem=e.problem, field=e.field, raw=private_raw[id(e)])
            )
            continue
        hasher = privacy.hasher
        customer = hasher.digest(e.customer) if hasher and e.customer else None
        thread = hasher.digest(f"{e.platform}|{e.account}|{e.customer}") if customer else e.event_id
        record = {
            "message_id": f"{e.platform}:{e.event_id}",
            "channel": e.platform,
            "author_role": e.author_role,
            "sent_at": e.sent_at.isoformat() if e.sent_at else None,
            "text": private[id(e)],
            **protect_metadata(e.metadata, hasher, redact_value),
        }
        if e.account:
            record["business_account"] = e.account
        if customer:
            record["customer_id"] = customer
        rows.append(LandingRow(e.platform, e.event_id, thread, e.sent_at, record))
    return rows
