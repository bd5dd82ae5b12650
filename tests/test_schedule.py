"""`voc serve` really schedules: a deployment with a short interval creates and completes flow runs
that pull the configured source and run the pipeline; the second pull finds nothing new."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from pipeline.store import Store, StoreError
from tests.conftest import ROOT, free_port, voc


def _completed_runs(path) -> list[dict]:
    if not path.exists():
        return []
    try:
        runs = Store(path, lock_timeout_s=5).query(
            "SELECT run_id, flow_run_id, counts FROM runs WHERE status = 'completed' ORDER BY started_at"
        )
    except StoreError:
        return []  # the flow is writing right now
    except Exception as exc:  # the store is still being created by the first pull
        if "runs" in str(exc):
            return []
        raise
    return [{**r, "counts": json.loads(r["counts"])} for r in runs.to_dict("records")]


def test_a_scheduled_deployment_creates_and_completes_flow_runs(tmp_path, runtime_env, monkeypatch):
    source = ROOT / "demo" / "data" / "email_export.csv"
    db = tmp_path / "voc.duckdb"
    env = {
        **runtime_env,
        "VOC_SOURCES": json.dumps([{"path": str(source)}]),
        "VOC_PREFECT_SERVER_PORT": str(free_port()),
    }
    env.pop("PREFECT_API_URL", None)
    assert (
        "no sources configured"
        in voc(["serve", "--store", str(db)], {**env, "VOC_SOURCES": "[]"}, check=False).stderr
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "voc.cli", "serve", "--store", str(db), "--interval", "8"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        runs = []
        while len(runs) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(3)
            runs = _completed_runs(db)
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert len(runs) >= 2, "no two scheduled runs completed in 5 minutes"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    first, second = runs[0], runs[1]
    assert first["flow_run_id"] and first["flow_run_id"] != second["flow_run_id"]  # two real flow runs
    pulled = first["counts"]["pull"][str(source)]
    assert pulled["stored"] > 400 and pulled["quarantined"] == 2  # the demo file's two broken records
    assert first["counts"]["topics"]["topics"] > 3 and first["counts"]["insights"]["weekly_rows"] > 0
    again = second["counts"]["pull"][str(source)]
    assert again["unchanged_files"] == 1 and again["read"] == 0  # the watermark: nothing pulled twice

    # the health page shows what the latest scheduled run pulled
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VOC_STORE", str(db))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.switch_page("views/health.py")
    at.run()
    assert not at.exception and not at.warning
    pulls = at.dataframe[0].value
    assert pulls["source"].tolist() == [str(source)] and pulls["unchanged_files"].tolist() == [1]


@pytest.mark.skipif(sys.platform != "linux", reason="the server follows its parent through Linux's prctl")
def test_the_local_prefect_server_does_not_outlive_a_killed_voc_serve(runtime_env):
    """`voc serve` killed outright (SIGKILL: no cleanup runs) takes its Prefect server with it, so the
    port is free for the next `voc serve`."""
    port = free_port()
    env = {k: v for k, v in runtime_env.items() if k != "PREFECT_API_URL"}
    code = (
        "import time\nfrom voc.prefect_server import local_prefect_server\n"
        f"with local_prefect_server({port}):\n    print('up', flush=True)\n    time.sleep(600)\n"
    )
    cmd = [sys.executable, "-c", code]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2).close()
        except OSError:
            return  # nothing answers on the port any more
        time.sleep(0.5)
    pytest.fail(f"the Prefect server on port {port} outlived the process that started it")
