"""Dashboard speed: every page's render time on the demo store and on a store with ~1M messages.

    python -m bench.dashboard [--messages 1000000] [--repeats 3]

The large store is the demo store (``voc demo --no-serve``) replicated: each copy gets new message and
conversation ids and is shifted by whole 10-week blocks, so the result holds about a year of weeks with
the demo's topics, channels, languages and sentiment; the weekly statistics and impact are then rebuilt
from it by ``pipeline.insights`` as a run would. Nothing is embedded or fitted: the dashboard reads tables.

Each page is rendered by Streamlit's AppTest (the server side of a page view: every query and chart
spec), cold (caches cleared) and warm (``st.cache_data`` hit), and the median of ``--repeats`` is kept.
Where Debian's chromium is installed, each page is also loaded in headless Chromium from a fresh
``voc dashboard`` server (so the first load is cold): the time from navigation until the script has
finished and every chart has drawn, as a person waits for it (the first page also loads Streamlit's
own assets). Writes bench/results/dashboard.json
and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CACHE = ROOT / "bench" / ".cache"
PAGES = ["brief", "explorer", "topic", "map", "health"]
BLOCK_WEEKS = 10  # the demo data spans 10 weeks
BLOCKS = 5  # copies are spread over 5 blocks of 10 weeks: about a year


def demo_store() -> Path:
    """The demo store, built once with the real CLI."""
    path = CACHE / "dash-demo.duckdb"
    if not path.exists():
        from typer.testing import CliRunner

        from voc.cli import app

        CACHE.mkdir(parents=True, exist_ok=True)
        result = CliRunner().invoke(app, ["demo", "--no-serve", "--store", str(path)])
        if result.exit_code != 0:
            raise RuntimeError(f"voc demo failed: {result.output[-2000:]}")
    return path


def scaled_store(base: Path, messages: int) -> Path:
    """``base`` replicated until it holds about ``messages`` messages (cached by size)."""
    path = CACHE / f"dash-{messages}.duckdb"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    shutil.copy(base, tmp)
    with duckdb.connect(str(tmp)) as con:
        n = con.execute("SELECT count(*) FROM messages").fetchone()[0]
        copies = max(1, round(messages / n))
        con.execute(f"CREATE TEMP TABLE k AS SELECT range AS k FROM range(1, {copies})")
        shift = f"INTERVAL (({BLOCKS} - 1 - k % {BLOCKS}) * {BLOCK_WEEKS} * 7) DAY"
        con.execute(
            f"""
            INSERT INTO messages SELECT
                message_id || '~' || k, conversation_id || '~' || k, sent_at - {shift}, author_role,
                channel, language, language_source, text, text_hash, is_customer, metadata, source_file,
                source_line, ingested_at, prepared_at
            FROM messages, k
            """
        )
        con.execute(
            "INSERT INTO assignments SELECT message_id || '~' || k, topic_id, probability, run_id "
            "FROM assignments, k"
        )
        con.execute(
            "INSERT INTO sentiment SELECT message_id || '~' || k, label, score, p_negative, p_neutral, "
            "p_positive, model FROM sentiment, k"
        )
        con.execute(
            f"""
            INSERT INTO conversations SELECT
                conversation_id || '~' || k, channel, first_at - {shift}, last_at - {shift}, n_messages,
                n_customer_messages, metadata, sentiment_score, sentiment_label, sentiment_first,
                sentiment_last, sentiment_change
            FROM conversations, k
            """
        )
        con.execute(
            "UPDATE topics SET size = (SELECT count(*) FROM assignments a WHERE a.topic_id = topics.topic_id)"
        )
        con.execute("CHECKPOINT")
    from pipeline.insights import refresh_insights
    from pipeline.store import Store

    refresh_insights(Store(tmp), "bench-dashboard")
    tmp.rename(path)
    return path


def time_pages(store: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Median seconds per page: cold (caches cleared) and warm (served from st.cache_data)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["VOC_STORE"] = str(store)
    app = str(ROOT / "dashboard" / "app.py")
    out = {}
    for page in PAGES:
        cold, warm = [], []
        for _ in range(repeats):
            st.cache_data.clear()
            for bucket in (cold, warm):
                at = AppTest.from_file(app, default_timeout=120)
                at.switch_page(f"views/{page}.py")
                t0 = time.perf_counter()
                at.run()
                bucket.append(time.perf_counter() - t0)
                if at.exception:
                    raise RuntimeError(f"{page}: {at.exception[0].value}")
        out[page] = {"cold_s": round(statistics.median(cold), 3), "warm_s": round(statistics.median(warm), 3)}
    return out


def browser_times(store: Path) -> dict[str, dict[str, float]] | None:
    """Seconds until each page is fully drawn in headless Chromium: first load (cold) and a reload."""
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    import socket
    import subprocess
    import sys
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    voc = Path(sys.executable).with_name("voc")
    cmd = [str(voc), "dashboard", "--store", str(store), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    charts = {"brief": 2, "explorer": 0, "topic": 3, "map": 1, "health": 1}
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        out = {}
        args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=args)
            tab = browser.new_page(viewport={"width": 1400, "height": 1800})
            tab.goto(url)  # the app shell and Streamlit's own assets load once, as in any session
            tab.wait_for_selector(
                '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000
            )
            for page in PAGES:
                times = []
                for _ in range(2):
                    t0 = time.perf_counter()
                    tab.goto(f"{url}/{'' if page == 'brief' else page}")
                    tab.wait_for_selector(
                        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000
                    )
                    tab.wait_for_function(
                        f"document.querySelectorAll('.vega-embed svg').length >= {charts[page]}",
                        timeout=120_000,
                    )
                    times.append(time.perf_counter() - t0)
                out[page] = {"first_s": round(times[0], 3), "reload_s": round(times[1], 3)}
            browser.close()
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = demo_store()
    big = scaled_store(base, args.messages)
    stores = {"demo": base, f"{args.messages:,} target": big}
    report = {}
    for name, path in stores.items():
        with duckdb.connect(str(path), read_only=True) as con:
            msgs, weeks = con.execute(
                "SELECT (SELECT count(*) FROM messages), (SELECT count(DISTINCT week) FROM weekly_stats)"
            ).fetchone()
        report[name] = {
            "messages": msgs,
            "weeks": weeks,
            "pages": time_pages(path, args.repeats),
            "browser": browser_times(path),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'store':<22} {'page':<10} {'cold s':>8} {'warm s':>8} {'browser 1st':>12} {'reload':>8}")
    for name, r in report.items():
        for page, t in r["pages"].items():
            b = (r["browser"] or {}).get(page, {})
            print(
                f"{name:<22} {page:<10} {t['cold_s']:>8} {t['warm_s']:>8} "
                f"{b.get('first_s', '-'):>12} {b.get('reload_s', '-'):>8}"
            )


if __name__ == "__main__":
    main()
