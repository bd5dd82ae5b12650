"""The derived tables a person reads (weekly statistics of topics, themes and channels, CSAT/NPS
impact, how conversations ended, which topics are courtesy turns), rebuilt from assignments.

All are pure functions of the store's messages, assignments and sentiment, so they are rebuilt whole:
by every run, and after a person's merge moves messages between topics (so no page shows a
merged-away topic).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline import channel_weekly, courtesy, endings, impact, theme_weekly, weekly
from pipeline.store import Store


def refresh_insights(
    store: Store, run_id: str, spacy_models: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Recompute and replace weekly_stats, theme_weekly, channel_weekly, topic_impact,
    conversation_endings and, given ``spacy_models`` (a run), courtesy_topics; returns row counts.

    A person's merge passes no models: the courtesy topics the last run found stand (reading them
    again would load spaCy in the dashboard for a merge that seldom changes them)."""
    table = weekly.compute_weekly(store)
    rows = weekly.save_weekly(store, table, run_id) if not table.empty else 0
    closing = endings.closing_topics(store)
    if spacy_models is not None:
        courtesy.save_courtesy(store, courtesy.courtesy_topics(store, spacy_models), run_id)
    aside = courtesy.set_aside(store, closing)
    themes = theme_weekly.compute_theme_weekly(store, table, aside)
    theme_rows = theme_weekly.save_theme_weekly(store, themes, run_id)
    channels = channel_weekly.compute_channel_weekly(store)
    channel_rows = channel_weekly.save_channel_weekly(store, channels, run_id)
    impact_rows = impact.save_impact(store, impact.compute_impact(store, set_aside=aside), run_id)
    ending_rows = endings.save_endings(store, endings.compute_endings(store, closing), run_id)
    return {
        "weekly_rows": rows,
        "weeks": int(table["week"].nunique()) if rows else 0,
        "theme_weekly_rows": theme_rows,
        "channel_weekly_rows": channel_rows,
        "impact_rows": impact_rows,
        "closing_topics": len(closing),
        "courtesy_topics": len(aside) - len(closing),
        "conversation_endings": ending_rows,
    }
