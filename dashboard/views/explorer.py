"""Topic explorer: product teams filter by dates, channel, language, sentiment, theme, topic, metadata, text.

The filter state lives in the URL (query parameters), so a filtered view can be shared as a link.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard import state
from pipeline import queries
from pipeline.queries import SENTIMENTS, Filters

st.title("Topic explorer")


def _param_list(name: str) -> list[str]:
    return [v for v in st.query_params.get_all(name) if v]


def _param_date(name: str, default: date, low: date, high: date) -> date:
    """A date from the URL, kept inside the data's span; the default when absent or unreadable."""
    try:
        value = date.fromisoformat(st.query_params.get(name, ""))
    except ValueError:
        return default
    return min(max(value, low), high)


with state.store_errors_as_messages():
    if state.require_results():
        topics = state.topics()
        topics = topics[topics["topic_id"] >= -1]
        topic_names = {int(r.topic_id): f"{r.label} (#{r.topic_id})" for r in topics.itertuples()}

        with st.sidebar:
            st.header("Filters")
            first, last = state.date_span()
            wanted = (_param_date("from", first, first, last), _param_date("to", last, first, last))
            picked_dates = st.date_input(
                "Dates", value=wanted, min_value=first, max_value=last, format="YYYY-MM-DD", key="dates"
            )
            # a half-picked range (first click in the calendar) keeps the other end as it was
            date_from = picked_dates[0] if len(picked_dates) > 0 else first
            date_to = picked_dates[1] if len(picked_dates) > 1 else last
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
            # the toggle below is drawn later; its value (or the link's) decides which themes are offered
            requests_first = st.session_state.get("requests_only", st.query_params.get("turns", "") != "all")
            theme_list = state.themes(requests_first)
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
            requests_only = st.toggle(
                "Requests only",
                value=st.query_params.get("turns", "") != "all",
                key="requests_only",
                help="Leave out the turns customers close conversations with and their courtesy turns "
                '("Yes, that\'s correct.", "Sounds good."): what they came about. Topics picked by '
                "name are shown whatever they are.",
            )
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
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "channel": channels,
                "lang": languages,
                "sentiment": sentiments,
                "theme": chosen_themes,
                "topic": [str(t) for t in chosen],
                "q": search,
                **({} if requests_only else {"turns": "all"}),
                **{f"meta.{name}": values for name, values in metadata.items() if values},
            }
        )
        filters = Filters(
            date_from=date_from.isoformat(),
            date_to=date_to.isoformat(),
            channels=channels,
            languages=languages,
            sentiments=sentiments,
            topic_ids=chosen,
            themes=chosen_themes,
            metadata=metadata,
            search=search,
            requests_only=requests_only,
        )

        summary = state.filtered_topics(filters)
        messages = state.filtered_messages(filters)
        if summary.empty:
            st.info("No customer message matches these filters. Widen the dates or clear a filter.")
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
