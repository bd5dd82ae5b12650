"""The weekly brief a CCO reads on Monday: one week of the store as Markdown (and HTML).

Built only from what the pipeline stored (weekly stats, topics, verbatims, impact); nothing is
recomputed, so the brief says exactly what the dashboard shows for that week.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from markdown_it import MarkdownIt

from pipeline import queries
from pipeline.endings import ALPHA as ENDINGS_ALPHA
from pipeline.endings import MIN_CONVERSATIONS, WINDOW_WEEKS
from pipeline.local_shifts import ALPHA as SHIFT_ALPHA
from pipeline.sentiment_shift import ALPHA as SENTIMENT_ALPHA
from pipeline.sentiment_shift import MIN_VOLUME as SENTIMENT_MIN
from pipeline.store import Store
from pipeline.trend_test import TREND_WEEKS
from pipeline.weekly import ALPHA, BASELINE_WEEKS, FALL_TO, GUARD_WEEKS, MIN_VOLUME, baseline_words

TOP_TOPICS = 10
CLOSING_NOTE = "; how customers close conversations"  # a mover that is a closing turn, not a request
COURTESY_NOTE = "; a courtesy turn: yes, thanks, sounds good"  # a mover customers say, not ask about
SHIFT_MIN = 0.2  # a sentiment move (on the -1..+1 scale) worth a line


class DigestError(ValueError):
    """No week to report on."""


def _pct(v, signed: bool = True) -> str:
    if v is None or pd.isna(v):
        return "–"
    return f"{v:+.0%}" if signed else f"{v:.0%}"


def _num(v, fmt: str = "+.2f") -> str:
    """``v`` in ``fmt``; a signed fixed-point number that rounds to zero says "+0.00", not "-0.00"."""
    if v is None or pd.isna(v):
        return "–"
    return format(v, fmt.replace("+", "+z", 1) if fmt.startswith("+") and fmt.endswith("f") else fmt)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(frame: pd.DataFrame, headers: list[str]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return lines + [""]


def _quote(text: str) -> str:
    return "> " + " ".join(str(text).split())


def resolve_week(store: Store, week: str | None) -> str:
    """The requested week's Monday (any day of it may be given), or the last complete week with data."""
    weeks = queries.weeks(store)
    if not weeks:
        raise DigestError("no weekly statistics yet: run `voc run` first")
    if week is None:
        return queries.default_week(weeks, datetime.now(ZoneInfo(store.timezone)).date())
    try:
        day = date.fromisoformat(week)
    except ValueError as exc:
        raise DigestError(f"--week {week!r} is not a date (YYYY-MM-DD)") from exc
    monday = (day - timedelta(days=day.weekday())).isoformat()
    if monday not in weeks:
        raise DigestError(f"no data for the week of {monday} (weeks with data: {weeks[0]} to {weeks[-1]})")
    return monday


