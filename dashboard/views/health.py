"""Pipeline health: runs, the next scheduled run, data freshness and what was quarantined and why."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st
from cronsim import CronSim, CronSimError

from dashboard import state
from pipeline.store import StoreError


def _when(value) -> str:
    return "–" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%d %b %H:%M")


def _next_run(cron: str, tz: str) -> tuple[str, str | None]:
    """(the next run as the other times are shown, its full date and zone for the tooltip), or the
    schedule's error."""
    try:
        nxt = next(CronSim(cron, datetime.now(ZoneInfo(tz))))
    except (CronSimError, StopIteration) as exc:
        return f"invalid schedule {cron!r}: {exc}", None
    return f"{nxt:%d %b %H:%M}", f"{nxt:%A %d %B %Y, %H:%M} ({tz})"


def _pulls(run) -> pd.DataFrame | None:
    """What a scheduled run took from each source (None for a run started by hand)."""
    pulled = json.loads(run["counts"] or "{}").get("pull")
    if not pulled:
        return None
    return pd.DataFrame([{"source": path, **counts} for path, counts in pulled.items()])


st.title("Pipeline health")
s = state.store()
try:
    present = s.exists()
except StoreError as exc:  # a PostgreSQL store whose server cannot be reached
    st.error(f"The store cannot be read right now: {exc}")
    st.stop()
if not present:
    st.info(f"No store at `{s.name}` yet: `voc ingest PATH` then `voc run`, or `voc demo`.")
    st.stop()
with state.store_errors_as_messages():
    state.upgraded(s)
    fresh = state.freshness()
    cfg = state.settings()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Newest message", _when(fresh["newest_message"]))
    c2.metric("Last ingest", _when(fresh["last_ingest"]))
    c3.metric("Last completed run", _when(fresh["last_run"]))
    nxt, full = _next_run(cfg.schedule_cron, cfg.business_timezone)
    c4.metric("Next scheduled run", nxt, help=full)
    st.caption(
        f"{int(fresh['messages']):,} messages stored, {int(fresh['waiting']):,} waiting for the next run, "
        f"{int(fresh['quarantined']):,} quarantined. Schedule `{cfg.schedule_cron}` "
        f"({cfg.business_timezone}) from config `schedule_cron`, served by `voc serve`."
    )

    st.subheader("Runs")
    runs = state.runs(50)
    if runs.empty:
        st.info("No pipeline run yet: `voc run`.")
    else:
        failed = runs[runs["status"] == "failed"]
        if len(failed):
            latest = failed.iloc[0]
            st.error(f"Run {latest['run_id']} ({latest['started']}) failed: {latest['error']}")
        # the newest run that recorded a pull: one in progress records its counts when it ends, and
        # one started by hand pulls nothing, so neither hides what the schedule last took
        pulls = next((p for p in map(_pulls, (r for _, r in runs.iterrows())) if p is not None), None)
        if pulls is not None:
            broken = pulls[pulls["error"].notna()] if "error" in pulls else pulls.iloc[0:0]
            for row in broken.itertuples():
                st.warning(f"Source `{row.source}` could not be pulled in the latest run: {row.error}")
            st.caption("What the latest scheduled run pulled from each source")
            st.dataframe(pulls, hide_index=True, width="stretch", key="pulls_table")
        st.altair_chart(
            alt.Chart(runs.dropna(subset=["duration_s"]))
            .mark_bar(size=24)
            .encode(
                x=alt.X("started:N", sort=None, title=None, axis=alt.Axis(labelAngle=-40)),
                y=alt.Y("duration_s:Q", title="seconds"),
                color=alt.Color(
                    "status:N",
                    scale=alt.Scale(
                        domain=["completed", "failed", "running"], range=["#2ca02c", "#d62728", "#9e9e9e"]
                    ),
                ),
                tooltip=["run_id", "started", "status", "duration_s", "prepared", "embedded", "topic_mode"],
            )
            .properties(height=220),
            width="stretch",
        )
        st.dataframe(
            runs.drop(columns=["counts"]),
            hide_index=True,
            width="stretch",
            key="runs_table",
            column_config={"duration_s": st.column_config.NumberColumn("seconds", format="%.1f")},
        )

    st.subheader("Quarantine")
    reasons = state.quarantine_reasons()
    if reasons.empty:
        st.success("No record has been quarantined.")
    else:
        st.dataframe(reasons, hide_index=True, width="stretch", key="quarantine_table")
        st.caption("Export the records themselves with `voc export quarantine --out quarantine.csv`.")
