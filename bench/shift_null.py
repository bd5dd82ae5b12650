"""Local shifts where nothing changed: false shifts in steady weeks of conversations of several messages.

    python -m bench.shift_null [--weeks 30] [--clump 0.5,0.3,0.2] [--out FILE]

No text and no model: twelve steady requests in a 24-d space (two siblings per axis, as in
``tests/test_local_shifts.py``), about 20 conversations each a week for five weeks, each
conversation writing 1, 2, ... messages with the ``--clump`` probabilities. Two ways a customer's
messages can sit: ``alike`` (close to one another, a customer repeating themselves in other words)
and ``apart`` (each an independent draw of the request, as different customers' are). Every week is
scanned (``pipeline.local_shifts.scan_weeks``, the real scan at its 500 shuffles) counting
conversations, as the code does, and with each message its own conversation, as it did before.
Nothing changed in any week, so every shift found is false; the scan controls their chance at
``local_shifts.ALPHA`` (1%) per week and direction. Writes bench/results/shift-null.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench import environment
from pipeline import local_shifts

DIM = 24
REQUESTS = 12
WEEKS = 5
RATE = 20  # conversations per request and week
SPREAD = 0.06  # a request's messages around its direction
ALIKE = 0.03  # a customer's messages around their first, when alike


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def clumped_pool(seed: int, clump: list[float], alike: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors, week ordinals (0-4) and conversation ids of one steady pool."""
    rng = np.random.default_rng(1000 + seed)
    base = np.eye(DIM)
    vectors, weeks, conversations = [], [], []
    for request in range(REQUESTS):
        direction = _unit(base[request // 2] + (0.45 * base[12 + request // 2] if request % 2 else 0))
        for week in range(WEEKS):
            for size in rng.choice(np.arange(1, len(clump) + 1), rng.poisson(RATE), p=clump):
                if alike:
                    first = _unit(direction + rng.normal(0, SPREAD, DIM))
                    v = _unit(first + rng.normal(0, ALIKE, (size, DIM)))
                else:
                    v = _unit(direction + rng.normal(0, SPREAD, (size, DIM)))
                vectors.append(v)
                weeks += [week] * size
                conversations += [len(conversations)] * size
    return np.vstack(vectors).astype(np.float32), np.asarray(weeks), np.asarray(conversations)


def false_shifts(weeks: int, clump: list[float], alike: bool) -> dict:
    """Shifts found in ``weeks`` steady weeks, counted by conversations and by messages."""
    found = {
        "conversations": {"up": 0, "down": 0, "weeks_with_any": 0},
        "messages": {"up": 0, "down": 0, "weeks_with_any": 0},
    }
    for seed in range(weeks):
        X, week_of, conversations = clumped_pool(seed, clump, alike)
        ids = np.arange(len(X)).astype(str)
        for counted, of in (("conversations", conversations), ("messages", None)):
            table = local_shifts.scan_weeks(X, week_of, ids, [WEEKS - 1], 5, seed, conversation_of=of)
            shifts = table.drop_duplicates(["shift"])
            for direction in ("up", "down"):
                found[counted][direction] += int((shifts["direction"] == direction).sum())
            found[counted]["weeks_with_any"] += int(len(shifts) > 0)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weeks", type=int, default=30)
    parser.add_argument("--clump", default="0.5,0.3,0.2")
    parser.add_argument("--out", type=Path, default=Path("bench/results/shift-null.json"))
    args = parser.parse_args()
    clump = [float(p) for p in args.clump.split(",")]
    started = time.perf_counter()
    results = {}
    for alike in (True, False):
        key = "alike" if alike else "apart"
        results[key] = false_shifts(args.weeks, clump, alike)
        print(key, results[key])
    results["one_message_each"] = false_shifts(args.weeks, [1.0], alike=False)
    print("one message each", results["one_message_each"])
    out = {
        "weeks": args.weeks,
        "clump": clump,
        "alpha_per_week_and_direction": local_shifts.ALPHA,
        "permutations": local_shifts.PERMUTATIONS,
        "false_shifts": results,
        "seconds": round(time.perf_counter() - started, 1),
        "environment": environment.describe(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
