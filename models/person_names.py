"""Person names in message text, found by spaCy's named-entity recogniser (English and French) and
by the phrases people introduce themselves with, replaced by ``[NAME]`` before anything is stored.

Only the tokenizer and the entity recogniser run (``tok2vec`` + ``ner``), pipelines are loaded once
per process, and each text goes to the pipeline of its language (given, else detected). A language
without an installed pipeline gets the English one, which still catches capitalised names.
Measured recall and false positives: ``bench/privacy.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import weakref
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
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


def _person_spans(models: dict[str, str], lang: str | None, texts: list[str], batch_size: int) -> list:
    """Character spans of the person names the language's pipeline finds in each text."""
    model = models.get(lang or "") or models.get("en")
    nlp = _pipeline(model) if model else None
    if nlp is None:
        return [[] for _ in texts]
    return [
        [(e.start_char, e.end_char) for e in doc.ents if e.label_ in PERSON_LABELS]
        for doc in nlp.pipe(texts, batch_size=batch_size)
    ]


class NameRedactor:
    """``redact(texts, languages)``: the texts with person names replaced by ``[NAME]``.

    The recogniser is most of ingest's time (about 450 messages/s per core), so a text that occurs
    several times in a batch is read once, and once a redactor has read ``parallel_after`` texts (a
    large ingest, not a small one that would only pay the start-up) its batches are split over
    ``workers`` processes; each loads the pipelines once and lives as long as the redactor (spaCy's
    own ``n_process`` would start new processes for every batch). Same output either way.
    """

    def __init__(
        self,
        models: Mapping[str, str],
        batch_size: int = 256,
        workers: int | None = None,
        parallel_after: int = 10_000,
    ) -> None:
        self.models = dict(models)
        self.batch_size = batch_size
        self.workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
        self.parallel_after = parallel_after
        self._read = 0
        self._pool: ProcessPoolExecutor | None = None

    def _spans(self, lang: str | None, texts: list[str]) -> list:
        self._read += len(texts)
        if self.workers < 2 or self._read <= self.parallel_after or len(texts) < 100:
            return _person_spans(self.models, lang, texts, self.batch_size)
        if self._pool is None:
            # spawn: the parent may hold threads (Prefect, torch) that a fork would copy mid-state
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        step = -(-len(texts) // self.workers)
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        futures = [
            self._pool.submit(_person_spans, self.models, lang, part, self.batch_size) for part in parts
        ]
        return [spans for future in futures for spans in future.result()]

    def redact(self, texts: list[str], languages: list[str | None]) -> list[str]:
        out = list(texts)
        by_lang: dict[str | None, dict[str, list[int]]] = {}
        for i, lang in enumerate(languages):
            key = lang if lang in self.models else "en"
            by_lang.setdefault(key, {}).setdefault(texts[i], []).append(i)
        for lang, where in by_lang.items():
            distinct = list(where)
            for text, found in zip(distinct, self._spans(lang, distinct), strict=True):
                spans = _intro_spans(text) + found
                redacted = _replace(text, spans) if spans else text
                for i in where[text]:
                    out[i] = redacted
        return out
