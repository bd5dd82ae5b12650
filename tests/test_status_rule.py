"""The status-rule benchmark: planted count patterns, read back from the rule's own statuses."""

from pathlib import Path

from bench import status_rule


def test_planted_patterns_are_written_week_by_week_and_read_back(tmp_path: Path):
    """The store holds exactly the planted counts, and the rule's statuses come back by week number."""
    counts = {0: [3, 0, 5], 1: [10, 10, 10]}
    store = status_rule.write_store(tmp_path / "c.duckdb", counts)
    per_week = store.query(
        "SELECT a.topic_id, CAST(date_trunc('week', m.sent_at) AS DATE) AS week, count(*) AS n "
        "FROM assignments a JOIN messages m USING (message_id) GROUP BY ALL ORDER BY ALL"
    )
    assert per_week.groupby("topic_id")["n"].apply(list).to_dict() == {0: [3, 5], 1: [10, 10, 10]}
    table = status_rule.statuses(store, 1)
    assert sorted(table["w"].unique()) == [1, 2, 3]
    assert not table["tested"].any()  # three weeks: none has two baseline weeks before a guard week


def test_the_guard_week_keeps_a_rises_second_week_and_drops_the_fall_after_a_surge():
    """Eight replicates, the same draws for both rules: with last week left out of the baseline a new
    request is flagged in its second week every time (half the time with it in), the week after a
    one-week surge is never called a decline, and stops are flagged either way."""
    results = status_rule.measure(8, [0, 1], trends=(0,))  # the week's test alone
    before, after = results["guard_0_trend_0"], results["guard_1_trend_0"]
    assert before["flagged_share_by_week"]["appear"][9] == 0.5
    assert after["flagged_share_by_week"]["appear"][9] == 1.0
    assert after["flagged_share_by_week"]["wave"][9] >= before["flagged_share_by_week"]["wave"][9]
    assert before["week_after_surge"].get("declining", 0) > 0 and "declining" not in after["week_after_surge"]
    assert before["flagged_share_by_week"]["stop"][6] == after["flagged_share_by_week"]["stop"][6] == 1.0
    assert after["steady_false_alarms_per_replicate"]["max"] <= 1


def test_the_trend_test_finds_the_gradual_rise_the_weeks_test_misses():
    """Sixteen replicates, the same draws with and without the steady-rise test: the gradual rise
    (2.4 to 12 a week over ten weeks) is flagged in some week in more of them (5 of 16 -> 8 when
    written), every other pattern at least as often, the week after the surge never; steady topics
    gain at most two alarms in all sixteen."""
    results = status_rule.measure(16, [1], trends=(0, 8))
    without, with_trend = results["guard_1_trend_0"], results["guard_1_trend_8"]
    assert with_trend["gradual_flagged_in_some_week"] >= without["gradual_flagged_in_some_week"] + 0.15
    for pattern in ("wave", "appear", "surge", "stop"):
        for week, share in without["flagged_share_by_week"][pattern].items():
            assert with_trend["flagged_share_by_week"][pattern][week] >= share
    assert "growing" not in with_trend["week_after_surge"]
    alarms = [r["steady_false_alarms_per_replicate"]["mean"] * 16 for r in (without, with_trend)]
    assert alarms[1] <= alarms[0] + 2


def test_clumped_conversations_are_written_as_drawn(tmp_path: Path):
    """A conversation of three messages about a topic is three messages and one conversation."""
    store = status_rule.write_store(tmp_path / "c.duckdb", {0: [4, 2]}, {0: [[3, 1], [2]]})
    per_week = store.query(
        "SELECT CAST(date_trunc('week', m.sent_at) AS DATE) AS week, count(*) AS messages, "
        "count(DISTINCT conversation_id) AS conversations FROM messages m GROUP BY ALL ORDER BY ALL"
    )
    assert per_week["messages"].tolist() == [4, 2] and per_week["conversations"].tolist() == [2, 1]


def test_counting_conversations_keeps_clumps_of_messages_from_reading_as_change():
    """Six replicates where customers write 1-3 messages about a topic in one conversation, the same
    draws counted both ways: counted as messages, the steady topics raise alarms every replicate
    (5.5 each when written); counted as conversations, as few as without clumps (0.43 a replicate
    in bench/results/status-rule.json), and the new request and the surge are still flagged."""
    results = status_rule.measure(6, [1], clump=[0.5, 0.3, 0.2])
    by_messages = results["messages"]["steady_false_alarms_per_replicate"]
    by_conversations = results["conversations"]["steady_false_alarms_per_replicate"]
    assert by_messages["mean"] >= 3 and by_conversations["mean"] <= 1 and by_conversations["max"] <= 2
    flagged = results["conversations"]["flagged_share_by_week"]
    assert flagged["appear"][10] == 1.0 and flagged["surge"][9] == 1.0
