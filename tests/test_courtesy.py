"""Courtesy turns ("Yes, that's correct.", "Sounds good.") are read as such, not as what customers came
about: left out of themes, topics, the requests' endings and CSAT impact."""

import pytest

from models.topic_model import DEFAULT_SPACY
from pipeline import queries
from pipeline.courtesy import content_free
from pipeline.digest import build_digest
from pipeline.insights import refresh_insights
from pipeline.store import Store
from tests.conversation_store import conversation_store
from tests.test_endings import CARD_LATE as CARD
from tests.test_endings import FRUSTRATED, PIN, REFUND, SAID, THANKS, TOP_UP
from tests.test_endings import LABELS as ENDINGS

YES = 20
LABELS = {**{t: ENDINGS[t] for t in (CARD, REFUND, PIN, TOP_UP, THANKS, FRUSTRATED)}, YES: "that's correct"}
# what customers answer an agent's "Shall I send a new card to your address on file?"
REPLIES = [
    "Yes, that's correct.",
    "Sounds good.",
    "Okay, thank you.",
    "Yes please!",
    "Perfect, thanks.",
    "Ok",
]


@pytest.mark.parametrize(
    ("text", "language", "free"),
    [
        ("Yes, that's correct.", "en", True),
        ("Sounds good to me, thanks a lot!", "en", True),
        ("No, not now.", "en", True),
        ("Hi there", "en", True),
        ("Oui, merci beaucoup.", "fr", True),
        ("D'accord, c'est parfait.", "fr", True),
        ("Yes, my card still hasn't arrived.", "en", False),
        ("I need to check my balance", "en", False),
        ("Thanks. Can you block my card?", "en", False),
        ("[NAME].", "en", False),  # answers the agent's question with a (redacted) name
        ("Je veux annuler ma commande", "fr", False),
        ("Merci, et pour le virement ?", "fr", False),
    ],
)
def test_a_turn_of_courtesy_words_alone_is_content_free(text, language, free):
    assert content_free([text], [language], DEFAULT_SPACY).tolist() == [free]


def _store(tmp_path, weeks: int = 2, conversations: list | None = None) -> Store:
    """Each week, 15 conversations per request: the request, a courtesy reply to the agent, then thanks
    or (3 of 15; 9 for late cards) frustration, with a CSAT of 5 or 1. The courtesy turn is in every
    conversation, so read as a request it would lead the requests that end unhappy. ``conversations``
    (week, turns, metadata) replace these."""
    if conversations is None:
        conversations = []
        for week in range(weeks):
            for request, unhappy in ((CARD, 9), (REFUND, 3), (PIN, 3), (TOP_UP, 3)):
                conversations += [(week, [request, YES, FRUSTRATED], {"csat": 1})] * unhappy
                conversations += [(week, [request, YES, THANKS], {"csat": 5})] * (15 - unhappy)
    store = conversation_store(tmp_path / "courtesy.duckdb", conversations, LABELS, SAID)
    ids = store.query(
        "SELECT message_id FROM assignments WHERE topic_id = $t ORDER BY message_id", {"t": YES}
    )["message_id"]
    with store.connect() as con:
        for k, mid in enumerate(ids):
            con.execute("UPDATE messages SET text = ? WHERE message_id = ?", [REPLIES[k % len(REPLIES)], mid])
        # the courtesy turns share a theme with late cards, as a fit on their vectors may group them
        themes = {CARD: 0, YES: 0, REFUND: 1, TOP_UP: 1, PIN: 2, THANKS: 3, FRUSTRATED: 3}
        for topic, theme in themes.items():
            con.execute(
                "UPDATE topics SET theme_id = ?, theme_label = ?, state = 'active' WHERE topic_id = ?",
                [
                    theme,
                    ["card / arrive", "refund / top", "pin / change", "thank / frustrating"][theme],
                    topic,
                ],
            )
    return store


def test_courtesy_turns_are_left_out_of_themes_requests_impact_and_the_brief(tmp_path):
    store = _store(tmp_path)
    counts = refresh_insights(store, "test", DEFAULT_SPACY)
    assert (counts["closing_topics"], counts["courtesy_topics"]) == (2, 1)

    read = store.query("SELECT * FROM courtesy_topics").set_index("topic_id")
    assert read.loc[YES, "courtesy"] and read.loc[YES, "content_free"] == read.loc[YES, "sampled"] == 60
    assert not read.drop(YES)["courtesy"].any() and read.loc[[CARD, REFUND, PIN], "content_free"].eq(0).all()
    assert queries.courtesy_topic_ids(store) == [YES]

    # the requests that end unhappy: late cards lead, and "that's correct" is no request
    requests = queries.request_endings(store, "2026-09-14").set_index("topic_id")
    assert set(requests.index) == {CARD, REFUND, PIN, TOP_UP}
    assert requests.index[0] == CARD and requests.loc[CARD, "more_unhappy"]

    impact = store.query("SELECT DISTINCT topic_id FROM topic_impact")["topic_id"]
    assert YES not in set(impact) and CARD in set(impact)

    # the late cards' theme holds late cards only: 15 conversations, not 30 messages
    themes = queries.theme_summary(store, "2026-09-14").set_index("theme")
    assert themes.loc["card / arrive", "topics"] == 1 and themes.loc["card / arrive", "messages"] == 15
    tested = store.query("SELECT theme_id, tested_conversations FROM theme_weekly WHERE week = '2026-09-14'")
    assert dict(zip(tested["theme_id"], tested["tested_conversations"], strict=True))[0] == 15

    _, brief = build_digest(store, "2026-09-14")
    assert "| that's correct |" not in brief  # not among the top topics
    assert "- 4 topics active (and 3 of closing and courtesy turns);" in brief
    assert "and their courtesy turns (60 messages this week: that's correct) are left out" in brief