def build_digest(store: Store, week: str | None = None) -> tuple[str, str]:
    """(week, Markdown brief) for ``week`` (default: the last complete week with data)."""
    week = resolve_week(store, week)
    end = (date.fromisoformat(week) + timedelta(days=6)).isoformat()
    head = queries.headline(store, week)
    topics = queries.week_topics(store, week)
    topics = topics[topics["topic_id"] >= 0]
    closing = queries.closing_topic_ids(store)
    courteous = queries.courtesy_topic_ids(store)
    lines = [f"# Voice of the customer: week of {week} to {end}", ""]

    def change(now, before):
        return None if not before else now / before - 1

    neg, prev_neg = head["negative_share"], head["prev_negative_share"]
    neg_move = (
        f" ({(neg - prev_neg) * 100:+.1f} pts)"
        if neg is not None and prev_neg is not None and not pd.isna(neg) and not pd.isna(prev_neg)
        else ""
    )
    lines += [
        f"- **{head['conversations']:,} conversations** "
        f"({_pct(change(head['conversations'], head['prev_conversations']))} vs last week), "
        f"**{head['customer_messages']:,} customer messages** "
        f"({_pct(change(head['customer_messages'], head['prev_customer_messages']))})",
        f"- **{_pct(neg, signed=False)} of customer messages negative**{neg_move}",
    ]
    counts = topics[topics["messages"] > 0]["status"].value_counts()
    flagged = ", ".join(f"{counts[s]} {s}" for s in ("emerging", "growing", "declining") if s in counts)
    active = topics[topics["messages"] > 0]
    closed, polite = (int(active["topic_id"].isin(ids).sum()) for ids in (closing, courteous))
    turns = " and ".join(kind for kind, n in (("closing", closed), ("courtesy", polite)) if n)
    apart = f" (and {closed + polite} of {turns} turns)" if turns else ""  # left out of the tables below
    lines += [f"- {len(active) - closed - polite} topics active{apart}; {flagged or 'no significant movers'}"]
    ended = queries.endings_by_week(store, week)  # the headline's line and the endings section
    if closing_found(ended, week):
        lines += [f"- {ending_words(ended)}"]
    if head["unassigned"]:  # the themes and topics below hold the rest: say what they leave out
        share = _pct(head["unassigned_share"], signed=False)
        lines += [f"- {head['unassigned']:,} customer messages ({share}) fit no topic yet"]
    lines += [""]

    themes = queries.theme_summary(store, week)
    if len(themes):
        lines += ["## Top themes", ""]
        view = themes.assign(
            share=themes["share"].map(lambda v: _pct(v, False)),
            change=themes["change"].map(_pct),
            sentiment=themes["sentiment"].map(_num),
            status=themes["status"].fillna("–"),
        )[["theme", "topics", "largest", "messages", "share", "change", "sentiment", "status"]]
        lines += _table(
            view,
            ["Theme", "Topics", "Largest topics", "Messages", "Share", "vs last week", "Sentiment", "Status"],
        )
        moved = themes[themes["status"].isin(["emerging", "growing", "declining"])]
        lines += [
            f"- **{row.theme}** is {row.status}: {evidence(row, 'themes')}." for row in moved.itertuples()
        ]
        lines += [""] if len(moved) else []

    active = topics["messages"] > 0
    raised = topics[active & ~topics["topic_id"].isin([*closing, *courteous])]
    closers = topics[active & topics["topic_id"].isin(closing)]
    polite = topics[active & topics["topic_id"].isin(courteous)]
    if (len(closers) or len(polite)) and (len(themes) or len(raised)):
        lines += [f"{set_aside_words(closers, polite)}.", ""]
    top = raised.head(TOP_TOPICS)
    if len(top):
        lines += ["## Top topics", ""]
        view = top.assign(
            change=top["change"].map(_pct),
            change_vs_baseline=top["change_vs_baseline"].map(_pct),
            sentiment=top["sentiment"].map(_num),
        )[["topic", "theme", "messages", "change", "change_vs_baseline", "sentiment", "status"]]
        lines += _table(
            view, ["Topic", "Theme", "Messages", "vs last week", "vs baseline", "Sentiment", "Status"]
        )

    movers = topics[topics["status"].isin(["emerging", "growing"])]
    lines += ["## Emerging and growing", ""]
    if movers.empty:
        lines += ["No topic rose significantly this week.", ""]
    else:
        verbatims = queries.week_verbatims(store, week, movers["topic_id"].tolist(), 3)
        trail = queries.recent_counts(store, week, movers["topic_id"].tolist())
        for row in movers.itertuples():
            lines += [
                f"### {row.topic} ({row.status}{note_for(row.topic_id, closing, courteous)})",
                "",
                f"{evidence(row)}; sentiment {_num(row.sentiment)}; channels: {_channels(row.channels)}.",
                "",
                trail_words(trail.get(row.topic_id, [])),
                "",
            ]
            lines += [_quote(t) + "\n" for t in verbatims[verbatims["topic_id"] == row.topic_id]["text"]]

    fallen = topics[topics["status"] == "declining"]
    if len(fallen):
        lines += ["## Declining", ""]
        before = queries.week_verbatims(store, week, fallen["topic_id"].tolist(), 2, BASELINE_WEEKS)
        trail = queries.recent_counts(store, week, fallen["topic_id"].tolist())
        for row in fallen.itertuples():
            quotes = before[before["topic_id"] == row.topic_id]["text"]
            note = note_for(row.topic_id, closing, courteous)
            lines += [f"### {row.topic} (declining{note})", "", f"{evidence(row)}.", ""]
            lines += [trail_words(trail.get(row.topic_id, [])), ""]
            if len(quotes):  # what customers were saying, that they say less now
                lines += [f"Before, over the last {BASELINE_WEEKS} weeks:", ""]
                lines += [_quote(t) + "\n" for t in quotes]

    lines += ["## Sentiment shifts", ""] + sentiment_lines(topics)
    lines += theme_sentiment_lines(themes) + [""]

    lines += endings_section(store, week, ended)

    channels = queries.channel_volume(store, week)
    if len(channels):
        lines += ["## Volume by channel", ""]
        view = channels.assign(
            change=[
                _pct(change(n, p))
                for n, p in zip(channels["messages"], channels["previous_messages"], strict=True)
            ],
            status=channels["status"].fillna("–"),
        )[["channel", "messages", "conversations", "change", "status"]]
        lines += _table(view, ["Channel", "Customer messages", "Conversations", "vs last week", "Status"])
        moved = channels[channels["status"].isin(["emerging", "growing", "declining"])]
        lines += [
            f"- **{row.channel}** is {row.status}: {evidence(row, 'channels')}." for row in moved.itertuples()
        ]
        lines += [""] if len(moved) else []

    impact = queries.impact(store)
    if len(impact):
        lines += ["## What drives satisfaction down (all weeks)", ""]
        for metric, rows in impact.groupby("metric", sort=True):
            worst = rows[rows["impact"] < 0].head(5)
            if worst.empty:
                continue
            overall = rows["overall"].iloc[0]
            lines += [
                f"Overall {metric.upper()} {overall:.2f}; without each topic's conversations it would be "
                "(topics customers raised; the turns they close conversations with, said with the score, "
                "are left out):",
                "",
            ]
            lines += [
                f"- **{r.topic}**: {r.score_without:.2f} ({r.impact:+.2f}; {r.conversations} conversations "
                f"scoring {r.score_with:.2f}; q = {_num(r.q_value, '.2g')}"
                + ("; beyond chance)" if r.q_value <= ALPHA else ")")
                for r in worst.itertuples()
            ] + [""]
            if not (worst["q_value"] <= ALPHA).any():
                lines += [
                    "None of these scores differently from the other conversations beyond chance (two-sided "
                    f"Mann-Whitney U, false discovery rate {ALPHA:.0%} across topics).",
                    "",
                ]

    lines += [
        "---",
        "Statuses: one-sided tests of the week's conversations (each counted once, however many of its "
        f"messages the topic holds) against the topic's mean over {baseline_words()} "
        + (
            "(the week just before is left out, so that a rise's first week does not hide its second), "
            if GUARD_WEEKS
            else ""
        )
        + "every week counted under the current topics (each message to the nearest topic centroid), "
        "scaled to this week's volume (the conditional test for two Poisson rates, which counts "
        f"the baseline as an estimate, not a known rate), false discovery rate {ALPHA:.0%} "
        f"(Benjamini-Hochberg) across topics, at least {MIN_VOLUME} conversations; *emerging* = near-absent "
        f"before. A topic whose total holds is growing or declining when a group of similar messages "
        "it holds (found from their nearest neighbours, without the topics) rose or fell "
        f"significantly against the last {BASELINE_WEEKS} weeks, in conversations, at {SHIFT_ALPHA:.0%} "
        "per week and direction over all such groups (permutation test, whole conversations shuffled). "
        "A topic left stable is growing when it rose "
        f"steadily over the last {TREND_WEEKS} weeks (a test for a log-linear trend in its counts, scaled to "
        "each week's volume and to how much topics' weekly counts vary beyond chance, false discovery "
        f"rate {ALPHA:.0%} across the topics left stable) and this week is still at or above the flat "
        f"line; declining when it fell steadily, its fitted line ending at {FALL_TO:.0%} or less of where "
        f"it began (from at least {MIN_VOLUME} conversations), the fall holding without the window's first "
        "week, and this week is at or below the flat line. "
        "Themes are tested the same way on their conversations, each once however many of their "
        "topics it touched (the turns customers close conversations with and their courtesy turns left "
        "out), false discovery rate across themes; channels on their "
        "conversations (a customer picks the channel once per conversation, then writes one to many "
        "messages), false discovery rate across channels. Sentiment shifts: the week's conversations "
        "(each by its messages' mean score) against the baseline weeks' (two-sided Mann-Whitney U), false "
        f"discovery rate {SENTIMENT_ALPHA:.0%} across topics with {SENTIMENT_MIN} or more scored "
        f"conversations on each side, and a move of {SHIFT_MIN} or more; themes alike, on their topics' "
        "conversations, across themes, and a "
        "theme's move is split into its topics' own moves (each weighted by its share of the theme this "
        "week) and the rest, the mix of its topics. Verbatims are customers' own words, "
        "personal data redacted.",
    ]
    return week, "\n".join(lines) + "\n"


