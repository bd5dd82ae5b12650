"""Courtesy turns: topics made of what customers say to keep a conversation going, not what they want.

In a conversation of several turns the customer answers the agent as often as they ask: "Yes, that's
correct.", "Sounds good.", "Okay, thank you.", "No, not now." Such turns are many and alike, so they
form topics, and in the SGD dialogues (``../shared/data/sgd_banking_dialogues``, 1,021 dialogues) they
filled four of the ten themes a CCO read ("good / fine", "correct / right", six "thank" topics) and
the requests whose conversations end unhappy ("good", "sounds fine"). Closing turns
(``pipeline.endings``) are only the last of them.

A message is *content-free* when, read by spaCy, it holds one of the closed class of ``COURTESY``
words of its language (yes, no, thanks, okay, correct, sounds good, merci, d'accord...), no content
lemma besides them and no redacted value (a "[NAME]." answers the agent's question with something).
A topic is a *courtesy topic* when at least ``COURTESY_SHARE`` of its customer messages (a sample of
``SAMPLE`` each) are content-free. In the SGD store 30 topics are (25 besides its closing ones), with
38-100% of their messages content-free; its other topics have at most 28% ("Anything else?") and its
requests at most 7%; on the demo and twelve Banking77 and MASSIVE scenario stores no topic but the
demo's closing "perfect" passes 5%.

Courtesy topics are left out of themes, the topics tables, CSAT impact and the requests' endings, as
closing topics are (``queries.SET_ASIDE``); they stay topics, with their weekly counts.
A re-fit reads both kinds on its assignments before storing them (``read_set_aside``) and groups them
into themes apart from the requests (``models.topic_model.TopicModel.group_themes``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.endings import assignments_relation, closing_topics
from pipeline.redact import PLACEHOLDERS
from pipeline.store import Store

COURTESY_SHARE = 1 / 3  # SGD: courtesy topics 0.38-1.0, others at most 0.28; 13 other stores at most 0.05
SAMPLE = 60  # customer messages read per topic: the share within about ±0.12 (95%) at a third
MIN_MESSAGES = 10

# Lemmas of acknowledgements, confirmations, thanks and greetings per language (spaCy's stop words are
# left out already): a turn of these words alone carries nothing to act on. Each language has its own,
# so that a word of one ("top": great, in French) does not empty a request of another ("my top up").
_ENGLISH = (
    "yes yeah yep yup no nope nah ok okay alright sure thank thanks cheers appreciate correct right fine "
    "good great perfect cool awesome wonderful excellent nice lovely bye goodbye sound ahead lot bunch "
    "ton help please exactly hi hello hey welcome"
)
_FRENCH = (
    "oui ouais non merci remercier accord ok okay parfait parfaire bien bon exact exactement super "
    "génial nickel cool revoir bonjour bonsoir salut beaucoup aide entendu voilà"
)
COURTESY = {"en": frozenset(_ENGLISH.split()), "fr": frozenset(_FRENCH.split())}
_ANY = frozenset().union(*COURTESY.values())  # a language without its own list

COURTESY_IDS = "SELECT topic_id FROM courtesy_topics WHERE courtesy"

_SAMPLE_SQL = """
SELECT topic_id, text, coalesce(language, 'en') AS language
FROM (
    SELECT a.topic_id, m.text, m.language,
           row_number() OVER (PARTITION BY a.topic_id ORDER BY hash(m.message_id), m.message_id) AS k
    FROM messages m JOIN {assignments} a USING (message_id)
    WHERE m.is_customer AND a.topic_id >= 0
)
WHERE k <= $sample
"""


def content_free(texts: list[str], languages: list[str], spacy_models: Mapping[str, str]) -> np.ndarray:
    """Per text: whether it says nothing but courtesy words (see the module's docstring): no content
    lemma outside its language's ``COURTESY`` words, and one of them at least, as lemma or as written
    ("Okay." has no content lemma at all, nor has "Why hasn't my top up gone through?": spaCy counts
    "top" and "up" among English stop words)."""
    from models.lemmas import analyse  # spaCy: only a run reads texts; the dashboard reads ids
    from models.person_names import NAME

    analyses = analyse(texts, languages, spacy_models)
    redacted = [any(p in t for p in (*PLACEHOLDERS, NAME)) for t in texts]
    free = []
    for a, hidden, lang in zip(analyses, redacted, languages, strict=True):
        said = COURTESY.get(lang, _ANY)
        written = {word.strip().strip("'’") for segment in a.segments for word, _ in segment}
        polite = bool(written & said) or any(lemma in said for lemma in a.lemmas)
        free.append(polite and not hidden and all(lemma in said for lemma in a.lemmas))
    return np.array(free, dtype=bool)


def courtesy_topics(
    store: Store, spacy_models: Mapping[str, str], assignments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per topic read: ``topic_id``, ``sampled`` (customer messages read), ``content_free``
    (how many of them say nothing but courtesy words) and ``courtesy`` (at least ``COURTESY_SHARE``).

    ``assignments`` (``message_id``, ``topic_id``): read the topics of a fit not stored yet."""
    table, frames = assignments_relation(assignments)
    sample = store.query(_SAMPLE_SQL.format(assignments=table), {"sample": SAMPLE}, frames=frames)
    if sample.empty:
        return pd.DataFrame({"topic_id": [], "sampled": [], "content_free": [], "courtesy": []})
    sample["free"] = content_free(sample["text"].tolist(), sample["language"].tolist(), spacy_models)
    out = sample.groupby("topic_id", as_index=False).agg(
        sampled=("free", "size"), content_free=("free", "sum")
    )
    enough = out["sampled"] >= MIN_MESSAGES
    out["courtesy"] = enough & (out["content_free"] >= COURTESY_SHARE * out["sampled"])
    return out.astype({"topic_id": int, "sampled": int, "content_free": int, "courtesy": bool})


def set_aside(store: Store, closing: list[int]) -> list[int]:
    """The topics customers did not come about: ``closing`` (``pipeline.endings.closing_topics``) and
    the courtesy topics the last run stored."""
    return sorted({*closing, *(int(t) for t in store.query(COURTESY_IDS)["topic_id"])})


def read_set_aside(store: Store, assignments: pd.DataFrame, spacy_models: Mapping[str, str]) -> list[int]:
    """The closing and courtesy topics of a fit not stored yet (``assignments``: ``message_id``,
    ``topic_id`` for every customer message), read as a run's insights will read them once stored."""
    read = courtesy_topics(store, spacy_models, assignments)
    found = read.loc[read["courtesy"], "topic_id"]
    return sorted({*closing_topics(store, assignments), *(int(t) for t in found)})


def save_courtesy(store: Store, topics: pd.DataFrame, run_id: str) -> int:
    """Replace the courtesy table (a pure function of the topics' messages)."""
    return store.replace_all("courtesy_topics", topics.assign(run_id=run_id))
