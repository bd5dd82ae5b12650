"""The dashboard in a real browser: `voc dashboard` served on a free port, driven by headless Chromium.

Uses the machine's Debian `chromium` (never `playwright install`); `.ci/run` installs it. Screenshots
of every page land in tests/artifacts/ (git-ignored) for review.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline import queries
from pipeline.store import Store
from tests.conftest import ROOT, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # nothing outside loopback
]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def server(pipeline_store, runtime_env):
    """`voc dashboard` as a user starts it, on the test store; stopped after the module."""
    port = free_port()
    voc = Path(sys.executable).with_name("voc")
    proc = subprocess.Popen(
        [str(voc), "dashboard", "--store", str(pipeline_store), "--port", str(port)],
        env={**os.environ, **runtime_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"voc dashboard did not start: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    with pytest.raises(OSError):  # stopping `voc dashboard` stops its server: no Streamlit left behind
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # Streamlit scrolls inside its own container: a tall viewport shows the whole page.
        tab = browser.new_page(viewport={"width": 1400, "height": 1800})
        yield tab
        browser.close()


def _open(page, url: str, screenshot: str, charts: int = 0) -> str:
    page.goto(url)
    page.wait_for_selector(READY, timeout=60_000)
    if charts:
        page.wait_for_function(
            f"document.querySelectorAll('.vega-embed svg').length >= {charts}", timeout=30_000
        )
    page.wait_for_timeout(500)  # let the data grids paint before the screenshot
    page.screenshot(path=str(ARTIFACTS / f"{screenshot}.png"))
    assert not page.locator('[data-testid="stException"]').count()
    return page.inner_text("body")


def test_weekly_brief_in_a_browser(server, page, pipeline_store):
    store = Store(pipeline_store)
    week = queries.weeks(store)[-1]
    top = queries.week_topics(store, week)
    top = top[top["topic_id"] >= 0].head(3)["topic"].tolist()
    text = _open(page, server, "weekly-brief", charts=2)
    assert "Weekly brief" in text and page.url.endswith(f"week={week}")  # the newest complete week
    for label in top:  # the topic chart's axis shows the week's biggest topics
        assert label in text
    legend = page.locator(".vega-embed svg").first.text_content()
    assert "sentiment" in legend and "negative" in legend  # the chart is coloured by sentiment


def test_explorer_filter_click_narrows_and_goes_into_the_url(server, page):
    _open(page, f"{server}/explorer", "topic-explorer")
    before = page.get_by_text("customer messages in").inner_text()
    channel = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Channel")
    channel.click()
    page.get_by_role("option", name="email", exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_url("**channel=email**", timeout=30_000)
    page.wait_for_selector(READY, timeout=60_000)
    page.wait_for_function("t => !document.body.innerText.includes(t)", arg=before, timeout=30_000)
    after = page.get_by_text("customer messages in").inner_text()
    assert int(after.split()[0].replace(",", "")) < int(before.split()[0].replace(",", ""))
    page.screenshot(path=str(ARTIFACTS / "topic-explorer-email.png"))


def test_other_pages_render_in_a_browser(server, page, pipeline_store):
    store = Store(pipeline_store)
    biggest = queries.topic_options(store).iloc[0]
    text = _open(page, f"{server}/topic?topic={int(biggest['topic_id'])}", "topic-detail", charts=3)
    assert biggest["label"] in text and "Lineage and decisions" in text
    text = _open(page, f"{server}/map", "topic-map", charts=1)
    assert biggest["label"] in text  # the biggest topics are labelled on the map
    text = _open(page, f"{server}/health", "pipeline-health", charts=1)
    assert "completed" in text or "Runs" in text
    assert "Quarantine" in text
