"""Build voc's bundled demo data from public utterances (run once; the output is committed).

    python demo/build_demo_data.py --shared ../shared/data --out demo/data

Customer messages are real public utterances (Banking77, MASSIVE; both CC BY 4.0). Agent replies,
closing turns and the fictional PII are written by this project. Dates, channels and volumes are
drawn with a fixed seed so the output is byte-for-byte reproducible. See demo/PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261116
FIRST_MONDAY = datetime(2026, 9, 14, tzinfo=UTC)
WEEKS = 10
CONVERSATIONS_PER_WEEK = 130

# Banking77 intents that play in the demo, with a weekly weight profile (index = week).
FLAT = [1.0] * WEEKS
BANKING_INTENTS: dict[str, list[float]] = {
    "card_arrival": [0.6, 0.7, 0.8, 1.0, 1.2, 1.5, 1.8, 2.2, 2.6, 3.0],  # growing: delivery delays
    "card_delivery_estimate": [0.5, 0.6, 0.6, 0.8, 0.9, 1.0, 1.3, 1.5, 1.7, 2.0],
    "compromised_card": [0.05, 0.0, 0.05, 0.0, 0.05, 0.05, 0.1, 1.5, 2.5, 3.0],  # emerging: phishing wave
    "exchange_rate": [2.0, 1.9, 1.7, 1.5, 1.3, 1.1, 0.9, 0.7, 0.6, 0.5],  # declining
    "card_payment_fee_charged": FLAT,
    "declined_card_payment": FLAT,
    "transaction_charged_twice": FLAT,
    "request_refund": FLAT,
    "Refund_not_showing_up": FLAT,
    "transfer_not_received_by_recipient": FLAT,
    "pending_transfer": FLAT,
    "activate_my_card": FLAT,
    "change_pin": FLAT,
    "pin_blocked": FLAT,
    "lost_or_stolen_card": FLAT,
    "top_up_failed": FLAT,
    "apple_pay_or_google_pay": FLAT,
    "verify_my_identity": FLAT,
    "terminate_account": FLAT,
    "atm_support": FLAT,
    "cash_withdrawal_charge": FLAT,
    "edit_personal_details": FLAT,
}
# MASSIVE fr-FR intents: French customers using the brand's assistant app.
FRENCH_INTENTS: dict[str, list[float]] = {
    "qa_currency": FLAT,
    "transport_ticket": FLAT,
    "takeaway_query": FLAT,
    "alarm_set": FLAT,
    "iot_hue_lightchange": [1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0],
    "calendar_set": FLAT,
    "weather_query": FLAT,
}
FRENCH_SHARE = 0.28

CHANNELS = {"whatsapp": 35, "webchat": 22, "messenger": 14, "email": 12, "rcs": 6, "gbm": 6, "sms": 5}

AGENT_OPENERS = {
    "en": [
        "Thanks for reaching out! Let me look into this for you.",
        "Hi, thanks for your message. I'm checking your account now.",
        "Sorry to hear that. Can you confirm the last four digits of your card?",
        "Thanks for your patience, I'm on it.",
        "Happy to help. Give me a moment to check the details.",
    ],
    "fr": [
        "Merci pour votre message ! Je regarde cela tout de suite.",
        "Bonjour, merci de nous avoir contactés. Je vérifie votre compte.",
        "Désolé pour ce désagrément. Pouvez-vous me donner plus de détails ?",
        "Merci de votre patience, je m'en occupe.",
    ],
}
AGENT_CLOSERS = {
    "en": [
        "All sorted on our side. Is there anything else I can help with?",
        "I've escalated this to the cards team; you'll hear from us within 48 hours.",
        "You can follow the steps in the app under Settings > Cards.",
        "Done! Thanks for banking with Nimbus.",
    ],
    "fr": [
        "C'est réglé de notre côté. Puis-je vous aider pour autre chose ?",
        "J'ai transmis votre demande à l'équipe concernée, réponse sous 48 heures.",
        "Vous trouverez la marche à suivre dans l'application, rubrique Réglages.",
    ],
}
# Customer closing turns (written by the project): how the conversation ended for the customer.
CUSTOMER_CLOSERS = {
    "en": {
        "good": [
            "Thanks, that solved it!",
            "Great, thank you so much for the quick help.",
            "Perfect, all good now.",
        ],
        "bad": [
            "Still nothing, this is really frustrating.",
            "This is the third time I ask, I'm very disappointed.",
            "That doesn't help at all, I want to close my account.",
        ],
    },
    "fr": {
        "good": [
            "Merci beaucoup, c'est réglé !",
            "Super, merci pour votre aide rapide.",
            "Parfait, tout fonctionne.",
        ],
        "bad": [
            "Toujours rien, c'est vraiment agaçant.",
            "C'est la troisième fois que je demande, je suis très déçu.",
            "Ça ne m'aide pas du tout, c'est inadmissible.",
        ],
    },
}
# Fictional PII (reserved example domains and numbering ranges, Luhn-valid test cards, example IBANs).
PII_SUFFIXES = {
    "en": [
        " My email is {first}.{last}@example.com if you need it.",
        " You can call me on +44 7700 900{n3}.",
        " My number is (415) 555-0{n3}.",
        " The card is 4539 1488 0343 6467.",
        " My account IBAN is GB82 WEST 1234 5698 7654 32.",
    ],
    "fr": [
        " Mon email : {first}.{last}@exemple.fr",
        " Vous pouvez me joindre au 06 12 34 5{n1} 78.",
        " Mon IBAN est FR14 2004 1010 0505 0001 3M02 606.",
    ],
}
NAMES = ["alex", "sam", "camille", "jordan", "lea", "noah", "ines", "chris", "maria", "hugo"]
SURNAMES = ["martin", "smith", "bernard", "nguyen", "dubois", "jones", "garcia", "moreau"]


def _load_banking(shared: Path) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {}
    with (shared / "banking77" / "train.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["category"] in BANKING_INTENTS:
                pool.setdefault(row["category"], []).append(row["text"].strip())
    return pool


def _load_french(shared: Path) -> dict[str, list[str]]:
    pool: dict[str, list[str]] = {}
    with (shared / "massive" / "fr-FR_train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec["intent"] in FRENCH_INTENTS:
                pool.setdefault(rec["intent"], []).append(rec["utt"].strip())
    return pool


def _draw(rng: random.Random, pool: dict[str, list[str]], used: dict[str, int], intent: str) -> str:
    texts = pool[intent]
    i = used.get(intent, 0)
    used[intent] = i + 1
    if i % len(texts) == 0:
        rng.shuffle(texts)
    return texts[i % len(texts)]


def _pick_weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def build(shared: Path, out: Path) -> dict[str, int]:
    rng = random.Random(SEED)
    pools = {"en": _load_banking(shared), "fr": _load_french(shared)}
    used: dict[str, int] = {}
    chat_rows: list[dict] = []
    email_rows: list[dict] = []
    for week in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        n_conv = CONVERSATIONS_PER_WEEK + rng.randint(-10, 10)
        for c in range(n_conv):
            lang = "fr" if rng.random() < FRENCH_SHARE else "en"
            profile = FRENCH_INTENTS if lang == "fr" else BANKING_INTENTS
            intent = _pick_weighted(rng, {k: v[week] for k, v in profile.items()})
            channel = _pick_weighted(rng, CHANNELS)
            conv_id = f"demo-{monday:%Y%m%d}-{c:04d}"
            start = monday + timedelta(
                days=rng.randint(0, 6), hours=rng.randint(7, 21), minutes=rng.randint(0, 59)
            )
            product = "Nimbus Assistant" if lang == "fr" else "Nimbus Pay"
            csat = None
            turns: list[tuple[str, str]] = []
            first = _draw(rng, pools[lang], used, intent)
            if rng.random() < 0.08:
                suffix = rng.choice(PII_SUFFIXES[lang])
                first += suffix.format(
                    first=rng.choice(NAMES),
                    last=rng.choice(SURNAMES),
                    n3=rng.randint(100, 999),
                    n1=rng.randint(0, 9),
                )
            turns.append(("customer", first))
            turns.append(("agent", rng.choice(AGENT_OPENERS[lang])))
            if rng.random() < 0.3:
                turns.append(("customer", _draw(rng, pools[lang], used, intent)))
            turns.append(("agent", rng.choice(AGENT_CLOSERS[lang])))
            if rng.random() < 0.45:
                bad_odds = 0.6 if intent in ("compromised_card", "card_arrival") else 0.3
                mood = "bad" if rng.random() < bad_odds else "good"
                turns.append(("customer", rng.choice(CUSTOMER_CLOSERS[lang][mood])))
                csat = rng.randint(1, 2) if mood == "bad" else rng.randint(4, 5)
            t = start
            for i, (role, text) in enumerate(turns):
                t = t + timedelta(minutes=rng.randint(1, 25))
                row = {
                    "conversation_id": conv_id,
                    "message_id": f"{conv_id}-{i:02d}",
                    "sent_at": t.isoformat().replace("+00:00", "Z"),
                    "author_role": role,
                    "channel": channel,
                    "text": text,
                    "brand": "Nimbus",
                    "product": product,
                }
                if csat is not None:
                    row["csat"] = csat
                (email_rows if channel == "email" else chat_rows).append(row)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "chat_channels.jsonl").open("w", encoding="utf-8") as fh:
        for row in chat_rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        # Deliberately broken records, so the demo shows the quarantine at work.
        fh.write('{"conversation_id": "demo-broken-1", "text": "my card is blocked", "sent_at": \n')
        fh.write(json.dumps({"conversation_id": "demo-broken-2", "text": 42, "channel": "whatsapp"}) + "\n")
    fields = [
        "conversation_id",
        "message_id",
        "sent_at",
        "author_role",
        "channel",
        "text",
        "brand",
        "product",
        "csat",
    ]
    with (out / "email_export.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in email_rows:
            writer.writerow(row)
        writer.writerow(
            {
                "conversation_id": "demo-broken-3",
                "sent_at": "last tuesday",
                "author_role": "customer",
                "channel": "email",
                "text": "Where is my refund?",
                "brand": "Nimbus",
            }
        )
        writer.writerow(
            {
                "conversation_id": "demo-broken-4",
                "sent_at": "2026-11-17T10:00:00Z",
                "author_role": "supervisor",
                "channel": "email",
                "text": "Escalated.",
                "brand": "Nimbus",
            }
        )
    return {"chat_rows": len(chat_rows), "email_rows": len(email_rows)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    args = parser.parse_args()
    print(build(args.shared, args.out))
