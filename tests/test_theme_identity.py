"""Themes keep their id and name across re-fits, as topics keep theirs."""

from __future__ import annotations

import pandas as pd

from pipeline.theme_identity import carry_over


def _table(rows: list[tuple[int, int, str, int]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["topic_id", "theme_id", "theme_label", "size"])
    frame["state"] = "active"
    outliers = {"topic_id": -1, "theme_id": None, "theme_label": None, "size": 40, "state": "active"}
    return pd.concat([frame, pd.DataFrame([outliers])], ignore_index=True)


def _themes(table: pd.DataFrame) -> dict[int, tuple[int, str]]:
    real = table[table["topic_id"] >= 0]
    rows = zip(real.topic_id, real.theme_id, real.theme_label, strict=True)
    return {int(t): (int(g), str(n)) for t, g, n in rows}


BEFORE = _table(
    [
        (1, 0, "card / pin", 50), (2, 0, "card / pin", 40), (3, 0, "card / pin", 30),
        (4, 1, "transfer / money", 45), (5, 1, "transfer / money", 35),
        (6, 2, "refund / fee", 20), (7, 2, "refund / fee", 20),
    ]
)  # fmt: skip


def test_a_refit_that_groups_the_same_topics_keeps_each_themes_id_and_name():
    # the re-fit numbers its themes otherwise and names them by this week's words
    after = _table(
        [
            (1, 2, "card / need", 52), (2, 2, "card / need", 41), (3, 2, "card / need", 33),
            (4, 0, "money / send", 50), (5, 0, "money / send", 36),
            (6, 1, "fee / charge", 22), (7, 1, "fee / charge", 21),
        ]
    )  # fmt: skip
    kept = _themes(carry_over(BEFORE, after))
    assert kept == {t: (g, n) for t, (g, n) in _themes(BEFORE).items()}


def test_a_theme_is_the_one_of_before_only_when_they_share_most_of_their_messages():
    after = _table(
        [
            (1, 0, "card / pin", 50), (2, 0, "card / pin", 40),  # most of "card / pin" (90 of 120)
            (3, 1, "pin / block", 30), (6, 1, "pin / block", 20),  # a new mix: 20 of 50 "refund / fee"
            (4, 2, "card / pin", 45), (5, 2, "card / pin", 35),  # "transfer / money", named like another
            (7, 3, "apple / pay", 20), (8, 3, "apple / pay", 25),  # a new topic, with 20 of "refund / fee"
        ]
    )  # fmt: skip
    out = _themes(carry_over(BEFORE, after))
    assert out[1] == out[2] == (0, "card / pin")
    assert out[4] == out[5] == (1, "transfer / money")  # the re-fit's name for it is not taken up
    assert out[3] == out[6] == (out[3][0], "pin / block") and out[3][0] not in {0, 1, 2}
    assert out[7] == out[8] == (out[7][0], "apple / pay") and out[7][0] not in {0, 1, 2, out[3][0]}
    assert "refund / fee" not in {n for _, n in out.values()}  # split in two: no theme of now is it


def test_a_new_themes_name_never_repeats_a_kept_one():
    after = _table(
        [
            (1, 0, "card / pin", 50), (2, 0, "card / pin", 40), (3, 0, "card / pin", 30),
            (4, 1, "transfer / money", 45), (5, 1, "transfer / money", 35),
            (9, 2, "card / pin", 60),  # a theme of new topics only, named like a kept theme
        ]
    )  # fmt: skip
    out = _themes(carry_over(BEFORE, after))
    names = {n for _, n in out.values()}
    assert out[9][1] == "card / pin (2)" and len(names) == 3


def test_the_first_fit_has_nothing_to_carry_over():
    after = _table([(1, 0, "card / pin", 50), (2, 1, "money / send", 40)])
    assert carry_over(BEFORE.iloc[0:0], after).equals(after)


def test_a_new_theme_named_as_a_theme_that_is_gone_takes_its_id():
    after = _table(
        [
            (1, 0, "card / pin", 50), (2, 0, "card / pin", 40), (3, 0, "card / pin", 30),
            (4, 1, "transfer / money", 45), (6, 1, "transfer / money", 20), (7, 1, "transfer / money", 20),
            (5, 2, "refund / fee", 35), (8, 2, "refund / fee", 30),  # none of "refund / fee" of before
        ]
    )  # fmt: skip
    out = _themes(carry_over(BEFORE, after))
    assert out[4] == (1, "transfer / money") and out[5] == out[8] == (2, "refund / fee")
