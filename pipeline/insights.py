"""The derived tables a person reads (weekly statistics, CSAT/NPS impact), rebuilt from assignments.

Both are pure functions of the store's assignments and sentiment, so they are rebuilt whole: by every
run, and after a person's merge moves messages between topics (so no page shows a merged-away topic).
"""

from __future__ import annotations

from pipeline import impact, weekly
from pipeline.store import Store


def refresh_insights(store: Store, run_id: str) -> dict[str, int]:
    """Recompute and replace weekly_stats and topic_impact; returns row counts."""
    table = weekly.compute_weekly(store)
    rows = weekly.save_weekly(store, table, run_id) if not table.empty else 0
    impact_rows = impact.save_impact(store, impact.compute_impact(store), run_id)
    return {
        "weekly_rows": rows,
        "weeks": int(table["week"].nunique()) if rows else 0,
        "impact_rows": impact_rows,
    }