def sentiment_moves(topics: pd.DataFrame) -> pd.DataFrame:
    """Topics with a sentiment this week and over the baseline weeks, largest move first: ``move``
    (this week's mean minus the baseline weeks') and ``significant`` (the test's q at most its alpha
    and a move of ``SHIFT_MIN`` or more): what the brief lists and the dashboard ticks."""
    moves = topics.assign(move=topics["sentiment"] - topics["sentiment_baseline"])
    moves = moves[moves["move"].notna()].sort_values("move", key=lambda s: -s.abs(), kind="stable")
    return moves.assign(
        significant=(moves["sentiment_q"] <= SENTIMENT_ALPHA) & (moves["move"].abs() >= SHIFT_MIN)
    )


def theme_sentiment_lines(themes: pd.DataFrame) -> list[str]:
    """The week's significant theme sentiment shifts (``pipeline.theme_weekly``: the topics' test, on
    the theme's conversations), each with how much of the move its topics' own customers made and how
    much the mix of its topics: a complaint topic growing moves its theme's mean with no customer sounding
    different, and the two call for different work."""
    if themes.empty or "sentiment_q" not in themes:
        return []
    moves = themes.assign(move=themes["sentiment"] - themes["sentiment_baseline"])
    shifts = moves[(moves["sentiment_q"] <= SENTIMENT_ALPHA) & (moves["move"].abs() >= SHIFT_MIN)]
    lines = []
    for r in shifts.sort_values("move", key=lambda m: -m.abs(), kind="stable").itertuples():
        own, mix = r.sentiment_within, r.move - r.sentiment_within
        way = "better" if r.move > 0 else "worse"
        lines.append(
            f"- Theme **{r.theme}**: {way}, {_num(r.sentiment_baseline)} over "
            f"{baseline_words()} → {_num(r.sentiment)} this week "
            f"({_scored(r.messages, getattr(r, 'sentiment_conversations', None))}; q = "
            f"{r.sentiment_q:.2g}); of the {_num(r.move)}, its topics' own customers account for {_num(own)} "
            f"and the mix of its topics for {_num(mix)}"
        )
    return lines