def test_a_courtesy_turn_that_rises_is_a_mover_said_to_be_one(tmp_path):
    """Customers answer "yes, that's correct" in 10 of 60 conversations a week, then in 40: the topic is
    flagged like any other, and the brief says it is a courtesy turn, not a request."""
    conversations = []
    for week in range(6):
        replies = 40 if week == 5 else 10
        for k in range(60):
            request = (CARD, REFUND, PIN, TOP_UP)[k % 4]
            conversations.append((week, [request, YES, THANKS] if k < replies else [request, THANKS], None))
    store = _store(tmp_path, conversations=conversations)
    refresh_insights(store, "test", DEFAULT_SPACY)
    _, brief = build_digest(store, "2026-10-12")
    assert "### that's correct (growing; a courtesy turn: yes, thanks, sounds good)" in brief


def test_a_merge_keeps_the_courtesy_topics_the_last_run_found(tmp_path):
    """A person's merge refreshes the insights without spaCy: the stored reading stands."""
    store = _store(tmp_path, weeks=1)
    refresh_insights(store, "run", DEFAULT_SPACY)
    refresh_insights(store, "merge")
    assert queries.courtesy_topic_ids(store) == [YES]
    requests = queries.request_endings(store, "2026-09-07")
    assert YES not in set(requests["topic_id"])


def test_a_store_of_requests_alone_has_no_courtesy_topic(tmp_path):
    """One-message conversations of requests (the scenario benchmarks' shape): nothing is set aside."""
    store = conversation_store(
        tmp_path / "requests.duckdb", [(0, [t], None) for t in (CARD, REFUND, PIN) for _ in range(12)], LABELS
    )
    counts = refresh_insights(store, "test", DEFAULT_SPACY)
    assert counts["courtesy_topics"] == 0
    assert not store.query("SELECT courtesy FROM courtesy_topics")["courtesy"].any()


def test_the_dashboard_brief_leaves_courtesy_turns_out_and_says_so(tmp_path, monkeypatch):
    from tests.test_dashboard import _page  # the app on a page, no exception nor error shown

    store = _store(tmp_path)
    refresh_insights(store, "test", DEFAULT_SPACY)
    monkeypatch.setenv("VOC_STORE", str(store.path))
    at = _page("brief", week="2026-09-14")
    themes, topics = at.dataframe[0].value, at.dataframe[1].value
    assert themes.set_index("theme").loc["card / arrive", "messages"] == 15
    assert set(topics["topic"]) == {"card not arrived", "refund", "change pin", "top up failed"}
    captions = "\n".join(c.value for c in at.caption)
    assert "The courtesy turns (60 messages this week: that's correct) are left out" in captions


def test_the_explorer_shows_requests_unless_asked_for_every_turn(tmp_path, monkeypatch):
    """Product teams filter what customers came about: closing and courtesy turns are left out of the
    explorer's topics and its theme filter by default, shown with the toggle off (and in a shared
    link), and shown when picked by name."""
    from tests.test_dashboard import _page  # the app on a page, no exception nor error shown

    store = _store(tmp_path)
    refresh_insights(store, "test", DEFAULT_SPACY)
    requests = {"card not arrived", "refund", "change pin", "top up failed"}
    every = requests | {"that's correct", "thanks", "frustrating"}
    assert set(queries.filtered_topics(store, queries.Filters(requests_only=True))["topic"]) == requests
    assert set(queries.filtered_topics(store, queries.Filters())["topic"]) == every
    picked = queries.Filters(requests_only=True, topic_ids=[YES])
    assert set(queries.filtered_messages(store, picked)["text"]) == set(REPLIES)

    monkeypatch.setenv("VOC_STORE", str(store.path))
    at = _page("explorer")
    assert set(at.dataframe[0].value["topic"]) == requests
    # the theme filter offers the themes of requests; the closers' own theme with every turn
    request_themes = ["card / arrive", "pin / change", "refund / top"]
    assert at.multiselect(key="theme").options == request_themes
    at.toggle(key="requests_only").set_value(False).run()
    assert set(at.dataframe[0].value["topic"]) == every and at.query_params["turns"] == "all"
    assert at.multiselect(key="theme").options == [*request_themes, "thank / frustrating"]
    assert set(_page("explorer", turns="all").dataframe[0].value["topic"]) == every


def test_the_topic_page_says_what_a_courtesy_or_closing_topic_is(tmp_path, monkeypatch):
    from tests.test_dashboard import _page  # the app on a page, no exception nor error shown

    store = _store(tmp_path, weeks=1)
    refresh_insights(store, "test", DEFAULT_SPACY)
    monkeypatch.setenv("VOC_STORE", str(store.path))
    said = {}
    for topic in (YES, THANKS, CARD):
        said[topic] = " ".join(i.value for i in _page("topic", topic=str(topic)).info)
    assert "courtesy turns" in said[YES] and "close conversations" in said[THANKS] and not said[CARD]
