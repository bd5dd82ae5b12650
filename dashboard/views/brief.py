"""Weekly brief: the CCO's Monday screen — headline numbers, themes and topics, movers, channels, digest."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import state
from pipeline.digest import (
    SHIFT_MIN,
    closers_words,
    closing_found,
    ending_words,
    evidence,
    note_for,
    sentiment_moves,
    set_aside_words,
    theme_sentiment_lines,
    to_html,
    trail_words,
)
from pipeline.endings import ALPHA as ENDINGS_ALPHA
from pipeline.endings import MIN_CONVERSATIONS, WINDOW_WEEKS
from pipeline.queries import default_week
from pipeline.sentiment_shift import ALPHA as SENTIMENT_ALPHA
from pipeline.weekly import BASELINE_WEEKS, baseline_words


def _delta(now, before, pct: bool = False, inverse: bool = False) -> dict:
    """A headline metric's change against the week before, as ``st.metric`` arguments; no change is
    said without an arrow or a colour (it read as a red "↑ +0.0 pts")."""
    if before is None or now is None or pd.isna(before) or pd.isna(now):
        return {"delta": None}
    change = round((now - before) * 100, 1) if pct else int(now - before)
    if change == 0:
        return {"delta": "0 pts" if pct else "0", "delta_color": "off", "delta_arrow": "off"}
    text = f"{change:+.1f} pts" if pct else f"{change:+d}"
    return {"delta": text, "delta_color": "inverse" if inverse else "normal"}


def _headline(week: str) -> None:
    head = state.headline(week)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(
        "Conversations",
        f"{head['conversations']:,}",
        **_delta(head["conversations"], head["prev_conversations"]),
    )
    c2.metric(
        "Customer messages",
        f"{head['customer_messages']:,}",
        **_delta(head["customer_messages"], head["prev_customer_messages"]),
    )
    neg = head["negative_share"]
    c3.metric(
        "Share negative",
        "–" if neg is None or pd.isna(neg) else f"{neg:.0%}",
        **_delta(neg, head["prev_negative_share"], pct=True, inverse=True),
    )
    # what the themes and topics below leave out: messages no topic holds yet
    share = head["unassigned_share"]
    c4.metric(
        "In no topic",
        "–" if share is None else f"{share:.0%}",
        **_delta(share, head["prev_unassigned_share"], pct=True, inverse=True),
        help=f"{head['unassigned']:,} customer messages this week fit no topic yet",
    )


def _topic_chart(top: pd.DataFrame) -> alt.Chart:
    top = top.assign(
        mood=pd.cut(
            top["sentiment"].fillna(0), [-1.01, -0.25, 0.25, 1.01], labels=["negative", "neutral", "positive"]
        ).astype(str)
    )
    return (
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
                "theme",
                "messages",
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("change:Q", format="+.0%"),
                alt.Tooltip("sentiment:Q", format="+.2f"),
                "status",
            ],
        )
        .properties(height=28 * len(top) + 40)
    )


def _themes(week: str, topics: pd.DataFrame) -> None:
    st.subheader("Themes and their topics")
    if topics.empty:
        st.info("No customer messages fell into a topic this week.")
        return
    summary = state.theme_summary(week)  # each theme's status is tested as a topic's (theme_weekly)
    by_theme = summary.assign(
        status=summary["status"].map(lambda s: f"{state.STATUS_ICONS.get(s, '')} {s}" if pd.notna(s) else "–")
    )
    st.dataframe(
        by_theme[["theme", "topics", "largest", "messages", "change", "sentiment", "status"]],
        hide_index=True,
        width="stretch",
        key="themes_summary",
        column_config={
            "largest": st.column_config.TextColumn("largest topics"),
            "change": st.column_config.NumberColumn("vs last week", format="percent"),
            "sentiment": state.SENTIMENT_COLUMN,
        },
    )
    for row in summary[summary["status"].isin(["emerging", "growing", "declining"])].itertuples():
        st.caption(f"Theme **{row.theme}** is {row.status}: {evidence(row, 'themes')}.")
    st.caption("Topics this week, by volume (colour: sentiment)")
    st.altair_chart(_topic_chart(topics.head(15)), width="stretch")
    view = topics.assign(
        status=topics["status"].map(lambda s: f"{state.STATUS_ICONS.get(s, '')} {s}"),
        detail=topics["topic_id"].map(state.topic_url),
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
                "detail",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "share": st.column_config.NumberColumn(format="percent"),
            "change": st.column_config.NumberColumn("vs last week", format="percent"),
            "sentiment": state.SENTIMENT_COLUMN,
            "negative_share": st.column_config.NumberColumn("negative", format="percent"),
            "detail": state.TOPIC_LINK,
        },
        key="themes_table",
    )


def _movers(week: str, table: pd.DataFrame, direction: str = "up") -> None:
    """The topics flagged this week, with the test behind each, their last weeks' counts and customers'
    words: rises (``up``: emerging and growing, from this week) or falls (``down``: declining, from the
    weeks before, what customers have stopped saying), as the digest lists them."""
    rises = direction == "up"
    flagged = ["emerging", "growing"] if rises else ["declining"]
    movers = table[table["status"].isin(flagged) & (table["topic_id"] >= 0)]
    closing = set(state.closing_topic_ids())  # a closing or courtesy turn that moves is said to be one
    courteous = set(state.courtesy_topic_ids())
    st.subheader("Emerging and growing" if rises else "Declining")
    if movers.empty:
        moved = "rose" if rises else "fell"
        st.caption(f"No topic {moved} significantly this week (tested against {baseline_words()}, FDR 5%).")
        return
    ids = movers["topic_id"].tolist()
    reps = state.week_verbatims(week, ids, 3) if rises else state.week_verbatims(week, ids, 2, BASELINE_WEEKS)
    trails = state.recent_counts(week, ids)
    for _, row in movers.iterrows():
        with st.container(border=True):
            st.markdown(
                f"**{state.STATUS_ICONS.get(row['status'], '')} {row['topic']}** — {row['status']}"
                f"{note_for(row['topic_id'], closing, courteous)}: "
                f"{evidence(row)}, sentiment {row['sentiment']:+.2f}"
            )
            st.caption(trail_words(trails.get(int(row["topic_id"]), [])))
            quotes = reps[reps["topic_id"] == row["topic_id"]]["text"]
            if not rises and len(quotes):
                st.caption(f"Before, over the last {BASELINE_WEEKS} weeks:")
            for text in quotes:
                st.markdown(f"> {text}")
            st.page_link("views/topic.py", label="Topic detail", query_params={"topic": int(row["topic_id"])})


def _sentiment_shifts(week: str, table: pd.DataFrame) -> None:
    """The topics whose sentiment moved most against the baseline weeks, with the test's q: the
    significant ones (what the digest lists) are ticked, the rest shown as the chance moves they are;
    then the themes whose sentiment shifted, as the digest words them."""
    moves = sentiment_moves(table[table["topic_id"] >= 0]).head(5)
    st.subheader("Sentiment shifts")
    themes = theme_sentiment_lines(state.theme_summary(week))
    if themes:
        st.markdown("\n".join(themes))
    if moves.empty:
        st.caption("No topic with messages this week and over the baseline weeks to compare.")
        return
    st.caption(
        f"The largest moves against {baseline_words()}; significant: q at most {SENTIMENT_ALPHA:.0%} "
        "(two-sided Mann-Whitney U on the conversations' mean scores, false discovery rate across topics) "
        f"and a move of {SHIFT_MIN} or more"
    )
    st.dataframe(
        moves[
            ["topic", "conversations", "messages", "sentiment_baseline", "sentiment", "move", "sentiment_q"]
            + ["significant"]
        ],
        hide_index=True,
        width="stretch",
        key="sentiment_shifts",
        column_config={
            "sentiment_baseline": st.column_config.NumberColumn("baseline weeks", format="%+.2f"),
            "sentiment": state.SENTIMENT_COLUMN,
            "move": st.column_config.NumberColumn("move", format="%+.2f"),
            "sentiment_q": st.column_config.NumberColumn("q", format="%.2g"),
        },
    )


def _endings(week: str, closers: pd.DataFrame) -> None:
    """How conversations ended: the week's thanks and unhappy endings, their trend, the unhappy last
    words with what those customers came about, and the requests that end unhappy most often
    (``closers``: this week's rows of the topics customers close with, left out of the themes)."""
    st.subheader("How conversations ended")
    if len(closers):
        st.caption(f"{closers_words(closers)} are read here, not as themes or topics above.")
    ended = state.endings_by_week(week)
    if not closing_found(ended, week):
        st.caption(
            "No closing turns to read: no conversation this week where the customer wrote more than once, "
            "or no topic customers close conversations with (thanks, complaints as a last word)."
        )
        return
    st.markdown(ending_words(ended) + ".")
    trend = ended.assign(
        thanked=ended["thanked"] / ended["multi_turn"], unhappy=ended["unhappy"] / ended["multi_turn"]
    ).melt(id_vars="week", value_vars=["thanked", "unhappy"], var_name="ending", value_name="share")
    st.altair_chart(
        alt.Chart(trend)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title=None),
            y=alt.Y("share:Q", title="of conversations", axis=alt.Axis(format="%")),
            color=alt.Color(
                "ending:N",
                scale=alt.Scale(
                    domain=["thanked", "unhappy"],
                    range=[state.SENTIMENT_COLORS["positive"], state.SENTIMENT_COLORS["negative"]],
                ),
            ),
            tooltip=["week:T", "ending", alt.Tooltip("share:Q", format=".0%")],
        )
        .properties(height=180),
        width="stretch",
    )
    for r in state.ending_verbatims(week, "unhappy", 3).itertuples():
        st.markdown(f"> {r.text}")
        st.caption(f"came about: {r.opening}")
    requests = state.request_endings(week)
    shown = requests[requests["conversations"] >= MIN_CONVERSATIONS].head(10)
    if shown.empty:
        return
    st.caption(
        f"Requests by the share of their conversations that ended unhappy, the last {WINDOW_WEEKS} weeks "
        f"(conversations where the customer wrote more than once, at least {MIN_CONVERSATIONS}); q: "
        f"one-sided binomial against the rest, false discovery rate {ENDINGS_ALPHA:.0%} across requests"
    )
    st.dataframe(
        shown.assign(detail=shown["topic_id"].map(state.topic_url))[
            [
                "topic",
                "conversations",
                "unhappy",
                "unhappy_share",
                "thanked",
                "rest_share",
                "q_value",
                "more_unhappy",
                "detail",
            ]
        ],  # fmt: skip
        hide_index=True,
        width="stretch",
        key="request_endings",
        column_config={
            "topic": st.column_config.TextColumn("request"),
            "unhappy": st.column_config.NumberColumn("ended unhappy"),
            "unhappy_share": st.column_config.NumberColumn("share unhappy", format="percent"),
            "rest_share": st.column_config.NumberColumn("the rest", format="percent"),
            "q_value": st.column_config.NumberColumn("q", format="%.2g"),
            "more_unhappy": st.column_config.CheckboxColumn("more often than the rest"),
            "detail": state.TOPIC_LINK,
        },
    )


