"""Which sentence encoder a store's topics use when the setting is ``auto``.

all-MiniLM-L6-v2 reads English only: French messages get their own, poorer topics, and a French and
an English message about the same thing almost never share one (2.5% of translation pairs, against
75% with multilingual-e5-small; ``bench.crosslingual``). On English it is the better and 3x faster
model. So ``auto`` takes MiniLM unless a large enough share of the customer messages is in another
language (measured: README, Pipeline step 2), decides once, and keeps that choice
for the store's life: topic ids live in the encoder's space, and a switch would re-embed every
message and re-cut every topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.embedder import DEFAULT_MODEL, MINILM_NAMES
from models.multilingual_encoder import ALIASES as MULTILINGUAL_NAMES
from models.multilingual_encoder import NAME as MULTILINGUAL
from pipeline.store import Store

AUTO = "auto"
ENGLISH = DEFAULT_MODEL  # the bundled all-MiniLM-L6-v2
# At least this share of customer messages in other languages than English: the multilingual encoder.
NON_ENGLISH_SHARE = 0.1


@dataclass(frozen=True)
class EncoderChoice:
    model: str
    reason: str
    refit: bool = False  # the store's topics were fitted in another encoder's space


def choose_encoder(store: Store, configured: str, fast: bool = False) -> EncoderChoice:
    """The topic encoder for this run: the configured one, or for ``auto`` the store's earlier choice,
    or one chosen now from the languages of its customer messages (after the prepare stage).

    A run whose encoder differs from the one the stored topics were fitted with re-fits them: their
    clusters were cut in the other space (ids still carry over by shared members)."""
    earlier = _earlier_encoder(store)
    if configured != AUTO:
        model, reason = configured, "configured"
    elif fast:
        model, reason = ENGLISH, "fast mode: its static encoder is distilled from MiniLM"
    elif earlier:
        reason = "kept: the store's topics live in its space"
        now, mix = _by_languages(store)
        if not _same_model(now, earlier):  # the mix moved across the line: say so, do not switch alone
            reason += f"; now {mix}: set embedding_model = {now} to re-fit on it"
        return EncoderChoice(earlier, reason)
    else:
        model, reason = _by_languages(store)
    if earlier and not _same_model(earlier, model):
        return EncoderChoice(model, f"{reason}; the topics were fitted on {earlier}: re-fit", refit=True)
    return EncoderChoice(model, reason)


def _same_model(a: str, b: str) -> bool:
    """The bundled models answer to several names ("all-MiniLM-L6-v2", "sentence-transformers/…")."""
    return a == b or any(a in names and b in names for names in (MINILM_NAMES, MULTILINGUAL_NAMES))


def _earlier_encoder(store: Store) -> str | None:
    """The encoder of the last completed run, where that run left topics."""
    earlier = store.query(
        "SELECT model FROM (SELECT json_extract_string(parameters, '$.embedding_model') AS model, "
        "started_at FROM runs WHERE status = 'completed') "
        "WHERE model IS NOT NULL AND model <> 'auto' ORDER BY started_at DESC LIMIT 1"
    )
    has_topics = store.query("SELECT count(*) AS n FROM topics WHERE topic_id >= 0")["n"][0]
    return str(earlier["model"][0]) if len(earlier) and has_topics else None


def _by_languages(store: Store) -> tuple[str, str]:
    mix = store.query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE split_part(replace(coalesce(language, ''), '_', '-'), "
        "'-', 1) NOT IN ('en', '')) AS other FROM messages WHERE is_customer"  # en-GB, en_US are English
    )
    n, other = int(mix["n"][0]), int(mix["other"][0])
    share = other / n if n else 0.0
    detail = f"{share:.0%} of {n} customer messages not in English"
    if share >= NON_ENGLISH_SHARE:
        return MULTILINGUAL, f"{detail} (>= {NON_ENGLISH_SHARE:.0%})"
    return ENGLISH, f"{detail} (< {NON_ENGLISH_SHARE:.0%})"
