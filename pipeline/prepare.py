"""Prepare stage: language and customer-turn flags for messages not prepared yet.

Redaction already happened at ingest (nothing unredacted is ever stored); this stage re-checks it
so that text stored by an older redaction rule set is brought up to date before anything is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from pipeline.language import detect_languages
from pipeline.redact import redact
from pipeline.store import Store, execute


def prepare_messages(store: Store, languages: list[str], default_language: str) -> dict[str, int]:
    with store.connect() as con:
        pending = con.execute(
            "SELECT message_id, text, author_role, language FROM messages WHERE prepared_at IS NULL"
        ).df()
    if pending.empty:
        return {"prepared": 0, "languages_detected": 0, "re_redacted": 0}
    redacted = pending["text"].map(redact)
    changed = redacted != pending["text"]
    missing = pending["language"].isna()
    detected = pd.Series(pending["language"].to_numpy(), index=pending.index, dtype=object)
    if missing.any():
        detected[missing] = detect_languages(redacted[missing].tolist(), languages, default_language)
    update = pd.DataFrame(
        {
            "message_id": pending["message_id"],
            "text": redacted,
            "language": detected,
            "detected": missing,
            "is_customer": pending["author_role"].eq("customer"),
        }
    )
    with store.connect() as con:
        con.register("_prep", update)
        execute(
            con,
            """
            UPDATE messages AS m SET
                text = p.text,
                language = p.language,
                language_source = CASE WHEN p.detected THEN 'detected'
                                       ELSE coalesce(m.language_source, 'given') END,
                is_customer = p.is_customer,
                prepared_at = ?
            FROM _prep p WHERE m.message_id = p.message_id
            """,
            [datetime.now(UTC)],
        )
    return {
        "prepared": len(update),
        "languages_detected": int(missing.sum()),
        "re_redacted": int(changed.sum()),
    }
