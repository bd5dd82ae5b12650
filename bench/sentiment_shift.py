"""The sentiment shift test against the brief's earlier rule: alarms where nothing moved, and shifts found.

``python -m bench.sentiment_shift --stores 'DIR/*/week_10.duckdb' [--plants 3]`` reads stores a
scenario run kept (``bench.scenario --keep-weeks``: every week's messages, topics and sentiment
scores, no sentiment planted) and reports, per rule:

- **alarms on the data as it is**: topic-weeks each rule calls a shift. The earlier rule: the week's
  mean moved by at least 0.2 against last week, with 5+ scored messages both weeks. The test
  (``pipeline.sentiment_shift``): q at most 5% across the week's topics, and a move of at least 0.2
  against the baseline weeks' mean, as the brief shows shifts;
- **planted shifts found**: in weeks 6-10, ``--plants`` topics a week at random (those the test can
  test), a share of the week's messages (a quarter, a half) get the score of a message drawn from the
  store's negative ones, as if that share of the topic's customers had turned unhappy. Only plants
  that moved the topic's week by 0.2 or more are counted (in a topic of complaints, turning some
  unhappy moves little); found if the rule calls that topic's week a shift (the test: towards the
  negative).

``--volumes 10,25,50,100 [--source banking77|massive-fr]`` asks the same at a brand's volumes, which
kept stores cannot (a week resampled at 5x keeps its own mean as the truth, and its chance becomes
"real"): 25 intents of the set are topics, each scored once by the shipped model; every replicate
draws six weeks of Poisson(volume) messages per topic from its intent's scores, and plants as above in
one topic's last week. Output: ``bench/results/sentiment-shift.json`` or
``sentiment-shift-volume-SOURCE.json`` (``--out``).

``--themes`` (with ``--stores``) asks it of themes (``pipeline.theme_weekly``): the alarms the theme
test gives on the stores as they are (every theme's week, closing topics left out), and, in weeks
6-10, ``--plants`` themes a week at random whose customers turn unhappy across all their topics (a
share of the theme's messages, drawn at random across its topics, get a negative message's score):
found by the theme test, or by the topic test on any of the theme's topics. Output:
``sentiment-shift-themes.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.sentiment_shift import ALPHA, MIN_VOLUME, sentiment_tests
from pipeline.store import MESSAGE_WEEK, Store
from pipeline.weekly import BASELINE_WEEKS, GUARD_WEEKS

SHIFT_MIN = 0.2  # the brief's line for a move worth a line (pipeline.digest.SHIFT_MIN)
SHARES = (0.25, 0.5)
RESULTS = Path(__file__).parent / "results" / "sentiment-shift.json"


def load_scores(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """(one row per scored customer message in a topic: topic_id, week ordinal, score), the scores of
    the store's negative messages."""
    store = Store(path)
    frame = store.query(
        f"""
        SELECT a.topic_id, {MESSAGE_WEEK} AS week, round(s.score, 3) AS score, s.label
        FROM assignments a JOIN messages m USING (message_id) JOIN sentiment s USING (message_id)
        WHERE a.topic_id >= 0 AND s.score IS NOT NULL
        """
    )
    weeks = sorted(frame["week"].unique())
    frame["week"] = frame["week"].map({w: i for i, w in enumerate(weeks)})
    return frame[["topic_id", "week", "score"]], frame.loc[frame["label"] == "negative", "score"].to_numpy()


def old_rule(scores: pd.DataFrame, week: int) -> set[int]:
    """Topics whose mean moved by at least ``SHIFT_MIN`` against last week, 5+ messages both weeks."""
    cells = (
        scores[scores["week"].isin([week - 1, week])]
        .groupby(["topic_id", "week"])["score"]
        .agg(["mean", "size"])
    )
    wide = cells.unstack("week")
    if (week - 1) not in wide["mean"] or week not in wide["mean"]:
        return set()
    ok = (wide["size"][week - 1] >= MIN_VOLUME) & (wide["size"][week] >= MIN_VOLUME)
    moved = (wide["mean"][week] - wide["mean"][week - 1]).abs() >= SHIFT_MIN
    return {int(t) for t in wide.index[ok & moved]}


