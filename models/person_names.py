"""Person names in message text, found by spaCy's named-entity recogniser (English and French) and
by the phrases people introduce themselves with, replaced by ``[NAME]`` before anything is stored.

Only the tokenizer and the entity recogniser run (``tok2vec`` + ``ner``), pipelines are loaded once
per process, and each text goes to the pipeline of its language (given, else detected). A language
without an installed pipeline gets the English one, which still catches capitalised names.
Measured recall and false positives: ``bench/privacy.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import spacy

NAME = "[NAME]"
PERSON_LABELS = {"PERSON", "PER"}
_WORD = r"[^\W\d_][\w'’-]*"
# "my name is jane roe", "je m'appelle marie", "mon nom est ...": the name follows, capitalised or not
_INTRO = re.compile(
    rf"(?i)\b(?:my name is|my name's|name is|je m['’]appelle|mon nom est|mon nom c['’]est|je me nomme)"
    rf"\s+(?P<name>{_WORD}(?:\s+{_WORD})?)"
)
_NOT_NAMES = {
    "not",
    "in",
    "on",
    "the",
    "a",
    "an",
    "and",
    "but",
    "still",
    "wrong",
    "missing",
    "spelled",
    "pas",
    "et",
    "mais",
    "le",
    "la",
    "les",
    "un",
    "une",
    "sur",
    "dans",
    "mal",
    "incorrect",
    "incorrecte",
    "changed",
}


@cache
def _pipeline(model: str):
    try:
        return spacy.load(
            model, exclude=["parser", "lemmatizer", "tagger", "attribute_ruler", "morphologizer", "senter"]
        )
    except OSError:
        return None


def _intro_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _INTRO.finditer(text):
        words = m.group("name").split()
        keep = []
        for w in words:
            if w.lower() in _NOT_NAMES:
                break
            keep.append(w)
        if keep:
            start = m.start("name")
            spans.append((start, start + len(" ".join(keep))))
    return spans


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            start = last
        if start >= end:
            continue
        out.append(text[last:start])
        out.append(NAME)
        last = end
    out.append(text[last:])
    return "".join(out)


class NameRedactor:
    """``redact(texts, languages)``: the texts with person names replaced by ``[NAME]``."""

    def __init__(self, models: Mapping[str, str], batch_size: int = 256) -> None:
        self.models = dict(models)
        self.batch_size = batch_size

    def _nlp(self, language: str | None):
        model = self.models.get(language or "") or self.models.get("en")
        return _pipeline(model) if model else None

    def redact(self, texts: list[str], languages: list[str | None]) -> list[str]:
        out = list(texts)
        by_lang: dict[str | None, list[int]] = {}
        for i, lang in enumerate(languages):
            by_lang.setdefault(lang if lang in self.models else "en", []).append(i)
        for lang, idx in by_lang.items():
            nlp = self._nlp(lang)
            docs = nlp.pipe([texts[i] for i in idx], batch_size=self.batch_size) if nlp else [None] * len(idx)
            for i, doc in zip(idx, docs, strict=True):
                spans = _intro_spans(texts[i])
                if doc is not None:
                    spans += [(e.start_char, e.end_char) for e in doc.ents if e.label_ in PERSON_LABELS]
                out[i] = _replace(texts[i], spans) if spans else texts[i]
        return out
