"""Language detection on real English and French customer-style utterances."""

import csv
import json

from pipeline.language import detect_languages

LANGS = ["en", "fr", "es", "de", "it", "pt", "nl"]


def test_english_and_french_are_told_apart(shared):
    with (shared / "banking77" / "test.csv").open() as fh:
        english = [row["text"] for _, row in zip(range(150), csv.DictReader(fh), strict=False)]
    with (shared / "massive" / "fr-FR_train.jsonl").open() as fh:
        french = [json.loads(line)["utt"] for _, line in zip(range(150), fh, strict=False)]
    got_en = detect_languages(english, LANGS, "en")
    got_fr = detect_languages(french, LANGS, "en")
    assert sum(g == "en" for g in got_en) / len(got_en) >= 0.95
    assert sum(g == "fr" for g in got_fr) / len(got_fr) >= 0.85


def test_too_short_falls_back_to_default():
    assert detect_languages(["ok", "??", ""], LANGS, "fr") == ["fr", "fr", "fr"]
