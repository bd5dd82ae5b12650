"""A local Prefect server for ``voc serve`` when none is configured (schedules need a real server).

Started as a child process on loopback with its database under the project's PREFECT_HOME, waited
for until healthy, and stopped with ``voc serve``. A team with its own server sets PREFECT_API_URL
and none is started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


class PrefectServerError(RuntimeError):
    """The local Prefect server did not come up."""


def _die_with_parent() -> None:
    """In the server's process (Linux): be sent SIGTERM when ``voc serve`` dies, even by SIGKILL, whose
    cleanup never runs; an orphaned server would hold the port the next ``voc serve`` needs."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@contextmanager
def local_prefect_server(port: int, timeout_s: float = 120) -> Iterator[str]:
    """Yield the API URL of a Prefect server: the configured one, or a local one started here."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    env = {
        **os.environ,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_ENABLED": "false",
    }
    log = open(os.path.join(os.environ.get("PREFECT_HOME", "."), "server.log"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                raise PrefectServerError(f"prefect server exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise PrefectServerError(f"prefect server not healthy on port {port} after {timeout_s:.0f} s")
            time.sleep(0.5)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        if os.environ.get("PREFECT_API_URL") == url:
            del os.environ["PREFECT_API_URL"]
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
