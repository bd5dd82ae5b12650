"""Topic detail: one topic over time, its words and verbatims, neighbours, lineage, and taxonomy actions.

Rename, pin and merge are stored as decisions (pipeline.overrides) and re-applied after every run, so
what a person decides here survives the next re-fit.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import state
from pipeline.digest import count_words, tested_words, trend_words
from pipeline.overrides import OverrideError, record_decision
from pipeline.store import StoreError


def _over_time(weekly: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(weekly).encode(x=alt.X("week:O", title="week (Monday)", axis=alt.Axis(labelAngle=-40)))
    bars = base.mark_bar(color="#1f77b4", opacity=0.75).encode(
        y=alt.Y("messages:Q", title="customer messages"),
        tooltip=[
            "week",
            "messages",
            "conversations",
            alt.Tooltip("tested_conversations:Q", title="conversations as the current topics count them"),
            alt.Tooltip("expected:Q", title="conversations expected", format=".1f"),
            "status",
        ],
    )
    line = base.mark_line(point=True, color=state.SENTIMENT_COLORS["negative"]).encode(
        y=alt.Y("sentiment:Q", title="mean sentiment", scale=alt.Scale(domain=[-1, 1])),
        tooltip=["week", alt.Tooltip("sentiment:Q", format="+.2f")],
    )
    return alt.layer(bars, line).resolve_scale(y="independent").properties(height=260)


def _mix_chart(mix: pd.DataFrame, dimension: str) -> alt.Chart:
    part = mix[mix["dimension"] == dimension]
    return (
        alt.Chart(part)
        .mark_bar(size=18)
        .encode(
            x=alt.X("messages:Q", title="messages"),
            y=alt.Y("value:N", sort="-x", title=dimension),
            tooltip=["value", "messages"],
        )
        .properties(height=max(32 * len(part) + 30, 90))
    )


def _decide(action: str, topic_id: int, by: str, **kwargs) -> None:
    """Store a decision through the writable store; a busy store or a bad decision shows as a message."""
    if not by.strip():
        st.session_state["topic_notice"] = (
            "error",
            "Say who decides (name or e-mail): decisions are signed.",
        )
        return
    try:
        decision = record_decision(state.store(), action, topic_id, decided_by=by.strip(), **kwargs)
    except (OverrideError, StoreError) as exc:
        st.session_state["topic_notice"] = ("error", str(exc))
        return
    st.cache_data.clear()  # every page must see the decision on its next render
    what = {
        "rename": "renamed",
        "pin": "label pinned",
        "merge": f"merged into #{decision['target_topic_id']}",
    }
    st.session_state["topic_notice"] = (
        "success",
        f"Topic #{topic_id} {what[action]}; it holds after every run.",
    )
    if action == "merge":
        st.session_state["topic_pick"] = int(decision["target_topic_id"])


def _actions(detail: dict, options: pd.DataFrame) -> None:
    topic_id = int(detail["topic_id"])
    st.subheader("Taxonomy")
    by = st.text_input("Decided by", key="decided_by", placeholder="your name or e-mail (required)")
    c1, c2 = st.columns(2)
    with c1.form("rename_form", border=True):
        label = st.text_input("New name", value=detail["label"], key="new_label")
        note = st.text_input("Why (optional)", key="rename_note")
        if st.form_submit_button("Rename"):
            _decide("rename", topic_id, by, label=label, note=note or None)
            st.rerun()
    with c2.form("merge_form", border=True):
        others = options[options["topic_id"] != topic_id]
        names = dict(zip(others["topic_id"].astype(int), others["name"], strict=True))
        target = st.selectbox("Merge this topic into", list(names), format_func=names.get, key="merge_target")
        note = st.text_input("Why (optional)", key="merge_note")
        if st.form_submit_button("Merge"):
            _decide("merge", topic_id, by, target=target, note=note or None)
            st.rerun()
    if detail["label_source"] != "pinned" and st.button(
        f"Pin the label '{detail['label']}'", help="keep this name whatever later re-fits call the topic"
    ):
        _decide("pin", topic_id, by)
        st.rerun()


st.title("Topic detail")
with state.store_errors_as_messages():
    if state.require_results():
        notice = st.session_state.pop("topic_notice", None)
        if notice:
            (st.success if notice[0] == "success" else st.error)(notice[1])
        options = state.topic_options()
        if options.empty:
            st.info("No topics yet: run the pipeline first.")
            st.stop()
        ids = options["topic_id"].astype(int).tolist()
        names = dict(zip(ids, options["name"], strict=True))
        wanted = st.session_state.pop("topic_pick", None)
        param = st.query_params.get("topic", "")
        if wanted is None and param.lstrip("-").isdigit():
            wanted = int(param)
        if wanted is not None and wanted not in ids:
            gone = state.topic_detail(wanted)
            if gone and gone["state"] == "merged" and gone["merged_into"] is not None:
                st.info(f"Topic #{wanted} ({gone['label']}) was merged into #{int(gone['merged_into'])}.")
                wanted = int(gone["merged_into"])
        if wanted in ids:
            st.session_state["topic"] = wanted
        topic_id = st.selectbox("Topic", ids, format_func=names.get, key="topic")
        st.query_params["topic"] = str(topic_id)
        detail = state.topic_detail(topic_id)

        source = {"renamed": "renamed by a person", "pinned": "label pinned", "auto": "label from the model"}
        st.header(detail["label"])
        st.caption(
            f"#{topic_id} · theme: {detail['theme']} · {detail['state']} · "
            f"{source.get(detail['label_source'], detail['label_source'])}"
            + (
                f" (model calls it '{detail['auto_label']}')"
                if detail["auto_label"] != detail["label"]
                else ""
            )
        )
        if topic_id in state.closing_topic_ids():
            st.info(
                "Customers close conversations with these turns: the brief reads them under *How "
                "conversations ended*, not among the themes, topics and CSAT drivers."
            )
        elif topic_id in state.courtesy_topic_ids():
            st.info(
                'These are courtesy turns ("Yes, that\'s correct.", "Sounds good."): what customers '
                "say to an agent, not what they came about. The brief leaves them out of its themes, "
                "topics, CSAT drivers and the requests' endings."
            )
        keywords = list(detail["keywords"]) if detail["keywords"] is not None else []
        st.markdown("**Keywords:** " + (", ".join(keywords) if keywords else "–"))

        weekly = state.topic_weeks(topic_id)
        c1, c2, c3 = st.columns(3)
        c1.metric("Customer messages, all weeks", f"{int(weekly['messages'].sum()):,}")
        last = weekly.iloc[-1] if len(weekly) else None
        before = weekly.iloc[-2]["messages"] if len(weekly) > 1 else None
        c2.metric(
            "Latest week" if last is None else f"Week of {last['week']}: {last['status']}",
            "–" if last is None else f"{int(last['messages']):,}",
            None if before is None else f"{int(last['messages'] - before):+d} vs the week before",
        )
        mean = (weekly["sentiment"] * weekly["messages"]).sum() / max(weekly["messages"].sum(), 1)
        c3.metric("Mean sentiment", f"{mean:+.2f}")

        st.subheader("Volume and sentiment by week")
        if weekly.empty:
            st.caption("No weekly statistics for this topic yet.")
        else:
            st.altair_chart(_over_time(weekly), width="stretch")
            by_trend = weekly[weekly["status_test"] == "trend"]
            for _, row in by_trend.iloc[::-1].iterrows():  # newest first
                fit = row[["trend_weeks", "trend_from", "trend_to", "trend_factor", "p_value"]]
                st.caption(f"Week of {row['week']}: {row['status']} by {trend_words(*fit)}.")
            by_shift = weekly[weekly["part_messages"].notna()]
            for _, row in by_shift.iloc[::-1].iterrows():  # newest first
                st.caption(
                    f"Week of {row['week']}: {row['status']} by a group of similar messages in the topic, "
                    f"{count_words(row['part_messages'], row['part_conversations'])} against "
                    f"{row['part_expected']:.1f} expected "
                    f"(p = {row['p_value']:.2g} over the week's groups); the whole topic "
                    f"{tested_words(row)} against {row['expected']:.1f}."
                )

        st.subheader("Representative verbatims")
        reps = state.topic_verbatims(topic_id, 5)
        if reps.empty:
            st.caption("No representative messages stored for this topic.")
        for r in reps.itertuples():
            st.markdown(f"> {r.text}  \n<sub>{r.channel} · {r.sentiment}</sub>", unsafe_allow_html=True)

        mix = state.topic_mix(topic_id)
        c1, c2 = st.columns(2)
        with c1:
            st.subheader("Channels")
            st.altair_chart(_mix_chart(mix, "channel"), width="stretch")
        with c2:
            st.subheader("Languages")
            st.altair_chart(_mix_chart(mix, "language"), width="stretch")

        st.subheader("Related topics")
        related = state.related_topics(topic_id, 5)
        if related.empty:
            st.caption("No other topic to compare with.")
        else:
            st.dataframe(
                related.assign(detail=related["topic_id"].map(state.topic_url))[
                    ["label", "theme", "size", "similarity", "detail"]
                ],
                hide_index=True,
                width="stretch",
                key="related",
                column_config={
                    "similarity": st.column_config.ProgressColumn(
                        "similarity", min_value=0, max_value=1, format="%.2f", color="blue"
                    ),
                    "detail": state.TOPIC_LINK,
                },
            )

        st.subheader("Lineage and decisions")
        history = state.topic_history(topic_id)
        if history.empty:
            st.caption("Nothing has happened to this topic's identity since it was created.")
        else:
            st.dataframe(history, hide_index=True, width="stretch", key="lineage")

        _actions(detail, options)
