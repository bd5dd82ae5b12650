"""Weekly overview: the CCO's first screen — top themes of a week, movers, sentiment, channels."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import state

st.title("Weekly themes")
with state.store_errors_as_messages():
    if state.require_results():
        weeks = state.weeks()
        default = st.query_params.get("week", weeks[-1])
        week = st.selectbox(
            "Week (Monday)",
            weeks[::-1],
            index=weeks[::-1].index(default) if default in weeks else 0,
            key="week",
        )
        st.query_params["week"] = week

        head = state.headline(week)

        def delta(now, before, pct=False):
            if before is None or now is None or pd.isna(before) or pd.isna(now):
                return None
            return f"{(now - before) * 100:+.1f} pts" if pct else f"{int(now - before):+d}"

        c1, c2, c3 = st.columns(3)
        c1.metric(
            "Conversations",
            f"{head['conversations']:,}",
            delta(head["conversations"], head["prev_conversations"]),
        )
        c2.metric(
            "Customer messages",
            f"{head['customer_messages']:,}",
            delta(head["customer_messages"], head["prev_customer_messages"]),
        )
        neg = head["negative_share"]
        c3.metric(
            "Share negative",
            "–" if neg is None or pd.isna(neg) else f"{neg:.0%}",
            delta(neg, head["prev_negative_share"], pct=True),
            delta_color="inverse",
        )

        table = state.week_topics(week)
        themes = table[table["topic_id"] >= 0]
        st.subheader("Top themes")
        if themes.empty:
            st.info("No customer messages fell into a topic this week.")
        else:
            by_theme = state.theme_summary(week)
            st.dataframe(
                by_theme[["theme", "topics", "messages", "change", "sentiment"]],
                hide_index=True,
                width="stretch",
                key="themes_summary",
                column_config={
                    "change": st.column_config.NumberColumn("vs last week", format="percent"),
                    "sentiment": state.SENTIMENT_COLUMN,
                },
            )
            st.caption("Topics this week, by volume")
            top = themes.head(15).copy()
            top["mood"] = pd.cut(
                top["sentiment"].fillna(0),
                [-1.01, -0.25, 0.25, 1.01],
                labels=["negative", "neutral", "positive"],
            ).astype(str)
            chart = (
                alt.Chart(top)
                .mark_bar()
                .encode(
                    x=alt.X("messages:Q", title="customer messages"),
                    y=alt.Y("topic:N", sort="-x", title=None, axis=alt.Axis(labelLimit=320)),
                    color=alt.Color(
                        "mood:N",
                        title="sentiment",
                        scale=alt.Scale(
                            domain=list(state.SENTIMENT_COLORS), range=list(state.SENTIMENT_COLORS.values())
                        ),
                    ),
                    tooltip=[
                        "topic",
                        "messages",
                        alt.Tooltip("share:Q", format=".1%"),
                        alt.Tooltip("change:Q", format="+.0%"),
                        alt.Tooltip("sentiment:Q", format="+.2f"),
                        "status",
                    ],
                )
                .properties(height=28 * len(top) + 40)
            )
            st.altair_chart(chart, width="stretch")
            view = themes.assign(
                status=themes["status"].map(lambda s: f"{state.STATUS_ICONS.get(s, '')} {s}")
            )
            st.dataframe(
                view[
                    [
                        "topic",
                        "theme",
                        "messages",
                        "conversations",
                        "share",
                        "change",
                        "sentiment",
                        "negative_share",
                        "status",
                    ]
                ],
                hide_index=True,
                width="stretch",
                column_config={
                    "share": st.column_config.NumberColumn(format="percent"),
                    "change": st.column_config.NumberColumn("vs last week", format="percent"),
                    "sentiment": state.SENTIMENT_COLUMN,
                    "negative_share": st.column_config.NumberColumn("negative", format="percent"),
                },
                key="themes_table",
            )

        movers = table[table["status"].isin(["emerging", "growing"]) & (table["topic_id"] >= 0)]
        st.subheader("Emerging and growing")
        if movers.empty:
            st.caption(
                "No topic rose significantly this week (Poisson test against its 4-week baseline, FDR 5%)."
            )
        else:
            reps = state.week_verbatims(week, movers["topic_id"].tolist(), 3)
            for _, row in movers.iterrows():
                with st.container(border=True):
                    st.markdown(
                        f"**{state.STATUS_ICONS.get(row['status'], '')} {row['topic']}** — {row['status']}: "
                        f"{row['messages']} messages vs {row['expected']:.1f} expected from the last 4 weeks "
                        f"(p = {row['p_value']:.3g}), sentiment {row['sentiment']:+.2f}"
                    )
                    for text in reps[reps["topic_id"] == row["topic_id"]]["text"]:
                        st.markdown(f"> {text}")

        st.subheader("Volume by channel")
        channels = state.channel_volume(week)
        if channels.empty:
            st.caption("No customer messages this week.")
        else:
            st.altair_chart(
                alt.Chart(channels)
                .mark_bar()
                .encode(
                    x=alt.X("messages:Q", title="customer messages"),
                    y=alt.Y("channel:N", sort="-x", title=None),
                    tooltip=["channel", "messages", "conversations"],
                ),
                width="stretch",
            )
