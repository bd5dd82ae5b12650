"""Webhook receiver under a burst: sustained events/s, latency percentiles, and nothing lost.

    python -m bench.receiver [--events 6000] [--concurrency 64] [--names/--no-names]

Starts the real ``voc receive`` on loopback (a fresh landing file), then a load generator on the same
machine posts signed webhooks as fast as ``--concurrency`` connections allow: WhatsApp, Messenger,
RCS and Business Messages in turn, real customer messages (Banking77 test) as text, and one event in
ten redelivered (platforms retry). Afterwards every acknowledged event must be in the landing table,
exactly once. The generator shares the 2 cores with the receiver, so the figures are a floor.
Writes bench/results/receiver.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from pipeline.webhooks.signatures import google_signature, meta_signature
from tests import webhook_payloads as wp

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results"
SECRETS = {
    "VOC_WEBHOOKS__WHATSAPP_APP_SECRET": "bench-wa",
    "VOC_WEBHOOKS__MESSENGER_APP_SECRET": "bench-fb",
    "VOC_WEBHOOKS__RCS_CLIENT_TOKEN": "BENCHRCS",
    "VOC_WEBHOOKS__GBM_CLIENT_TOKEN": "BENCHGBM",
}


def requests(n: int) -> list[tuple[str, bytes, dict, tuple[str, str]]]:
    """(path, body, headers, (platform, event id)) for n distinct events, then 10% redeliveries."""
    with (DATA / "banking77" / "test.csv").open() as fh:
        texts = [row["text"] for row in csv.DictReader(fh)]
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        text, at, customer = texts[i % len(texts)], t0 + timedelta(seconds=i), i % 997
        platform = ("whatsapp", "messenger", "rcs", "gbm")[i % 4]
        if platform == "whatsapp":
            body = wp.dumps(wp.whatsapp_text(f"wamid.B{i}", f"3361{customer:07d}", text, at))
            headers, eid = {"X-Hub-Signature-256": meta_signature("bench-wa", body)}, f"wamid.B{i}"
        elif platform == "messenger":
            body = wp.dumps(wp.messenger_message(f"m_B{i}", f"90{customer:06d}", text, at))
            headers, eid = {"X-Hub-Signature-256": meta_signature("bench-fb", body)}, f"m_B{i}"
        elif platform == "rcs":
            envelope, signed = wp.rcs_envelope(wp.rcs_user_event(f"R{i}", f"+1415{customer:07d}", text, at))
            body, headers, eid = (
                wp.dumps(envelope),
                {"X-Goog-Signature": google_signature("BENCHRCS", signed)},
                f"R{i}",
            )
        else:
            body = wp.dumps(wp.gbm_message(f"G{i}", f"conv-{customer}", text, at))
            headers, eid = {"X-Goog-Signature": google_signature("BENCHGBM", body)}, f"G{i}"
        out.append((f"/webhooks/{platform}", body, headers, (platform, eid)))
    return out + out[::10]


async def burst(url: str, reqs: list, concurrency: int) -> tuple[list[float], list, float]:
    latencies: list[float] = []
    failures: list = []
    acked: set = set()
    queue: asyncio.Queue = asyncio.Queue()
    for r in reqs:
        queue.put_nowait(r)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                path, body, headers, key = queue.get_nowait()
                start = time.perf_counter()
                try:
                    r = await client.post(path, content=body, headers=headers)
                    ok = r.status_code == 200
                except httpx.HTTPError as exc:
                    ok, r = False, type(exc).__name__
                latencies.append(time.perf_counter() - start)
                if ok:
                    acked.add(key)
                else:
                    failures.append((key, str(getattr(r, "status_code", r))))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return latencies, failures, wall, acked


def run(events: int, concurrency: int, names: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="voc-bench-receiver-"))
    port = 18600 + os.getpid() % 1000
    env = {
        **os.environ,
        **SECRETS,
        "VOC_LANDING_PATH": str(work / "landing.sqlite"),
        "VOC_IDENTIFIER_KEY_FILE": str(work / "salt"),
        "VOC_REDACT_NAMES": "true" if names else "false",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "voc.cli", "receive", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        reqs = requests(events)
        latencies, failures, wall, acked = asyncio.run(burst(url, reqs, concurrency))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    with sqlite3.connect(work / "landing.sqlite") as con:
        stored = set(con.execute("SELECT platform, event_id FROM webhook_events").fetchall())
        rows = con.execute("SELECT count(*) FROM webhook_events").fetchone()[0]
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1)

    return {
        "names_redacted": names,
        "requests": len(reqs),
        "distinct_events": events,
        "concurrency": concurrency,
        "wall_s": round(wall, 2),
        "events_per_s": round(len(reqs) / wall, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 1),
        "failed_requests": len(failures),
        "failures": sorted({f[1] for f in failures}),
        "acked_not_stored": len(acked - stored),
        "stored_rows": rows,
        "duplicates_stored": rows - len(stored),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    results = [run(args.events, args.concurrency, names) for names in (True, False)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "receiver.json").write_text(json.dumps(results, indent=2) + "\n")
    cols = [
        "names_redacted",
        "requests",
        "concurrency",
        "events_per_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "failed_requests",
        "acked_not_stored",
        "stored_rows",
        "duplicates_stored",
    ]
    print(" | ".join(cols))
    for r in results:
        print(" | ".join(str(r[c]) for c in cols))


if __name__ == "__main__":
    main()
