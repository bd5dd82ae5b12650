"""The weekly status rule alone, on planted count patterns: how often each is flagged, week by week.

    python -m bench.status_rule [--replicates 200] [--guards 0,1] [--trend-weeks 0,8] [--out FILE]
    python -m bench.status_rule --clump 0.86,0.14 [--replicates 200] [--out FILE]

No text and no model: each replicate writes a store whose customer messages per topic and week are
Poisson draws around planted rates, every topic its own, and runs ``pipeline.weekly.compute_weekly``
on it once per rule: each guard (``guard_weeks``: weeks just before left out of the baseline) with
each trend window (``trend_weeks``: the steady-rise test's weeks, 0 for none). The background is
the scenario benchmark's: 25 steady topics at 6-18 messages a week, the whole week's volume swinging
by up to ±15%. Planted beside it, one topic each:
- ``wave``: near-absent, then 6, 10, 12 a week in weeks 8-10 (the demo's compromised-card wave);
- ``gradual``: 2.4 a week in week 1, rising in a line to 12 in week 10 (the demo's card delays);
- ``appear``: none until week 7, 12 a week from week 8 (the scenario's new request);
- ``surge``: 10 a week, four times that in week 9 (the scenario's);
- ``stop``: 14 a week, none after week 5 (the scenario's);
- ``fade``: 14 a week in week 1, falling in a line to 3 in week 10 (the demo's exchange-rate
  questions, 14 to 2).

Reports, per pattern and week, the share of replicates whose status that week is in the pattern's
direction (emerging/growing for rises, declining/dormant for the stop and the fade), the share of
replicates in which the gradual rise (and the fade) was flagged in some week, what the week after
the surge was called, and the steady topics' alarms per replicate (all tested weeks): the rule's
false alarms where nothing changed (``steady_falls``: of them, declines by the trend test).
Writes bench/results/status-rule.json.

``--clump P1,P2,...``: customers write 1, 2, ... messages about a topic in one conversation with
these probabilities (the demo's 0.86,0.14; the rates stay messages a week, so conversations come at
the rate over the mean clump). The same draws are then tested as the code counts them,
conversations (``rule`` "conversations"), and with each message its own conversation ("messages",
what the rule counted before). Writes bench/results/status-rule-clumped-P1-P2.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bench import environment
from pipeline import weekly
from pipeline.store import Store
from pipeline.trend_test import TREND_WEEKS

RESULTS = Path(__file__).resolve().parent / "results"
WEEKS = 10
MONDAY = datetime(2026, 1, 5, 12, tzinfo=UTC)
STEADY = 25
UP, DOWN = ("emerging", "growing"), ("declining", "dormant")
ALARMS = ("emerging", "growing", "declining")


def planted_rates(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Expected messages per week (before the volume swing) of each planted pattern and steady topic."""
    surge = np.full(WEEKS, 10.0)
    surge[8] *= 4
    stop = np.full(WEEKS, 14.0)
    stop[5:] = 0.0
    rates = {
        "wave": 4 * np.array([0.05, 0, 0.05, 0, 0.05, 0.05, 0.1, 1.5, 2.5, 3.0]),
        "gradual": 4 * np.linspace(0.6, 3.0, WEEKS),
        "appear": np.where(np.arange(1, WEEKS + 1) >= 8, 12.0, 0.0),
        "surge": surge,
        "stop": stop,
    }
    rates.update({f"steady-{k}": np.full(WEEKS, rng.uniform(6, 18)) for k in range(STEADY)})
    rates["fade"] = np.linspace(14.0, 3.0, WEEKS)  # drawn last: the other patterns' draws stay as they were
    return rates


