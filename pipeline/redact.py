"""PII redaction, applied before any text is stored or shown.

Emails by pattern; payment cards by pattern plus the Luhn check and IBANs by pattern plus the
ISO 7064 mod-97 check (python-stdnum), so order numbers and amounts survive; phone numbers with
Google's libphonenumber matcher (international, US and French formats).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"
PLACEHOLDERS = (EMAIL, PHONE, CARD, IBAN)

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
_CARD_RE = re.compile(r"(?<![\d\w])(?:\d[ \-]?){12,18}\d(?![\d\w])")
_PHONE_REGIONS = ("US", "FR")


def _replace_validated(text: str, pattern: re.Pattern[str], valid, token: str) -> str:
    def sub(match: re.Match[str]) -> str:
        compact = re.sub(r"[ \-]", "", match.group(0))
        return token if valid(compact) else match.group(0)

    return pattern.sub(sub, text)


def _is_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _is_iban(candidate: str) -> bool:
    return std_iban.is_valid(candidate.upper())


def _redact_phones(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for region in _PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
            spans.append((match.start, match.end))
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, last = [], 0
    for start, end in merged:
        out.append(text[last:start])
        out.append(PHONE)
        last = end
    out.append(text[last:])
    return "".join(out)


def redact(text: str) -> str:
    """Text with emails, IBANs, card numbers and phone numbers replaced by placeholders."""
    if not text:
        return text
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _replace_validated(text, _IBAN_RE, _is_iban, IBAN)
    text = _replace_validated(text, _CARD_RE, _is_card, CARD)
    return _redact_phones(text)


def redact_value(value: Any) -> Any:
    """Redact strings inside metadata values (lists and dicts included); other types pass."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def contains_pii(texts: Iterable[str]) -> list[str]:
    """The texts that would still change under redaction (used by checks and tests)."""
    return [t for t in texts if t and redact(t) != t]