def note_for(topic_id: int, closing, courteous) -> str:
    """What a mover is when it is no request: a closing turn, or a courtesy turn; else nothing."""
    if topic_id in closing:
        return CLOSING_NOTE
    return COURTESY_NOTE if topic_id in courteous else ""


def set_aside_words(closers: pd.DataFrame, polite: pd.DataFrame) -> str:
    """The sentence saying what the themes and topics leave out (``closers``, ``polite``: the week's
    rows of the closing and of the courtesy topics), and where the closing turns are read instead."""
    parts = [closers_words(closers)] if len(closers) else []
    if len(polite):
        parts.append(
            f"{'their' if parts else 'The'} courtesy turns ({int(polite['messages'].sum())} messages this "
            f"week: {', '.join(polite['topic'].head(6))})"
        )
    where = f"; {'the closing turns' if len(polite) else 'they'} are under *How conversations ended*"
    where = where if len(closers) else ""
    return f"{' and '.join(parts)} are left out of the themes and topics here{where}"


def closers_words(closers: pd.DataFrame) -> str:
    """The week's closing turns in a phrase (``closers``: the closing topics' rows of the week), said
    where the themes and topics leave them out."""
    return (
        f"The turns customers closed conversations with ({int(closers['messages'].sum())} messages this "
        f"week: {', '.join(closers['topic'].head(6))})"
    )