def write_store(path: Path, counts: dict[int, list[int]], clumps: dict | None = None) -> Store:
    """A store whose customer messages per (topic, week) are ``counts``, each given to its topic; each
    message its own conversation, or in conversations of ``clumps[topic][week]`` messages each (a
    list summing to that week's count)."""
    ids, topics, sent, conversations = [], [], [], []
    for topic, per_week in counts.items():
        for week, n in enumerate(per_week):
            sizes = clumps[topic][week] if clumps else [1] * n
            owner = np.repeat(np.arange(len(sizes)), sizes)
            for i in range(n):
                ids.append(f"t{topic}-w{week}-{i}")
                conversations.append(f"t{topic}-w{week}-c{owner[i]}")
                topics.append(topic)
                sent.append(MONDAY + timedelta(weeks=week, minutes=7 * i))
    store = Store(path).init()
    store.upsert(
        "messages",
        pd.DataFrame(
            {
                "message_id": ids,
                "conversation_id": conversations,
                "author_role": "customer",
                "text": "-",
                "text_hash": ids,
                "is_customer": True,
                "sent_at": sent,
            }
        ),
    )
    store.upsert("assignments", pd.DataFrame({"message_id": ids, "topic_id": topics, "probability": 1.0}))
    return store


def statuses(store: Store, guard: int, trend_weeks: int = TREND_WEEKS) -> pd.DataFrame:
    """Week number (1-based), topic and status, with ``guard`` weeks left out of the baseline and the
    steady-rise test over ``trend_weeks`` (0: none)."""
    table = weekly.compute_weekly(store, guard_weeks=guard, trend_weeks=trend_weeks)
    first = pd.Timestamp(MONDAY.date())
    table["w"] = ((pd.to_datetime(table["week"]) - first).dt.days // 7 + 1).astype(int)
    table["tested"] = table["p_value"].notna()
    return table[["w", "topic_id", "status", "status_test", "tested"]]


def conversation_sizes(rng: np.random.Generator, rate: float, clump) -> list[int]:
    """The messages of each of a week's conversations about a topic whose messages come at ``rate``:
    conversations are Poisson at ``rate`` over the mean clump, each writing k messages with
    probability ``clump[k - 1]`` (normalised here). Also the scenario's (``bench.scenario --clump``)."""
    p = np.asarray(clump, dtype=float) / sum(clump)
    k = np.arange(1, len(p) + 1)
    return [int(n) for n in rng.choice(k, size=rng.poisson(rate / float(np.dot(k, p))), p=p)]


def clumped_counts(rng: np.random.Generator, rate: np.ndarray, clump) -> list[list[int]]:
    """``conversation_sizes`` of each week's ``rate``."""
    return [conversation_sizes(rng, r, clump) for r in rate]


def measure(
    replicates: int,
    guards: list[int],
    seed: int = 0,
    trends: tuple[int, ...] = (TREND_WEEKS,),
    clump: list[float] | None = None,
) -> dict:
    """Each rule's flags (a guard and a trend window; named ``guard_G_trend_T``) on the same
    replicates; with ``clump``, the code's rule on conversations and on messages (named
    ``conversations`` and ``messages``) instead."""
    rows = []
    for rep in range(replicates):
        rng = np.random.default_rng([seed, rep])
        rates = planted_rates(rng)
        names = list(rates)
        swing = rng.uniform(0.85, 1.15, WEEKS)
        # each store written (its conversations: clumps, or None for one message each) and the rules
        # (name, guard weeks, trend window) run on it
        if clump:
            clumps = {k: clumped_counts(rng, rates[name] * swing, clump) for k, name in enumerate(names)}
            counts = {k: [sum(w) for w in per_week] for k, per_week in clumps.items()}
            code = (weekly.GUARD_WEEKS, TREND_WEEKS)
            stores = [(clumps, [("conversations", *code)]), (None, [("messages", *code)])]
        else:
            counts = {k: [int(x) for x in rng.poisson(rates[name] * swing)] for k, name in enumerate(names)}
            stores = [(None, [(f"guard_{g}_trend_{t}", g, t) for g in guards for t in trends])]
        with tempfile.TemporaryDirectory(prefix="voc-status-rule-") as tmp:
            for i, (clumped, rules) in enumerate(stores):
                store = write_store(Path(tmp) / f"counts-{i}.duckdb", counts, clumped)
                for rule, guard, trend in rules:
                    table = statuses(store, guard, trend)
                    table["pattern"] = table["topic_id"].map(lambda k, names=names: names[k])
                    rows.append(table.assign(rep=rep, rule=rule))
    frame = pd.concat(rows, ignore_index=True)
    out = {}
    for rule, g in frame.groupby("rule", sort=False):
        per_week = {}
        patterns = [
            ("wave", UP),
            ("gradual", UP),
            ("appear", UP),
            ("surge", UP),
            ("stop", DOWN),
            ("fade", DOWN),
        ]
        for name, direction in patterns:
            p = g[g["pattern"] == name]
            flagged = p.groupby("w")["status"].apply(lambda s, d=direction: float(s.isin(d).mean()))
            per_week[name] = {int(w): round(v, 3) for w, v in flagged.items()}
        gradual = g[g["pattern"] == "gradual"]
        found = gradual.groupby("rep")["status"].apply(lambda s: bool(s.isin(UP).any()))
        fade = g[g["pattern"] == "fade"]
        faded = fade.groupby("rep")["status"].apply(lambda s: bool(s.isin(DOWN).any()))
        after_surge = g[(g["pattern"] == "surge") & (g["w"] == 10)]["status"].value_counts()
        steady = g[g["pattern"].str.startswith("steady") & g["tested"]]
        alarms = steady[steady["status"].isin(ALARMS)].groupby("rep").size()
        alarms = alarms.reindex(range(replicates), fill_value=0)
        falls = steady[(steady["status"] == "declining") & (steady["status_test"] == "trend")]
        out[rule] = {
            "flagged_share_by_week": per_week,
            "gradual_flagged_in_some_week": round(float(found.mean()), 3),
            "fade_flagged_in_some_week": round(float(faded.mean()), 3),
            "week_after_surge": {str(k): int(v) for k, v in after_surge.items()},
            "steady_false_alarms_per_replicate": {
                "mean": round(float(alarms.mean()), 3),
                "max": int(alarms.max()),
                "tested_topic_weeks": int(len(steady) / replicates),
                "per_tested_topic_week": round(float(alarms.sum() / max(len(steady), 1)), 4),
                "steady_falls": round(len(falls) / replicates, 3),  # of the mean: trend declines
            },
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="The weekly status rule on planted count patterns.")
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--guards", default="0,1", help="guard weeks to compare (the code's: %(default)s)")
    parser.add_argument(
        "--trend-weeks",
        default=f"0,{TREND_WEEKS}",
        help="steady-rise windows to compare (0: none; %(default)s)",
    )
    parser.add_argument(
        "--clump",
        default=None,
        help="probabilities of 1, 2, ... messages a conversation (e.g. 0.86,0.14): conversations vs messages",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    guards = [int(g) for g in args.guards.split(",")]
    trends = tuple(int(t) for t in args.trend_weeks.split(","))
    clump = [float(x) for x in args.clump.split(",")] if args.clump else None
    name = f"status-rule-clumped-{args.clump.replace(',', '-')}.json" if clump else "status-rule.json"
    args.out = args.out or RESULTS / name
    result = {
        "replicates": args.replicates,
        "code_guard_weeks": weekly.GUARD_WEEKS,
        "code_trend_weeks": TREND_WEEKS,
        "clump": clump,
        "results": measure(args.replicates, guards, trends=trends, clump=clump),
        "environment": environment.describe(),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, r in result["results"].items():
        weeks = r["flagged_share_by_week"]
        print(
            f"{name}: wave w8-10 {[weeks['wave'].get(w) for w in (8, 9, 10)]}, "
            f"appear w8-10 {[weeks['appear'].get(w) for w in (8, 9, 10)]}, surge w9 {weeks['surge'].get(9)}, "
            f"stop w6 {weeks['stop'].get(6)}, gradual in some week {r['gradual_flagged_in_some_week']}, "
            f"fade in some week {r['fade_flagged_in_some_week']} "
            f"(w6-10 {[weeks['fade'].get(w) for w in range(6, 11)]}), "
            f"week after surge {r['week_after_surge']}, "
            f"steady alarms {r['steady_false_alarms_per_replicate']}"
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