def new_rule(scores: pd.DataFrame, week: int) -> dict[int, float]:
    """Topics the test calls shifted in ``week`` (q at most ``ALPHA`` and a move of ``SHIFT_MIN``),
    with the move against the baseline weeks' mean."""
    first = week - GUARD_WEEKS - BASELINE_WEEKS
    window = scores[scores["week"].between(first, week)]
    tests = sentiment_tests(window, list(range(first, week + 1)), BASELINE_WEEKS, GUARD_WEEKS)
    tests = tests[tests["week"] == week]
    now = window[window["week"] == week].groupby("topic_id")["score"].mean()
    tests = tests.assign(move=tests["topic_id"].map(now) - tests["sentiment_baseline"])
    hit = tests[(tests["sentiment_q"] <= ALPHA) & (tests["move"].abs() >= SHIFT_MIN)]
    return dict(zip(hit["topic_id"].astype(int), hit["move"], strict=True))


def theme_rule(scores: pd.DataFrame, week: int) -> dict[int, float]:
    """Themes the test calls shifted in ``week`` (``scores`` with ``theme_id``), as ``new_rule`` does
    for topics."""
    first = week - GUARD_WEEKS - BASELINE_WEEKS
    window = scores[scores["week"].between(first, week)]
    weeks = list(range(first, week + 1))
    tests = sentiment_tests(window, weeks, BASELINE_WEEKS, GUARD_WEEKS, unit="theme_id")
    tests = tests[tests["week"] == week]
    now = window[window["week"] == week].groupby("theme_id")["score"].mean()
    tests = tests.assign(move=tests["theme_id"].map(now) - tests["sentiment_baseline"])
    hit = tests[(tests["sentiment_q"] <= ALPHA) & (tests["move"].abs() >= SHIFT_MIN)]
    return dict(zip(hit["theme_id"].astype(int), hit["move"], strict=True))