def _scored(messages, conversations) -> str:
    """What a sentiment test compared this week: the conversations, and the messages they wrote where
    there are more (a store an older voc tested: its messages)."""
    messages = int(messages)
    if conversations is None or pd.isna(conversations):
        return f"{messages} messages"
    if int(conversations) == messages:
        return f"{messages} conversations"
    return f"{messages} messages from {int(conversations)} conversations"


def sentiment_lines(topics: pd.DataFrame) -> list[str]:
    """The week's significant sentiment shifts (``pipeline.sentiment_shift``: q at most its alpha and a
    move of ``SHIFT_MIN`` or more against the baseline weeks), largest first; or a line saying there
    were none, with the largest move the test did not support."""
    moves = sentiment_moves(topics)
    shifts = moves[moves["significant"]]
    if len(shifts):
        return [
            f"- **{r.topic}**: {'better' if r.move > 0 else 'worse'}, {_num(r.sentiment_baseline)} over "
            f"{baseline_words()} → {_num(r.sentiment)} this week "
            f"({_scored(r.messages, getattr(r, 'conversations', None))}; q = {r.sentiment_q:.2g})"
            for r in shifts.head(5).itertuples()
        ]
    line = f"No topic's sentiment moved significantly against {baseline_words()}."
    big = moves[(moves["move"].abs() >= SHIFT_MIN) & moves["sentiment_q"].notna()]  # tested: enough messages
    if len(big):
        r = next(big.itertuples())
        line += (
            f" The largest move, within chance: **{r.topic}**, {_num(r.sentiment_baseline)} → "
            f"{_num(r.sentiment)} ({_scored(r.messages, getattr(r, 'conversations', None))}; "
            f"q = {r.sentiment_q:.2g})."
        )
    return [line]


def closing_found(ended: pd.DataFrame, week: str) -> bool:
    """Whether ``ended`` (``queries.endings_by_week``) has this week's conversations where the customer
    wrote more than once, and closing turns have been found at all: without them, every conversation
    would read as ending without a word, which says nothing about how they went."""
    if ended.empty or ended["week"].iloc[-1] != week or not ended["multi_turn"].iloc[-1]:
        return False
    return bool(ended[["thanked", "unhappy", "neutral"]].to_numpy().sum())


def ending_words(ended: pd.DataFrame) -> str:
    """This week's endings in one sentence, against last week's shares (``ended``: the weeks of
    ``queries.endings_by_week``, this week last)."""
    now = ended.iloc[-1]
    text = (
        f"of the week's {int(now.multi_turn):,} conversations where the customer wrote more than once, "
        f"**{int(now.thanked)} ({now.thanked / now.multi_turn:.0%}) ended with thanks** and "
        f"**{int(now.unhappy)} ({now.unhappy / now.multi_turn:.0%}) unhappy**"
    )
    before = ended.iloc[-2] if len(ended) > 1 else None
    last_week = (date.fromisoformat(now.week) - timedelta(days=7)).isoformat()
    if before is not None and before.week == last_week and before.multi_turn:
        thanked, unhappy = before.thanked / before.multi_turn, before.unhappy / before.multi_turn
        text += f" (last week {thanked:.0%} and {unhappy:.0%})"
    return text[0].upper() + text[1:]


