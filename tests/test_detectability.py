"""The benchmark's findability measure: a request whose messages are one another's neighbours reads as
findable, one whose messages each sit among another request's reads as not."""

import numpy as np

from bench.detectability import event_measures
from bench.scenario import Event
from tests.test_local_shifts import _pool, _request


def test_a_tight_new_request_is_findable_and_one_scattered_among_others_is_not():
    rng = np.random.default_rng(3)
    steady = {r: [20, 21, 19, 20, 20] for r in range(2, 10)}
    X, weeks, requests = _pool({0: [0, 0, 0, 0, 12], **steady}, rng)
    # a second new request said in the words of steady ones: each message a paraphrase of one of them
    scattered = np.vstack([_request(X[requests == r][0], 2, rng, noise=0.02) for r in range(2, 8)])
    X = np.vstack([X, scattered]).astype(np.float32)
    weeks = np.concatenate([weeks, np.full(len(scattered), 4)]) + 1  # 1-based, as the scenario's
    intent = np.asarray([f"r{r}" for r in requests] + ["new"] * len(scattered), dtype=object)

    tight = event_measures(X, weeks, intent, Event("appear", "r0", 5, 10, ("emerging",)))
    loose = event_measures(X, weeks, intent, Event("appear", "new", 5, 10, ("emerging",)))

    assert tight["carriers"] == 12 and loose["carriers"] == 12
    assert tight["same_request"] == 11  # every other message of it among each one's 20 nearest
    assert tight["passing"] == 1.0
    assert loose["same_request"] <= 2
    assert loose["passing"] < 0.5


def test_a_stop_is_read_on_the_earlier_messages_whose_week_goes_missing():
    rng = np.random.default_rng(4)
    rates = {0: [14, 15, 13, 14, 0], **{r: [20, 21, 19, 20, 20] for r in range(2, 10)}}
    X, weeks, requests = _pool(rates, rng)
    intent = np.asarray([f"r{r}" for r in requests], dtype=object)

    stop = event_measures(X, weeks + 1, intent, Event("stop", "r0", 5, 6, ("declining",)))

    assert stop["carriers"] == 56  # the four earlier weeks' messages
    assert stop["same_request"] == 20
    assert stop["passing"] >= 0.9  # none of their neighbours is this week's: they pass the fall test
