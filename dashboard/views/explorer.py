"""Topic explorer: product teams filter by weeks, channel, language, sentiment, theme, topic, metadata, text.

The filter state lives in the URL (query parameters), so a filtered view can be shared as a link.
"""

from __future__ import annotations

import streamlit as st

from dashboard import state
from pipeline import queries
from pipeline.queries import SENTIMENTS, Filters

st.title("Topic explorer")


def _param_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


with state.store_errors_as_messages():
    if state.require_results():
        weeks = state.weeks()
        topics = state.topics()
        topics = topics[topics["topic_id"] >= -1]
        topic_names = {int(r.topic_id): f"{r.label} (#{r.topic_id})" for r in topics.itertuples()}

        with st.sidebar:
            st.header("Filters")
            q_from, q_to = st.query_params.get("from", weeks[0]), st.query_params.get("to", weeks[-1])
            week_from, week_to = st.select_slider(
                "Weeks",
                options=weeks,
                value=(q_from if q_from in weeks else weeks[0], q_to if q_to in weeks else weeks[-1]),
                key="weeks",
            )
            channels = st.multiselect(
                "Channel",
                state.distinct_values("channel"),
                default=[c for c in _param_list("channel") if c in state.distinct_values("channel")],
                key="channel",
            )
            languages = st.multiselect(
                "Language",
                state.distinct_values("language"),
                default=[c for c in _param_list("lang") if c in state.distinct_values("language")],
                key="lang",
            )
            sentiments = st.multiselect(
                "Sentiment",
                list(SENTIMENTS),
                default=[s for s in _param_list("sentiment") if s in SENTIMENTS],
                key="sentiment",
            )
            theme_list = state.themes()
            chosen_themes = st.multiselect(
                "Theme",
                theme_list,
                default=[t for t in _param_list("theme") if t in theme_list],
                key="theme",
            )
            chosen = st.multiselect(
                "Topic",
                list(topic_names),
                format_func=topic_names.get,
                default=[
                    int(t) for t in _param_list("topic") if t.lstrip("-").isdigit() and int(t) in topic_names
                ],
                key="topic",
            )
            search = st.text_input("Search text", value=st.query_params.get("q", ""), key="q")
            metadata: dict[str, list[str]] = {}
            for name, values in state.metadata_fields().items():
                metadata[name] = st.multiselect(
                    name.replace("_", " ").capitalize(),
                    values,
                    default=[v for v in _param_list(f"meta.{name}") if v in values],
                    key=f"meta.{name}",
                )

        st.query_params.from_dict(
            {
                "from": week_from,
                "to": week_to,
                "channel": channels,
                "lang": languages,
                "sentiment": sentiments,
                "theme": chosen_themes,
                "topic": [str(t) for t in chosen],
                "q": search,
                **{f"meta.{name}": values for name, values in metadata.items() if values},
            }
        )
        filters = Filters(
            week_from=week_from,
            week_to=week_to,
            channels=channels,
            languages=languages,
            sentiments=sentiments,
            topic_ids=chosen,
            themes=chosen_themes,
            metadata=metadata,
            search=search,
        )

        summary = state.filtered_topics(filters)
        messages = state.filtered_messages(filters)
        if summary.empty:
            st.info("No customer message matches these filters. Widen the weeks or clear a filter.")
        else:
            total = int(summary["messages"].sum())
            st.caption(f"{total:,} customer messages in {len(summary)} topics match.")
            summary = summary.assign(
                detail=[state.topic_url(t) if t >= 0 else None for t in summary["topic_id"].fillna(-1)]
            )
            st.dataframe(
                summary[
                    [
                        "topic",
                        "theme",
                        "messages",
                        "trend",
                        "conversations",
                        "sentiment",
                        "negative_share",
                        "detail",
                    ]
                ],
                hide_index=True,
                width="stretch",
                key="topic_table",
                column_config={
                    "trend": st.column_config.LineChartColumn("weekly messages", y_min=0),
                    "sentiment": state.SENTIMENT_COLUMN,
                    "negative_share": st.column_config.NumberColumn("negative", format="percent"),
                    "detail": state.TOPIC_LINK,
                },
            )
            st.subheader("Verbatims")
            picked = st.dataframe(
                messages.drop(columns=["message_id"]),
                hide_index=True,
                width="stretch",
                key="verbatims",
                on_select="rerun",
                selection_mode="single-row",
            )
            shown = f"the {len(messages):,} newest" if len(messages) < total else "all"
            st.caption(f"Showing {shown} of {total:,} matching messages; the CSV holds all of them.")
            st.download_button(
                "Download CSV",
                lambda: (
                    queries.filtered_messages(state.store(), filters, None)
                    .to_csv(index=False)
                    .encode("utf-8")
                ),
                "voc_verbatims.csv",
                "text/csv",
                key="download",
            )
            rows = picked.selection.rows if picked and hasattr(picked, "selection") else []
            if rows:
                conv_id = messages.iloc[rows[0]]["conversation_id"]
                st.subheader(f"Conversation {conv_id}")
                for turn in state.conversation(conv_id).itertuples():
                    with st.chat_message("user" if turn.author_role == "customer" else "assistant"):
                        st.caption(f"{turn.author_role} · {turn.sent_at}")
                        st.write(turn.text)