def endings_section(store: Store, week: str, ended: pd.DataFrame) -> list[str]:
    """How conversations ended: the week's shares, the unhappy share week by week (``ended``: the weeks
    of ``queries.endings_by_week`` up to this one), the unhappy closing turns with what those customers
    came about, and the requests that end unhappy most often."""
    if not closing_found(ended, week):
        return []
    now = ended.iloc[-1]
    silent = int(now.multi_turn - now.thanked - now.unhappy - now.neutral)
    closed = f"{int(now.neutral)} closed neutrally, " if now.neutral else ""
    lines = [
        "## How conversations ended",
        "",
        f"{ending_words(ended)}; {closed}{silent} without a closing word.",
        "",
    ]
    pairs = ended[["unhappy", "multi_turn"]].itertuples(index=False)
    shares = [f"{u / m:.0%}" if m else "–" for u, m in pairs]
    trail = " → ".join([*shares[:-1], f"**{shares[-1]}**"])
    lines += [f"Ended unhappy, week by week, the last {len(shares)}: {trail}", ""]
    said = queries.ending_verbatims(store, week, "unhappy", 3)
    if len(said):
        lines += ["Unhappy endings this week (their last words, and what they had come about):", ""]
        for r in said.itertuples():
            lines += [f'{_quote(r.text)} (came about: "{" ".join(str(r.opening).split())}")', ""]
    requests = queries.request_endings(store, week)
    shown = requests[requests["conversations"] >= MIN_CONVERSATIONS].head(5)
    if len(shown):
        lines += [
            f"Requests whose conversations ended unhappy most often, the last {WINDOW_WEEKS} weeks "
            f"(conversations where the customer wrote more than once; at least {MIN_CONVERSATIONS}):",
            "",
        ]
        view = shown.assign(
            unhappy=[f"{u} ({s:.0%})" for u, s in zip(shown["unhappy"], shown["unhappy_share"], strict=True)],
            rest=shown["rest_share"].map(lambda v: _pct(v, False)),
            q=shown["q_value"].map(lambda v: _num(v, ".2g")),
            flag=shown["more_unhappy"].map(lambda f: "more often than the rest" if f else ""),
        )[["topic", "conversations", "unhappy", "thanked", "rest", "q", "flag"]]
        lines += _table(view, ["Request", "Conversations", "Ended unhappy", "Thanked", "The rest", "q", ""])
        if not shown["more_unhappy"].any():
            lines += [
                f"None ends unhappy significantly more often than the rest (one-sided binomial, false "
                f"discovery rate {ENDINGS_ALPHA:.0%} across requests).",
                "",
            ]
    return lines


def trail_words(counts: list[int]) -> str:
    """A topic's last weeks in one line, this week last: where a flag comes from, at a glance."""
    if not counts:
        return ""
    weeks = [str(n) for n in counts[:-1]] + [f"**{counts[-1]}**"]
    return f"Conversations week by week, the last {len(counts)}: {' → '.join(weeks)}"


def tested_count(messages, tested, units: str = "topics", conversations=None) -> str:
    """The count a status was tested on, in words: conversations, every week counted under the current
    topics (``topic_counts``: each message to the nearest topic centroid, one rule for all weeks).
    Where that differs from the conversations the topic holds (``conversations``, unknown: assume it
    does), it says so; the messages behind them (those quoted and listed) where there are more; a
    theme's (``units="themes"``) its conversations in any of its topics, a channel's its own. A
    store tested before conversations were counted gives its messages."""
    if pd.isna(tested):
        return f"{int(messages)} messages"
    n = int(tested)
    if units == "channels":  # a channel is tested on its conversations (pipeline.channel_weekly)
        return f"{n} conversations"
    behind = f" ({int(messages)} messages)" if int(messages) != n else ""
    if units == "themes":
        return f"{n} conversations in its topics{behind}"
    if conversations is None or pd.isna(conversations) or int(conversations) != n:
        return f"{n} conversations as the current topics count them ({int(messages)} messages assigned to it)"
    return count_words(messages, n)


