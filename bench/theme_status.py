"""Theme statuses on the scenario benchmark's kept weeks: which alarms a planted event explains.

    python -m bench.theme_status KEPT_DIR... [--out FILE]

Each KEPT_DIR is a scenario run with ``bench.scenario --keep-weeks`` (named SOURCE-SEED). For weeks 4-10
(the first with a baseline to the last), the themes' statuses are computed on the store that week's
run left, as that Monday's brief would give them (``pipeline.theme_weekly`` over the week's topic
statuses, closing topics left out), and each alarm (emerging, growing, declining) of that week is
explained when a planted event is on in that week (a new request from week 8 on, the surge in weeks
9-10, the stop from week 6 on) and the theme holds a quarter or more of the event's intent's messages
that week (the stopped request's: in week 5, its last). Others are false alarms. Writes
bench/results/theme-status.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from bench import environment
from bench.scenario import START, build, load_source
from pipeline import endings, theme_weekly
from pipeline.store import Store
from pipeline.weekly import compute_weekly

RESULTS = Path(__file__).resolve().parent / "results"
ALARMS = ("emerging", "growing", "declining")
_HELD = """
SELECT a.message_id, t.theme_id, CAST(date_trunc('week', m.sent_at) AS DATE) AS week
FROM assignments a JOIN messages m USING (message_id) JOIN topics t USING (topic_id)
"""


def _week_number(day) -> int:
    return (pd.Timestamp(day).date() - START.date()).days // 7 + 1


def _carriers(held: pd.DataFrame, events, w: int) -> set[int]:
    """Themes holding a quarter or more of an event's messages in week ``w``, for events on then."""
    out: set[int] = set()
    for ev in events:
        last = ev.last_week if ev.kind == "surge" else 10
        if not ev.first_week <= w <= last:
            continue
        ref = ev.first_week - 1 if ev.kind == "stop" else w
        share = held[(held["intent"] == ev.intent) & (held["w"] == ref)]["theme_id"].value_counts(
            normalize=True
        )
        out |= {int(t) for t in share[share >= 0.25].index}
    return out


def score(kept: Path) -> dict:
    """One scenario's theme alarms, week by week, each as explained or false."""
    source, seed = kept.name.rsplit("-", 1)
    frames, events = build(load_source(source), int(seed), 10)
    intent_of = pd.concat(frames).set_index("message_id")["intent"]
    false, explained = [], []
    with tempfile.TemporaryDirectory(prefix="voc-theme-status-") as scratch:
        for w in range(4, 11):
            store = Store(shutil.copy(kept / f"week_{w:02d}.duckdb", Path(scratch) / "week.duckdb")).init()
            topics = compute_weekly(store)
            themes = theme_weekly.compute_theme_weekly(store, topics, endings.closing_topics(store))
            now = themes[(themes["week"].map(_week_number) == w) & themes["status"].isin(ALARMS)]
            if now.empty:
                continue
            held = store.query(_HELD)
            held["intent"] = held["message_id"].map(intent_of)
            held["w"] = held["week"].map(_week_number)
            carriers = _carriers(held, events, w)
            for row in now.itertuples():
                alarm = {"week": w, "theme": row.theme_label, "status": row.status, "test": row.status_test,
                         "q": round(float(row.p_value), 4)}  # fmt: skip
                (explained if row.theme_id in carriers else false).append(alarm)
    return {"scenario": kept.name, "false_alarms": false, "explained": explained}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kept", nargs="+", type=Path, help="scenario directories kept by --keep-weeks")
    parser.add_argument("--out", type=Path, default=RESULTS / "theme-status.json")
    args = parser.parse_args()
    rows = []
    for kept in sorted(args.kept):
        rows.append(score(kept))
        print(f"{kept.name}: {len(rows[-1]['false_alarms'])} false, {len(rows[-1]['explained'])} explained")
    false = [len(r["false_alarms"]) for r in rows]
    summary = {
        "scenarios": len(rows),
        "false_alarms": sum(false),
        "most_in_one_scenario": max(false),
        "explained": sum(len(r["explained"]) for r in rows),
        "rows": rows,
        "environment": environment.describe(),
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{sum(false)} false alarms (at most {max(false)}), {summary['explained']} explained -> {args.out}")


if __name__ == "__main__":
    main()
