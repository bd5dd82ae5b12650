"""Shared dashboard plumbing: the settings, the read-only store, cached queries, colours."""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from pipeline import digest, queries
from pipeline.store import Store, StoreError
from voc.config import Settings

# One look for sentiment everywhere: a bar from -1 (negative) to +1 (positive), and three colours.
SENTIMENT_COLUMN = st.column_config.ProgressColumn(
    "sentiment", min_value=-1, max_value=1, format="%+.2f", color="auto"
)
SENTIMENT_COLORS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
# Plain Unicode shapes (not emoji) so they render with any system font.
STATUS_ICONS = {"emerging": "✦", "growing": "▲", "declining": "▼", "dormant": "○", "stable": "·"}
TOPIC_LINK = st.column_config.LinkColumn("detail", display_text="open", width="small")


def settings() -> Settings:
    # Not cached: it is cheap, and VOC_STORE may differ between sessions of one server process.
    return Settings()


def store() -> Store:
    cfg = settings()
    return cfg.open_store(lock_timeout_s=10)


def today():
    """Today in the business time zone (weeks are cut there)."""
    return datetime.now(ZoneInfo(settings().business_timezone)).date()


@st.cache_data(ttl=settings().dashboard_cache_ttl_s, show_spinner=False)
def _run_query(module: str, name: str, store_path: str, timezone: str, *args):
    # One cached function keyed by the query's module and name: Streamlit keys caches by function
    # source, so wrappers built in a loop would otherwise share one cache.
    fn = getattr(importlib.import_module(module), name)
    return fn(Store(store_path, timezone=timezone, lock_timeout_s=10), *args)


def cached(fn):
    """Cache a read-only query ``fn(store, *args)`` by its arguments (store path included) for the TTL."""

    def call(*args):
        s = store()
        return _run_query(fn.__module__, fn.__name__, s.location, s.timezone, *args)

    return call


weeks = cached(queries.weeks)
week_topics = cached(queries.week_topics)
headline = cached(queries.headline)
channel_volume = cached(queries.channel_volume)
theme_summary = cached(queries.theme_summary)
topics = cached(queries.topics)
topic_verbatims = cached(queries.topic_verbatims)
week_verbatims = cached(queries.week_verbatims)
recent_counts = cached(queries.recent_counts)
closing_topic_ids = cached(queries.closing_topic_ids)
courtesy_topic_ids = cached(queries.courtesy_topic_ids)
endings_by_week = cached(queries.endings_by_week)
request_endings = cached(queries.request_endings)
ending_verbatims = cached(queries.ending_verbatims)
filtered_topics = cached(queries.filtered_topics)
filtered_messages = cached(queries.filtered_messages)
conversation = cached(queries.conversation)
distinct_values = cached(queries.distinct_values)
themes = cached(queries.themes)
date_span = cached(queries.date_span)
metadata_fields = cached(queries.metadata_fields)
topic_options = cached(queries.topic_options)
topic_detail = cached(queries.topic_detail)
topic_weeks = cached(queries.topic_weeks)
topic_mix = cached(queries.topic_mix)
related_topics = cached(queries.related_topics)
topic_history = cached(queries.topic_history)
topic_map = cached(queries.topic_map)
runs = cached(queries.runs)
quarantine_reasons = cached(queries.quarantine_reasons)
freshness = cached(queries.freshness)
build_digest = cached(digest.build_digest)


def topic_url(topic_id: int) -> str:
    """A link to a topic's detail page (relative, so it works behind any host and port)."""
    return f"./topic?topic={int(topic_id)}"


@contextmanager
def store_errors_as_messages():
    """Show a store problem (e.g. a writer holding the file too long) as a message, not a traceback."""
    try:
        yield
    except StoreError as exc:
        st.warning(f"The store is busy or unreadable right now ({exc}). Reload in a moment.")


@st.cache_resource(show_spinner=False)
def _upgraded(location: str, timezone: str) -> list[str]:
    # Once per server process and store: a store an older voc wrote gets this version's columns, so
    # the pages' queries work before the next run fills them.
    return Store(location, timezone=timezone, lock_timeout_s=10).upgrade()


def upgraded(s: Store) -> list[str]:
    """What this version added to an older voc's store (empty for a current one); once per process."""
    return _upgraded(s.location, s.timezone)


def require_results() -> bool:
    """Explain the empty state instead of failing; True when there is something to show."""
    s = store()
    try:
        upgraded(s)
        ready = queries.has_results(s)
    except StoreError as exc:
        st.error(f"The store cannot be read right now: {exc}")
        return False
    if not ready:
        st.info(
            f"No weekly themes yet in `{s.name}`. Load conversations and run the pipeline:\n\n"
            f"```\nvoc ingest PATH --store {s.name}\nvoc run --store {s.name}\n```\n"
            "or `voc demo` for the bundled demo data."
        )
        return False
    return True
