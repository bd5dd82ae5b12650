"""Channel statuses where nothing happens: false alarms by counting conversations or messages.

    python -m bench.channel_status [--replicates 200] [--out FILE]

A brand's channels as the demo draws them (``demo/build_demo_data.py``): each week about 130
conversations (±10), each on a channel drawn independently at fixed weights, each with 1 to 4
customer messages, over 10 weeks. No channel moves, so every status other than stable is a false
alarm. Each replicate is tested by ``pipeline.channel_weekly`` twice, counting conversations (what it
does) and counting messages (what a channel's volume first read as), and a third time with a channel
that doubles its weight from week 9 on, counting conversations: found if it is growing in week 9 or
10. Writes bench/results/channel-status.json.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.channel_weekly import channel_statuses

RESULTS = Path(__file__).resolve().parent / "results"
CHANNELS = {"whatsapp": 35, "webchat": 22, "messenger": 14, "email": 12, "rcs": 6, "gbm": 6, "sms": 5}
WEEKS = 10
MONDAY = date(2026, 9, 14)


def draw(rng: np.random.Generator, surge: str | None = None) -> pd.DataFrame:
    """One replicate's (channel, week, messages, conversations) rows; ``surge`` doubles its weight
    from week 9 on."""
    names = list(CHANNELS)
    rows = []
    for week in range(WEEKS):
        weights = np.array([CHANNELS[c] * (2 if c == surge and week >= 8 else 1) for c in names], float)
        picks = rng.choice(len(names), size=130 + int(rng.integers(-10, 11)), p=weights / weights.sum())
        messages = rng.integers(1, 5, size=len(picks))
        for i, name in enumerate(names):
            mine = picks == i
            if mine.any():
                rows.append(
                    (name, MONDAY + timedelta(weeks=week), int(messages[mine].sum()), int(mine.sum()))
                )
    return pd.DataFrame(rows, columns=["channel", "week", "messages", "conversations"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--out", type=Path, default=RESULTS / "channel-status.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    alarms = {"conversations": [], "messages": []}
    found = 0
    for _ in range(args.replicates):
        rows = draw(rng)
        for count in alarms:  # counting messages: the messages given as if each were a conversation
            table = channel_statuses(rows.assign(conversations=rows[count]))
            alarms[count].append(int((table["status"] != "stable").sum()))
        table = channel_statuses(draw(rng, surge="rcs"))
        late = table[(table["channel"] == "rcs") & (table["week"] >= MONDAY + timedelta(weeks=8))]
        found += bool((late["status"] == "growing").any())
    summary = {
        "replicates": args.replicates,
        "false_alarms_per_replicate": {c: float(np.mean(v)) for c, v in alarms.items()},
        "replicates_with_a_false_alarm": {c: float(np.mean(np.array(v) > 0)) for c, v in alarms.items()},
        "rcs_doubling_from_week_9_found": found / args.replicates,
        "channels": CHANNELS,
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
