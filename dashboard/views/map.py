"""Topic map: every topic on the 2-D layout the run stored, sized by volume, coloured by sentiment."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard import state

st.title("Topic map")
st.caption(
    "Topics close together are close in meaning (their centroids projected to 2-D by the run). "
    "Size: customer messages; colour: mean sentiment. Click a topic to open it."
)
with state.store_errors_as_messages():
    if state.require_results():
        points = state.topic_map()
        theme_list = sorted(points["theme"].unique())
        chosen = st.multiselect("Highlight themes", theme_list, key="map_themes")
        if points.empty:
            st.info("No topic has a position yet: run the pipeline.")
            st.stop()
        points = points.assign(highlight=points["theme"].isin(chosen) if chosen else True)
        pick = alt.selection_point(fields=["topic_id"], name="pick")
        base = alt.Chart(points).encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            tooltip=[
                "label",
                "theme",
                "messages",
                alt.Tooltip("sentiment:Q", format="+.2f"),
                alt.Tooltip("topic_id:Q", title="id"),
            ],
        )
        colors = state.SENTIMENT_COLORS
        bubbles = (
            base.mark_circle(stroke="#333", strokeWidth=0.5)
            .encode(
                size=alt.Size("messages:Q", scale=alt.Scale(range=[40, 2400]), title="messages"),
                color=alt.Color(
                    "sentiment:Q",
                    scale=alt.Scale(
                        domain=[-1, 0, 1], range=[colors["negative"], colors["neutral"], colors["positive"]]
                    ),
                    title="sentiment",
                ),
                opacity=alt.condition("datum.highlight", alt.value(0.85), alt.value(0.15)),
            )
            .add_params(pick)
        )
        labels = (
            base.transform_filter("datum.highlight")
            .transform_window(rank="rank(messages)", sort=[alt.SortField("messages", order="descending")])
            .transform_filter("datum.rank <= 20")
            .mark_text(dy=-14, fontSize=11, color="#222")
            .encode(text="label:N")
        )
        event = st.altair_chart(
            (bubbles + labels).properties(height=620),
            width="stretch",
            key="topic_map",
            on_select="rerun",
            selection_mode="pick",
        )
        selected = [p.get("topic_id") for p in (event.selection.get("pick") or [])] if event else []
        if selected and selected[0] is not None:
            row = points[points["topic_id"] == int(selected[0])].iloc[0]
            st.markdown(
                f"**{row['label']}** — {row['theme']}, {int(row['messages']):,} messages, "
                f"sentiment {row['sentiment']:+.2f}"
            )
            st.page_link(
                "views/topic.py", label="Open topic detail", query_params={"topic": int(row["topic_id"])}
            )
        st.dataframe(
            points.assign(detail=points["topic_id"].map(state.topic_url))[
                ["label", "theme", "messages", "sentiment", "detail"]
            ],
            hide_index=True,
            width="stretch",
            key="map_table",
            column_config={"sentiment": state.SENTIMENT_COLUMN, "detail": state.TOPIC_LINK},
        )