def trend_words(weeks, start, end, factor, q, units: str = "topics") -> str:
    """A steady rise or fall (``pipeline.trend_test``) in words: the fitted line's ends and the test
    (``units``: what its false discovery rate was controlled across, topics or themes)."""
    move = "rise" if factor > 1 else "fall"
    return (
        f"a steady {move} over the last {int(weeks)} weeks, from about {start:.1f} to {end:.1f} "
        "conversations a week on "
        f"the fitted line (at this week's volume; {factor - 1:+.0%} a week, q = {q:.2g} among the {units} "
        "the week's own test left stable), which no single week's count made significant"
    )


def count_words(messages, conversations) -> str:
    """A local shift's count in words (``pipeline.local_shifts``): the conversations it was tested
    on, and the messages behind them where there are more. Shifts an older voc found counted
    messages only."""
    if pd.isna(conversations):
        return f"{int(messages)} messages"
    n = int(conversations)
    return f"{n} conversations" + (f" ({int(messages)} messages)" if int(messages) != n else "")


def tested_words(row, units: str = "topics") -> str:
    """``tested_count`` of a row of the brief's tables or the topic page's (a named tuple or a Series)."""
    conversations = getattr(row, "conversations", None)
    return tested_count(row.messages, row.tested_conversations, units, conversations)


def evidence(row, units: str = "topics") -> str:
    """The test behind a status, in words (a row of ``queries.week_topics``, or of
    ``queries.theme_summary`` with ``units="themes"``, as a named tuple or a Series; the brief and the
    dashboard say it alike): the count, the group of messages in it that moved (a local shift), or
    its steady rise or fall over the trend window."""
    if getattr(row, "status_test", None) == "trend":
        fit = (row.trend_weeks, row.trend_from, row.trend_to, row.trend_factor, row.p_value)
        return (
            f"{trend_words(*fit, units=units)}; "
            f"this week {tested_words(row, units)} against "
            f"{_num(row.expected, '.1f')} expected from {baseline_words()}"
        )
    if pd.notna(getattr(row, "part_messages", None)):  # from a local shift, not the topic's total
        return (
            "a group of similar messages in it (quoted): "
            f"{count_words(row.part_messages, getattr(row, 'part_conversations', None))} this week "
            f"against {_num(row.part_expected, '.1f')} expected from the last {BASELINE_WEEKS} weeks "
            f"(adjusted for total volume; p = {row.p_value:.2g} over the week's groups); the whole topic "
            f"{tested_words(row)} against {_num(row.expected, '.1f')}"
        )
    counted = tested_words(row, units)
    return (
        f"{counted} this week against {_num(row.expected, '.1f')} "
        f"expected from {baseline_words()} (adjusted for total volume; q = {row.p_value:.2g})"
    )


def _channels(raw) -> str:
    try:
        counts = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    except (TypeError, ValueError):
        return "–"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:4]) or "–"


def to_html(markdown: str, title: str) -> str:
    """A self-contained HTML page (no external assets) for e-mail or an intranet."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ddd;padding:.3rem .6rem;"
        "text-align:left}th{background:#f4f4f4}blockquote{margin:.3rem 0;padding:.2rem .8rem;"
        "border-left:3px solid #bbb;color:#444}h3{margin-bottom:.2rem}"
        f"</style></head><body>\n{body}</body></html>\n"
    )


def write_digest(store: Store, week: str | None, out: Path, html: Path | None = None) -> str:
    """Write the brief as Markdown to ``out`` (HTML when it ends in .html) and optionally HTML too."""
    week, text = build_digest(store, week)
    title = f"voc weekly brief {week}"
    for path, as_html in ((out, out.suffix.lower() in {".html", ".htm"}), (html, True)):
        if path is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_html(text, title) if as_html else text, encoding="utf-8")
    return week
