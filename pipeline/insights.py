"""The derived tables a person reads (weekly statistics of topics, themes and channels, CSAT/NPS
impact, how conversations ended), rebuilt from assignments.

All are pure functions of the store's messages, assignments and sentiment, so they are rebuilt whole:
by every run, and after a person's merge moves messages between topics (so no page shows a
merged-away topic).
"""

from __future__ import annotations

from pipeline import channel_weekly, endings, impact, theme_weekly, weekly
from pipeline.store import Store


def refresh_insights(store: Store, run_id: str) -> dict[str, int]:
    """Recompute and replace weekly_stats, theme_weekly, channel_weekly, topic_impact and
    conversation_endings; returns row counts."""
    table = weekly.compute_weekly(store)
    rows = weekly.save_weekly(store, table, run_id) if not table.empty else 0
    closing = endings.closing_topics(store)
    themes = theme_weekly.compute_theme_weekly(store, table, closing)
    theme_rows = theme_weekly.save_theme_weekly(store, themes, run_id)
    channels = channel_weekly.compute_channel_weekly(store)
    channel_rows = channel_weekly.save_channel_weekly(store, channels, run_id)
    impact_rows = impact.save_impact(store, impact.compute_impact(store, closing=closing), run_id)
    ending_rows = endings.save_endings(store, endings.compute_endings(store, closing), run_id)
    return {
        "weekly_rows": rows,
        "weeks": int(table["week"].nunique()) if rows else 0,
        "theme_weekly_rows": theme_rows,
        "channel_weekly_rows": channel_rows,
        "impact_rows": impact_rows,
        "closing_topics": len(closing),
        "conversation_endings": ending_rows,
    }