def _channels(week: str) -> None:
    st.subheader("Volume by channel")
    channels = state.channel_volume(week)
    if channels.empty:
        st.caption("No customer messages this week.")
        return
    long = channels.melt(
        id_vars="channel", value_vars=["messages", "previous_messages"], var_name="week", value_name="count"
    ).replace({"week": {"messages": "this week", "previous_messages": "last week"}})
    st.altair_chart(
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="customer messages"),
            y=alt.Y("channel:N", sort="-x", title=None),
            yOffset=alt.YOffset("week:N", sort=["this week", "last week"]),
            color=alt.Color(
                "week:N",
                title=None,
                scale=alt.Scale(domain=["this week", "last week"], range=["#1f77b4", "#c6dbef"]),
            ),
            tooltip=["channel", "week", "count"],
        ),
        width="stretch",
    )
    moved = channels[channels["status"].isin(["emerging", "growing", "declining"])]
    for row in moved.itertuples():
        st.caption(f"Channel **{row.channel}** is {row.status}: {evidence(row, 'channels')}.")
    if moved.empty and channels["p_value"].notna().any():  # tested: the channels have a baseline
        st.caption(
            f"No channel's share of conversations moved beyond chance against {baseline_words()} "
            "(false discovery rate 5% across channels)."
        )


