"""Language detection for messages that do not say their language (lingua, offline models)."""

from __future__ import annotations

from functools import lru_cache

from lingua import IsoCode639_1, LanguageDetectorBuilder

UNDETERMINED = "und"
# Below this many letters a guess is mostly noise ("ok", "??"): fall back to the default language.
MIN_LETTERS = 3


@lru_cache(maxsize=8)
def _detector(languages: tuple[str, ...]):
    codes = [IsoCode639_1.from_str(code) for code in languages]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_minimum_relative_distance(0.1).build()


def detect_languages(texts: list[str], languages: list[str], default: str) -> list[str]:
    """ISO 639-1 code per text among ``languages``; ``default`` when the text is too short or unclear."""
    detector = _detector(tuple(sorted(set(languages))))
    found = detector.detect_languages_in_parallel_of(texts)
    out = []
    for text, lang in zip(texts, found, strict=True):
        if lang is None or sum(ch.isalpha() for ch in text) < MIN_LETTERS:
            out.append(default)
        else:
            out.append(lang.iso_code_639_1.name.lower())
    return out
