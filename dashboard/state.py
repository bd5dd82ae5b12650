"""Shared dashboard plumbing: the settings, the read-only store, cached queries, colours."""

from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from pipeline import queries
from pipeline.store import Store, StoreError
from voc.config import Settings

# One look for sentiment in every table: a bar from -1 (negative) to +1 (positive).
SENTIMENT_COLUMN = st.column_config.ProgressColumn("sentiment", min_value=-1, max_value=1, format="%.2f")
SENTIMENT_COLORS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
# Plain Unicode shapes (not emoji) so they render with any system font.
STATUS_ICONS = {"emerging": "✦", "growing": "▲", "declining": "▼", "dormant": "○", "stable": "·"}


def settings() -> Settings:
    # Not cached: it is cheap, and VOC_STORE may differ between sessions of one server process.
    return Settings()


def store() -> Store:
    cfg = settings()
    return Store(cfg.store, timezone=cfg.business_timezone, lock_timeout_s=10)


@st.cache_data(ttl=settings().dashboard_cache_ttl_s, show_spinner=False)
def _run_query(name: str, store_path: str, timezone: str, *args):
    # One cached function keyed by the query's name: Streamlit keys caches by function source, so
    # wrappers built in a loop would otherwise share one cache.
    return getattr(queries, name)(Store(store_path, timezone=timezone, lock_timeout_s=10), *args)


def cached(fn):
    """Cache a query function by its name and arguments (store path included) for the configured TTL."""

    def call(*args):
        s = store()
        return _run_query(fn.__name__, str(s.path), s.timezone, *args)

    return call


weeks = cached(queries.weeks)
week_topics = cached(queries.week_topics)
headline = cached(queries.headline)
channel_volume = cached(queries.channel_volume)
theme_summary = cached(queries.theme_summary)
topic_trend = cached(queries.topic_trend)
topics = cached(queries.topics)
representatives = cached(queries.representatives)
week_verbatims = cached(queries.week_verbatims)
filtered_topics = cached(queries.filtered_topics)
filtered_messages = cached(queries.filtered_messages)
conversation = cached(queries.conversation)
distinct_values = cached(queries.distinct_values)


@contextmanager
def store_errors_as_messages():
    """Show a store problem (e.g. a writer holding the file too long) as a message, not a traceback."""
    try:
        yield
    except StoreError as exc:
        st.warning(f"The store is busy or unreadable right now ({exc}). Reload in a moment.")


def require_results() -> bool:
    """Explain the empty state instead of failing; True when there is something to show."""
    s = store()
    try:
        ready = queries.has_results(s)
    except StoreError as exc:
        st.error(f"The store cannot be read right now: {exc}")
        return False
    if not ready:
        st.info(
            f"No weekly themes yet in `{s.path}`. Load conversations and run the pipeline:\n\n"
            f"```\nvoc ingest PATH --store {s.path}\nvoc run --store {s.path}\n```\n"
            "or `voc demo` for the bundled demo data."
        )
        return False
    return True
