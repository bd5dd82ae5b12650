"""PII redaction: what must go, and what must stay (amounts, dates, ids)."""

import json

import pytest

from pipeline.redact import CARD, EMAIL, IBAN, PHONE, contains_pii, redact


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("write to jane.doe+vip@mail.example.co.uk please", EMAIL),
        ("call me on +33 6 12 34 56 78", PHONE),
        ("mon numéro : 06 12 34 56 78", PHONE),
        ("mon fixe 01.23.45.67.89", PHONE),
        ("my cell is (415) 555-0132", PHONE),
        ("my cell is 415-555-0132", PHONE),
        ("UK office +44 20 7946 0958", PHONE),
        ("card 4111 1111 1111 1111 was charged", CARD),
        ("card 4539-1488-0343-6467 was charged", CARD),
        ("IBAN FR14 2004 1010 0505 0001 3M02 606", IBAN),
        ("send it to GB82WEST12345698765432 today", IBAN),
    ],
)
def test_pii_is_replaced(text, token):
    out = redact(text)
    assert token in out
    assert not any(ch.isdigit() for ch in out.replace(token, "")) or token == EMAIL


@pytest.mark.parametrize(
    "text",
    [
        "Send $1,210 from savings on 2019-11-06.",
        "I topped up 500 euros at 10:30 and my PIN 1234 is blocked",
        "card 4111 1111 1111 1112 is not a valid number",  # fails Luhn: an ordinary number, kept
        "FR14 2004 1010 0505 0001 3M02 607",  # fails mod-97: kept
        "réveille-moi à 7h le 12/03",
    ],
)
def test_ordinary_numbers_survive(text):
    assert redact(text) == text


def test_abcd_conversation_pii_is_removed(shared):
    """The ABCD sample carries real-looking names, emails, phones of its scenario: emails and phones go."""
    convos = json.loads((shared / "abcd_sample" / "abcd_sample.json").read_text())
    for convo in convos:
        personal = convo["scenario"]["personal"]
        texts = [redact(text) for speaker, text in convo["original"] if speaker == "customer"]
        joined = " ".join(texts).lower()
        if "email" in personal:
            assert personal["email"].lower() not in joined
        digits = "".join(ch for ch in personal["phone"] if ch.isdigit())
        assert digits not in "".join(ch for ch in joined if ch.isdigit() or ch == " ").replace(" ", "")
    assert contains_pii(["reach me at a.b@example.org"]) == ["reach me at a.b@example.org"]


def test_redaction_is_idempotent():
    text = "a.b@example.org, +33 6 12 34 56 78, 4111 1111 1111 1111"
    assert redact(redact(text)) == redact(text)