def _digest(week: str) -> None:
    _, text = state.build_digest(week)
    with st.expander("The week's digest (what `voc digest` writes)"):
        st.markdown(text)
    c1, c2 = st.columns(2)
    c1.download_button(
        "Download digest (Markdown)",
        text.encode("utf-8"),
        f"voc-brief-{week}.md",
        "text/markdown",
        key="digest_md",
    )
    c2.download_button(
        "Download digest (HTML)",
        to_html(text, f"voc weekly brief {week}").encode("utf-8"),
        f"voc-brief-{week}.html",
        "text/html",
        key="digest_html",
    )


st.title("Weekly brief")
with state.store_errors_as_messages():
    if state.require_results():
        weeks = state.weeks()
        default = st.query_params.get("week", default_week(weeks, state.today()))
        week = st.selectbox(
            "Week (Monday)",
            weeks[::-1],
            index=weeks[::-1].index(default) if default in weeks else 0,
            key="week",
        )
        st.query_params["week"] = week
        _headline(week)
        table = state.week_topics(week)
        closing = table["topic_id"].isin(state.closing_topic_ids())  # under "How conversations ended"
        courteous = table["topic_id"].isin(state.courtesy_topic_ids())  # what customers say, not ask
        _themes(week, table[(table["topic_id"] >= 0) & ~closing & ~courteous])
        polite = table[courteous & (table["messages"] > 0)]
        if len(polite):
            st.caption(f"{set_aside_words(polite.iloc[:0], polite)}.")
        _movers(week, table)
        _movers(week, table, "down")
        _sentiment_shifts(week, table)
        _endings(week, table[closing & (table["messages"] > 0)])
        _channels(week)
        _digest(week)