def load_themed(path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """``load_scores`` with each topic's theme, the topics customers close conversations with left out
    (as the brief's themes leave them out)."""
    from pipeline.endings import closing_topics

    scores, negative = load_scores(path)
    store = Store(path)
    themes = store.query("SELECT topic_id, theme_id FROM topics WHERE topic_id >= 0 AND theme_id IS NOT NULL")
    themes = themes[~themes["topic_id"].isin(closing_topics(store))]
    return scores.merge(themes, on="topic_id"), negative


def measure_themes(paths: list[str], plants: int, seed: int = 0) -> dict:
    """Theme-level alarms on the stores as they are, and unhappiness spread over a theme's topics:
    found by the theme test, or by the topic test on any of its topics."""
    rng = np.random.default_rng(seed)
    alarms = {"topic test": 0, "theme test": 0}
    tested = {"topic-weeks": 0, "theme-weeks": 0}
    found = {rule: dict.fromkeys(map(str, SHARES), 0) for rule in ("topic test, any topic", "theme test")}
    moved_enough = dict.fromkeys(map(str, SHARES), 0)
    planted = 0
    for path in paths:
        scores, negative = load_themed(path)
        weeks = int(scores["week"].max()) + 1
        for week in range(GUARD_WEEKS + BASELINE_WEEKS, weeks):
            alarms["topic test"] += len(new_rule(scores, week))
            alarms["theme test"] += len(theme_rule(scores, week))
            now = scores[scores["week"] == week]
            tested["topic-weeks"] += now["topic_id"].nunique()
            tested["theme-weeks"] += now["theme_id"].nunique()
        for week in range(GUARD_WEEKS + BASELINE_WEEKS, weeks):
            now = scores[scores["week"] == week]
            sizes = now.groupby("theme_id").size()
            candidates = sorted(int(t) for t in sizes.index[sizes >= 2 * MIN_VOLUME])
            for theme in rng.choice(candidates, size=min(plants, len(candidates)), replace=False):
                planted += 1
                rows = np.flatnonzero(((scores["week"] == week) & (scores["theme_id"] == theme)).to_numpy())
                for share in SHARES:
                    shifted, move = plant(scores, rows, share, negative, rng)
                    if move > -SHIFT_MIN:
                        continue
                    moved_enough[str(share)] += 1
                    topics = set(scores.iloc[rows]["topic_id"].astype(int))
                    by_topic = new_rule(shifted, week)
                    found["topic test, any topic"][str(share)] += any(by_topic.get(t, 0) < 0 for t in topics)
                    found["theme test"][str(share)] += theme_rule(shifted, week).get(int(theme), 0) < 0
    return {
        "stores": len(paths),
        "tested": tested,
        "alarms_without_planting": alarms,
        "planted": planted,
        "plants_moving_the_mean_by_shift_min": moved_enough,
        "found": found,
        "found_share": {r: {s: n / max(moved_enough[s], 1) for s, n in v.items()} for r, v in found.items()},
        "settings": {"alpha": ALPHA, "min_volume": MIN_VOLUME, "shift_min": SHIFT_MIN},
    }


def plant(
    scores: pd.DataFrame, rows: np.ndarray, share: float, negative: np.ndarray, rng
) -> tuple[pd.DataFrame, float]:
    """``scores`` with ``share`` of ``rows`` (one topic's week) given a negative message's score, and how
    far that moved the week's mean: a topic whose customers were unhappy already barely moves."""
    picked = rng.choice(rows, size=max(1, round(share * len(rows))), replace=False)
    shifted = scores.copy()
    shifted.loc[shifted.index[picked], "score"] = rng.choice(negative, size=len(picked))
    return shifted, float(shifted["score"].iloc[rows].mean() - scores["score"].iloc[rows].mean())


def testable(scores: pd.DataFrame, week: int) -> list[int]:
    """Topics with enough scored messages this week and over the baseline weeks to be tested."""
    first = week - GUARD_WEEKS - BASELINE_WEEKS
    now = scores[scores["week"] == week].groupby("topic_id").size()
    before = scores[scores["week"].between(first, week - GUARD_WEEKS - 1)].groupby("topic_id").size()
    both = pd.concat([now, before], axis=1).fillna(0)
    return sorted(int(t) for t in both.index[(both[0] >= MIN_VOLUME) & (both[1] >= MIN_VOLUME)])


def measure(paths: list[str], plants: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    alarms = {"earlier rule": 0, "test": 0}
    tested_weeks = 0
    found = {rule: {str(share): 0 for share in SHARES} for rule in alarms}
    moved_enough = dict.fromkeys(map(str, SHARES), 0)  # plants that moved the week's mean by SHIFT_MIN+
    planted = 0
    for path in paths:
        scores, negative = load_scores(path)
        weeks = int(scores["week"].max()) + 1
        for week in range(1, weeks):
            alarms["earlier rule"] += len(old_rule(scores, week))
            if week - GUARD_WEEKS - BASELINE_WEEKS >= 0:
                alarms["test"] += len(new_rule(scores, week))
                tested_weeks += 1
        for week in range(GUARD_WEEKS + BASELINE_WEEKS, weeks):
            candidates = testable(scores, week)
            for topic in rng.choice(candidates, size=min(plants, len(candidates)), replace=False):
                planted += 1
                rows = np.flatnonzero(
                    (scores["week"] == week).to_numpy() & (scores["topic_id"] == topic).to_numpy()
                )
                for share in SHARES:
                    shifted, move = plant(scores, rows, share, negative, rng)
                    if move > -SHIFT_MIN:
                        continue
                    moved_enough[str(share)] += 1
                    found["earlier rule"][str(share)] += int(topic) in old_rule(shifted, week)
                    moved = new_rule(shifted, week).get(int(topic))
                    found["test"][str(share)] += moved is not None and moved < 0
    return {
        "stores": len(paths),
        "weeks_tested_by_the_test": tested_weeks,
        "alarms_without_planting": alarms,
        "planted": planted,
        "plants_moving_the_mean_by_shift_min": moved_enough,
        "found": found,
        "found_share": {r: {s: n / max(moved_enough[s], 1) for s, n in v.items()} for r, v in found.items()},
        "settings": {
            "alpha": ALPHA,
            "min_volume": MIN_VOLUME,
            "shift_min": SHIFT_MIN,
            "baseline_weeks": BASELINE_WEEKS,
            "guard_weeks": GUARD_WEEKS,
        },
    }


def scored_pools(
    source: str, intents: int, per_intent: int, seed: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Sentiment scores of ``per_intent`` utterances of each of ``intents`` intents of a labelled set
    (the shipped model on fresh embeddings), and the scores of those it calls negative."""
    from bench import datasets
    from models.embedder import Embedder
    from models.sentiment import SentimentModel

    data = {"banking77": lambda: datasets.banking77("all"), "massive-fr": datasets.massive_fr}[source]()
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[str]] = {}
    for text, label in zip(data.texts, data.labels, strict=True):
        by_intent.setdefault(label, []).append(text)
    chosen = rng.choice(
        sorted(i for i, t in by_intent.items() if len(t) >= per_intent), intents, replace=False
    )
    texts = [t for i in chosen for t in rng.choice(by_intent[i], per_intent, replace=False)]
    model = SentimentModel.load()
    proba = model.predict_proba(Embedder(model.embedding_model).transform(texts))
    scores = np.round(proba[:, 2] - proba[:, 0], 3)
    negative = scores[proba.argmax(axis=1) == 0]
    return [scores[k * per_intent : (k + 1) * per_intent] for k in range(intents)], negative


def by_volume(
    pools: list[np.ndarray], negative: np.ndarray, volumes: list[int], replicates: int, seed: int
) -> dict:
    """Each intent a topic; six weeks of Poisson(volume) messages drawn from its utterances' scores (so
    every week comes from the same distribution, as a steady request's would); in the last week, a share
    of one topic's messages (drawn at random each replicate) get a negative utterance's score. Per volume:
    of the plants that moved the topic's week by ``SHIFT_MIN`` or more, the share each rule finds, and
    each rule's alarms on the other topics per tested topic-week."""
    rng = np.random.default_rng(seed)
    weeks = list(range(GUARD_WEEKS + BASELINE_WEEKS + 1))
    last = weeks[-1]
    out = {}
    for volume in volumes:
        found = {rule: dict.fromkeys(map(str, SHARES), 0) for rule in ("earlier rule", "test")}
        moved_enough = dict.fromkeys(map(str, SHARES), 0)
        alarms = {"earlier rule": 0, "test": 0}
        for _ in range(replicates):
            rows = [
                (t, w, s)
                for t, pool in enumerate(pools)
                for w in weeks
                for s in rng.choice(pool, rng.poisson(volume))
            ]
            base = pd.DataFrame(rows, columns=["topic_id", "week", "score"])
            target = int(rng.integers(len(pools)))
            alarms["earlier rule"] += len(old_rule(base, last) - {target})
            alarms["test"] += len(set(new_rule(base, last)) - {target})
            mine = np.flatnonzero(((base["topic_id"] == target) & (base["week"] == last)).to_numpy())
            if len(mine) == 0:
                continue
            for share in SHARES:
                shifted, move = plant(base, mine, share, negative, rng)
                if move > -SHIFT_MIN:
                    continue
                moved_enough[str(share)] += 1
                found["earlier rule"][str(share)] += target in old_rule(shifted, last)
                moved = new_rule(shifted, last).get(target)
                found["test"][str(share)] += moved is not None and moved < 0
        others = replicates * (len(pools) - 1)
        out[str(volume)] = {
            "plants_moving_the_mean_by_shift_min": moved_enough,
            "found_share": {
                r: {s: n / max(moved_enough[s], 1) for s, n in v.items()} for r, v in found.items()
            },
            "alarms_per_topic_week": {r: n / others for r, n in alarms.items()},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", help="glob of kept scenario stores, e.g. 'kept/*/week_10.duckdb'")
    parser.add_argument(
        "--volumes", help="instead: messages a topic-week, e.g. 10,25,50,100 (intents as topics)"
    )
    parser.add_argument("--source", default="banking77", choices=["banking77", "massive-fr"])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--plants", type=int, default=3)
    parser.add_argument("--themes", action="store_true", help="themes instead of topics (with --stores)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.volumes:
        pools, negative = scored_pools(args.source, intents=25, per_intent=120, seed=0)
        volumes = [int(v) for v in args.volumes.split(",")]
        result = {
            "source": args.source,
            "topics": len(pools),
            "replicates": args.replicates,
            "by_volume": by_volume(pools, negative, volumes, args.replicates, seed=0),
        }
        out = (
            args.out
            if args.out != RESULTS
            else RESULTS.with_name(f"sentiment-shift-volume-{args.source}.json")
        )
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    if not args.stores:
        raise SystemExit("give --stores or --volumes")
    paths = sorted(glob.glob(args.stores))
    if not paths:
        raise SystemExit(f"no store matches {args.stores!r}: run bench.scenario with --keep-weeks first")
    if args.themes:
        result = measure_themes(paths, args.plants) | {"stores_glob": args.stores}
        out = args.out if args.out != RESULTS else RESULTS.with_name("sentiment-shift-themes.json")
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return
    result = measure(paths, args.plants) | {"stores_glob": args.stores}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
